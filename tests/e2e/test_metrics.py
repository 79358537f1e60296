"""The jobs' metrics: CloudWatch embedded metric format (EMF) lines in the functions' logs, from
their real binaries on the emulator. Each line is a valid EMF document (the specification's
schema, tests/e2e/emf-schema.json, and its rules a schema cannot state); a scheduled run that
finished emits the heartbeat the stack's alarms watch, an event's run does not; the counts are
the run's; the dimensions are the job and an outcome, never an id."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from harness import azs, zones
from harness.scenario import ALLOWED, STRANGER, scheduled_event, sns_event

SCHEMA = json.loads((Path(__file__).parent / "emf-schema.json").read_text())
NAMESPACE = "PrivateLinkAutopilot"
HEARTBEAT = "ScheduledRunSucceeded"
DIMENSIONS = {"Job", "Outcome"}


def emf(logs: list[str]) -> list[dict]:
    """The EMF documents among a run's log lines, each checked against the specification."""
    out = []
    for line in logs:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or "_aws" not in doc:
            continue
        jsonschema.validate(doc, SCHEMA)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            for dimension_set in directive["Dimensions"]:
                assert set(dimension_set) <= DIMENSIONS, f"a dimension beyond the job and the outcome: {dimension_set}"
                for key in dimension_set:
                    assert isinstance(doc.get(key), str), f"dimension {key} has no string value at the root"
            for metric in directive["Metrics"]:
                value = doc.get(metric["Name"])
                assert isinstance(value, (int, float)) and not isinstance(value, bool), \
                    f"metric {metric['Name']} has no number at the root"
        out.append(doc)
    return out


def by_job(docs: list[dict]) -> dict:
    """The job's values (the line without an outcome)."""
    [doc] = [d for d in docs if "Outcome" not in d]
    return doc


def outcomes(docs: list[dict], name: str) -> dict[str, float]:
    return {d["Outcome"]: d[name] for d in docs if "Outcome" in d and name in d}


def test_the_acceptor_counts_its_decisions_and_a_sweep_beats(world, acceptor):
    world.put_policy(world.policy("hold"))
    for account in (ALLOWED, STRANGER):
        world.create_endpoint(account)
    fn = acceptor()
    sweep = fn.invoke(scheduled_event())
    assert sweep.ok, sweep.body
    docs = emf(sweep.logs)
    job = by_job(docs)
    assert (job["Job"], job["Decisions"], job["ConnectionsHeld"], job[HEARTBEAT]) == ("acceptor", 2, 1, 1)
    assert job["RunDuration"] >= 0 and job["AwsThrottled"] == 0
    assert outcomes(docs, "Decisions") == {"accept": 1, "hold": 1}
    # EC2's connection notification is not the schedule: the run's counts, no heartbeat.
    world.create_endpoint(ALLOWED)
    note = sns_event(world.connection_notifications()[-1])
    event_run = fn.invoke(note)
    assert event_run.ok, event_run.body
    job = by_job(emf(event_run.logs))
    assert HEARTBEAT not in job and job["Decisions"] == len(event_run.body["outcomes"])


def test_the_associator_counts_its_changes_by_outcome_and_a_reconcile_beats(emu, functions):
    hub = zones.build(emu)
    hub.put_rules(hub.rules())
    vpc = hub.create_vpc(zones.SPOKE)
    run = functions(zones.FUNCTION, hub.function_env()).invoke(scheduled_event())
    assert run.ok, run.body
    docs = emf(run.logs)
    job = by_job(docs)
    assert job["Job"] == "associator" and job[HEARTBEAT] == 1
    assert job["ZoneChanges"] == len(run.body["outcomes"]) > 0
    assert job["VpcsChecked"] == run.body["vpcs_checked"]
    assert outcomes(docs, "ZoneChanges") == {"done": len(run.body["outcomes"])}
    assert hub.zones_of(zones.SPOKE, vpc) == {hub.shared_zone}
    # An event's run: the same counts, no heartbeat.
    other = hub.create_vpc(zones.SPOKE)
    event_run = functions(zones.FUNCTION, hub.function_env()).invoke(zones.create_vpc_event(zones.SPOKE, other))
    assert event_run.ok, event_run.body
    assert HEARTBEAT not in by_job(emf(event_run.logs))


def test_the_auditor_counts_findings_by_severity(emu, functions):
    p = azs.build(emu)
    fn = functions(azs.FUNCTION, p.env)
    p.stop("us-east-1b")
    run = fn.invoke(scheduled_event())
    assert run.ok, run.body
    docs = emf(run.logs)
    job = by_job(docs)
    assert (job["Job"], job["FindingsOpened"], job[HEARTBEAT]) == ("auditor", 1, 1)
    assert outcomes(docs, "FindingsOpened") == {"critical": 1}
    assert job["ServicesUndecided"] == 0


@pytest.mark.parametrize("broken", [
    {"_aws": {"CloudWatchMetrics": []}},                                            # no timestamp
    {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Metrics": []}]}},  # no dimensions
    {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [],
                                                     "Metrics": [{"Name": "X", "Unit": "Things"}]}]}},
])
def test_the_schema_refuses_what_the_specification_refuses(broken):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
