"""The emulator's fault injection, call accounting and limits (tests/emulator/faults.py,
tests/emulator/limits.py), and PrivateLink's connection tags and acceptance delay
(tests/emulator/privatelink.py), read back through boto3 as a client of AWS would."""

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.emulator import PROVIDER, REGION, EmulatorError
from harness.scenario import ALLOWED, STRANGER, create_table


def error(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]


def once(emu, service: str, account: str = PROVIDER):
    """A client that does not retry, so every error reaches the test, and, like the AWS SDK for
    Rust, leaves length limits to the service."""
    key, secret, token = emu._credentials.get(account) or emu.credentials(account)
    return boto3.client(service, endpoint_url=emu.url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False))


# --- faults ------------------------------------------------------------------------------------


def test_faults_come_back_in_each_protocol_with_their_code(emu):
    topic = emu.client("sns").create_topic(Name="t")["TopicArn"]
    table = create_table(emu, "t")
    emu.client("ssm").put_parameter(Name="/p", Value="v", Type="String")
    zone = emu.client("route53").create_hosted_zone(Name="example.com.", CallerReference="z")["HostedZone"]["Id"]
    emu.faults([
        {"service": "ec2", "operation": "DescribeVpcs", "code": "UnauthorizedOperation", "status": 403,
         "message": "You are not authorized", "times": -1},
        {"service": "sns", "operation": "Publish", "code": "InternalError", "status": 500, "times": -1},
        {"service": "dynamodb", "operation": "PutItem", "code": "ProvisionedThroughputExceededException",
         "message": "slow down", "times": -1},
        {"service": "ssm", "operation": "GetParameter", "code": "InternalServerError", "status": 500, "times": -1},
        {"service": "route53", "operation": "GetHostedZone", "code": "Throttling", "message": "Rate exceeded",
         "times": -1},
        {"service": "elbv2", "operation": "DescribeLoadBalancers", "code": "Throttling", "times": -1},
        {"service": "sts", "operation": "GetCallerIdentity", "code": "ExpiredToken", "times": -1},
    ])
    ec2 = error(once(emu, "ec2").describe_vpcs)
    assert (ec2["Code"], ec2["Message"]) == ("UnauthorizedOperation", "You are not authorized")
    sns = error(once(emu, "sns").publish, TopicArn=topic, Message="x")
    assert (sns["Code"], sns["Type"]) == ("InternalError", "Receiver")
    ddb = error(once(emu, "dynamodb").put_item, TableName=table, Item={"pk": {"S": "a"}})
    assert (ddb["Code"], ddb["Message"]) == ("ProvisionedThroughputExceededException", "slow down")
    assert error(once(emu, "ssm").get_parameter, Name="/p")["Code"] == "InternalServerError"
    r53 = error(once(emu, "route53").get_hosted_zone, Id=zone)
    assert (r53["Code"], r53["Message"], r53["Type"]) == ("Throttling", "Rate exceeded", "Sender")
    assert error(once(emu, "elbv2").describe_load_balancers)["Code"] == "Throttling"
    assert error(once(emu, "sts").get_caller_identity)["Code"] == "ExpiredToken"
    # Other operations of the same services are untouched, and clearing the rules ends the faults.
    emu.client("route53").list_hosted_zones()
    emu.faults([])
    emu.client("ec2").describe_vpcs()
    emu.client("sns").publish(TopicArn=topic, Message="x")


def test_skip_times_and_match_pick_the_requests(emu):
    sns = once(emu, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    emu.faults([{"service": "sns", "operation": "Publish", "code": "InvalidParameter", "match": "needle",
                 "skip": 1, "times": 2}])
    sns.publish(TopicArn=topic, Message="hay")  # does not match
    sns.publish(TopicArn=topic, Message="needle 1")  # matches, skipped
    for n in (2, 3):
        assert error(sns.publish, TopicArn=topic, Message=f"needle {n}")["Code"] == "InvalidParameter"
    sns.publish(TopicArn=topic, Message="needle 4")  # the rule is spent
    [rule] = emu.fault_rules()
    assert (rule["skipped"], rule["fired"], rule["left"]) == (1, 2, 0)
    # match also reads the path: a Route 53 zone id, and "operation" may be left out.
    r53 = once(emu, "route53")
    a, b = (r53.create_hosted_zone(Name=f"{n}.example.com.", CallerReference=n)["HostedZone"]["Id"] for n in "ab")
    emu.faults([{"service": "route53", "code": "NoSuchHostedZone", "status": 404, "match": b.split("/")[-1],
                 "times": -1}])
    r53.get_hosted_zone(Id=a)
    assert error(r53.get_hosted_zone, Id=b)["Code"] == "NoSuchHostedZone"


def test_bad_rules_and_settings_are_refused(emu):
    for rules in ([{"operation": "Publish", "code": "X"}], [{"service": "sns", "operation": "Publish"}],
                  [{"service": "sns", "operation": "Publish", "unprocessed": True}],
                  [{"service": "sns", "code": "X", "colour": "blue"}], {"service": "sns"}):
        with pytest.raises(EmulatorError):
            emu.faults(rules)
    with pytest.raises(EmulatorError):
        emu.settings(colour=1)
    with pytest.raises(EmulatorError):
        emu.settings(accept_seconds=-1)
    for value in (0, 1.5, -1, "2", True):
        with pytest.raises(EmulatorError):
            emu.settings(page_size=value)
    for name, wrong in (("elb_rate", 0), ("elb_rate", "fast"), ("ec2_rate", -1), ("ec2_rate", [5]),
                        ("target_health_scale", -0.5), ("target_health_scale", None), ("target_health_scale", True),
                        ("latency_ms", -1), ("latency_ms", "10"), ("latency_ms", {"sns": -1}), ("latency_ms", {"": 5}),
                        ("latency_ms", True), ("route53_vpcs_per_zone", 0), ("route53_vpcs_per_zone", 2.5),
                        ("resolver_association_seconds", -1), ("resolver_failing_vpcs", "vpc-1"),
                        ("resolver_associations_per_region", 0)):
        with pytest.raises(EmulatorError):
            emu.settings(**{name: wrong})
    # Every setting is off (AWS's own behaviour, and its default quotas) until set; the harness
    # starts target health at once (target_health_scale 0, the server's own default being 1.0,
    # real time).
    assert emu.settings() == {"accept_seconds": 0.5, "visible_after_seconds": 0.0, "page_size": None,
                              "route53_rate": None, "route53_change_seconds": 0, "route53_vpcs_per_zone": 300, "elb_rate": None,
                              "ec2_rate": None, "latency_ms": None, "target_health_scale": 0.0,
                              "resolver_association_seconds": 1.0, "resolver_failing_vpcs": [],
                              "resolver_associations_per_region": 2000, "resolver_rate": None}


def test_calls_are_counted_timed_and_reset(emu):
    sns = emu.client("sns")  # retries, as the SDKs do by default
    topic = sns.create_topic(Name="t")["TopicArn"]
    emu.reset_calls()
    emu.faults([{"service": "sns", "operation": "Publish", "code": "InternalError", "status": 500, "times": 1}])
    sns.publish(TopicArn=topic, Message="x")  # the 500 is retried
    sns.publish(TopicArn=topic, Message="y")
    calls = emu.calls()
    assert list(calls) == ["sns:Publish"]
    assert (calls["sns:Publish"]["count"], calls["sns:Publish"]["faulted"]) == (3, 1)
    assert calls["sns:Publish"]["seconds"] > 0
    emu.reset_calls()
    assert emu.calls() == {}


def test_route53_rest_calls_are_named_as_the_api_reference_names_them(emu):
    hub, spoke = emu.client("route53"), emu.client("route53", ALLOWED)
    hub_vpc = emu.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    vpc = emu.client("ec2", ALLOWED).create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    zone = hub.create_hosted_zone(Name="internal.example.", CallerReference="z", HostedZoneConfig={"PrivateZone": True},
                                  VPC={"VPCRegion": REGION, "VPCId": hub_vpc})["HostedZone"]["Id"]
    pair = {"HostedZoneId": zone, "VPC": {"VPCRegion": REGION, "VPCId": vpc}}
    emu.reset_calls()
    hub.list_hosted_zones()
    hub.get_hosted_zone(Id=zone)
    hub.create_vpc_association_authorization(**pair)
    hub.list_vpc_association_authorizations(HostedZoneId=zone)
    spoke.associate_vpc_with_hosted_zone(**pair)
    spoke.list_hosted_zones_by_vpc(VPCId=vpc, VPCRegion=REGION)
    hub.delete_vpc_association_authorization(**pair)
    hub.disassociate_vpc_from_hosted_zone(**pair)
    hub.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=[zone.split("/")[-1]])
    assert sorted(emu.calls()) == sorted(f"route53:{op}" for op in (
        "ListHostedZones", "GetHostedZone", "CreateVPCAssociationAuthorization", "ListVPCAssociationAuthorizations",
        "AssociateVPCWithHostedZone", "ListHostedZonesByVPC", "DeleteVPCAssociationAuthorization",
        "DisassociateVPCFromHostedZone", "ListTagsForResources"))


# --- 200 answers that did nothing --------------------------------------------------------------


def test_unsuccessful_items_refuse_every_id_and_change_nothing(world):
    emu, ec2 = world.emu, world.emu.client("ec2")
    a, _ = world.create_endpoint(ALLOWED)
    b, _ = world.create_endpoint(STRANGER)
    emu.faults([{"service": "ec2", "operation": "AcceptVpcEndpointConnections", "unsuccessful": True,
                 "code": "Server.InternalError", "message": "try again"},
                {"service": "ec2", "operation": "RejectVpcEndpointConnections", "unsuccessful": True}])
    # The operation's own validation still comes first, and does not spend the rule.
    assert error(ec2.accept_vpc_endpoint_connections, ServiceId="vpce-svc-0fffffff",
                 VpcEndpointIds=[a])["Code"] == "InvalidVpcEndpointServiceId.NotFound"
    out = ec2.accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a, b])["Unsuccessful"]
    assert sorted((u["ResourceId"], u["Error"]["Code"], u["Error"]["Message"]) for u in out) == sorted(
        [(a, "Server.InternalError", "try again"), (b, "Server.InternalError", "try again")])
    [out] = ec2.reject_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[b])["Unsuccessful"]
    assert (out["ResourceId"], out["Error"]["Code"]) == (b, "InternalError")
    assert world.states() == {a: "pendingAcceptance", b: "pendingAcceptance"}
    assert [json.loads(n["Message"])["connectionEvent"] for n in world.connection_notifications()] == ["Connect", "Connect"]
    # Spent: the next call goes through.
    assert ec2.accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a])["Unsuccessful"] == []


def test_unprocessed_batches_write_and_read_nothing(emu):
    ddb = once(emu, "dynamodb")
    table = create_table(emu, "t")
    items = {table: [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "n": {"N": str(i)}}}} for i in range(3)]}
    emu.faults([{"service": "dynamodb", "operation": "BatchWriteItem", "unprocessed": True, "times": 1},
                {"service": "dynamodb", "operation": "BatchGetItem", "unprocessed": True, "times": 1}])
    assert ddb.batch_write_item(RequestItems=items)["UnprocessedItems"] == items
    assert ddb.scan(TableName=table)["Count"] == 0
    assert ddb.batch_write_item(RequestItems=items)["UnprocessedItems"] == {}
    assert ddb.scan(TableName=table)["Count"] == 3
    keys = {table: {"Keys": [{"pk": {"S": "k0"}}, {"pk": {"S": "k1"}}]}}
    first = ddb.batch_get_item(RequestItems=keys)
    assert first["UnprocessedKeys"] == keys and not first["Responses"].get(table)
    second = ddb.batch_get_item(RequestItems=keys)
    assert second["UnprocessedKeys"] == {} and len(second["Responses"][table]) == 2
    assert emu.calls()["dynamodb:BatchWriteItem"]["faulted"] == 1


# --- limits ------------------------------------------------------------------------------------


def puts(table: str, n: int, start: int = 0) -> list[dict]:
    return [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(start, start + n)]


def test_batch_write_takes_25_requests_and_one_per_item(emu):
    ddb = once(emu, "dynamodb")
    a, b = create_table(emu, "a"), create_table(emu, "b")
    assert ddb.batch_write_item(RequestItems={a: puts(a, 25)})["UnprocessedItems"] == {}
    # Refused before anything else, even when an unprocessed rule is waiting (it stays unspent).
    emu.faults([{"service": "dynamodb", "operation": "BatchWriteItem", "unprocessed": True}])
    too_many = error(ddb.batch_write_item, RequestItems={a: puts(a, 26, 100)})
    assert too_many["Code"] == "ValidationException" and "length less than or equal to 25" in too_many["Message"]
    across = error(ddb.batch_write_item, RequestItems={a: puts(a, 13, 200), b: puts(b, 13, 200)})
    assert (across["Code"], across["Message"]) == ("ValidationException", "Too many items requested for the BatchWriteItem call")
    assert error(ddb.batch_write_item, RequestItems={a: []})["Code"] == "ValidationException"
    same_item = [{"PutRequest": {"Item": {"pk": {"S": "x"}, "v": {"S": "1"}}}}, {"DeleteRequest": {"Key": {"pk": {"S": "x"}}}}]
    assert error(ddb.batch_write_item, RequestItems={a: same_item})["Message"] == "Provided list of item keys contains duplicates"
    assert error(ddb.batch_write_item, RequestItems={"nope": puts("nope", 1)})["Code"] == "ResourceNotFoundException"
    assert ddb.scan(TableName=a)["Count"] == 25
    assert emu.fault_rules()[0]["fired"] == 0


def test_batch_get_takes_100_keys(emu):
    ddb = once(emu, "dynamodb")
    a, b = create_table(emu, "a"), create_table(emu, "b")
    keys = lambda n, start=0: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(start, start + n)]}  # noqa: E731
    assert ddb.batch_get_item(RequestItems={a: keys(100)})["Responses"][a] == []
    one_table = error(ddb.batch_get_item, RequestItems={a: keys(101)})
    assert one_table["Code"] == "ValidationException" and "less than or equal to 100" in one_table["Message"]
    across = error(ddb.batch_get_item, RequestItems={a: keys(60), b: keys(60)})
    assert (across["Code"], across["Message"]) == ("ValidationException", "Too many items requested for the BatchGetItem call")
    assert error(ddb.batch_get_item, RequestItems={a: {"Keys": []}})["Code"] == "ValidationException"


def test_sns_messages_are_at_most_262144_bytes_with_attributes(emu):
    sns = once(emu, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.publish(TopicArn=topic, Message="x" * 262_144)
    for kwargs in ({"Message": "x" * 262_145},
                   {"Message": "é" * 131_073},  # 131,073 characters, 262,146 bytes
                   {"Message": "x" * 262_140, "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "alert"}}}):
        e = error(sns.publish, TopicArn=topic, **kwargs)
        assert (e["Code"], e["Message"]) == ("InvalidParameter", "Invalid parameter: Message too long")


def test_sns_publish_batch_takes_ten_entries_of_262144_bytes_in_all(emu):
    sns = once(emu, "sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    entry = lambda n, size=10: {"Id": f"m-{n}", "Message": "x" * size}  # noqa: E731
    out = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[entry(n, 26_214) for n in range(10)])
    assert len(out["Successful"]) == 10 and not out.get("Failed")
    refusals = [
        ([entry(n) for n in range(11)], "TooManyEntriesInBatchRequest"),
        ([entry(n, 26_215) for n in range(10)], "BatchRequestTooLong"),  # 262,150 bytes in all
        ([entry(0), entry(0)], "BatchEntryIdsNotDistinct"),
        ([{"Id": "a.b", "Message": "x"}], "InvalidBatchEntryId"),
        ([{"Id": "x" * 81, "Message": "x"}], "InvalidBatchEntryId"),
    ]
    for entries, code in refusals:
        assert error(sns.publish_batch, TopicArn=topic, PublishBatchRequestEntries=entries)["Code"] == code
    assert error(sns.publish_batch, TopicArn=topic, PublishBatchRequestEntries=[])["Code"] == "EmptyBatchRequest"


# --- PrivateLink: the connection's own tags, and acceptance takes time ---------------------------


def connection(world, endpoint: str) -> dict:
    f = [{"Name": "vpc-endpoint-id", "Values": [endpoint]}]
    [c] = world.emu.client("ec2").describe_vpc_endpoint_connections(Filters=f)["VpcEndpointConnections"]
    return c


def test_connection_tags_are_the_connections_own(world):
    ec2 = world.emu.client("ec2")
    endpoint, _ = world.create_endpoint(ALLOWED, tags={"team": "orders"})
    c = connection(world, endpoint)
    assert c["VpcEndpointConnectionId"].startswith("vpce-con-")
    assert c.get("Tags", []) == [], "the consumer endpoint's tags are not the connection's"
    ec2.create_tags(Resources=[c["VpcEndpointConnectionId"]], Tags=[{"Key": "decision", "Value": "accepted"}])
    assert connection(world, endpoint)["Tags"] == [{"Key": "decision", "Value": "accepted"}]
    [tag] = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["vpc-endpoint-connection"]}])["Tags"]
    assert (tag["ResourceId"], tag["ResourceType"], tag["Key"]) == (c["VpcEndpointConnectionId"], "vpc-endpoint-connection", "decision")
    ec2.delete_tags(Resources=[c["VpcEndpointConnectionId"]], Tags=[{"Key": "decision"}])
    assert connection(world, endpoint).get("Tags", []) == []
    # Only the provider's own connections can be tagged, and the consumer's endpoint keeps its tags.
    assert error(ec2.create_tags, Resources=["vpce-con-0123456789abcdef0"], Tags=[{"Key": "k", "Value": "v"}])["Code"] == "InvalidID"
    consumer = world.emu.client("ec2", ALLOWED)
    assert error(consumer.create_tags, Resources=[c["VpcEndpointConnectionId"]], Tags=[{"Key": "k", "Value": "v"}])["Code"] == "InvalidID"
    [mine] = consumer.describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"]
    assert mine["Tags"] == [{"Key": "team", "Value": "orders"}]


def test_accepted_connections_are_pending_for_a_while(world):
    emu, ec2 = world.emu, world.emu.client("ec2")
    assert emu.settings(accept_seconds=0.4)["accept_seconds"] == 0.4
    a, _ = world.create_endpoint(ALLOWED)
    b, _ = world.create_endpoint(STRANGER)
    accepted = time.monotonic()
    assert ec2.accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a])["Unsuccessful"] == []
    assert ec2.reject_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[b])["Unsuccessful"] == []
    assert world.states() == {a: "pending", b: "rejected"}
    consumer = emu.client("ec2", ALLOWED).describe_vpc_endpoints(VpcEndpointIds=[a])["VpcEndpoints"][0]
    assert consumer["State"] == "pending"
    pending = [{"Name": "vpc-endpoint-state", "Values": ["pending"]}]
    assert [c["VpcEndpointId"] for c in ec2.describe_vpc_endpoint_connections(Filters=pending)["VpcEndpointConnections"]] == [a]
    # Neither a second Accept nor a Reject moves a pending connection.
    for call in (ec2.accept_vpc_endpoint_connections, ec2.reject_vpc_endpoint_connections):
        [u] = call(ServiceId=world.service_id, VpcEndpointIds=[a])["Unsuccessful"]
        assert u["Error"]["Code"] == "IncorrectState"
    assert world.settled_states() == {a: "available", b: "rejected"}
    assert time.monotonic() - accepted >= 0.4
    consumer = emu.client("ec2", ALLOWED).describe_vpc_endpoints(VpcEndpointIds=[a])["VpcEndpoints"][0]
    assert consumer["State"] == "available"


def test_settled_states_gives_up_after_its_timeout(world):
    world.emu.settings(accept_seconds=30)
    a, _ = world.create_endpoint(ALLOWED)
    world.emu.client("ec2").accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a])
    with pytest.raises(AssertionError, match="still pending"):
        world.settled_states(timeout=0.2)
    world.emu.settings(accept_seconds=0)  # applies to later accepts only
    assert world.states() == {a: "pending"}


def test_a_new_connection_can_be_seen_late_as_ec2_is_eventually_consistent(world):
    world.emu.settings(visible_after_seconds=0.5)
    endpoint, _ = world.create_endpoint(ALLOWED)
    assert world.states() == {}
    time.sleep(0.5)
    assert world.states() == {endpoint: "pendingAcceptance"}


# --- EC2 request throttling (tests/emulator/ec2_throttling.py) ---------------------------------


def outcome(call, **kwargs) -> str:
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return "ok"


def until_limited(call, limit: int = 300, **kwargs) -> list[str]:
    codes: list[str] = []
    while len(codes) < limit and (not codes or codes[-1] != "RequestLimitExceeded"):
        codes.append(outcome(call, **kwargs))
    return codes


def test_ec2_throttles_each_api_with_its_own_bucket(world):
    emu = world.emu
    ec2 = once(emu, "ec2")
    emu.reset_calls()
    emu.settings(ec2_rate=True)
    started = time.monotonic()
    # AcceptVpcEndpointConnections: 10 at once, then 1 a second.
    accept = {"ServiceId": world.service_id, "VpcEndpointIds": ["vpce-0123456789abcdef0"]}
    accepts = until_limited(ec2.accept_vpc_endpoint_connections, **accept)
    assert accepts[-1] == "RequestLimitExceeded" and "RequestLimitExceeded" not in accepts[:-1]
    assert 10 <= len(accepts) - 1 <= 10 + (time.monotonic() - started) + 1, accepts
    with pytest.raises(ClientError) as e:
        for _ in range(3):
            ec2.reject_vpc_endpoint_connections(**accept)  # its own bucket: not empty yet
            ec2.accept_vpc_endpoint_connections(**accept)
    assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (
        "RequestLimitExceeded", "Request limit exceeded.")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # Other APIs are not affected.
    assert [outcome(ec2.describe_vpc_endpoint_connections) for _ in range(20)] == ["ok"] * 20
    # DescribeInstances without a filter or pagination: the smaller bucket (50, 10 a second);
    # with a filter or MaxResults, the standard one (100, 20 a second).
    started = time.monotonic()
    plain = until_limited(ec2.describe_instances)
    assert plain[-1] == "RequestLimitExceeded" and 50 <= len(plain) - 1 <= 50 + 10 * (time.monotonic() - started) + 1
    running = [{"Name": "instance-state-name", "Values": ["running"]}]
    assert [outcome(ec2.describe_instances, Filters=running) for _ in range(60)] == ["ok"] * 60
    assert outcome(ec2.describe_instances, MaxResults=5) == "ok"
    # Resource buckets: StopInstances takes one token per instance from a bucket of 1000.
    assert outcome(ec2.stop_instances, InstanceIds=[f"i-{n:017x}" for n in range(1001)]) == "RequestLimitExceeded"
    assert outcome(ec2.stop_instances, InstanceIds=["i-0123456789abcdef0"]) == "InvalidInstanceID.NotFound"
    # Per account and region.
    assert outcome(once(emu, "ec2", ALLOWED).accept_vpc_endpoint_connections, **accept) != "RequestLimitExceeded"
    calls = emu.calls()
    assert calls["ec2:AcceptVpcEndpointConnections"]["throttled"] >= 2
    assert calls["ec2:DescribeInstances"]["throttled"] == 1
    assert calls["ec2:StopInstances"]["throttled"] == 1


def test_ec2_rate_as_a_number_is_one_bucket_for_every_action(emu):
    for wrong in (0, -1, "fast", [5]):
        with pytest.raises(EmulatorError):
            emu.settings(ec2_rate=wrong)
    ec2 = once(emu, "ec2")
    emu.settings(ec2_rate=3)
    started = time.monotonic()
    codes = [outcome(ec2.describe_vpcs), outcome(ec2.describe_subnets), outcome(ec2.describe_availability_zones)]
    codes += until_limited(ec2.describe_vpcs)
    assert codes[:3] == ["ok"] * 3 and codes[-1] == "RequestLimitExceeded"
    assert len(codes) - 1 <= 3 + 3 * (time.monotonic() - started) + 1
    emu.settings(ec2_rate=False)
    assert [outcome(ec2.describe_vpcs) for _ in range(20)] == ["ok"] * 20


# --- latency (tests/emulator/latency.py) --------------------------------------------------------


def test_latency_is_added_to_every_call_or_to_those_named(emu):
    sns, ec2, elb = once(emu, "sns"), once(emu, "ec2"), once(emu, "elbv2")
    emu.settings(latency_ms=40)
    started = time.monotonic()
    for _ in range(5):
        sns.list_topics()
    assert time.monotonic() - started >= 0.2, "five sequential calls pay five times"
    emu.reset_calls()
    emu.settings(latency_ms={"ec2:DescribeVpcs": 300, "elbv2": 200})
    timed = {}
    for name, call in (("vpcs", ec2.describe_vpcs), ("subnets", ec2.describe_subnets),
                       ("lbs", elb.describe_load_balancers), ("topics", sns.list_topics)):
        began = time.monotonic()
        call()
        timed[name] = time.monotonic() - began
    assert timed["vpcs"] >= 0.3 and timed["lbs"] >= 0.2
    calls = emu.calls()
    assert calls["ec2:DescribeVpcs"]["seconds"] >= 0.3
    assert calls["elasticloadbalancing:DescribeLoadBalancers"]["seconds"] >= 0.2
    assert calls["ec2:DescribeSubnets"]["seconds"] < 0.15 and calls["sns:ListTopics"]["seconds"] < 0.15
    # Refused calls take their time too; null turns it off.
    emu.faults([{"service": "ec2", "operation": "DescribeVpcs", "code": "InternalError", "status": 500}])
    began = time.monotonic()
    assert error(ec2.describe_vpcs)["Code"] == "InternalError"
    assert time.monotonic() - began >= 0.3
    emu.settings(latency_ms=None)
    emu.reset_calls()
    ec2.describe_vpcs()
    assert emu.calls()["ec2:DescribeVpcs"]["seconds"] < 0.15
