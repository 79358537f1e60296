"""The connection-notifications custom resource, end to end: its release or debug binary under the
local Lambda Runtime API, invoked with CloudFormation's requests, EC2 on the emulator, and its
answers PUT to a stand-in for the presigned response URL."""

from __future__ import annotations


import pytest

from harness.cloudformation import ResponseSink, request
from harness.emulator import REGION
from harness.scenario import ALLOWED, drain, topic_with_queue

FUNCTION = "connection-notifications"


@pytest.fixture
def sink():
    with ResponseSink() as s:
        yield s


@pytest.fixture
def topic(emu):
    """The stack's connection topic (vpce.amazonaws.com may publish) and a queue tapping it."""
    return topic_with_queue(emu, "stack-connection-requests")


@pytest.fixture
def resource(emu, functions):
    return functions(FUNCTION, emu.function_env())


def make_services(emu, n: int) -> list[str]:
    """n endpoint services, each in front of its own NLB."""
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    services = []
    for i in range(n):
        nlb = elb.create_load_balancer(Name=f"svc-{i}", Subnets=[subnet], Type="network", Scheme="internal")
        arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]
        config = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[arn], AcceptanceRequired=True)
        services.append(config["ServiceConfiguration"]["ServiceId"])
    return services


def on_topic(emu, topic_arn: str) -> dict[str, list[str]]:
    """Service id → events of every notification on the topic, read with EC2's own paging."""
    pages = emu.client("ec2").get_paginator("describe_vpc_endpoint_connection_notifications").paginate(
        Filters=[{"Name": "connection-notification-arn", "Values": [topic_arn]}]
    )
    found: dict[str, list[str]] = {}
    for page in pages:
        for n in page["ConnectionNotificationSet"]:
            assert n["ServiceId"] not in found, f"two notifications for {n['ServiceId']}"
            found[n["ServiceId"]] = sorted(n["ConnectionEvents"])
    return found


def props(topic_arn: str, services: list[str]) -> dict:
    # CloudFormation passes a CommaDelimitedList parameter as a list of strings.
    return {"TopicArn": topic_arn, "ServiceIds": services, "ConnectionEvents": ["Connect"]}


def run(resource, sink, event) -> dict:
    """Invoke with one request; the answer CloudFormation received."""
    before = len(sink.answers)
    result = resource.invoke(event)
    assert result.ok, result.body
    assert len(sink.answers) == before + 1, sink.refused
    answer = sink.answers[-1]
    for field in ("StackId", "RequestId", "LogicalResourceId"):
        assert answer[field] == event[field]
    return answer


def test_one_service_gets_its_notification_and_a_request_reaches_the_topic(emu, world, topic, sink, resource):
    topic_arn, queue = topic
    answer = run(resource, sink, request(sink, "Create", props(topic_arn, [world.service_id])))
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == f"connection-notifications:{topic_arn}"
    assert answer["Data"] == {"Created": 1, "Deleted": 0, "Unchanged": 0}
    assert on_topic(emu, topic_arn) == {world.service_id: ["Connect"]}

    endpoint, _ = world.create_endpoint(ALLOWED)
    [envelope] = drain(emu, queue)
    assert endpoint in envelope["Message"] and world.service_id in envelope["Message"]


def test_fifty_services_are_created_then_removed_as_the_list_shrinks(emu, world, topic, sink, resource):
    topic_arn, _ = topic
    services = make_services(emu, 50)
    created = run(resource, sink, request(sink, "Create", props(topic_arn, services)))
    assert created["Status"] == "SUCCESS", created
    assert created["Data"]["Created"] == 50
    assert on_topic(emu, topic_arn) == {s: ["Connect"] for s in services}

    physical = created["PhysicalResourceId"]
    shrink = request(sink, "Update", props(topic_arn, services[:10] + [world.service_id]), physical)
    updated = run(resource, sink, shrink)
    assert (updated["Status"], updated["PhysicalResourceId"]) == ("SUCCESS", physical)
    assert updated["Data"] == {"Created": 1, "Deleted": 40, "Unchanged": 10}
    assert on_topic(emu, topic_arn) == {s: ["Connect"] for s in services[:10] + [world.service_id]}

    # Lambda delivering the same request again changes nothing.
    again = run(resource, sink, shrink)
    assert again["Data"] == {"Created": 0, "Deleted": 0, "Unchanged": 11}

    gone = run(resource, sink, request(sink, "Delete", props(topic_arn, services[:10] + [world.service_id]), physical))
    assert gone["Status"] == "SUCCESS"
    assert on_topic(emu, topic_arn) == {}
    # The notification on another topic (the world's own) is not the resource's to remove.
    assert on_topic(emu, world.notification_topic) == {world.service_id: ["Accept", "Connect", "Delete", "Reject"]}


def test_a_refused_service_fails_the_request_and_the_rollback_cleans_up(emu, world, topic, sink, resource):
    topic_arn, _ = topic
    missing = "vpce-svc-0000000000000dead"
    answer = run(resource, sink, request(sink, "Create", props(topic_arn, [world.service_id, missing])))
    assert answer["Status"] == "FAILED"
    assert missing in answer["Reason"] and "the others were made" in answer["Reason"], answer["Reason"]
    assert on_topic(emu, topic_arn) == {world.service_id: ["Connect"]}

    # CloudFormation rolls a failed Create back with a Delete of the resource it named.
    rollback = run(resource, sink, request(sink, "Delete", props(topic_arn, [world.service_id, missing]),
                                           answer["PhysicalResourceId"]))
    assert rollback["Status"] == "SUCCESS"
    assert on_topic(emu, topic_arn) == {}


def test_a_new_topic_replaces_the_resource_and_the_old_topic_is_cleared(emu, world, topic, sink, resource):
    old_topic, _ = topic
    new_topic, _ = topic_with_queue(emu, "stack-connection-requests-2")
    first = run(resource, sink, request(sink, "Create", props(old_topic, [world.service_id])))
    moved = run(resource, sink, request(sink, "Update", props(new_topic, [world.service_id]), first["PhysicalResourceId"]))
    assert moved["PhysicalResourceId"] == f"connection-notifications:{new_topic}"
    # A new physical id makes CloudFormation delete the old resource, with its old properties.
    run(resource, sink, request(sink, "Delete", props(old_topic, [world.service_id]), first["PhysicalResourceId"]))
    assert on_topic(emu, old_topic) == {}
    assert on_topic(emu, new_topic) == {world.service_id: ["Connect"]}


@pytest.mark.parametrize("event,says", [
    ({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, "not a CloudFormation custom resource"),
    ({"RequestType": "Create", "ResponseURL": "http://collector.example/r", "StackId": "s", "RequestId": "r",
      "LogicalResourceId": "l", "ResourceProperties": {}}, "ResponseURL must be an https:// URL"),
    ({"RequestType": "Create", "ResponseURL": "http://127.0.0.1:@collector.example/r", "StackId": "s",
      "RequestId": "r", "LogicalResourceId": "l", "ResourceProperties": {}}, "ResponseURL must not carry user information"),
    ({"RequestType": "Create", "ResponseURL": "https://x.example/r"}, "malformed custom resource request"),
    ("[1, 2", None),
])
def test_what_is_not_a_custom_resource_request_is_refused(emu, world, sink, resource, event, says):
    result = resource.invoke(event)
    assert not result.ok
    if says is not None:
        assert result.error_type == "InvalidEvent", result.body
        assert says in result.error_message, result.error_message
    assert sink.answers == [] and sink.refused == []
    assert on_topic(emu, world.notification_topic) == {world.service_id: ["Accept", "Connect", "Delete", "Reject"]}


def test_a_request_answering_anywhere_but_cloudformation_changes_nothing(emu, world, sink, resource):
    """A forged Delete naming the acceptor's own notification, with a ResponseURL of the forger's:
    refused before any EC2 call, and the notification stays."""
    forged = request(sink, "Delete", props(world.notification_topic, [world.service_id]), physical="forged")
    forged["ResponseURL"] = "https://collector.example/cloudformation-custom-resource-response"
    emu.reset_calls()
    result = resource.invoke(forged)
    assert not result.ok and result.error_type == "InvalidEvent", result.body
    assert "ResponseURL must be CloudFormation's" in result.error_message
    assert not [op for op in emu.calls() if op.startswith("ec2:")]
    assert on_topic(emu, world.notification_topic) == {world.service_id: ["Accept", "Connect", "Delete", "Reject"]}


def test_an_answer_that_cannot_be_delivered_fails_the_invocation_and_the_retry_changes_nothing_twice(emu, world, topic, sink, resource):
    topic_arn, _ = topic
    create = request(sink, "Create", props(topic_arn, [world.service_id]))
    sink.fail_next(3)
    failed = resource.invoke(create)
    assert failed.error_type == "Delivery", failed.body
    assert "answered 500 (3 attempts)" in failed.error_message
    assert on_topic(emu, topic_arn) == {world.service_id: ["Connect"]}
    # Lambda's retry of the same request: answered, and still one notification.
    answer = run(resource, sink, create)
    assert answer["Status"] == "SUCCESS" and answer["Data"]["Unchanged"] == 1
    assert on_topic(emu, topic_arn) == {world.service_id: ["Connect"]}
    logs = "\n".join(resource.logs)
    assert "CloudFormation response retried" in logs
    assert create["ResponseURL"] not in logs
