"""The hub-and-spoke private DNS world: a hub account owning private hosted zones, spoke accounts
creating VPCs, and the events EventBridge forwards to the hub."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from .emulator import PROVIDER, REGION, Emulator
from .scenario import alerts, create_table, topic_with_queue

HUB = PROVIDER
SPOKE = "111111111111"
OTHER_SPOKE = "222222222222"
STRANGER = "999999999999"
FUNCTION = "associate-private-zones"
RULES_PARAMETER = "/privatelink-autopilot/zone-rules"
SPOKE_ROLE = "privatelink-autopilot-spoke"
EVENTS = Path(__file__).resolve().parent.parent.parent / "events" / "real"


@dataclass
class Hub:
    emu: Emulator
    shared_zone: str
    payments_zone: str
    hub_vpc: str
    alert_topic: str
    alert_queue: str
    table: str

    def rules(self, **extra) -> dict:
        return {
            "version": 1,
            "accounts": [HUB, SPOKE, OTHER_SPOKE],
            "regions": [REGION],
            "rules": [
                {"name": "shared services", "zones": [self.shared_zone]},
                {"name": "payments", "zone_tags": {"share": "payments"}, "domains": ["payments.internal.example"],
                 "vpc_tags": {"team": "payments"}},
            ],
            **extra,
        }

    def put_rules(self, document: dict | str) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        self.emu.client("ssm").put_parameter(Name=RULES_PARAMETER, Value=text, Type="String", Overwrite=True)

    def function_env(self, dry_run: bool = False, rate_share: str | None = None) -> dict[str, str]:
        return {
            **({"ROUTE53_RATE_SHARE": rate_share} if rate_share else {}),
            **self.emu.function_env(),
            "RULES_PARAMETER": RULES_PARAMETER,
            "HUB_ACCOUNT_ID": HUB,
            "SPOKE_ROLE_NAME": SPOKE_ROLE,
            "ALERT_TOPIC_ARN": self.alert_topic,
            "DECISIONS_TABLE": self.table,
            "DRY_RUN": "true" if dry_run else "false",
        }

    def create_vpc(self, account: str, tags: dict[str, str] | None = None) -> str:
        ec2 = self.emu.client("ec2", account)
        kwargs = {"TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]} if tags else {}
        return ec2.create_vpc(CidrBlock="10.30.0.0/16", **kwargs)["Vpc"]["VpcId"]

    def create_shared_vpc(self, owner: str, participant: str, tags: dict[str, str] | None = None) -> str:
        """A VPC of ``owner`` shared into ``participant`` (VPC sharing through RAM): the
        participant's DescribeVpcs lists it with ``OwnerId`` = ``owner``."""
        vpc_id = self.create_vpc(owner, tags)
        self.emu.share_vpc(vpc_id, owner, participant)
        return vpc_id

    def zones_of(self, account: str, vpc_id: str) -> set[str]:
        """Zone ids the VPC is associated with, as its owner sees them."""
        out = self.emu.client("route53", account).list_hosted_zones_by_vpc(VPCId=vpc_id, VPCRegion=REGION)
        return {z["HostedZoneId"].split("/")[-1] for z in out["HostedZoneSummaries"]}

    def authorizations(self, zones: tuple[str, ...] | None = None) -> list:
        """Every standing association authorization of the hub's zones (all pages)."""
        r53 = self.emu.client("route53")
        found = []
        for zone in zones or (self.shared_zone, self.payments_zone):
            kwargs = {"HostedZoneId": zone}
            while True:
                page = r53.list_vpc_association_authorizations(**kwargs)
                found.extend(page["VPCs"])
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return found

    def alerts(self) -> list[dict]:
        return alerts(self.emu, self.alert_queue)


def build(emu: Emulator) -> Hub:
    r53 = emu.client("route53")
    hub_vpc = emu.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

    def zone(name: str, tags: dict[str, str]) -> str:
        zone_id = r53.create_hosted_zone(
            Name=name, CallerReference=str(uuid.uuid4()), HostedZoneConfig={"PrivateZone": True},
            VPC={"VPCRegion": REGION, "VPCId": hub_vpc})["HostedZone"]["Id"].split("/")[-1]
        if tags:
            r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id,
                                         AddTags=[{"Key": k, "Value": v} for k, v in tags.items()])
        return zone_id

    shared = zone("internal.example.", {})
    payments = zone("payments.internal.example.", {"share": "payments"})
    topic, queue = topic_with_queue(emu, "privatelink-alerts")
    table = create_table(emu, "privatelink-decisions")
    return Hub(emu, shared, payments, hub_vpc, topic, queue, table)


@dataclass
class OnPremises:
    """The hub's Resolver: an outbound endpoint and a forwarding rule for the data centre's
    domain (shared with the spokes through RAM), and an inbound endpoint's VPC."""
    emu: Emulator
    outbound: str
    corp_rule: str
    corp_rule_arn: str
    inbound_vpc: str
    inbound_ips: list[str]

    def rule(self, domain: str, name: str, target: str = "192.168.0.2", share_with: tuple[str, ...] = ()) -> str:
        r = self.emu.client("route53resolver").create_resolver_rule(
            CreatorRequestId=name, Name=name, RuleType="FORWARD", DomainName=domain,
            TargetIps=[{"Ip": target, "Port": 53}], ResolverEndpointId=self.outbound)["ResolverRule"]
        if share_with:
            self.emu.client("ram").create_resource_share(name=name, resourceArns=[r["Arn"]], principals=list(share_with))
        return r["Id"]

    def rules_of(self, account: str, vpc_id: str) -> dict[str, str]:
        """The VPC's rule associations as its owner lists them: rule id -> status."""
        out = self.emu.client("route53resolver", account).list_resolver_rule_associations(
            Filters=[{"Name": "VPCId", "Values": [vpc_id]}])
        return {a["ResolverRuleId"]: a["Status"] for a in out["ResolverRuleAssociations"]}


def endpoint(emu: Emulator, direction: str, ips: list[str], cidr: str) -> tuple[str, str]:
    """A Resolver endpoint in a new hub VPC of two subnets: (endpoint id, VPC id)."""
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.split(".")[:2]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base[0]}.{base[1]}.{n}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for n, az in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName=f"resolver-{direction}-{cidr}", Description="d", VpcId=vpc)["GroupId"]
    out = emu.client("route53resolver").create_resolver_endpoint(
        CreatorRequestId=f"{direction}-{cidr}", SecurityGroupIds=[group], Direction=direction,
        IpAddresses=[{"SubnetId": s, "Ip": ip} for s, ip in zip(subnets, ips)])
    return out["ResolverEndpoint"]["Id"], vpc


def on_premises(emu: Emulator, share_with: tuple[str, ...] = (SPOKE, OTHER_SPOKE)) -> OnPremises:
    """The hub's outbound and inbound endpoints, and corp.example forwarded to the data centre,
    shared with ``share_with``."""
    outbound, _ = endpoint(emu, "OUTBOUND", ["10.1.1.10", "10.1.2.10"], "10.1.0.0/16")
    inbound_ips = ["10.2.1.10", "10.2.2.10"]
    _, inbound_vpc = endpoint(emu, "INBOUND", inbound_ips, "10.2.0.0/16")
    corp = emu.client("route53resolver").create_resolver_rule(
        CreatorRequestId="corp", Name="corp", RuleType="FORWARD", DomainName="corp.example",
        TargetIps=[{"Ip": "192.168.0.2", "Port": 53}], ResolverEndpointId=outbound)["ResolverRule"]
    emu.client("ram").create_resource_share(name="corp", resourceArns=[corp["Arn"]], principals=list(share_with))
    return OnPremises(emu, outbound, corp["Id"], corp["Arn"], inbound_vpc, inbound_ips)


def create_vpc_event(account: str, vpc_id: str) -> dict:
    """The real CreateVpc event (events/real), for another account and VPC."""
    event = json.loads((EVENTS / "ec2_CreateVpc_no_tags__eventbridge.json").read_text())
    event["id"] = str(uuid.uuid4())
    event["account"] = account
    event["detail"]["userIdentity"]["accountId"] = account
    event["detail"]["responseElements"]["vpc"]["vpcId"] = vpc_id
    return event


def tags_event(account: str, vpc_id: str | list[str], name: str = "CreateTags") -> dict:
    """The real CreateTags event (events/real), on a VPC (or several) instead of a security
    group."""
    event = json.loads((EVENTS / "ec2_CreateTags_on_security_group__eventbridge.json").read_text())
    event = copy.deepcopy(event)
    event["account"] = account
    event["region"] = event["detail"]["awsRegion"] = REGION
    event["detail"]["eventName"] = name
    ids = [vpc_id] if isinstance(vpc_id, str) else vpc_id
    event["detail"]["requestParameters"]["resourcesSet"] = {"items": [{"resourceId": v} for v in ids]}
    return event
