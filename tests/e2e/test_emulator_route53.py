"""The emulator's Route 53 extensions (tests/emulator/route53_sharing.py, route53_throttling.py) and shared
VPCs (tests/emulator/vpc_sharing.py), read back through boto3 as a client of AWS would."""

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.emulator import REGION, EmulatorError

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


# --- helpers for the tests below ---------------------------------------------------------------

HUB = "123456789012"
OTHER = "222222222222"


def client(emu, service: str, account: str = HUB, attempts: int = 1, validate: bool = True):
    """A boto3 client in standard retry mode with ``attempts`` attempts in all (1 = no retry, so
    every error reaches the test)."""
    key, secret, token = emu._credentials.get(account) or emu.credentials(account)
    return boto3.client(service, endpoint_url=emu.url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"},
                                      parameter_validation=validate))


def outcome(call, **kwargs) -> str:
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return "ok"


def vpc_of(emu, account: str, cidr: str = "10.1.0.0/16", tags: dict | None = None) -> str:
    kwargs = {"TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]} if tags else {}
    return emu.client("ec2", account).create_vpc(CidrBlock=cidr, **kwargs)["Vpc"]["VpcId"]


# --- 1. throttling -----------------------------------------------------------------------------


def until_throttled(call, limit: int = 300, **kwargs) -> list[str]:
    """Outcomes of ``call`` made again and again until one is throttled (or ``limit`` calls)."""
    codes: list[str] = []
    while len(codes) < limit and (not codes or codes[-1] != "Throttling"):
        codes.append(outcome(call, **kwargs))
    return codes


def test_route53_throttles_each_account_with_its_own_token_buckets(emu, zone):
    hub, spoke = client(emu, "route53"), client(emu, "route53", SPOKE)
    assert [outcome(hub.get_hosted_zone, Id=zone) for _ in range(60)] == ["ok"] * 60  # off by default
    emu.settings(route53_rate=True)
    started = time.monotonic()
    # AssociateVPCWithHostedZone's own bucket: 20 at once, then 5 per second.
    unknown = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": "vpc-0000000000000000a"}}
    associations = until_throttled(hub.associate_vpc_with_hosted_zone, **unknown)
    passed = len(associations) - 1
    assert associations[-1] == "Throttling" and set(associations[:-1]) == {"InvalidVPCId"}
    assert 20 <= passed <= 20 + 5 * (time.monotonic() - started) + 1, passed
    # The account's bucket (50 at once, then 10 per second) still has tokens: other operations
    # go on until it is empty too; a throttled request took no token.
    codes = until_throttled(hub.get_hosted_zone, Id=zone)
    drawn = passed + len(codes) - 1
    assert codes[-1] == "Throttling" and len(codes) > 20
    assert 49 <= drawn <= 50 + 10 * (time.monotonic() - started) + 1, drawn
    with pytest.raises(ClientError) as e:
        for _ in range(20):
            hub.list_hosted_zones()
    error = e.value.response["Error"]
    assert (error["Code"], error["Message"], error["Type"]) == ("Throttling", "Rate exceeded", "Sender")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Another account draws from its own buckets.
    assert [outcome(spoke.list_hosted_zones) for _ in range(30)] == ["ok"] * 30
    # Tokens come back at the refill rate.
    time.sleep(0.5)
    assert outcome(hub.get_hosted_zone, Id=zone) == "ok"
    # The call accounting counts the throttled requests apart from the fault rules' answers.
    calls = emu.calls()
    assert calls["route53:AssociateVPCWithHostedZone"]["throttled"] == 1
    assert calls["route53:GetHostedZone"]["throttled"] == 1
    assert calls["route53:ListHostedZones"]["throttled"] == 1
    assert calls["route53:GetHostedZone"]["count"] == 60 + len(codes) + 1
    assert all(entry["faulted"] == 0 for entry in calls.values())


def test_route53_rate_as_a_number_is_one_bucket_per_account(emu, zone):
    for wrong in (0, -1, "fast", [5]):
        with pytest.raises(EmulatorError):
            emu.settings(route53_rate=wrong)
    emu.settings(route53_rate=5)  # the former "five requests per second per AWS account"
    hub = client(emu, "route53")
    started = time.monotonic()
    codes = until_throttled(hub.get_hosted_zone, Id=zone)
    assert codes[-1] == "Throttling" and 5 <= len(codes) - 1 <= 5 + 5 * (time.monotonic() - started) + 1, codes
    emu.settings(route53_rate=None)
    assert [outcome(hub.get_hosted_zone, Id=zone) for _ in range(10)] == ["ok"] * 10


def test_a_burst_with_sdk_retries_completes_at_about_the_documented_rate(emu, zone):
    emu.settings(route53_rate=True)
    hub = client(emu, "route53", attempts=10)  # boto3 standard mode: backs off on Throttling
    emu.reset_calls()
    started = time.monotonic()
    for _ in range(80):
        hub.get_hosted_zone(Id=zone)
    elapsed = time.monotonic() - started
    # 50 at once (the bucket), then 10 per second: the last 30 need about 3 seconds.
    assert 2.5 <= elapsed <= 12, elapsed
    entry = emu.calls()["route53:GetHostedZone"]
    assert entry["count"] - entry["throttled"] == 80 and entry["throttled"] > 0


# --- 2. changes in flight ------------------------------------------------------------------------


def test_changes_in_flight_answer_concurrent_modification_and_prior_request_not_complete(emu, zone):
    hub, spoke = client(emu, "route53"), client(emu, "route53", SPOKE)
    other_zone = hub.create_hosted_zone(
        Name="other.example.", CallerReference="o", HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": REGION, "VPCId": vpc_of(emu, HUB, "10.5.0.0/16")})["HostedZone"]["Id"]
    vpc, vpc2 = vpc_of(emu, SPOKE), vpc_of(emu, SPOKE, "10.2.0.0/16")
    pair = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": vpc}}
    pair2 = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": vpc2}}
    # Default 0: back-to-back changes all go through.
    hub.create_vpc_association_authorization(**pair)
    hub.create_vpc_association_authorization(**pair2)
    hub.delete_vpc_association_authorization(**pair2)
    emu.settings(route53_change_seconds=1.5)
    hub.create_vpc_association_authorization(**pair2)
    # Within the window: another authorization change on the zone, by anyone ...
    error = pytest.raises(ClientError, hub.delete_vpc_association_authorization, **pair2).value.response
    assert error["Error"]["Code"] == "ConcurrentModification" and error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert outcome(hub.create_vpc_association_authorization, **pair) == "ConcurrentModification"
    # ... and an association on it are refused; the refusals leave nothing changed.
    error = pytest.raises(ClientError, spoke.associate_vpc_with_hosted_zone, **pair).value.response
    assert error["Error"]["Code"] == "PriorRequestNotComplete" and error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == "The request was rejected because Route 53 was still processing a prior request."
    assert spoke.list_hosted_zones_by_vpc(VPCId=vpc, VPCRegion=REGION)["HostedZoneSummaries"] == []
    # Another zone is not being changed.
    hub.create_vpc_association_authorization(HostedZoneId=other_zone, VPC={"VPCRegion": REGION, "VPCId": vpc})
    time.sleep(1.6)
    change = spoke.associate_vpc_with_hosted_zone(**pair)["ChangeInfo"]
    assert change["Status"] == "PENDING"
    assert hub.get_change(Id=change["Id"])["ChangeInfo"]["Status"] == "PENDING"
    assert outcome(hub.delete_vpc_association_authorization, **pair) == "ConcurrentModification"
    time.sleep(1.6)
    assert hub.get_change(Id=change["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    hub.delete_vpc_association_authorization(**pair)
    # DisassociateVPCFromHostedZone documents neither error: within the window it is not refused.
    assert spoke.disassociate_vpc_from_hosted_zone(**pair)["ChangeInfo"]["Status"] == "PENDING"
    # The SDK retries PriorRequestNotComplete by itself (not ConcurrentModification).
    retrying = client(emu, "route53", SPOKE, attempts=10)
    time.sleep(1.6)
    hub.create_vpc_association_authorization(**pair)
    before = emu.calls()["route53:AssociateVPCWithHostedZone"]["count"]
    retrying.associate_vpc_with_hosted_zone(**pair)
    assert emu.calls()["route53:AssociateVPCWithHostedZone"]["count"] - before >= 2
    assert {z["HostedZoneId"].split("/")[-1] for z in spoke.list_hosted_zones_by_vpc(
        VPCId=vpc, VPCRegion=REGION)["HostedZoneSummaries"]} == {zone.split("/")[-1]}


# --- 3. disassociation ---------------------------------------------------------------------------


def test_disassociation_by_either_owner_as_documented(emu, zone):
    hub, spoke, other = client(emu, "route53"), client(emu, "route53", SPOKE), client(emu, "route53", OTHER)
    hub_vpc = hub.get_hosted_zone(Id=zone)["VPCs"][0]["VPCId"]
    vpc = vpc_of(emu, SPOKE)
    pair = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": vpc}}
    # Not associated (yet): VPCAssociationNotFound (404), for the zone owner and the VPC owner.
    error = pytest.raises(ClientError, hub.disassociate_vpc_from_hosted_zone, **pair).value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("VPCAssociationNotFound", 404)
    assert outcome(spoke.disassociate_vpc_from_hosted_zone, **pair) == "VPCAssociationNotFound"
    hub.create_vpc_association_authorization(**pair)
    spoke.associate_vpc_with_hosted_zone(**pair)
    # An account owning neither the zone nor the VPC may not.
    assert outcome(other.disassociate_vpc_from_hosted_zone, **pair) == "InvalidVPCId"
    assert outcome(other.disassociate_vpc_from_hosted_zone, HostedZoneId="Z0000000000000",
                   VPC=pair["VPC"]) == "NoSuchHostedZone"
    # The VPC owner may, from its own account.
    spoke.disassociate_vpc_from_hosted_zone(**pair)
    assert [v["VPCId"] for v in hub.get_hosted_zone(Id=zone)["VPCs"]] == [hub_vpc]
    assert spoke.list_hosted_zones_by_vpc(VPCId=vpc, VPCRegion=REGION)["HostedZoneSummaries"] == []
    # So may the zone owner (the authorization is still standing, so the VPC owner re-associates).
    spoke.associate_vpc_with_hosted_zone(**pair)
    hub.disassociate_vpc_from_hosted_zone(**pair)
    # A private zone keeps its last VPC.
    error = pytest.raises(ClientError, hub.disassociate_vpc_from_hosted_zone, HostedZoneId=zone,
                          VPC={"VPCRegion": REGION, "VPCId": hub_vpc}).value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("LastVPCAssociation", 400)
    assert [v["VPCId"] for v in hub.get_hosted_zone(Id=zone)["VPCs"]] == [hub_vpc]


# --- 4. paging -------------------------------------------------------------------------------------


def test_association_authorizations_come_in_pages(emu, zone):
    hub = client(emu, "route53")
    raw = client(emu, "route53", validate=False)
    vpcs = [f"vpc-{n:017x}" for n in range(57)]
    for vpc in vpcs:
        hub.create_vpc_association_authorization(HostedZoneId=zone, VPC={"VPCRegion": REGION, "VPCId": vpc})

    def walk(**kwargs) -> list[list[str]]:
        pages, token = [], None
        while True:
            page = hub.list_vpc_association_authorizations(HostedZoneId=zone, **kwargs, **({"NextToken": token} if token else {}))
            pages.append([v["VPCId"] for v in page["VPCs"]])
            token = page.get("NextToken")
            if not token:
                return pages

    # Without MaxResults: up to 50 a page.
    assert [len(p) for p in walk()] == [50, 7]
    assert [len(p) for p in walk(MaxResults="20")] == [20, 20, 17]
    assert [len(p) for p in walk(MaxResults="1000")] == [50, 7]  # no documented maximum: pages stay at 50
    assert sorted(v for p in walk(MaxResults="20") for v in p) == sorted(vpcs)
    for wrong in ("0", "-3", "ten"):
        assert outcome(raw.list_vpc_association_authorizations, HostedZoneId=zone, MaxResults=wrong) == "InvalidInput"
    assert outcome(raw.list_vpc_association_authorizations, HostedZoneId=zone, NextToken="x" * 1025) == "InvalidInput"
    assert outcome(hub.list_vpc_association_authorizations, HostedZoneId=zone, NextToken="not-ours") == "InvalidPaginationToken"
    # The page_size setting caps every page; the harness follows the tokens.
    emu.settings(page_size=8)
    assert [len(p) for p in walk()] == [8] * 7 + [1]
    assert [len(p) for p in walk(MaxResults="3")][:2] == [3, 3]


def test_quotas_per_zone_are_enforced_and_the_vpc_quota_is_read_as_set(emu, zone):
    hub = client(emu, "route53")
    for n in range(100):
        hub.create_vpc_association_authorization(HostedZoneId=zone, VPC={"VPCRegion": REGION, "VPCId": f"vpc-{n:017x}"})
    assert code(hub.create_vpc_association_authorization, HostedZoneId=zone,
                VPC={"VPCRegion": REGION, "VPCId": "vpc-0ffffffffffffffff"}) == "TooManyVPCAssociationAuthorizations"
    # One already standing is no new authorization: still answered.
    hub.create_vpc_association_authorization(HostedZoneId=zone, VPC={"VPCRegion": REGION, "VPCId": f"vpc-{0:017x}"})

    limit = hub.get_hosted_zone_limit(Type="MAX_VPCS_ASSOCIATED_BY_ZONE", HostedZoneId=zone.split("/")[-1])
    assert (limit["Count"], limit["Limit"]) == (1, {"Type": "MAX_VPCS_ASSOCIATED_BY_ZONE", "Value": 300})
    emu.settings(route53_vpcs_per_zone=1)
    assert hub.get_hosted_zone_limit(Type="MAX_VPCS_ASSOCIATED_BY_ZONE", HostedZoneId=zone.split("/")[-1])["Limit"]["Value"] == 1
    spoke_vpc = emu.client("ec2", SPOKE).create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    hub.delete_vpc_association_authorization(HostedZoneId=zone, VPC={"VPCRegion": REGION, "VPCId": f"vpc-{0:017x}"})
    hub.create_vpc_association_authorization(HostedZoneId=zone, VPC={"VPCRegion": REGION, "VPCId": spoke_vpc})
    assert code(client(emu, "route53", SPOKE).associate_vpc_with_hosted_zone, HostedZoneId=zone,
                VPC={"VPCRegion": REGION, "VPCId": spoke_vpc}) == "LimitsExceeded"
    assert code(hub.get_hosted_zone_limit, Type="MAX_VPCS_ASSOCIATED_BY_ZONE", HostedZoneId="ZNOSUCHZONE") == "NoSuchHostedZone"
    with pytest.raises(EmulatorError):
        emu.settings(route53_vpcs_per_zone=0)


# --- 5. shared VPCs ----------------------------------------------------------------------------------


def test_a_shared_vpc_is_seen_by_the_participant_but_remains_the_owners(emu, zone):
    owner_ec2, participant_ec2 = emu.client("ec2", SPOKE), emu.client("ec2", OTHER)
    shared = vpc_of(emu, SPOKE, "10.7.0.0/16", tags={"team": "payments"})
    own = vpc_of(emu, OTHER, "10.8.0.0/16")
    assert emu.share_vpc(shared, SPOKE, OTHER) == [OTHER]
    seen = {v["VpcId"]: v for v in participant_ec2.describe_vpcs()["Vpcs"]}
    assert seen[shared]["OwnerId"] == SPOKE and seen[own]["OwnerId"] == OTHER
    assert not seen[shared].get("Tags")  # the owner's tags are not the participant's to see
    by_owner = participant_ec2.describe_vpcs(Filters=[{"Name": "owner-id", "Values": [SPOKE]}])["Vpcs"]
    assert [v["VpcId"] for v in by_owner] == [shared]
    mine = participant_ec2.describe_vpcs(Filters=[{"Name": "owner-id", "Values": [OTHER]}])["Vpcs"]
    assert shared not in [v["VpcId"] for v in mine] and own in [v["VpcId"] for v in mine]
    assert [v["VpcId"] for v in participant_ec2.describe_vpcs(VpcIds=[shared])["Vpcs"]] == [shared]
    # The owner's view is unchanged, tags included.
    [v] = owner_ec2.describe_vpcs(VpcIds=[shared])["Vpcs"]
    assert v["OwnerId"] == SPOKE and v["Tags"] == [{"Key": "team", "Value": "payments"}]
    # The participant cannot tag it, nor untag it; its own VPC it can.
    tags = [{"Key": "team", "Value": "mine"}]
    assert outcome(participant_ec2.create_tags, Resources=[shared], Tags=tags) == "UnauthorizedOperation"
    assert outcome(participant_ec2.create_tags, Resources=[own, shared], Tags=tags) == "UnauthorizedOperation"
    assert outcome(participant_ec2.delete_tags, Resources=[shared], Tags=[{"Key": "team"}]) == "UnauthorizedOperation"
    participant_ec2.create_tags(Resources=[own], Tags=tags)
    assert owner_ec2.describe_vpcs(VpcIds=[shared])["Vpcs"][0]["Tags"] == [{"Key": "team", "Value": "payments"}]
    # Associating it with a zone is for its owner only, even with an authorization standing.
    hub = client(emu, "route53")
    pair = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": shared}}
    hub.create_vpc_association_authorization(**pair)
    assert outcome(client(emu, "route53", OTHER).associate_vpc_with_hosted_zone, **pair) == "InvalidVPCId"
    client(emu, "route53", SPOKE).associate_vpc_with_hosted_zone(**pair)
    # Unsharing ends the participant's view.
    assert emu.unshare_vpc(shared, SPOKE, OTHER) == []
    assert shared not in [v["VpcId"] for v in participant_ec2.describe_vpcs()["Vpcs"]]
    with pytest.raises(EmulatorError):
        emu.share_vpc("vpc-0000000000000000f", SPOKE, OTHER)  # no such VPC
    with pytest.raises(EmulatorError):
        emu.share_vpc(shared, SPOKE, SPOKE)


# --- 6. unknown VPC ids ---------------------------------------------------------------------------


def test_unknown_vpc_ids_are_refused(emu, zone):
    ec2 = emu.client("ec2", SPOKE)
    vpc, other = vpc_of(emu, SPOKE), vpc_of(emu, SPOKE, "10.3.0.0/16")
    hub_vpc = vpc_of(emu, HUB, "10.4.0.0/16")
    missing = "vpc-0123456789abcdef0"
    # One unknown id among several fails the whole call, naming it.
    error = pytest.raises(ClientError, ec2.describe_vpcs, VpcIds=[vpc, missing, other]).value.response["Error"]
    assert error["Code"] == "InvalidVpcID.NotFound" and missing in error["Message"] and vpc not in error["Message"]
    # Another account's VPC (not shared) is unknown too; a repeated id is not.
    assert outcome(ec2.describe_vpcs, VpcIds=[vpc, hub_vpc]) == "InvalidVpcID.NotFound"
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc, vpc])["Vpcs"]] == [vpc]
    # AssociateVPCWithHostedZone: the VPC must exist in the caller's account.
    hub = client(emu, "route53")
    for vpc_id in (missing, vpc):  # vpc is the spoke's, not the hub's
        pair = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": vpc_id}}
        assert outcome(hub.associate_vpc_with_hosted_zone, **pair) == "InvalidVPCId"
