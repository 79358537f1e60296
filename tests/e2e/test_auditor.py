"""The availability-zone auditor end to end: its real binary against the emulator."""

import time

import pytest

from harness import azs
from harness.azs import CONSUMER
from harness.scenario import scheduled_event


@pytest.fixture
def audit(functions):
    """audit(provider) → a started auditor for that provider."""
    return lambda provider: functions(azs.FUNCTION, provider.env)


def elb_event(name: str, **parameters) -> dict:
    return {**scheduled_event(), "detail-type": "AWS API Call via CloudTrail", "source": "aws.elasticloadbalancing",
            "detail": {"eventSource": "elasticloadbalancing.amazonaws.com", "eventName": name,
                       "awsRegion": "us-east-1", "requestParameters": parameters}}


def checks(result, severity=None):
    return sorted(f["check"] for f in result.body["opened"] if severity in (None, f["severity"]))


def test_blackhole_opens_stays_quiet_then_resolves(emu, audit):
    p = azs.build(emu)
    fn = audit(p)
    assert fn.invoke(scheduled_event()).body["opened"] == [], "two healthy AZs, cross-zone off: nothing"
    assert p.alerts() == []
    p.stop("us-east-1b")
    first = fn.invoke(scheduled_event())
    assert first.ok, first.body
    [finding] = first.body["opened"]
    zone_b = p.zone_ids("123456789012")["us-east-1b"]
    assert (finding["check"], finding["severity"], finding["evidence"]["az_id"]) == ("blackhole", "critical", zone_b)
    [alert] = p.alerts()
    assert alert["content"]["title"] == f"PrivateLink availability zones: {finding['title']}"
    facts = alert["metadata"]["additionalContext"]
    assert (facts["severity"], facts["status"], facts["check"], facts["az_id"]) == ("critical", "opened", "blackhole", zone_b)
    assert facts["service"] == p.service_id
    thread = alert["metadata"]["threadId"]
    # The next run finds the same thing and says nothing.
    second = fn.invoke(scheduled_event())
    assert second.body["opened"] == [] and second.body["resolved"] == [] and second.body["still_open"] == 1
    assert p.alerts() == []
    # Cross-zone on for the target group resolves it (and notes the cross-zone cost): the
    # change's CloudTrail event has the group's settings read anew.
    p.target_group_cross_zone("true")
    third = fn.invoke(elb_event("ModifyTargetGroupAttributes", targetGroupArn=p.target_group))
    assert [r["fingerprint"] for r in third.body["resolved"]] == [finding["fingerprint"]]
    assert checks(third) == ["cross_zone_on"]
    # One notification per finding: the new one, and the resolution in the blackhole's thread.
    cost, resolution = p.alerts()
    assert cost["metadata"]["additionalContext"]["check"] == "cross_zone_on"
    assert resolution["content"]["title"] == f"Resolved: {finding['title']}"
    assert resolution["metadata"]["threadId"] == thread
    assert resolution["metadata"]["additionalContext"]["status"] == "resolved"
    assert resolution["metadata"]["additionalContext"]["severity"] == "info"


def test_adding_a_target_resolves_a_blackhole_too(emu, audit):
    p = azs.build(emu)
    p.stop("us-east-1a")
    fn = audit(p)
    assert checks(fn.invoke(scheduled_event())) == ["blackhole"]
    p.add_targets("us-east-1a")
    assert len(fn.invoke(scheduled_event()).body["resolved"]) == 1


def test_consumer_az_names_are_not_az_ids(emu, audit):
    p = azs.build(emu)
    provider_ids, consumer_ids = p.zone_ids("123456789012"), p.zone_ids(CONSUMER)
    assert provider_ids["us-east-1a"] != consumer_ids["us-east-1a"], "the emulator maps names per account"
    # Same names as the provider's NLB AZs: a name comparison would say all is well.
    endpoint = p.consumer_endpoint(CONSUMER, ["us-east-1a", "us-east-1b"], ["us-east-1a", "us-east-1b"])
    result = audit(p).invoke(scheduled_event())
    [finding] = result.body["opened"]
    assert finding["check"] == "consumer_coverage" and finding["resource"] == endpoint
    assert "the service does not serve" in finding["title"]
    assert finding["evidence"]["service_az_ids"] == ", ".join(sorted([provider_ids["us-east-1a"], provider_ids["us-east-1b"]]))


def test_an_event_audits_only_the_service_it_names(emu, audit):
    p = azs.build(emu)
    p.stop("us-east-1b")
    fn = audit(p)
    other = fn.invoke({**scheduled_event(), "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
                       "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "ModifyVpcEndpointServiceConfiguration",
                                  "awsRegion": "us-east-1", "requestParameters": {"serviceId": "vpce-svc-0fffffff"}}})
    assert other.ok and other.body["opened"] == []
    naming = {**scheduled_event(), "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
              "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "ModifyVpcEndpointServiceConfiguration",
                         "awsRegion": "us-east-1", "requestParameters": {"serviceId": p.service_id}}}
    # From an account that is neither the provider nor among EVENT_SENDER_ACCOUNT_IDS: no audit.
    stranger = fn.invoke({**naming, "account": "999999999999"})
    assert stranger.body == {"ignored": "event from account 999999999999, which is neither this account nor in EVENT_SENDER_ACCOUNT_IDS"}
    assert checks(fn.invoke(naming)) == ["blackhole"]


def test_an_endpoint_changed_by_its_consumer_audits_the_service_it_connects_to(emu, functions):
    p = azs.build(emu)
    p.stop("us-east-1b")
    azs.services_with_nlbs(emu, 2, azs=("us-east-1a",), prefix="lone", cidr="10.9.0.0/16")
    ids = p.zone_ids("123456789012")
    served = [ids["us-east-1a"], ids["us-east-1b"]]
    endpoint = p.consumer_endpoint(CONSUMER, served, served, by_id=True)
    fn = functions(azs.FUNCTION, {**p.env, "EVENT_SENDER_ACCOUNT_IDS": CONSUMER})
    modify = {**scheduled_event(), "account": CONSUMER, "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
              "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "ModifyVpcEndpoint", "awsRegion": "us-east-1",
                         "recipientAccountId": CONSUMER,
                         "requestParameters": {"ModifyVpcEndpointRequest": {"VpcEndpointId": endpoint}},
                         "responseElements": {"ModifyVpcEndpointResponse": {"return": True}}}}
    result = fn.invoke(modify)
    assert result.ok, result.body
    # Only the endpoint's service: the two single-AZ services are not audited.
    assert {(f["service_id"], f["check"]) for f in result.body["opened"]} == {(p.service_id, "blackhole")}
    unnamed = {**modify, "detail": {**modify["detail"], "requestParameters": {"ModifyVpcEndpointRequest": {}}}}
    assert fn.invoke(unnamed).body == {"ignored": "ModifyVpcEndpoint names no endpoint service and no endpoint"}


# --- production-shaped estates ---------------------------------------------------------------


def test_an_nlb_in_front_of_an_alb_in_both_azs_is_no_blackhole(emu, audit):
    """An ALB target serves every AZ the ALB is enabled in (DescribeTargetHealth gives no AZ for
    it): no false critical page."""
    p = azs.build(emu)
    web = azs.alb_behind_nlb(emu)
    result = audit(p).invoke(scheduled_event())
    assert result.ok, result.body
    assert not [f for f in result.body["opened"] if f["resource"] == web.target_group], result.body["opened"]


def test_an_alb_enabled_in_one_az_only_leaves_the_other_blackholed(emu, audit):
    p = azs.build(emu)
    web = azs.alb_behind_nlb(emu, alb_azs=("us-east-1a",), nlb_azs=("us-east-1a", "us-east-1b"))
    result = audit(p).invoke(scheduled_event())
    found = [f for f in result.body["opened"] if f["resource"] == web.target_group]
    assert [f["check"] for f in found] == ["blackhole"]
    assert found[0]["evidence"]["az_id"] == p.zone_ids("123456789012")["us-east-1b"]


def test_ip_targets_outside_the_vpc_serve_every_az(emu, audit):
    p = azs.build(emu)
    ips = azs.ip_target_group(emu)
    emu.client("elbv2").deregister_targets(TargetGroupArn=ips.target_group, Targets=[
        {"Id": ip, "AvailabilityZone": az} for az, ip in ips.inside.items()])
    result = audit(p).invoke(scheduled_event())
    assert result.ok, result.body
    assert not [f for f in result.body["opened"] if f["resource"] == ips.target_group], result.body["opened"]


@pytest.mark.parametrize("zone_given", [True, False])
def test_an_ip_target_in_one_azs_subnet_only_is_a_blackhole(emu, audit, zone_given):
    p = azs.build(emu)
    ips = azs.ip_target_group(emu, outside=(), zone_given=zone_given)
    gone = ips.inside["us-east-1b"]
    emu.client("elbv2").deregister_targets(TargetGroupArn=ips.target_group, Targets=[
        {"Id": gone, **({"AvailabilityZone": "us-east-1b"} if zone_given else {})}])
    result = audit(p).invoke(scheduled_event())
    found = [f for f in result.body["opened"] if f["resource"] == ips.target_group]
    # Without a registered AZ the IP is placed by the subnet of the target group's own VPC.
    assert [f["check"] for f in found] == ["blackhole"], result.body
    assert found[0]["evidence"]["az_id"] == p.zone_ids("123456789012")["us-east-1b"]


def test_more_than_twenty_services_are_all_audited_at_a_small_page_size(emu, audit):
    """DescribeLoadBalancers takes 20 ARNs; every describe is paged. Each single-AZ NLB is a
    finding, so a service missed would show."""
    p = azs.build(emu)
    many = azs.services_with_nlbs(emu, 25, azs=("us-east-1a",))
    emu.settings(page_size=3)
    result = audit(p).invoke(scheduled_event())
    assert result.ok, result.body
    flagged = {f["service_id"] for f in result.body["opened"] if f["check"] == "no_az_redundancy"}
    assert flagged == {service for _, service in many}


def test_a_gateway_load_balancer_service_is_not_audited_and_says_why(emu, audit):
    p = azs.build(emu)
    gwlb = azs.gwlb_service(emu)
    result = audit(p).invoke(scheduled_event())
    assert result.ok, result.body
    assert not [f for f in result.body["opened"] if f["service_id"] == gwlb.service_id]
    [skipped] = [n for n in result.body["not_audited"] if n["resource"] == gwlb.service_id]
    assert "Gateway Load Balancer" in skipped["reason"]


def test_a_cross_region_endpoint_is_reported_not_audited_and_raises_no_warning(emu, audit):
    p = azs.build(emu)
    endpoint = p.cross_region_endpoint(CONSUMER, "us-west-2")
    result = audit(p).invoke(scheduled_event())
    assert result.ok, result.body
    assert result.body["opened"] == [], "no coverage warning, no unreachable account"
    [skipped] = [n for n in result.body["not_audited"] if n["resource"] == endpoint]
    assert "us-west-2" in skipped["reason"]


def test_an_unreadable_consumer_keeps_its_findings_open_and_is_a_finding_itself(emu, audit):
    p = azs.build(emu)
    ids = p.zone_ids(CONSUMER)
    served = [name for name, zone in ids.items() if zone in p.zone_ids("123456789012").values()]
    endpoint = p.consumer_endpoint(CONSUMER, served[:2], served[:1])
    fn = audit(p)
    [coverage] = fn.invoke(scheduled_event()).body["opened"]
    assert (coverage["check"], coverage["resource"]) == ("consumer_coverage", endpoint)
    p.alerts()
    # The consumer's read role loses a permission (only consumer accounts are asked for endpoints).
    emu.faults([{"service": "ec2", "operation": "DescribeVpcEndpoints", "code": "UnauthorizedOperation",
                 "status": 403, "times": -1}])
    blind = fn.invoke(scheduled_event())
    assert blind.ok, blind.body
    assert blind.body["resolved"] == [], "unknown is not resolved"
    assert blind.body["undecided"] == 1
    assert checks(blind) == ["unreachable"]
    [alert] = p.alerts()
    assert alert["metadata"]["additionalContext"]["check"] == "unreachable"
    # Readable again: the coverage finding is still open and quiet; the unreachable one resolves.
    emu.faults([])
    back = fn.invoke(scheduled_event())
    assert [r["fingerprint"] for r in back.body["resolved"]] == [f"unreachable:{CONSUMER}"]
    assert back.body["opened"] == [] and back.body["still_open"] == 1


# --- production's rhythm: deploys, throttling, events that name load balancers ---------------


def settle_quickly(emu, p, draining_seconds: int = 20) -> None:
    """Targets take 0.1 × their documented time to move: the group's health check (5 s × 2 =
    10 s, so the auditor's grace) becomes 1 s in `initial`; the deregistration delay, 0.1 ×
    ``draining_seconds`` in `draining`."""
    elb = emu.client("elbv2")
    elb.modify_target_group(TargetGroupArn=p.target_group, HealthCheckIntervalSeconds=5, HealthyThresholdCount=2)
    elb.modify_target_group_attributes(TargetGroupArn=p.target_group, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(draining_seconds)}])
    emu.settings(target_health_scale=0.1)


def states(emu, p) -> list[str]:
    health = emu.client("elbv2").describe_target_health(TargetGroupArn=p.target_group)["TargetHealthDescriptions"]
    return sorted(h["TargetHealth"]["State"] for h in health)


def test_a_rolling_replacement_in_one_az_pages_nothing(emu, audit):
    p = azs.build(emu)
    fn = audit(p)
    settle_quickly(emu, p)
    old = p.instances["us-east-1b"][0]
    p.add_targets("us-east-1b")
    emu.client("elbv2").deregister_targets(TargetGroupArn=p.target_group, Targets=[{"Id": old}])
    assert states(emu, p) == ["draining", "healthy", "initial"]
    during = fn.invoke(elb_event("RegisterTargets", targetGroupArn=p.target_group))
    assert during.ok, during.body
    [pending] = during.body["pending"]
    assert (pending["check"], pending["grace_seconds"]) == ("blackhole", 10), "the group's 5 s × 2"
    assert during.body["opened"] == [] and p.alerts() == []
    time.sleep(2.5)  # initial → healthy after 1 s; the old target drained after 2 s
    assert states(emu, p) == ["healthy", "healthy"]
    after = fn.invoke(scheduled_event())
    assert [s["fingerprint"] for s in after.body["settled"]] == [pending["fingerprint"]]
    assert after.body["opened"] == [] and p.alerts() == [], "a deploy that settled pages nobody"


def test_an_az_left_empty_after_its_targets_drain_pages(emu, audit):
    p = azs.build(emu)
    fn = audit(p)
    settle_quickly(emu, p)
    emu.client("elbv2").deregister_targets(TargetGroupArn=p.target_group,
                                           Targets=[{"Id": i} for i in p.instances["us-east-1b"]])
    first = fn.invoke(elb_event("DeregisterTargets", targetGroupArn=p.target_group))
    assert [f["check"] for f in first.body["pending"]] == ["blackhole"] and p.alerts() == []
    quiet = fn.invoke(scheduled_event())
    assert quiet.body["still_pending"] == 1 and quiet.body["opened"] == [] and p.alerts() == []
    time.sleep(2.5)  # drained: nothing in transition any more, and nothing healthy in its place
    later = fn.invoke(scheduled_event())
    [opened] = later.body["opened"]
    assert opened["check"] == "blackhole" and opened["severity"] == "critical"
    [alert] = p.alerts()
    assert alert["metadata"]["additionalContext"]["check"] == "blackhole"


def test_a_blackhole_still_in_transition_past_its_grace_pages(emu, audit, functions):
    p = azs.build(emu)
    fn = functions(azs.FUNCTION, {**p.env, "FINDING_GRACE_SECONDS": "1"})
    settle_quickly(emu, p, draining_seconds=600)  # 60 s of draining here
    emu.client("elbv2").deregister_targets(TargetGroupArn=p.target_group,
                                           Targets=[{"Id": i} for i in p.instances["us-east-1b"]])
    assert [f["grace_seconds"] for f in fn.invoke(scheduled_event()).body["pending"]] == [1]
    time.sleep(1.2)
    assert [f["check"] for f in fn.invoke(scheduled_event()).body["opened"]] == ["blackhole"]
    assert len(p.alerts()) == 1


def test_every_target_unhealthy_fails_open_as_one_finding(emu, audit):
    p = azs.build(emu)
    # Every instance restarted: each fails its health checks until it has passed them again
    # (the group's 30 s × 5, in real time here), while staying registered.
    emu.settings(target_health_scale=1.0)
    ec2 = emu.client("ec2")
    instances = [i for ids in p.instances.values() for i in ids]
    ec2.stop_instances(InstanceIds=instances)
    ec2.start_instances(InstanceIds=instances)
    assert states(emu, p) == ["unhealthy", "unhealthy"]
    result = audit(p).invoke(scheduled_event())
    assert result.ok, result.body
    [finding] = result.body["opened"]
    assert (finding["check"], finding["severity"]) == ("fail_open", "critical"), "not a blackhole per AZ"
    assert "fails open" in finding["title"]
    assert finding["evidence"]["target_states"].count("=unhealthy") == 2


def test_a_throttled_service_is_left_undecided_while_the_others_are_announced(emu, audit):
    p = azs.build(emu)
    p.stop("us-east-1b")
    fn = audit(p)
    assert checks(fn.invoke(scheduled_event())) == ["blackhole"]
    p.alerts()
    # The blackhole is mended, but the service's target health is throttled past every retry
    # (another client of the account is using the whole ELB rate); meanwhile a new single-AZ
    # service appears.
    p.add_targets("us-east-1b")
    [(_, late)] = azs.services_with_nlbs(emu, 1, azs=("us-east-1a",), prefix="late", cidr="10.9.0.0/16")
    emu.faults([{"service": "elasticloadbalancing", "operation": "DescribeTargetHealth", "code": "Throttling",
                 "status": 400, "message": "Rate exceeded", "match": p.target_group, "times": -1}])
    blind = fn.invoke(scheduled_event())
    assert blind.ok, blind.body
    assert blind.body["unread_services"] == [p.service_id]
    assert blind.body["resolved"] == [] and blind.body["undecided"] == 1, "unknown is not resolved"
    assert {(f["service_id"], f["check"]) for f in blind.body["opened"]} == {(late, "no_az_redundancy")}
    [alert] = p.alerts()
    assert alert["metadata"]["additionalContext"]["service"] == late
    # Readable again: the mended blackhole resolves.
    emu.faults([])
    back = fn.invoke(scheduled_event())
    assert [r["fingerprint"].split(":")[0] for r in back.body["resolved"]] == ["blackhole"]


def test_an_elb_event_reads_only_the_service_behind_what_it_names(emu, audit):
    p = azs.build(emu)
    azs.services_with_nlbs(emu, 5)
    fn = audit(p)
    assert fn.invoke(scheduled_event()).ok  # a warm auditor keeps what rarely changes
    emu.reset_calls()
    result = fn.invoke(elb_event("RegisterTargets", targetGroupArn=p.target_group,
                                 targets=[{"id": p.instances["us-east-1a"][0]}]))
    assert result.ok, result.body
    elb = {op.split(":")[1]: c["count"] for op, c in emu.calls().items() if op.startswith("elasticloadbalancing:")}
    # The group's load balancer, the group's settings read anew (the event names it), its health.
    assert elb == {"DescribeTargetGroups": 1, "DescribeTargetGroupAttributes": 1, "DescribeTargetHealth": 1}, elb
    assert sum(elb.values()) <= 5


def test_an_estate_larger_than_one_invocation_is_covered_across_invocations(emu, functions):
    """110 services, and an invocation whose deadline leaves time for one stretch (50 services):
    three scheduled invocations cover the estate, each service read once; the blackholes of the
    first, a middle and the last service (in id order) each open once; the invocation after is
    idle until the period is over."""
    p = azs.build(emu)
    azs.services_with_nlbs(emu, 109)
    elb, ec2 = emu.client("elbv2"), emu.client("ec2")
    ids = sorted(c["ServiceId"] for c in ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"])
    assert len(ids) == 110
    broken = [ids[0], ids[55], ids[109]]
    for service in broken:
        [config] = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service])["ServiceConfigurations"]
        [tg] = elb.describe_target_groups(LoadBalancerArn=config["NetworkLoadBalancerArns"][0])["TargetGroups"]
        health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
        placed = ec2.describe_instances(InstanceIds=[h["Target"]["Id"] for h in health])["Reservations"]
        in_b = [i["InstanceId"] for r in placed for i in r["Instances"] if i["Placement"]["AvailabilityZone"] == "us-east-1b"]
        elb.deregister_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in in_b])
    # A deadline 25 s away leaves 5 s to start stretches (20 s are kept for the one under way):
    # no room for a second stretch after the first (150 reads at ELB's whole rate, AUDIT_RATE_SHARE 1).
    fn = functions(azs.FUNCTION, {**p.env, "AUDIT_PERIOD_MINUTES": "5", "AUDIT_RATE_SHARE": "1"}, timeout=25)
    emu.reset_calls()
    passes, opened = [], []
    for _ in range(3):
        result = fn.invoke(scheduled_event())
        assert result.ok, result.body
        passes.append(result.body["pass"])
        opened += [(f["service_id"], f["check"]) for f in result.body["opened"]]
    assert [(x["audited"], x["complete"]) for x in passes] == [(50, False), (50, False), (10, True)]
    assert [x["after"] for x in passes] == [ids[49], ids[99], ids[109]]
    assert len({x["started"] for x in passes}) == 1, "one pass"
    health = emu.calls()["elasticloadbalancing:DescribeTargetHealth"]["count"]
    assert health == 110, f"every service's target group read once, not {health} times"
    assert sorted(s for s, check in opened if check == "blackhole") == broken
    assert {s for s, _ in opened} == set(broken)
    assert len(p.alerts()) == len(opened)
    # This period's pass is complete: the next scheduled invocation reads no ELB.
    emu.reset_calls()
    idle = fn.invoke(scheduled_event())
    assert "pass is complete" in idle.body["pass"]["idle"]
    assert not [op for op in emu.calls() if op.startswith("elasticloadbalancing:")]
