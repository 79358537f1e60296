"""Route 53 Resolver rules and on-premises names, end to end: the associator's binary against
the emulator's Resolver (rules shared through RAM, associations by the VPC owner, asynchronous,
refused as AWS refuses)."""

import pytest

from harness import zones
from harness.scenario import scheduled_event
from harness.zones import HUB, OTHER_SPOKE, SPOKE, create_vpc_event

ASSOCIATE = "route53resolver:AssociateResolverRule"


@pytest.fixture
def hub(emu):
    return zones.build(emu)


@pytest.fixture
def onprem(emu):
    emu.settings(resolver_association_seconds=0)
    return zones.on_premises(emu)


@pytest.fixture
def associator(hub, functions):
    return lambda **kwargs: functions(zones.FUNCTION, hub.function_env(**kwargs))


def rules(hub, onprem, accounts=(SPOKE, OTHER_SPOKE), **extra) -> dict:
    return hub.rules(resolver_rules=[{"name": "corporate", "region": "us-east-1", "rule_ids": [onprem.corp_rule],
                                      "accounts": list(accounts)}], **extra)


def associates(emu) -> int:
    return emu.calls().get(ASSOCIATE, {}).get("count", 0)


def test_a_new_spoke_vpc_gets_its_zones_and_the_corporate_rule_in_one_run_and_a_replay_changes_nothing(hub, onprem, associator):
    hub.put_rules(rules(hub, onprem))
    vpc = hub.create_vpc(SPOKE)
    fn = associator()
    result = fn.invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    assert hub.zones_of(SPOKE, vpc) == {hub.shared_zone}
    assert onprem.rules_of(SPOKE, vpc) == {onprem.corp_rule: "COMPLETE"}
    [rule] = result.body["rule_outcomes"]
    assert (rule["rule_id"], rule["change"], rule["status"]) == (onprem.corp_rule, "associate", "done")
    [alert] = hub.alerts()
    assert alert["content"]["title"] == "Private hosted zones: 1 associated, 1 rule associated"
    assert f"Resolver rule `{onprem.corp_rule}` with VPC `{vpc}`" in alert["content"]["description"]
    calls = associates(hub.emu)
    again = fn.invoke(create_vpc_event(SPOKE, vpc))
    assert again.ok and again.body["rule_outcomes"] == []
    assert associates(hub.emu) == calls, "no associate for a pair already there"
    assert hub.alerts() == []
    # The reconcile gives the rule to the spokes' other VPCs (their default VPCs), not to this one again.
    reconciled = fn.invoke(scheduled_event())
    assert reconciled.ok, reconciled.body
    assert [r for r in reconciled.body["rule_outcomes"] if r["vpc_id"] == vpc] == []
    assert associates(hub.emu) == calls + len(reconciled.body["rule_outcomes"])


def test_another_rule_for_the_domain_is_a_conflict_finding_not_retried(hub, onprem, associator):
    twin = onprem.rule("corp.example", "corp-twin", target="192.168.0.3", share_with=(SPOKE,))
    hub.put_rules(rules(hub, onprem))
    vpc = hub.create_vpc(SPOKE)
    hub.emu.client("route53resolver", SPOKE).associate_resolver_rule(ResolverRuleId=twin, VPCId=vpc)
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    [rule] = result.body["rule_outcomes"]
    assert rule["status"] == "finding" and rule["finding"]["code"] == "RSLVR-00802"
    assert twin in rule["finding"]["message"]
    assert associates(hub.emu) == 2, "the spoke's own, and ours once"
    assert onprem.rules_of(SPOKE, vpc) == {twin: "COMPLETE"}
    [alert] = hub.alerts()
    assert "rule not associated" in alert["content"]["title"]


def test_the_inbound_endpoints_own_vpc_is_a_target_ip_finding(hub, onprem, associator):
    """A rule forwarding to the inbound endpoint's addresses, given to the VPC that hosts it."""
    loop = onprem.rule("loop.example", "loop", target=onprem.inbound_ips[0])
    doc = hub.rules(resolver_rules=[{"region": "us-east-1", "rule_ids": [loop], "accounts": [HUB]}])
    hub.put_rules(doc)
    result = associator().invoke(create_vpc_event(HUB, onprem.inbound_vpc))
    assert result.ok, result.body
    [rule] = result.body["rule_outcomes"]
    assert rule["finding"]["code"] == "RSLVR-00804", rule


def test_the_vpc_owners_association_quota_is_a_finding(hub, onprem, associator):
    hub.emu.settings(resolver_associations_per_region=1)
    other = onprem.rule("other.example", "other", share_with=(SPOKE,))
    hub.put_rules(rules(hub, onprem))
    taken = hub.create_vpc(SPOKE)
    hub.emu.client("route53resolver", SPOKE).associate_resolver_rule(ResolverRuleId=other, VPCId=taken)
    vpc = hub.create_vpc(SPOKE)
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    [rule] = result.body["rule_outcomes"]
    assert rule["finding"]["code"] == "LimitExceededException"
    assert "Service Quotas" in rule["finding"]["message"]


def test_a_rule_not_shared_with_the_account_is_a_finding(hub, emu, associator):
    emu.settings(resolver_association_seconds=0)
    onprem = zones.on_premises(emu, share_with=(SPOKE,))
    hub.put_rules(rules(hub, onprem))
    vpc = hub.create_vpc(OTHER_SPOKE)
    result = associator().invoke(create_vpc_event(OTHER_SPOKE, vpc))
    assert result.ok, result.body
    [rule] = result.body["rule_outcomes"]
    assert rule["finding"]["code"] == "ResourceNotFoundException"
    assert "AWS RAM resource share" in rule["finding"]["message"]
    assert onprem.rules_of(OTHER_SPOKE, vpc) == {}


def test_a_failed_association_is_reported_by_the_reconcile_and_never_associated_again(hub, onprem, associator):
    hub.put_rules(rules(hub, onprem))
    vpc = hub.create_vpc(SPOKE)
    hub.emu.settings(resolver_failing_vpcs=[vpc])
    fn = associator()
    assert fn.invoke(create_vpc_event(SPOKE, vpc)).ok
    assert onprem.rules_of(SPOKE, vpc) == {onprem.corp_rule: "FAILED"}
    hub.alerts()
    calls = associates(hub.emu)
    for _ in range(2):
        result = fn.invoke(scheduled_event())
        assert result.ok, result.body
        [rule] = [r for r in result.body["rule_outcomes"] if r["vpc_id"] == vpc]
        assert rule["finding"]["code"] == "FAILED" and "RSLVR-01901" in rule["finding"]["message"]
        others = [r for r in result.body["rule_outcomes"] if r["vpc_id"] != vpc and r["status"] == "done"]
        calls += len(others)
    assert associates(hub.emu) == calls, "the spokes' default VPCs only: the failed one is not associated again"
    assert onprem.rules_of(SPOKE, vpc) == {onprem.corp_rule: "FAILED"}
    failed = [a for a in hub.alerts() if vpc in a["content"]["description"]]
    assert len(failed) == 1 and "DisassociateResolverRule" in failed[0]["content"]["description"]


def test_an_associate_whose_answer_was_lost_is_read_and_not_made_twice(hub, onprem, associator):
    hub.put_rules(rules(hub, onprem))
    vpc = hub.create_vpc(SPOKE)
    hub.emu.faults([{"service": "route53resolver", "operation": "AssociateResolverRule", "lost": True,
                     "code": "InternalServiceErrorException", "status": 500}])
    result = associator().invoke(create_vpc_event(SPOKE, vpc))
    assert result.ok, result.body
    [rule] = result.body["rule_outcomes"]
    assert rule["status"] == "done"
    assert associates(hub.emu) == 1, "read, not tried again"
    assert onprem.rules_of(SPOKE, vpc) == {onprem.corp_rule: "COMPLETE"}


def test_the_inbound_endpoints_vpc_is_found_and_holds_every_managed_zone(hub, onprem, associator):
    hub.put_rules(rules(hub, onprem, on_premises={"discover": True}))
    result = associator().invoke(scheduled_event())
    assert result.ok, result.body
    assert hub.zones_of(HUB, onprem.inbound_vpc) == {hub.shared_zone, hub.payments_zone}
    assert result.body["on_premises"] == []
    # A named inbound VPC that does not exist is reported, once.
    hub.put_rules(rules(hub, onprem, on_premises={"discover": True, "inbound_vpcs": [
        {"account": HUB, "region": "us-east-1", "vpc_id": "vpc-0123456789abcdef0"}]}))
    result = associator().invoke(scheduled_event())
    assert result.ok, result.body
    [gap] = result.body["on_premises"]
    assert gap["vpc_id"] == "vpc-0123456789abcdef0"


def test_resolvers_rate_is_kept_for_a_burst_of_new_vpcs(hub, onprem, associator):
    hub.emu.settings(resolver_rate=True)
    hub.put_rules(rules(hub, onprem))
    vpcs = [hub.create_vpc(SPOKE) for _ in range(12)]
    hub.emu.reset_calls()
    result = associator(rate_share="1").invoke(scheduled_event())
    assert result.ok, result.body
    calls = hub.emu.calls()
    hub.emu.settings(resolver_rate=None)
    assert all(onprem.rules_of(SPOKE, v) == {onprem.corp_rule: "COMPLETE"} for v in vpcs)
    assert sum(c["throttled"] for k, c in calls.items() if k.startswith("route53resolver:")) == 0, {k: c for k, c in calls.items() if "resolver" in k}
    done = [r for r in result.body["rule_outcomes"] if r["status"] == "done"]
    assert calls[ASSOCIATE]["count"] == len(done) >= 12, "one associate per missing pair"
