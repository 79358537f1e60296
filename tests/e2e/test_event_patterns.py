"""Every EventBridge rule of both templates, evaluated with EventBridge's own pattern semantics
(LocalStack's event rule engine, which LocalStack checks against EventBridge: arrays of objects
flattened, `$or`, `prefix`, `exists`) against the real payloads in events/real, the project's
samples, and near-misses of them: each rule matches what its function handles and nothing else.

The hub's rules wake the functions; the spoke's rule decides what leaves the consumer account at
all, so it forwards exactly what some hub rule takes. The bus policies let only the listed
accounts (or the organization) put events, and only EC2's CloudTrail events.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from localstack.aws.api.events import InvalidEventPatternException
from localstack.services.events.event_rule_engine import EventPatternCompiler, EventRuleEngine

from harness.template import ROOT, load

HUB = load(ROOT / "template.yaml")
SPOKE = load(ROOT / "spoke-template.yaml")
REAL = ROOT / "events" / "real"


def hub_rules() -> dict[str, dict]:
    """`Function.Event` → pattern, for every EventBridgeRule event of every SAM function."""
    rules = {}
    for name, resource in HUB["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event, spec in (resource["Properties"].get("Events") or {}).items():
            if spec["Type"] == "EventBridgeRule":
                rules[f"{name}.{event}"] = spec["Properties"]["Pattern"]
    return rules


RULES = hub_rules()
FORWARD = "spoke.ForwardVpcEvents"
RULES[FORWARD] = SPOKE["Resources"]["ForwardVpcEvents"]["Properties"]["EventPattern"]

ACCEPT_CREATED = "AcceptEndpointConnections.ConsumerCreateVpcEndpoint"
ACCEPT_TAGS = "AcceptEndpointConnections.ConsumerEndpointTags"
ZONES = "AssociatePrivateZones.VpcChanges"
AUDIT_EC2 = "AuditAvailabilityZones.EndpointChanges"
AUDIT_ELB = "AuditAvailabilityZones.LoadBalancerChanges"


def matching(event: dict) -> set[str]:
    """The rules (by name) EventBridge would match `event` against."""
    engine = EventRuleEngine()
    return {
        name
        for name, pattern in RULES.items()
        if engine.evaluate_pattern_on_event(EventPatternCompiler().compile_event_pattern(pattern), event)
    }


def envelope(record: dict) -> dict:
    """A bare CloudTrail record in the EventBridge envelope it is delivered in."""
    source = record.get("eventSource", "").removesuffix(".amazonaws.com")
    return {"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
            "source": f"aws.{source}", "account": record.get("recipientAccountId", "123456789012"),
            "time": "2026-11-26T12:00:00Z", "region": "us-east-1", "resources": [], "detail": record}


def real_events() -> list[tuple[str, dict]]:
    """Every payload of events/real as EventBridge delivers it (SNS deliveries are not
    EventBridge events and are left out)."""
    out = []
    for path in sorted(REAL.glob("*.json")):
        doc = json.loads(path.read_text())
        if "detail-type" in doc:
            out.append((path.name, doc))
        elif "Records" in doc and "Sns" not in doc["Records"][0]:
            out.extend((f"{path.name}[{i}]", envelope(r)) for i, r in enumerate(doc["Records"]))
        elif "eventSource" in doc:
            out.append((path.name, envelope(doc)))
    return out


def sample(name: str) -> dict:
    return json.loads((ROOT / "events" / name).read_text())


def call(event_name: str, base: str = "real/ec2_CreateVpc_no_tags__eventbridge.json", **detail) -> dict:
    """A real EC2 CloudTrail event made into another call."""
    event = copy.deepcopy(sample(base))
    event["detail"]["eventName"] = event_name
    event["detail"].update(detail)
    return event


def to_aws_service(name: str) -> dict:
    """The CreateVpcEndpoint sample, to S3 (a gateway to an AWS service, not an endpoint service)."""
    event = copy.deepcopy(sample(name))
    request = event["detail"]["requestParameters"]
    request = request.get("CreateVpcEndpointRequest", request)
    key = "ServiceName" if "ServiceName" in request else "serviceName"
    request[key] = "com.amazonaws.us-east-1.s3"
    return event


def tags_on(*resource_ids: str, name: str = "CreateTags") -> dict:
    event = copy.deepcopy(sample("real/ec2_CreateTags_on_security_group__eventbridge.json"))
    event["detail"]["eventName"] = name
    event["detail"]["requestParameters"]["resourcesSet"] = {
        "items": [{"resourceId": r} for r in resource_ids]}
    return event


def elb(event_name: str) -> dict:
    event = copy.deepcopy(sample("real/elbv2_AddTags__eventbridge.json"))
    event["detail"]["eventName"] = event_name
    return event


def failed(event: dict) -> dict:
    event = copy.deepcopy(event)
    event["detail"]["errorCode"] = "Client.UnauthorizedOperation"
    event["detail"]["errorMessage"] = "You are not authorized to perform this operation."
    return event


def test_every_rule_is_a_valid_pattern():
    assert set(RULES) == {ACCEPT_CREATED, ACCEPT_TAGS, ZONES, AUDIT_EC2, AUDIT_ELB, FORWARD}
    for name, pattern in RULES.items():
        EventPatternCompiler().compile_event_pattern(pattern)
    with pytest.raises(InvalidEventPatternException):
        EventPatternCompiler().compile_event_pattern({"source": "aws.ec2"})


# What each call is for: the rules that must match it, and only those.
CASES = [
    ("CreateVpc (real)", lambda: sample("real/ec2_CreateVpc_no_tags__eventbridge.json"), {ZONES, FORWARD}),
    ("CreateVpcEndpoint", lambda: sample("eventbridge-create-vpc-endpoint.json"),
     {ACCEPT_CREATED, AUDIT_EC2, FORWARD}),
    ("CreateVpcEndpoint (flat shape)", lambda: sample("eventbridge-create-vpc-endpoint-flat.json"),
     {ACCEPT_CREATED, AUDIT_EC2, FORWARD}),
    ("ModifyVpcEndpoint", lambda: call("ModifyVpcEndpoint"), {AUDIT_EC2, FORWARD}),
    ("CreateVpcEndpoint to an AWS service", lambda: to_aws_service("eventbridge-create-vpc-endpoint.json"), set()),
    ("CreateVpcEndpoint to an AWS service (flat shape)",
     lambda: to_aws_service("eventbridge-create-vpc-endpoint-flat.json"), set()),
    ("CreateVpcEndpointServiceConfiguration", lambda: call("CreateVpcEndpointServiceConfiguration"), {AUDIT_EC2}),
    ("ModifyVpcEndpointServiceConfiguration", lambda: call("ModifyVpcEndpointServiceConfiguration"), {AUDIT_EC2}),
    ("CreateTags on a VPC", lambda: tags_on("vpc-0abc"), {ZONES, FORWARD}),
    ("DeleteTags on a VPC", lambda: tags_on("vpc-0abc", name="DeleteTags"), {ZONES, FORWARD}),
    ("CreateTags on an endpoint", lambda: tags_on("vpce-0abc"), {ACCEPT_TAGS, FORWARD}),
    ("DeleteTags on an endpoint", lambda: tags_on("vpce-0abc", name="DeleteTags"), {ACCEPT_TAGS, FORWARD}),
    ("CreateTags on a subnet and a VPC", lambda: tags_on("subnet-1", "vpc-0abc"), {ZONES, FORWARD}),
    ("CreateTags on a VPC and an endpoint", lambda: tags_on("vpc-0abc", "vpce-0abc"), {ZONES, ACCEPT_TAGS, FORWARD}),
    *[(f"ELB {name}", (lambda n=name: elb(n)), {AUDIT_ELB}) for name in (
        "ModifyLoadBalancerAttributes", "ModifyTargetGroupAttributes", "SetSubnets", "RegisterTargets",
        "DeregisterTargets")],
    # Near-misses: another prefix, another call, another source, a failed call.
    ("CreateTags on a security group (real)", lambda: sample("real/ec2_CreateTags_on_security_group__eventbridge.json"), set()),
    ("CreateTags on a vpcx- id", lambda: tags_on("vpcx-1", "subnet-1"), set()),
    ("CreateTags without resources", lambda: tags_on(), set()),
    ("DeleteVpc", lambda: call("DeleteVpc"), set()),
    ("DeleteVpcEndpoints", lambda: call("DeleteVpcEndpoints"), set()),
    ("CreateVpc from another source", lambda: {**sample("real/ec2_CreateVpc_no_tags__eventbridge.json"), "source": "aws.s3"}, set()),
    ("CreateVpc with another event source", lambda: call("CreateVpc", eventSource="s3.amazonaws.com"), set()),
    ("CreateVpc of another detail type", lambda: {**sample("real/ec2_CreateVpc_no_tags__eventbridge.json"),
                                                  "detail-type": "EC2 Instance State-change Notification"}, set()),
    ("ELB AddTags (real)", lambda: sample("real/elbv2_AddTags__eventbridge.json"), set()),
    ("ELB CreateLoadBalancer", lambda: elb("CreateLoadBalancer"), set()),
    ("a schedule", lambda: sample("scheduled.json"), set()),
]
FAILED = [(f"failed {name}", (lambda make=make: failed(make())), set()) for name, make, rules in CASES if rules]


@pytest.mark.parametrize("what, make, rules", CASES + FAILED, ids=[c[0] for c in CASES + FAILED])
def test_each_rule_matches_what_its_function_handles_and_nothing_else(what, make, rules):
    assert matching(make()) == rules


@pytest.mark.parametrize("name, event", real_events(), ids=[n for n, _ in real_events()])
def test_real_payloads_wake_only_the_functions_that_act_on_them(name, event):
    expected = {
        "ec2_CreateVpc_no_tags__eventbridge.json": {ZONES, FORWARD},
        "ec2_CreateVpc__cloudtrail_record__panther_test.json": {ZONES, FORWARD},
    }.get(name, set())
    assert matching(event) == expected


def test_the_spoke_forwards_exactly_what_a_hub_rule_takes_from_a_consumer():
    """Every case a hub rule takes from a consumer account (EC2 calls) is forwarded, and nothing
    that no hub rule takes leaves the consumer account."""
    for what, make, rules in CASES + FAILED:
        event = make()
        consumer_rules = rules & {ACCEPT_CREATED, ACCEPT_TAGS, ZONES} | (
            {AUDIT_EC2} & rules if event["detail"].get("eventName", "").endswith("VpcEndpoint") else set())
        assert (FORWARD in rules) == bool(consumer_rules), what


def test_the_bus_takes_events_only_from_the_listed_accounts_and_only_ec2_calls():
    senders = HUB["Resources"]["EventSendersBusPolicy"]["Properties"]["Statement"]
    assert senders["Effect"] == "Allow" and senders["Action"] == "events:PutEvents"
    # The principals are the parameter (read as nothing here), never a wildcard: any other
    # account is refused by the bus, as every account is unless a statement allows it.
    assert set(senders["Principal"]) == {"AWS"} and senders["Principal"]["AWS"] is None
    assert senders["Condition"] == {
        "ForAllValues:StringEquals": {"events:source": ["aws.ec2"]},
        "StringEquals": {"events:detail-type": ["AWS API Call via CloudTrail"]},
    }
    organization = HUB["Resources"]["OrganizationBusPolicy"]["Properties"]["Statement"]
    assert organization["Principal"] == "*"
    assert set(organization["Condition"]["StringEquals"]) == {"aws:PrincipalOrgID", "events:detail-type"}
    assert organization["Condition"]["ForAllValues:StringEquals"] == {"events:source": ["aws.ec2"]}
