"""The emulator's Route 53 Resolver rules across accounts (tests/emulator/resolver_sharing.py),
read back through boto3 as a client of AWS would."""

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.emulator import PROVIDER, REGION
from harness.zones import endpoint

HUB = PROVIDER
SPOKE = "111111111111"


def code(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def rule(emu, domain: str, outbound: str, target: str, name: str) -> dict:
    return emu.client("route53resolver").create_resolver_rule(
        CreatorRequestId=name, Name=name, RuleType="FORWARD", DomainName=domain,
        TargetIps=[{"Ip": target, "Port": 53}], ResolverEndpointId=outbound)["ResolverRule"]


def test_a_shared_rule_is_associated_by_the_vpc_owner_and_settles_asynchronously(emu):
    emu.settings(resolver_association_seconds=0.3)
    outbound, _ = endpoint(emu, "OUTBOUND", ["10.1.1.10", "10.1.2.10"], "10.1.0.0/16")
    corp = rule(emu, "corp.example", outbound, "192.168.0.2", "corp")
    spoke = emu.client("route53resolver", SPOKE)
    vpc = emu.client("ec2", SPOKE).create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]

    # Not shared: the spoke cannot see it.
    assert code(spoke.get_resolver_rule, ResolverRuleId=corp["Id"])[0] == "ResourceNotFoundException"
    assert code(spoke.associate_resolver_rule, ResolverRuleId=corp["Id"], VPCId=vpc)[0] == "ResourceNotFoundException"
    # Shared through RAM: the VPC owner associates it, CREATING then COMPLETE.
    share = emu.client("ram").create_resource_share(name="corp", resourceArns=[corp["Arn"]],
                                                     principals=[SPOKE])["resourceShare"]["resourceShareArn"]
    assert spoke.get_resolver_rule(ResolverRuleId=corp["Id"])["ResolverRule"]["DomainName"] == "corp.example."
    association = spoke.associate_resolver_rule(ResolverRuleId=corp["Id"], VPCId=vpc, Name="corp")["ResolverRuleAssociation"]
    assert association["Status"] == "CREATING"
    time.sleep(0.4)
    got = spoke.get_resolver_rule_association(ResolverRuleAssociationId=association["Id"])["ResolverRuleAssociation"]
    assert got["Status"] == "COMPLETE"
    # Only the caller's own associations are listed.
    assert [a["VPCId"] for a in spoke.list_resolver_rule_associations()["ResolverRuleAssociations"]] == [vpc]
    assert emu.client("route53resolver").list_resolver_rule_associations()["ResolverRuleAssociations"] == []
    # The same rule again, or another rule for the same domain: refused.
    again = code(spoke.associate_resolver_rule, ResolverRuleId=corp["Id"], VPCId=vpc)
    assert again[0] == "InvalidRequestException" and "[RSLVR-00802]" in again[1]
    twin = rule(emu, "corp.example", outbound, "192.168.0.3", "corp-twin")
    emu.client("ram").create_resource_share(name="twin", resourceArns=[twin["Arn"]], principals=[SPOKE])
    assert "[RSLVR-00802]" in code(spoke.associate_resolver_rule, ResolverRuleId=twin["Id"], VPCId=vpc)[1]
    # Un-shared: gone from the spoke's view again.
    emu.client("ram").delete_resource_share(resourceShareArn=share)
    assert code(spoke.get_resolver_rule, ResolverRuleId=corp["Id"])[0] == "ResourceNotFoundException"


def test_a_failed_association_and_the_inbound_endpoints_own_vpc_are_refused_as_aws_does(emu):
    emu.settings(resolver_association_seconds=0)
    outbound, _ = endpoint(emu, "OUTBOUND", ["10.1.1.10", "10.1.2.10"], "10.1.0.0/16")
    inbound, inbound_vpc = endpoint(emu, "INBOUND", ["10.2.1.10", "10.2.2.10"], "10.2.0.0/16")
    hub = emu.client("route53resolver")
    loop = rule(emu, "loop.example", outbound, "10.2.1.10", "loop")
    refused = code(hub.associate_resolver_rule, ResolverRuleId=loop["Id"], VPCId=inbound_vpc)
    assert refused[0] == "InvalidRequestException" and "[RSLVR-00804]" in refused[1]
    vpc = emu.client("ec2").create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    emu.settings(resolver_failing_vpcs=[vpc])
    a = hub.associate_resolver_rule(ResolverRuleId=loop["Id"], VPCId=vpc)["ResolverRuleAssociation"]
    got = hub.get_resolver_rule_association(ResolverRuleAssociationId=a["Id"])["ResolverRuleAssociation"]
    assert got["Status"] == "FAILED" and got["StatusMessage"]


def test_associations_come_in_pages_of_at_most_100_and_stop_at_2000_per_vpc_owner(emu):
    emu.settings(resolver_association_seconds=0)
    outbound, _ = endpoint(emu, "OUTBOUND", ["10.1.1.10", "10.1.2.10"], "10.1.0.0/16")
    hub = emu.client("route53resolver")
    ec2 = emu.client("ec2")
    rules = [rule(emu, f"d{n}.example", outbound, "192.168.0.2", f"r{n}") for n in range(3)]
    vpcs = [ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"] for _ in range(40)]
    for r in rules:
        for v in vpcs:
            hub.associate_resolver_rule(ResolverRuleId=r["Id"], VPCId=v)
    sizes, token = [], None
    while True:
        page = hub.list_resolver_rule_associations(**({"NextToken": token} if token else {}))
        sizes.append(len(page["ResolverRuleAssociations"]))
        token = page.get("NextToken")
        if not token:
            break
    assert sizes == [100, 20]
    assert code(hub.list_resolver_rule_associations, MaxResults=101)[0] == "ValidationException"
    # The quota, counted against the VPC owner (adjustable: the setting stands for an account's
    # raised or lowered figure): the 121st of 120 is refused; another account's count is its own.
    emu.settings(resolver_associations_per_region=120)
    extra = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    assert code(hub.associate_resolver_rule, ResolverRuleId=rules[0]["Id"], VPCId=extra)[0] == "LimitExceededException"
    assert emu.settings()["resolver_associations_per_region"] == 120


def test_the_resolver_api_is_throttled_at_5_a_second_per_account_and_region(emu):
    emu.settings(resolver_rate=True)
    key, secret, token = emu.credentials(SPOKE)
    once = boto3.client("route53resolver", endpoint_url=emu.url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    answers = []
    for _ in range(10):
        try:
            once.list_resolver_rule_associations()
            answers.append("ok")
        except ClientError as e:
            answers.append(e.response["Error"]["Code"])
    # The burst of 5 passes; past it, calls faster than 5 a second are refused.
    assert answers[:5] == ["ok"] * 5 and answers.count("ThrottlingException") >= 3, answers
    # Another account's bucket is its own; a second later there is room again.
    assert emu.client("route53resolver").list_resolver_rule_associations()["ResolverRuleAssociations"] == []
    time.sleep(1.0)
    once.list_resolver_rule_associations()
