"""A provider's NLB-backed endpoint service with instance targets in two AZs, and a consumer
account whose AZ names map to other AZ IDs: the world of the availability-zone auditor.

Besides :func:`build`'s provider, builders for the other shapes the auditor meets: an NLB
forwarding to an ALB (:func:`alb_behind_nlb`), IP targets inside and outside the VPC
(:func:`ip_target_group`), a Gateway Load Balancer endpoint service (:func:`gwlb_service`), many
NLB-backed services at once (:func:`services_with_nlbs`, past DescribeLoadBalancers' 20 ARNs), and
a consumer endpoint in another region (:meth:`Provider.cross_region_endpoint`)."""

from __future__ import annotations

from dataclasses import dataclass

from .emulator import PROVIDER, REGION, Emulator
from .scenario import alerts, create_table, topic_with_queue

CONSUMER = "111111111111"
FUNCTION = "audit-availability-zones"
AMI = "ami-12c6146b"


@dataclass
class Provider:
    emu: Emulator
    vpc: str
    subnets: dict[str, str]  # AZ name (provider's) -> subnet
    instances: dict[str, list[str]]  # AZ name -> instance ids
    nlb: str
    target_group: str
    service_id: str
    service_name: str
    alert_queue: str
    env: dict[str, str]

    def zone_ids(self, account: str) -> dict[str, str]:
        zones = self.emu.client("ec2", account).describe_availability_zones()["AvailabilityZones"]
        return {z["ZoneName"]: z["ZoneId"] for z in zones}

    def stop(self, az: str) -> None:
        self.emu.client("ec2").stop_instances(InstanceIds=self.instances[az])

    def add_targets(self, az: str, count: int = 1) -> None:
        ec2 = self.emu.client("ec2")
        new = [i["InstanceId"] for i in ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, SubnetId=self.subnets[az])["Instances"]]
        self.instances[az] += new
        self.emu.client("elbv2").register_targets(TargetGroupArn=self.target_group, Targets=[{"Id": i} for i in new])

    def target_group_cross_zone(self, value: str) -> None:
        self.emu.client("elbv2").modify_target_group_attributes(
            TargetGroupArn=self.target_group, Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": value}])

    def consumer_endpoint(self, account: str, subnet_azs: list[str], endpoint_azs: list[str], by_id: bool = False) -> str:
        """A consumer VPC with subnets in ``subnet_azs`` (names in the consumer's account, or AZ IDs
        with ``by_id``) and an endpoint in the first subnets of ``endpoint_azs``."""
        ec2 = self.emu.client("ec2", account)
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnets = {}
        for i, az in enumerate(subnet_azs):
            where = {"AvailabilityZoneId": az} if by_id else {"AvailabilityZone": az}
            subnets[az] = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", **where)["Subnet"]["SubnetId"]
        return ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=self.service_name, VpcEndpointType="Interface",
                                       SubnetIds=[subnets[az] for az in endpoint_azs])["VpcEndpoint"]["VpcEndpointId"]

    def cross_region_endpoint(self, account: str, region: str, subnet_azs: list[str] | None = None,
                              cidr: str = "10.50.0.0/16") -> str:
        """An interface endpoint in ``region`` (``account``'s VPC there, subnets in ``subnet_azs``,
        AZ names of that region, its first two by default) to this service in the provider's region
        (CreateVpcEndpoint with ``ServiceRegion``), after enabling ``region`` in the service's
        ``SupportedRegions``."""
        self.emu.client("ec2").modify_vpc_endpoint_service_configuration(ServiceId=self.service_id,
                                                                        AddSupportedRegions=[region])
        ec2 = self.emu.client("ec2", account, region=region)
        if subnet_azs is None:
            subnet_azs = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        base = cidr.split(".")
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base[0]}.{base[1]}.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
                   for i, az in enumerate(subnet_azs)]
        return ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=self.service_name, VpcEndpointType="Interface",
                                       SubnetIds=subnets, ServiceRegion=REGION)["VpcEndpoint"]["VpcEndpointId"]

    def alerts(self) -> list[dict]:
        return alerts(self.emu, self.alert_queue)


def build(emu: Emulator, azs: tuple[str, ...] = ("us-east-1a", "us-east-1b"), per_az: int = 1) -> Provider:
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs)}
    nlb = elb.create_load_balancer(Name="orders", Subnets=list(subnets.values()), Type="network", Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="orders", Protocol="TCP", Port=80, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    service = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False)["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"], AddAllowedPrincipals=["*"])
    topic, queue = topic_with_queue(emu, "privatelink-alerts")
    env = {**emu.function_env(), "ALERT_TOPIC_ARN": topic, "FINDINGS_TABLE": create_table(emu, "privatelink-findings"),
           "HOME_ACCOUNT_ID": PROVIDER, "CONSUMER_ROLE_NAME": "privatelink-autopilot-reader",
           # a new pass each scheduled invocation: a test runs the schedule when it wants an audit
           "AUDIT_PERIOD_MINUTES": "0"}
    p = Provider(emu, vpc, subnets, {az: [] for az in azs}, nlb, tg, service["ServiceId"], service["ServiceName"], queue, env)
    for az in azs:
        p.add_targets(az, per_az)
    return p


# --- other shapes of a service ----------------------------------------------------------------


def _vpc(emu: Emulator, azs, cidr: str) -> tuple[str, dict[str, str]]:
    """A VPC with one /24 subnet per AZ name, in the order given."""
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    a, b = cidr.split(".")[:2]
    subnets = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"{a}.{b}.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs)}
    return vpc, subnets


def _service(emu: Emulator, nlb: str) -> tuple[str, str]:
    ec2 = emu.client("ec2")
    service = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False)["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"], AddAllowedPrincipals=["*"])
    return service["ServiceId"], service["ServiceName"]


@dataclass
class AlbBehindNlb:
    vpc: str
    subnets: dict[str, str]  # AZ name -> subnet
    alb: str  # the ALB's ARN
    alb_target_group: str  # the ALB's own target group (instances)
    nlb: str
    target_group: str  # the NLB's target group of type alb, the ALB its one target
    service_id: str
    service_name: str


def alb_behind_nlb(emu: Emulator, alb_azs: tuple[str, ...] = ("us-east-1a", "us-east-1b"),
                   nlb_azs: tuple[str, ...] | None = None, name: str = "web", port: int = 80,
                   cidr: str = "10.1.0.0/16") -> AlbBehindNlb:
    """An endpoint service whose NLB (in ``nlb_azs``, ``alb_azs`` by default) forwards to an ALB
    (in ``alb_azs``) through a target group of type ``alb`` — the standard way to put an ALB
    behind PrivateLink. The ALB listens on ``port`` and has one instance per AZ behind it."""
    nlb_azs = nlb_azs or alb_azs
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc, subnets = _vpc(emu, list(dict.fromkeys(alb_azs + nlb_azs)), cidr)
    alb = elb.create_load_balancer(Name=f"{name}-alb", Subnets=[subnets[az] for az in alb_azs], Type="application",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    alb_tg = elb.create_target_group(Name=f"{name}-app", Protocol="HTTP", Port=port, VpcId=vpc,
                                     TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=port,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": alb_tg}])
    instances = [ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnets[az])["Instances"][0]["InstanceId"]
                 for az in alb_azs]
    elb.register_targets(TargetGroupArn=alb_tg, Targets=[{"Id": i} for i in instances])
    nlb = elb.create_load_balancer(Name=f"{name}-nlb", Subnets=[subnets[az] for az in nlb_azs], Type="network",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name=f"{name}-to-alb", Protocol="TCP", Port=port, VpcId=vpc,
                                 TargetType="alb")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": alb, "Port": port}])
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=port,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    service_id, service_name = _service(emu, nlb)
    return AlbBehindNlb(vpc, subnets, alb, alb_tg, nlb, tg, service_id, service_name)


@dataclass
class IpTargets:
    vpc: str
    subnets: dict[str, str]  # AZ name -> subnet
    nlb: str
    target_group: str  # type ip
    inside: dict[str, str]  # AZ name -> an IP in that AZ's subnet, registered
    outside: list[str]  # IPs outside the VPC, registered with AvailabilityZone "all"
    service_id: str
    service_name: str


def ip_target_group(emu: Emulator, azs: tuple[str, ...] = ("us-east-1a", "us-east-1b"),
                    outside: tuple[str, ...] = ("192.168.10.5",), zone_given: bool = True,
                    name: str = "ips", cidr: str = "10.2.0.0/16") -> IpTargets:
    """An endpoint service whose NLB (in ``azs``) has a target group of type ``ip``: one IP in each
    AZ's subnet (registered with that AZ when ``zone_given``, else without, for AWS to detect) and
    the ``outside`` IPs (on premises, a peered VPC) with ``AvailabilityZone="all"``."""
    elb = emu.client("elbv2")
    vpc, subnets = _vpc(emu, azs, cidr)
    a, b = cidr.split(".")[:2]
    inside = {az: f"{a}.{b}.{i}.10" for i, az in enumerate(azs)}
    nlb = elb.create_load_balancer(Name=f"{name}-nlb", Subnets=list(subnets.values()), Type="network",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name=name, Protocol="TCP", Port=80, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    targets = [{"Id": ip, **({"AvailabilityZone": az} if zone_given else {})} for az, ip in inside.items()]
    targets += [{"Id": ip, "AvailabilityZone": "all"} for ip in outside]
    elb.register_targets(TargetGroupArn=tg, Targets=targets)
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    service_id, service_name = _service(emu, nlb)
    return IpTargets(vpc, subnets, nlb, tg, inside, list(outside), service_id, service_name)


@dataclass
class GwlbService:
    vpc: str
    subnets: dict[str, str]
    gwlb: str
    service_id: str
    service_name: str


def gwlb_service(emu: Emulator, azs: tuple[str, ...] = ("us-east-1a", "us-east-1b"), name: str = "inspect",
                 cidr: str = "10.3.0.0/16") -> GwlbService:
    """An endpoint service of a Gateway Load Balancer (``GatewayLoadBalancerArns``, no NLB)."""
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc, subnets = _vpc(emu, azs, cidr)
    gwlb = elb.create_load_balancer(Name=name, Subnets=list(subnets.values()), Type="gateway")["LoadBalancers"][0]["LoadBalancerArn"]
    service = ec2.create_vpc_endpoint_service_configuration(GatewayLoadBalancerArns=[gwlb], AcceptanceRequired=False)["ServiceConfiguration"]
    return GwlbService(vpc, subnets, gwlb, service["ServiceId"], service["ServiceName"])


def services_with_nlbs(emu: Emulator, count: int, azs: tuple[str, ...] = ("us-east-1a", "us-east-1b"),
                       prefix: str = "svc", cidr: str = "10.4.0.0/16") -> list[tuple[str, str]]:
    """``count`` endpoint services, each with its own NLB (in ``azs``, one shared VPC) and one
    instance target per AZ: ``[(nlb_arn, service_id)]``. More than 20 cannot be described with
    one DescribeLoadBalancers call by ARN."""
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc, subnets = _vpc(emu, azs, cidr)
    instances = [ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnets[az])["Instances"][0]["InstanceId"]
                 for az in azs]
    out = []
    for n in range(count):
        nlb = elb.create_load_balancer(Name=f"{prefix}-{n}", Subnets=list(subnets.values()), Type="network",
                                       Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name=f"{prefix}-{n}", Protocol="TCP", Port=80, VpcId=vpc,
                                     TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in instances])
        elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        out.append((nlb, _service(emu, nlb)[0]))
    return out
