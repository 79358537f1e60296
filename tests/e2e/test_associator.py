"""The private hosted zone associator end to end: its real binary against the emulator."""

import threading

import pytest

from harness import zones
from harness.scenario import scheduled_event
from harness.zones import HUB, SPOKE, STRANGER, create_vpc_event, tags_event


def at_once(functions, events) -> list:
    """Each function invoked with its event, all at the same time; their results."""
    results = [None] * len(functions)

    def run(i):
        results[i] = functions[i].invoke(events[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(functions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def hub(emu):
    h = zones.build(emu)
    h.put_rules(h.rules())
    return h


@pytest.fixture
def associator(hub, functions):
    return lambda **kwargs: functions(zones.FUNCTION, hub.function_env(**kwargs))


def test_same_account_vpc_is_associated(hub, associator):
    vpc = hub.create_vpc(HUB)
    result = associator().invoke(create_vpc_event(HUB, vpc))
    assert result.ok, result.body
    assert hub.zones_of(HUB, vpc) == {hub.shared_zone}
    [alert] = hub.alerts()
    assert alert["content"]["title"] == "Private hosted zones: 1 associated"


def test_cross_account_vpc_is_associated_and_the_authorization_removed(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}
    assert hub.authorizations() == []
    [outcome] = result.body["outcomes"]
    assert (outcome["account"], outcome["vpc_id"], outcome["change"], outcome["status"]) == (SPOKE, vpc, "associate", "done")
    [alert] = hub.alerts()
    assert f"with VPC `{vpc}` in account `{SPOKE}`" in alert["content"]["description"]


def test_replay_is_a_no_op(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    fn = associator()
    event = create_vpc_event(SPOKE, vpc)
    assert fn.invoke(event).ok
    hub.alerts()
    again = fn.invoke(event)
    assert again.ok and again.body["outcomes"] == [] and again.body["vpcs_checked"] == 1
    assert hub.alerts() == []
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}


def test_tag_opts_a_vpc_in_after_creation(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    fn = associator()
    assert fn.invoke(create_vpc_event(SPOKE, vpc)).ok
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}
    hub.emu.client("ec2", SPOKE).create_tags(Resources=[vpc], Tags=[{"Key": "team", "Value": "payments"}])
    result = fn.invoke(tags_event(SPOKE, vpc))
    assert result.ok, result.body
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone, hub.payments_zone}


def test_tag_opts_a_vpc_out_when_the_rules_say_so(hub, associator):
    hub.put_rules(hub.rules(opt_out={"tag": "private-zones", "value": "off", "disassociate": True}))
    vpc = hub.create_vpc(SPOKE)
    fn = associator()
    assert fn.invoke(create_vpc_event(SPOKE, vpc)).ok
    hub.emu.client("ec2", SPOKE).create_tags(Resources=[vpc], Tags=[{"Key": "private-zones", "Value": "off"}])
    result = fn.invoke(tags_event(SPOKE, vpc))
    assert result.ok, result.body
    assert hub.zones_of(SPOKE, vpc) == set()
    assert [o["change"] for o in result.body["outcomes"]] == ["disassociate"]


def test_conflicting_domain_is_reported_not_retried_forever(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    # The spoke already has its own private zone of the same name on this VPC.
    hub.emu.client("route53", SPOKE).create_hosted_zone(
        Name="internal.example.", CallerReference="spoke", HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc})
    fn = associator()
    result = fn.invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    [outcome] = result.body["outcomes"]
    assert outcome["status"] == "finding" and outcome["finding"]["code"] == "ConflictingDomainExists"
    assert hub.authorizations() == [], "the authorization is removed even when the association fails"
    [alert] = hub.alerts()
    assert alert["metadata"]["additionalContext"]["severity"] == "warning"
    assert "1 not associated" in alert["content"]["title"]
    # The schedule meets it again: still a finding, not announced twice, not an error.
    again = fn.invoke(scheduled_event())
    assert again.ok and [o["status"] for o in again.body["outcomes"] if o["vpc_id"] == vpc] == ["finding"]
    # (the sweep also associates the accounts' default VPCs; the finding is not among its news)
    assert all(vpc not in a["content"]["description"] for a in hub.alerts())


def test_reconcile_finds_and_fixes_a_missed_vpc(hub, associator):
    missed = hub.create_vpc(SPOKE, tags={"team": "payments"})
    result = associator().invoke(scheduled_event())
    assert result.ok, result.body
    assert hub.zones_of(SPOKE, missed) == {hub.shared_zone, hub.payments_zone}
    assert hub.authorizations() == []


def test_dry_run_changes_nothing(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    result = associator(dry_run=True).invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok and [o["status"] for o in result.body["outcomes"]] == ["dry_run"]
    assert hub.zones_of(SPOKE, vpc) == set()
    [alert] = hub.alerts()
    assert alert["content"]["title"] == "[dry run] Private hosted zones: 1 would associate"


def test_broken_rules_change_nothing_and_alert(hub, associator):
    hub.put_rules({"version": 1, "accounts": ["1"], "regions": ["us-east-1"], "rules": []})
    vpc = hub.create_vpc(SPOKE)
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.error_type == "Policy"
    assert hub.zones_of(SPOKE, vpc) == set()
    [alert] = hub.alerts()
    assert alert["metadata"]["eventType"] == "PolicyInvalid" and "zone rules" in alert["content"]["title"]


# --- bursts and failures -----------------------------------------------------------------------


def authorize(hub, vpc: str, zone: str | None = None) -> None:
    """What a run that died after authorizing leaves behind."""
    hub.emu.client("route53").create_vpc_association_authorization(
        HostedZoneId=zone or hub.shared_zone, VPC={"VPCRegion": "us-east-1", "VPCId": vpc})


def test_authorizations_a_dead_run_left_are_finished_or_removed_by_the_reconcile(hub, associator):
    fn = associator()
    done = hub.create_vpc(SPOKE)
    assert fn.invoke(create_vpc_event(SPOKE, done)).ok
    authorize(hub, done)  # associated, its authorization left behind
    half = hub.create_vpc(SPOKE)
    authorize(hub, half)  # authorized, never associated
    hub.alerts()
    result = fn.invoke(scheduled_event())
    assert result.ok, result.body
    assert hub.authorizations() == [], "nothing left behind"
    assert hub.zones_of(SPOKE, half) == {hub.shared_zone}
    changes = {(o["vpc_id"], o["change"]) for o in result.body["outcomes"]}
    assert {(done, "deauthorize"), (half, "associate")} <= changes, changes
    [alert] = hub.alerts()
    assert "authorization removed" in alert["content"]["title"]


def test_a_delete_that_fails_once_after_the_associate_is_tried_again_in_the_same_run(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    hub.emu.faults([{"service": "route53", "operation": "DeleteVPCAssociationAuthorization",
                     "code": "InvalidInput", "status": 400, "times": 1}])
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}
    assert hub.authorizations() == []
    [alert] = hub.alerts()
    assert alert["content"]["title"] == "Private hosted zones: 1 associated"


def test_a_delete_that_keeps_failing_is_announced_with_the_association_and_the_retry_removes_it(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    hub.emu.faults([{"service": "route53", "operation": "DeleteVPCAssociationAuthorization",
                     "code": "InvalidInput", "status": 400, "times": -1}])
    fn = associator()
    event = create_vpc_event(SPOKE, vpc)
    first = fn.invoke(event)
    assert not first.ok and "InvalidInput" in first.error_message, "the run fails so Lambda retries"
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}
    assert len(hub.authorizations()) == 1
    [alert] = hub.alerts()
    assert alert["content"]["title"] == "Private hosted zones: 1 associated", "announced though the run failed"
    hub.emu.faults([])
    retry = fn.invoke(event)
    assert retry.ok, retry.body
    assert hub.authorizations() == []
    assert [(o["vpc_id"], o["change"]) for o in retry.body["outcomes"]] == [(vpc, "deauthorize")]
    [removed] = hub.alerts()
    assert removed["content"]["title"] == "Private hosted zones: 1 authorization removed"


def test_a_delete_refused_for_good_becomes_a_finding(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    hub.emu.faults([{"service": "route53", "operation": "DeleteVPCAssociationAuthorization",
                     "code": "AccessDenied", "status": 403, "times": -1}])
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    statuses = sorted((o["change"], o["status"]) for o in result.body["outcomes"])
    assert statuses == [("associate", "done"), ("deauthorize", "finding")]
    [alert] = hub.alerts()
    assert alert["content"]["title"] == "Private hosted zones: 1 associated, 1 authorization not removed"
    assert alert["metadata"]["additionalContext"]["severity"] == "warning"


def test_concurrent_runs_on_one_zone_make_no_false_finding_and_announce_once(hub, associator):
    hub.emu.settings(route53_change_seconds=0.3)
    vpcs = [hub.create_vpc(SPOKE) for _ in range(2)]
    results = at_once([associator(), associator()], [create_vpc_event(SPOKE, v) for v in vpcs])
    assert all(r.ok for r in results), [r.body for r in results]
    assert all(hub.zones_of(SPOKE, v) == {hub.shared_zone} for v in vpcs)
    assert hub.authorizations() == []
    assert not [o for r in results for o in r.body["outcomes"] if o["status"] == "finding"]
    announced = "\n".join(a["content"]["description"] for a in hub.alerts())
    for v in vpcs:
        assert announced.count(f"`{v}`") == 1, announced


def test_a_vpc_shared_into_a_trusted_account_is_not_acted_on_from_there(hub, associator):
    shared = hub.create_shared_vpc(STRANGER, SPOKE)
    result = associator().invoke(scheduled_event())
    assert result.ok, result.body
    assert hub.zones_of(STRANGER, shared) == set()
    assert hub.authorizations() == []
    assert shared not in {o["vpc_id"] for o in result.body["outcomes"]}


def test_one_unknown_vpc_among_several_in_an_event_affects_only_itself(hub, associator):
    vpc = hub.create_vpc(SPOKE)
    event = tags_event(SPOKE, vpc)
    event["detail"]["requestParameters"]["resourcesSet"] = {"items": [
        {"resourceId": "vpc-0deadbeef0000000"}, {"resourceId": vpc}]}
    result = associator().invoke(event)
    assert result.ok, result.body
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}


def test_associations_a_run_could_not_announce_are_announced_by_the_retry_once(hub, associator):
    """The run wrote its plan ahead; SNS refused the announcement after the changes were made.
    Lambda's retry finds nothing left to change and announces, from the journal, what was."""
    vpc = hub.create_vpc(SPOKE)
    hub.emu.faults([{"service": "sns", "operation": "Publish", "code": "AuthorizationError", "status": 403}])
    fn = associator()
    event = create_vpc_event(SPOKE, vpc)
    failed = fn.invoke(event)
    assert not failed.ok and "AuthorizationError" in failed.error_message
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}
    assert hub.alerts() == []
    retry = fn.invoke(event)
    assert retry.ok and retry.body["announced"] == 1, retry.body
    [alert] = hub.alerts()
    assert alert["content"]["title"] == "Private hosted zones: 1 associated"
    # The next reconcile (which finds the accounts' other VPCs) does not announce it again.
    swept = fn.invoke(scheduled_event())
    assert swept.ok and vpc not in {o["vpc_id"] for o in swept.body["outcomes"]}
    assert all(vpc not in a["content"]["description"] for a in hub.alerts())


def test_two_invocations_share_route53s_rate_and_none_is_throttled(hub, associator):
    """Route 53 throttles per account, not per caller. Two invocations at once, each associating
    50 new spoke VPCs (a CreateTags naming them), with the emulator's documented Route 53 buckets
    on: they draw on one shared bucket per account, so not one request is refused and every VPC
    is associated. (Each pacing itself alone would send twice the rate.)"""
    vpcs = [hub.create_vpc(SPOKE) for _ in range(100)]
    hub.emu.settings(route53_rate=True)
    hub.emu.reset_calls()
    results = at_once([associator(rate_share="1"), associator(rate_share="1")],
                      [tags_event(SPOKE, vpcs[:50]), tags_event(SPOKE, vpcs[50:])])
    assert all(r.ok for r in results), [r.error_message or r.body for r in results]
    calls = hub.emu.calls()
    throttled = {op: c["throttled"] for op, c in calls.items() if c.get("throttled")}
    assert throttled == {}, throttled
    assert calls["route53:AssociateVPCWithHostedZone"]["count"] == 100
    assert all(hub.zones_of(SPOKE, v) == {hub.shared_zone} for v in vpcs)
    assert hub.authorizations() == []


def test_a_zone_at_its_authorization_quota_is_a_finding_naming_the_quota_and_the_fix(hub, associator):
    """Route 53 allows 100 association authorizations per zone (the stricter of its pages); 100
    left standing by another tool fill it. The authorize is refused, reported once as a finding
    that names the quota and the fix, and not retried."""
    r53 = hub.emu.client("route53")
    for n in range(100):
        r53.create_vpc_association_authorization(
            HostedZoneId=hub.shared_zone, VPC={"VPCRegion": "us-east-1", "VPCId": f"vpc-0{n:016x}"})
    vpc = hub.create_vpc(SPOKE)
    hub.emu.reset_calls()
    fn = associator()
    for _ in range(2):
        result = fn.invoke(create_vpc_event(SPOKE, vpc))
        assert result.ok, result.body
        [outcome] = result.body["outcomes"]
        assert outcome["finding"]["code"] == "TooManyVPCAssociationAuthorizations"
    calls = hub.emu.calls()
    assert calls["route53:CreateVPCAssociationAuthorization"]["count"] == 2, "once per run, never in a loop"
    assert "route53:AssociateVPCWithHostedZone" not in calls
    [alert] = hub.alerts()
    text = alert["content"]["description"]
    assert "TooManyVPCAssociationAuthorizations" in text and "100 association authorizations" in text, text
    assert "DeleteVPCAssociationAuthorization" in text, text


def test_a_zone_at_its_vpc_quota_is_a_finding_giving_the_quota_read_from_route53(hub, associator):
    """VPCs per zone is adjustable: the associator reads the zone's quota (GetHostedZoneLimit)
    instead of assuming 300, and names it in the finding."""
    hub.emu.settings(route53_vpcs_per_zone=1)  # the hub's own VPC fills it
    vpc = hub.create_vpc(SPOKE)
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    [outcome] = result.body["outcomes"]
    assert outcome["status"] == "finding" and outcome["finding"]["code"] == "LimitsExceeded"
    assert "the zone has 1 VPCs of the 1 its quota allows" in outcome["finding"]["message"]
    assert hub.authorizations() == [], "the authorization made for it is removed"
    [alert] = hub.alerts()
    assert "Service Quotas" in alert["content"]["description"]


def test_a_tagged_zone_that_would_shadow_aws_names_is_refused_not_shared(hub, associator):
    """Whoever can tag a hosted zone in the hub does not choose what the spokes resolve: zones
    named amazonaws.com. and sts.us-east-1.amazonaws.com., tagged to match the payments rule,
    are outside its domains. Refused, announced once as a finding, never associated."""
    import uuid
    r53 = hub.emu.client("route53")
    lures = []
    for name in ("amazonaws.com.", "sts.us-east-1.amazonaws.com."):
        zone = r53.create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()),
                                      HostedZoneConfig={"PrivateZone": True},
                                      VPC={"VPCRegion": "us-east-1", "VPCId": hub.hub_vpc})["HostedZone"]["Id"].split("/")[-1]
        r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone,
                                     AddTags=[{"Key": "share", "Value": "payments"}])
        lures.append(zone)
    vpc = hub.create_vpc(SPOKE, tags={"team": "payments"})
    fn = associator()
    for _ in range(2):
        result = fn.invoke(create_vpc_event(SPOKE, vpc))
        assert result.ok, result.body
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone, hub.payments_zone}
    assert sorted(r["zone_id"] for r in result.body["refused"]) == sorted(lures)
    text = "\n".join(a["content"]["description"] for a in hub.alerts())
    for zone in lures:
        assert text.count(f"`{zone}`") == 1, text
    assert "*refused*" in text and "not under its domains (payments.internal.example)" in text


def test_a_spoke_tag_event_that_changes_nothing_reads_only_its_vpcs_own_zones(hub, associator):
    """Work in proportion to the event: with 30 more zones in the hub that no rule gives this
    VPC, a tag change that changes nothing reads the VPC's own zone only (its VPCs and
    authorizations), the catalogue kept from the run before; a VPC no rule applies to costs no
    Route 53 call at all."""
    import uuid
    r53 = hub.emu.client("route53")
    for n in range(30):
        r53.create_hosted_zone(Name=f"team{n}.internal.example.", CallerReference=str(uuid.uuid4()),
                               HostedZoneConfig={"PrivateZone": True},
                               VPC={"VPCRegion": "us-east-1", "VPCId": hub.hub_vpc})
    vpc = hub.create_vpc(SPOKE)
    fn = associator()
    assert fn.invoke(create_vpc_event(SPOKE, vpc)).ok
    hub.emu.reset_calls()
    result = fn.invoke(tags_event(SPOKE, vpc))
    assert result.ok and result.body["outcomes"] == [], result.body
    route53 = {op: c["count"] for op, c in hub.emu.calls().items() if op.startswith("route53:")}
    assert route53 == {"route53:GetHostedZone": 1, "route53:ListVPCAssociationAuthorizations": 1}, route53
    # Rules that give nothing to untagged VPCs: the same event reads nothing in Route 53.
    rules = hub.rules()
    rules["rules"] = [{**r, "vpc_tags": {"team": "payments"}} for r in rules["rules"]]
    hub.put_rules(rules)
    hub.emu.reset_calls()
    assert fn.invoke(tags_event(SPOKE, vpc)).ok
    assert not [op for op in hub.emu.calls() if op.startswith("route53:")]
