"""The emulator's PrivateLink extension behaves as the EC2 API reference says (tests/emulator)."""

import json

import pytest
from botocore.exceptions import ClientError

from harness.scenario import ALLOWED, STRANGER


def filtered(world, **filters):
    ec2 = world.emu.client("ec2")
    f = [{"Name": k.replace("_", "-"), "Values": [v]} for k, v in filters.items()]
    return sorted(c["VpcEndpointId"] for c in ec2.describe_vpc_endpoint_connections(Filters=f)["VpcEndpointConnections"])


def test_only_allowed_principals_can_connect(world):
    ec2 = world.emu.client("ec2")
    ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=world.service_id, RemoveAllowedPrincipals=[f"arn:aws:iam::{STRANGER}:root"]
    )
    with pytest.raises(ClientError) as e:
        world.create_endpoint(STRANGER)
    assert e.value.response["Error"]["Code"] == "InvalidServiceName"
    endpoint, _ = world.create_endpoint(ALLOWED)
    consumer = world.emu.client("ec2", ALLOWED).describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"][0]
    assert consumer["State"] == "pendingAcceptance"


def test_filters_select_connections(world):
    a, _ = world.create_endpoint(ALLOWED)
    b, _ = world.create_endpoint(STRANGER)
    world.emu.client("ec2").accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a])
    assert filtered(world, service_id=world.service_id) == sorted([a, b])
    assert filtered(world, service_id="vpce-svc-0ffffffff") == []
    assert filtered(world, vpc_endpoint_state="pendingAcceptance") == [b]
    assert filtered(world, vpc_endpoint_id=a) == [a]
    assert filtered(world, vpc_endpoint_owner=STRANGER) == [b]
    with pytest.raises(ClientError) as e:
        filtered(world, vpc_id="vpc-1")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_paging_with_max_results(world):
    ids = sorted(world.create_endpoint(ALLOWED)[0] for _ in range(7))
    ec2 = world.emu.client("ec2")
    first = ec2.describe_vpc_endpoint_connections(MaxResults=5)
    assert len(first["VpcEndpointConnections"]) == 5 and first["NextToken"]
    second = ec2.describe_vpc_endpoint_connections(MaxResults=5, NextToken=first["NextToken"])
    assert len(second["VpcEndpointConnections"]) == 2 and "NextToken" not in second
    assert sorted(c["VpcEndpointId"] for c in first["VpcEndpointConnections"] + second["VpcEndpointConnections"]) == ids
    with pytest.raises(ClientError) as e:
        ec2.describe_vpc_endpoint_connections(MaxResults=3)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_state_transitions_and_unsuccessful_items(world):
    ec2 = world.emu.client("ec2")
    a, _ = world.create_endpoint(ALLOWED)
    b, _ = world.create_endpoint(STRANGER)
    assert ec2.accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a])["Unsuccessful"] == []
    out = ec2.accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a, "vpce-0000000000"])
    codes = {u["ResourceId"]: u["Error"]["Code"] for u in out["Unsuccessful"]}
    assert codes == {a: "IncorrectState", "vpce-0000000000": "InvalidVpcEndpointId.NotFound"}
    assert ec2.reject_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[b])["Unsuccessful"] == []
    # Acceptance takes a while (see test_emulator_faults.py).
    assert world.settled_states() == {a: "available", b: "rejected"}
    # An accepted connection can still be rejected (disconnected); a rejected one cannot be accepted.
    assert ec2.reject_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a])["Unsuccessful"] == []
    again = ec2.accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[b])["Unsuccessful"]
    assert [u["Error"]["Code"] for u in again] == ["IncorrectState"]
    assert world.states() == {a: "rejected", b: "rejected"}
    consumer = world.emu.client("ec2", STRANGER).describe_vpc_endpoints(VpcEndpointIds=[b])["VpcEndpoints"][0]
    assert consumer["State"] == "rejected"
    with pytest.raises(ClientError) as e:
        ec2.accept_vpc_endpoint_connections(ServiceId="vpce-svc-0fffffff", VpcEndpointIds=[a])
    assert e.value.response["Error"]["Code"] == "InvalidVpcEndpointServiceId.NotFound"


def test_connection_notifications_follow_their_events(world):
    ec2 = world.emu.client("ec2")
    a, _ = world.create_endpoint(ALLOWED)
    ec2.accept_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[a])
    world.emu.client("ec2", ALLOWED).delete_vpc_endpoints(VpcEndpointIds=[a])
    bodies = [json.loads(n["Message"]) for n in world.connection_notifications()]
    assert [(b["connectionEvent"], b["vpcEndpointId"], b["serviceId"]) for b in bodies] == [
        ("Connect", a, world.service_id), ("Accept", a, world.service_id), ("Delete", a, world.service_id)]
    assert world.states() == {}
    # A notification subscribed to Reject only hears rejections.
    [n] = ec2.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"]
    ec2.delete_vpc_endpoint_connection_notifications(ConnectionNotificationIds=[n["ConnectionNotificationId"]])
    ec2.create_vpc_endpoint_connection_notification(
        ServiceId=world.service_id, ConnectionNotificationArn=world.notification_topic, ConnectionEvents=["Reject"])
    b, _ = world.create_endpoint(STRANGER)
    ec2.reject_vpc_endpoint_connections(ServiceId=world.service_id, VpcEndpointIds=[b])
    assert [json.loads(n["Message"])["connectionEvent"] for n in world.connection_notifications()] == ["Reject"]


def test_connection_notification_needs_a_topic_and_known_events(world):
    ec2 = world.emu.client("ec2")
    for arn, events in ((world.notification_topic[:-1] + "x", ["Connect"]), (world.notification_topic, ["Poke"])):
        with pytest.raises(ClientError) as e:
            ec2.create_vpc_endpoint_connection_notification(
                ServiceId=world.service_id, ConnectionNotificationArn=arn, ConnectionEvents=events)
        assert e.value.response["Error"]["Code"] in ("InvalidConnectionNotification", "InvalidParameterValue")


def test_connection_notifications_are_filtered_paged_and_idempotent(world):
    ec2 = world.emu.client("ec2")
    other = world.emu.client("sns").create_topic(Name="other")["TopicArn"]
    made = [ec2.create_vpc_endpoint_connection_notification(
        ServiceId=world.service_id, ConnectionNotificationArn=other, ConnectionEvents=["Connect"],
        ClientToken=f"t-{i}")["ConnectionNotification"]["ConnectionNotificationId"] for i in range(25)]
    # The same token again is the same notification; with other parameters it is refused.
    again = ec2.create_vpc_endpoint_connection_notification(
        ServiceId=world.service_id, ConnectionNotificationArn=other, ConnectionEvents=["Connect"], ClientToken="t-0")
    assert again["ConnectionNotification"]["ConnectionNotificationId"] == made[0]
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint_connection_notification(
            ServiceId=world.service_id, ConnectionNotificationArn=other, ConnectionEvents=["Accept"], ClientToken="t-0")
    assert e.value.response["Error"]["Code"] == "IdempotentParameterMismatch"

    on_other = [{"Name": "connection-notification-arn", "Values": [other]}]
    first = ec2.describe_vpc_endpoint_connection_notifications(Filters=on_other)
    assert len(first["ConnectionNotificationSet"]) == 20 and first["NextToken"]
    pages = ec2.get_paginator("describe_vpc_endpoint_connection_notifications").paginate(Filters=on_other)
    assert sorted(n["ConnectionNotificationId"] for p in pages for n in p["ConnectionNotificationSet"]) == sorted(made)
    with pytest.raises(ClientError) as e:
        ec2.describe_vpc_endpoint_connection_notifications(MaxResults=1001)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.describe_vpc_endpoint_connection_notifications(Filters=[{"Name": "colour", "Values": ["blue"]}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
