"""The emulator's Route 53 extension: cross-account private zone association (tests/emulator)."""

import pytest
from botocore.exceptions import ClientError

from harness.emulator import REGION

SPOKE = "111111111111"


@pytest.fixture
def zone(emu):
    hub_vpc = emu.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return emu.client("route53").create_hosted_zone(
        Name="internal.example.", CallerReference="z", HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": REGION, "VPCId": hub_vpc})["HostedZone"]["Id"]


def code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"]


def test_cross_account_association_needs_a_live_authorization(emu, zone):
    hub, spoke = emu.client("route53"), emu.client("route53", SPOKE)
    vpc = emu.client("ec2", SPOKE).create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    pair = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": vpc}}
    assert code(spoke.associate_vpc_with_hosted_zone, **pair) == "NotAuthorizedException"
    assert code(spoke.create_vpc_association_authorization, **pair) == "NoSuchHostedZone"  # only the owner
    hub.create_vpc_association_authorization(**pair)
    assert hub.list_vpc_association_authorizations(HostedZoneId=zone)["VPCs"] == [pair["VPC"]]
    spoke.associate_vpc_with_hosted_zone(**pair)
    assert code(spoke.associate_vpc_with_hosted_zone, **pair) == "ConflictingDomainExists"
    hub.delete_vpc_association_authorization(**pair)
    assert hub.list_vpc_association_authorizations(HostedZoneId=zone)["VPCs"] == []
    assert code(hub.delete_vpc_association_authorization, **pair) == "VPCAssociationAuthorizationNotFound"
    # The association outlives its authorization, listed once, and the VPC owner sees it.
    vpcs = [v["VPCId"] for v in hub.get_hosted_zone(Id=zone)["VPCs"]]
    assert vpcs.count(vpc) == 1
    [summary] = spoke.list_hosted_zones_by_vpc(VPCId=vpc, VPCRegion=REGION)["HostedZoneSummaries"]
    assert summary["Owner"]["OwningAccount"] == "123456789012" and summary["Name"] == "internal.example."


def test_a_vpc_takes_one_zone_per_name_and_must_exist(emu, zone):
    hub = emu.client("route53")
    vpc = emu.client("ec2").create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    other = hub.create_hosted_zone(Name="internal.example.", CallerReference="z2", HostedZoneConfig={"PrivateZone": True},
                                   VPC={"VPCRegion": REGION, "VPCId": vpc})["HostedZone"]["Id"]
    assert other != zone
    assert code(hub.associate_vpc_with_hosted_zone, HostedZoneId=zone,
                VPC={"VPCRegion": REGION, "VPCId": vpc}) == "ConflictingDomainExists"
    assert code(hub.associate_vpc_with_hosted_zone, HostedZoneId=zone,
                VPC={"VPCRegion": REGION, "VPCId": "vpc-0000000000"}) == "InvalidVPCId"
