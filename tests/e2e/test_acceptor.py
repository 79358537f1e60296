"""The acceptor end to end: its real binary, invoked through the Lambda Runtime API, against the
emulator over HTTP."""

import copy
import json
import re
import time

from harness import scenario
from harness.scenario import ALLOWED, STRANGER, create_vpc_endpoint_event, scheduled_event, sns_event, tags_event

PENDING = "pendingAcceptance"


def connect(world, *accounts, **kwargs):
    """Create one endpoint per account; return their ids and the Connect notifications' events."""
    ids = [world.create_endpoint(a, **kwargs)[0] for a in accounts]
    notes = world.connection_notifications()
    assert [json.loads(n["Message"])["connectionEvent"] for n in notes] == ["Connect"] * len(accounts)
    return ids, [sns_event(n) for n in notes]


def test_allowed_is_accepted_and_stranger_rejected(world, acceptor):
    world.put_policy(world.policy("reject"))
    (ok, stranger), events = connect(world, ALLOWED, STRANGER)
    result = acceptor().invoke(events[0])
    assert result.ok, result.body
    # An accepted connection is pending for a while before it is available, as in AWS.
    assert world.states() == {ok: "pending", stranger: "rejected"}
    assert world.settled_states() == {ok: "available", stranger: "rejected"}
    decisions = {o["connection"]["endpoint_id"]: (o["action"], o["status"]) for o in result.body["outcomes"]}
    assert decisions == {ok: ("accept", "applied"), stranger: ("reject", "applied")}
    [alert] = world.alerts()
    assert alert["version"] == "1.0" and alert["source"] == "custom"
    assert alert["content"]["title"] == "PrivateLink connections: 1 accepted, 1 rejected"
    assert f"*accepted* `{ok}` from account `{ALLOWED}`" in alert["content"]["description"]
    assert f"*rejected* `{stranger}` from account `{STRANGER}`" in alert["content"]["description"]
    assert "is not allowed to connect" in alert["content"]["description"]
    # The emulator announced the outcomes on the connection topic, as AWS does.
    events_seen = sorted(json.loads(n["Message"])["connectionEvent"] for n in world.connection_notifications())
    assert events_seen == ["Accept", "Reject"]


def test_hold_leaves_the_stranger_pending_and_says_so_once(world, acceptor):
    world.put_policy(world.policy("hold"))
    (ok, stranger), events = connect(world, ALLOWED, STRANGER)
    fn = acceptor()
    assert fn.invoke(events[1]).ok
    assert world.settled_states() == {ok: "available", stranger: PENDING}
    [alert] = world.alerts()
    assert "1 accepted, 1 held" in alert["content"]["title"]
    assert alert["metadata"]["additionalContext"]["severity"] == "warning"
    assert any("wait for a human" in s for s in alert["content"]["nextSteps"])
    # The schedule sweeps again: the held connection is still held, and nobody is told twice.
    again = fn.invoke(scheduled_event())
    assert again.ok and again.body["announced"] == 0
    assert [o["status"] for o in again.body["outcomes"]] == ["held"]
    assert world.alerts() == []
    assert world.settled_states() == {ok: "available", stranger: PENDING}


def test_dry_run_decides_and_notifies_but_changes_nothing(world, acceptor):
    world.put_policy(world.policy("reject"))
    (ok, stranger), events = connect(world, ALLOWED, STRANGER)
    result = acceptor(dry_run=True).invoke(events[0])
    assert result.ok
    assert world.states() == {ok: PENDING, stranger: PENDING}
    assert {o["status"] for o in result.body["outcomes"]} == {"dry_run"}
    [alert] = world.alerts()
    assert alert["content"]["title"] == "[dry run] PrivateLink connections: 1 would accept, 1 would reject"
    assert world.connection_notifications() == []


def test_replaying_the_same_event_changes_nothing_and_stays_quiet(world, acceptor):
    world.put_policy(world.policy("reject"))
    (ok, stranger), events = connect(world, ALLOWED, STRANGER)
    fn = acceptor()
    assert fn.invoke(events[0]).ok
    assert len(world.alerts()) == 1
    world.connection_notifications()
    for replay in (events[0], copy.deepcopy(events[0]), events[1]):
        result = fn.invoke(replay)
        assert result.ok and result.body["outcomes"] == [] and result.body["announced"] == 0
    assert world.alerts() == []
    assert world.connection_notifications() == []
    assert world.settled_states() == {ok: "available", stranger: "rejected"}


def test_dry_run_replay_is_quiet_too(world, acceptor):
    world.put_policy(world.policy("reject"))
    _, events = connect(world, ALLOWED)
    fn = acceptor(dry_run=True)
    assert fn.invoke(events[0]).body["announced"] == 1
    assert fn.invoke(events[0]).body["announced"] == 0
    assert len(world.alerts()) == 1


def test_broken_policy_accepts_nothing_and_alerts_once(world, acceptor):
    broken = world.policy("reject")
    broken["services"][world.service_id]["allow"][0]["accounts"] = ["11111"]
    world.put_policy(broken)
    (ok,), events = connect(world, ALLOWED)
    fn = acceptor()
    result = fn.invoke(events[0])
    assert not result.ok
    assert result.error_type == "Policy"
    assert '"11111" is not a 12-digit account id' in result.error_message
    assert world.states() == {ok: PENDING}
    [alert] = world.alerts()
    assert alert["metadata"]["eventType"] == "PolicyInvalid"
    assert alert["metadata"]["additionalContext"]["severity"] == "critical"
    assert "nothing is accepted" in alert["content"]["title"]
    # Lambda retries and the schedule keeps running: still nothing accepted, no second alert.
    assert fn.invoke(scheduled_event()).error_type == "Policy"
    assert world.alerts() == []
    assert world.states() == {ok: PENDING}


def test_missing_policy_parameter_accepts_nothing(world, acceptor):
    (ok,), events = connect(world, ALLOWED)
    result = acceptor().invoke(events[0])
    assert result.error_type == "Policy"
    assert "could not read the policy from SSM parameter" in result.error_message
    assert world.states() == {ok: PENDING}
    assert [a["metadata"]["eventType"] for a in world.alerts()] == ["PolicyInvalid"]


def test_malformed_payloads_get_a_clear_error_and_change_nothing(world, acceptor):
    world.put_policy(world.policy("reject"))
    (ok, stranger), events = connect(world, ALLOWED, STRANGER)
    good_sns = events[0]
    no_message = copy.deepcopy(good_sns)
    del no_message["Records"][0]["Sns"]["Message"]
    not_sns = copy.deepcopy(good_sns)
    not_sns["Records"][0]["EventSource"] = "aws:sqs"
    ct = create_vpc_endpoint_event(ALLOWED, ok, "vpc-0123", world.service_name)
    no_detail_name = copy.deepcopy(ct)
    del no_detail_name["detail"]["eventName"]
    no_account = copy.deepcopy(ct)
    del no_account["account"]
    bad_time = copy.deepcopy(ct)
    bad_time["time"] = "yesterday"
    cases = {
        "not json": ("{not json", None),
        "a list": ([1, 2], "expected a JSON object, got an array"),
        "unknown shape": ({"hello": "world"}, "neither an SNS event"),
        "SNS without Message": (no_message, "not a valid SNS event: missing field `Message`"),
        "not from SNS": (not_sns, 'record from "aws:sqs", expected aws:sns'),
        "CloudTrail without eventName": (no_detail_name, "CloudTrail detail has no eventName"),
        "CloudTrail without account": (no_account, "CloudTrail event has no envelope account"),
        "EventBridge with a bad time": (bad_time, "not a valid EventBridge event"),
    }
    fn = acceptor()
    for name, (payload, message) in cases.items():
        result = fn.invoke(payload)
        assert not result.ok, name
        if message is not None:
            assert result.error_type == "InvalidEvent", (name, result.body)
            assert message in result.error_message, (name, result.error_message)
    assert world.states() == {ok: PENDING, stranger: PENDING}
    assert world.alerts() == []


def test_create_vpc_endpoint_event_brings_the_vpc_a_vpc_rule_needs(world, acceptor):
    world.put_policy(world.policy("reject", vpcs=["vpc-00000000"]))
    endpoint, vpc = world.create_endpoint(ALLOWED)
    world.put_policy(world.policy("reject", vpcs=[vpc]))
    fn = acceptor()
    # The sweep cannot know the consumer's VPC: held, not accepted and not rejected.
    swept = fn.invoke(scheduled_event())
    assert [(o["action"], o["status"]) for o in swept.body["outcomes"]] == [("hold", "held")]
    assert world.states() == {endpoint: PENDING}
    # The consumer's forwarded CreateVpcEndpoint event carries it.
    result = fn.invoke(create_vpc_endpoint_event(ALLOWED, endpoint, vpc, world.service_name))
    assert result.ok, result.body
    assert world.settled_states() == {endpoint: "available"}
    alerts = world.alerts()
    assert [a["content"]["title"] for a in alerts] == ["PrivateLink connections: 1 held", "PrivateLink connections: 1 accepted"]
    assert alerts[1]["metadata"]["additionalContext"]["vpc"] == vpc


def test_an_event_whose_request_names_another_vpc_than_its_response_is_ignored(world, acceptor):
    """AWS's response says which VPC the endpoint is in; a request naming an allowed VPC cannot
    smuggle the endpoint into a VPC rule."""
    endpoint, vpc = world.create_endpoint(ALLOWED)
    world.put_policy(world.policy("reject", vpcs=["vpc-0a11111111111111a"]))
    forged = create_vpc_endpoint_event(ALLOWED, endpoint, vpc, world.service_name)
    forged["detail"]["requestParameters"]["CreateVpcEndpointRequest"]["VpcId"] = "vpc-0a11111111111111a"
    result = acceptor().invoke(forged)
    assert result.ok and "is not the response's" in result.body["ignored"], result.body
    assert world.states() == {endpoint: PENDING}
    assert world.alerts() == []


def test_an_event_naming_far_more_ids_than_aws_sends_is_refused_before_any_work(world, acceptor):
    """EC2 tags at most 1,000 resources in one call. An event naming 200,000 endpoint ids (within
    EventBridge's 256 KB it cannot be; handed to the function directly it can) is refused at
    once, writes no claim, and its answer and log lines stay short."""
    event = tags_event(ALLOWED, [f"vpce-{n:017x}" for n in range(200_000)], {"team": "orders"})
    world.emu.reset_calls()
    result = acceptor().invoke(event)
    assert not result.ok and result.error_type == "InvalidEvent", result.body
    assert "names 200000 resources" in result.error_message
    assert len(result.error_message) < 300
    assert all(len(line) < 2_000 for line in result.logs)
    assert not [op for op in world.emu.calls() if op.startswith(("dynamodb:", "ec2:"))]


def test_another_accounts_word_about_an_endpoint_never_replaces_its_owners(world, acceptor):
    """Claims are remembered while the connection is not decided, here because its service is
    not managed yet. The owner says the endpoint is tagged team=orders; another trusted account
    then says otherwise about the same id. Once the service is managed, the owner's word is the
    one used: the connection is accepted."""
    other, _ = scenario.endpoint_service(world.emu, "later", [ALLOWED, STRANGER])
    [endpoint] = world.create_endpoints(ALLOWED, 1, other["ServiceName"])
    policy = world.policy("reject", accounts=[ALLOWED, STRANGER])
    world.put_policy(policy)
    fn = acceptor()
    assert fn.invoke(tags_event(ALLOWED, [endpoint], {"team": "orders"})).body["claims_kept"] == 1
    assert fn.invoke(tags_event(STRANGER, [endpoint], {"team": "payments"}, name="CreateTags")).ok
    policy["services"][other["ServiceId"]] = {
        "allow": [{"name": "tagged", "accounts": [ALLOWED], "tags": {"team": "orders"}}], "otherwise": "reject"}
    world.put_policy(policy)
    swept = fn.invoke(scheduled_event())
    assert swept.ok, swept.body
    [outcome] = [o for o in swept.body["outcomes"] if o["connection"]["endpoint_id"] == endpoint]
    assert (outcome["action"], outcome["status"]) == ("accept", "applied"), outcome


def test_failed_calls_and_foreign_events_are_ignored_cleanly(world, acceptor):
    world.put_policy(world.policy("reject"))
    (endpoint,), _ = connect(world, ALLOWED)
    failed = create_vpc_endpoint_event(ALLOWED, endpoint, "vpc-1", world.service_name)
    failed["detail"]["errorCode"] = "Client.UnauthorizedOperation"
    failed["detail"]["responseElements"] = None
    aws_service = create_vpc_endpoint_event(ALLOWED, endpoint, "vpc-1", "com.amazonaws.us-east-1.s3")
    fn = acceptor()
    for event, why in ((failed, "failed (Client.UnauthorizedOperation)"), (aws_service, "is not an endpoint service")):
        result = fn.invoke(event)
        assert result.ok and why in result.body["ignored"]
    assert world.states() == {endpoint: PENDING}


def test_notification_without_a_service_id_sweeps_every_managed_service(world, acceptor):
    world.put_policy(world.policy("reject"))
    (endpoint,), events = connect(world, ALLOWED)
    events[0]["Records"][0]["Sns"]["Message"] = "something changed"
    assert acceptor().invoke(events[0]).ok
    assert world.settled_states() == {endpoint: "available"}


def test_a_tag_rule_holds_until_the_consumers_event_brings_the_tags(world, acceptor):
    """The provider's API shows the connection's own tags, not the consumer endpoint's: a tag rule
    holds the connection — never rejects it — until the consumer's forwarded event says."""
    world.put_policy(world.policy("reject", tags={"team": "orders"}))
    tagged, tagged_vpc = world.create_endpoint(ALLOWED, tags={"team": "orders"})
    untagged, untagged_vpc = world.create_endpoint(ALLOWED)
    fn = acceptor()
    swept = fn.invoke(scheduled_event())
    assert swept.ok and {o["status"] for o in swept.body["outcomes"]} == {"held"}
    assert "tags are not known yet" in swept.body["outcomes"][0]["reason"]
    assert world.states() == {tagged: PENDING, untagged: PENDING}
    created = create_vpc_endpoint_event(ALLOWED, tagged, tagged_vpc, world.service_name, tags={"team": "orders"})
    assert fn.invoke(created).ok
    # Its creation event carried no tags: every tag is known, and the one that matters is absent.
    bare = create_vpc_endpoint_event(ALLOWED, untagged, untagged_vpc, world.service_name)
    assert fn.invoke(bare).ok
    assert world.settled_states() == {tagged: "available", untagged: "rejected"}


def test_tags_added_later_by_the_consumer_let_the_connection_in(world, acceptor):
    world.put_policy(world.policy("reject", tags={"team": "orders"}))
    endpoint, _ = world.create_endpoint(ALLOWED)
    fn = acceptor()
    assert [o["status"] for o in fn.invoke(scheduled_event()).body["outcomes"]] == ["held"]
    result = fn.invoke(tags_event(ALLOWED, [endpoint], {"team": "orders"}))
    assert result.ok, result.body
    assert world.settled_states() == {endpoint: "available"}


def test_without_any_event_the_sweep_reads_the_consumers_endpoint_through_its_role(world, acceptor):
    """CloudTrail events are best effort and need a trail in the consumer account. A tag rule's
    connection whose consumer sent no event is decided by the sweep from the consumer's own
    endpoint, read through its read role; a consumer whose role cannot be assumed keeps its
    connection held, announced once with the reason."""
    blind = STRANGER
    world.put_policy(world.policy("reject", accounts=[ALLOWED, blind], tags={"team": "orders"}))
    tagged, _ = world.create_endpoint(ALLOWED, tags={"team": "orders"})
    untagged, _ = world.create_endpoint(ALLOWED, tags={"team": "payments"})
    unread, _ = world.create_endpoint(blind, tags={"team": "orders"})
    world.emu.faults([{"service": "sts", "operation": "AssumeRole", "code": "AccessDenied", "status": 403,
                       "match": blind, "times": -1,
                       "message": f"not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{blind}:role/x"}])
    fn = acceptor(consumer_role=True)
    for _ in range(2):
        swept = fn.invoke(scheduled_event())
        assert swept.ok, swept.error_message or swept.body
    assert world.settled_states() == {tagged: "available", untagged: "rejected", unread: PENDING}
    alerts = world.alerts()
    text = "\n".join(a["content"]["description"] for a in alerts)
    assert text.count(f"`{unread}`") == 1, text
    assert f"read role in account {blind} could not be used (CredentialsRefused)" in text, text
    assert "the endpoint lacks tag team=orders" in text, text


def test_a_claim_before_the_connection_is_visible_is_acted_on_by_the_next_sweep(world, acceptor):
    """EC2 is eventually consistent: the consumer's event can be handled before the provider's
    Describe shows the request. What it said is kept, and the next sweep uses it."""
    world.put_policy(world.policy("reject", tags={"team": "orders"}))
    world.emu.settings(visible_after_seconds=1.0)
    endpoint, vpc = world.create_endpoint(ALLOWED)
    fn = acceptor()
    early = fn.invoke(create_vpc_endpoint_event(ALLOWED, endpoint, vpc, world.service_name, tags={"team": "orders"}))
    assert early.ok and early.body["outcomes"] == [] and early.body["claims_kept"] == 1
    assert world.states() == {}, "not visible yet"
    time.sleep(1.0)
    swept = fn.invoke(scheduled_event())
    assert swept.ok and [o["status"] for o in swept.body["outcomes"]] == ["applied"], swept.body
    assert world.settled_states() == {endpoint: "available"}


def test_a_run_that_applied_and_could_not_publish_is_announced_by_the_next_exactly_once(world, acceptor):
    world.put_policy(world.policy("reject"))
    (ok, stranger), events = connect(world, ALLOWED, STRANGER)
    world.emu.faults([{"service": "sns", "operation": "Publish", "code": "AuthorizationError", "status": 403}])
    fn = acceptor()
    failed = fn.invoke(events[0])
    assert not failed.ok and "AuthorizationError" in failed.error_message
    assert world.settled_states() == {ok: "available", stranger: "rejected"}, "applied"
    assert world.alerts() == [], "not announced"
    # Lambda's retry (or the next sweep) finds nothing pending and announces what was applied.
    retry = fn.invoke(events[0])
    assert retry.ok and retry.body["recovered"] == 2 and retry.body["announced"] == 2
    [alert] = world.alerts()
    assert alert["content"]["title"] == "PrivateLink connections: 1 accepted, 1 rejected"
    assert fn.invoke(scheduled_event()).body["announced"] == 0
    assert world.alerts() == [], "exactly once"


def test_one_service_refused_does_not_stop_the_others(world, acceptor):
    other, _ = scenario.endpoint_service(world.emu, "payments", [ALLOWED, STRANGER])
    policy = world.policy("reject")
    policy["services"][other["ServiceId"]] = policy["services"][world.service_id]
    world.put_policy(policy)
    [first] = world.create_endpoints(ALLOWED, 1, other["ServiceName"])
    [second] = world.create_endpoints(ALLOWED, 1)
    # IAM refuses Accept on a service missing from ManagedServiceIds.
    refused = min(world.service_id, other["ServiceId"])
    world.emu.faults([{"service": "ec2", "operation": "AcceptVpcEndpointConnections", "times": -1,
                       "code": "UnauthorizedOperation", "status": 403, "match": refused}])
    fn = acceptor()
    result = fn.invoke(scheduled_event())
    assert not result.ok and result.error_type == "Unapplied"
    assert "UnauthorizedOperation" in result.error_message
    refused_endpoint, applied_endpoint = (first, second) if refused == other["ServiceId"] else (second, first)
    states = {**world.states(), **{e: s for e, s in scenario_states(world, other["ServiceId"]).items()}}
    assert states[refused_endpoint] == PENDING
    assert states[applied_endpoint] in ("pending", "available")
    [alert] = world.alerts()
    assert alert["content"]["title"] == "PrivateLink connections: 1 accept failed, 1 accepted"
    # Lambda retries: the refusal is already announced, nothing else is new.
    assert not fn.invoke(scheduled_event()).ok
    assert world.alerts() == []


def scenario_states(world, service_id: str) -> dict[str, str]:
    pages = world.emu.client("ec2").get_paginator("describe_vpc_endpoint_connections").paginate(
        Filters=[{"Name": "service-id", "Values": [service_id]}])
    return {c["VpcEndpointId"]: c["VpcEndpointState"] for p in pages for c in p["VpcEndpointConnections"]}


def test_a_thousand_connections_are_decided_and_every_one_announced_within_the_limits(world, acceptor):
    world.put_policy(world.policy("reject"))
    allowed = world.create_endpoints(ALLOWED, 500)
    strangers = world.create_endpoints(STRANGER, 500)
    result = acceptor().invoke(scheduled_event())
    assert result.ok, result.body
    assert result.body["announced"] == 1000
    states = world.settled_states(timeout=10)
    assert [states[e] for e in allowed] == ["available"] * 500
    assert [states[e] for e in strangers] == ["rejected"] * 500
    alerts = world.alerts()
    summary, parts = alerts[0], alerts[1:]
    assert summary["content"]["title"] == "PrivateLink connections: 500 accepted, 500 rejected"
    assert parts and all(p["metadata"]["threadId"] == summary["metadata"]["threadId"] for p in parts)
    for alert in alerts:
        assert len(alert["content"]["description"]) <= 3000
        assert len(json.dumps(alert).encode()) < 256 * 1024
    listed = "\n".join(p["content"]["description"] for p in parts)
    for endpoint in allowed + strangers:
        assert listed.count(endpoint) == 1, endpoint


def test_ten_thousand_pending_connections_on_one_service_are_decided_and_announced(emu, functions):
    """A popular service after an outage of the acceptor: 10,000 pending connections on one
    service. The decisions are written down in parts DynamoDB takes (the emulator refuses an item
    over 400 KB, as DynamoDB does), applied 100 to a call, and every one announced, in one sweep.
    (Its time and memory against the function's 60 s and 128 MB: `make bench`, bench_sweep.py.)"""
    world = scenario.build(emu, notification=False)  # 10,000 Connect notifications are not the point
    world.put_policy(world.policy("reject"))
    allowed = world.create_endpoints(ALLOWED, 5000)
    strangers = world.create_endpoints(STRANGER, 5000)
    fn = functions(scenario.FUNCTION, world.function_env())
    result = fn.invoke(scheduled_event())
    assert result.ok, result.error_message or result.body
    assert result.body["announced"] == 10000
    states = world.states()
    assert sum(states[e] in ("pending", "available") for e in allowed) == 5000
    assert sum(states[e] == "rejected" for e in strangers) == 5000
    alerts = world.alerts()
    listed = "\n".join(a["content"]["description"] for a in alerts[1:])
    assert set(re.findall(r"vpce-[0-9a-f]{17}", listed)) == set(allowed + strangers)
    for alert in alerts:
        assert len(json.dumps(alert).encode()) < 256 * 1024
    # Nothing is left written down: the next sweep finds nothing to do.
    again = fn.invoke(scheduled_event())
    assert again.ok and again.body["outcomes"] == [] and again.body["recovered"] == 0


def test_inline_policy_from_the_environment(world, acceptor):
    (endpoint,), events = connect(world, ALLOWED)
    assert acceptor(policy=world.policy("reject")).invoke(events[0]).ok
    assert world.settled_states() == {endpoint: "available"}


def test_configuration_errors_stop_the_cold_start(world, functions):
    env = world.function_env()
    env["DRY_RUN"] = "maybe"
    code, logs = functions(scenario.FUNCTION, env).wait_exit()
    assert code != 0
    assert any("DRY_RUN must be true or false" in line for line in logs), logs
