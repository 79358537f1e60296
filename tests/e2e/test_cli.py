"""The operator CLI end to end: the `autopilot` binary run as a process, against the emulator over
HTTP, with the functions' configuration names. Exit codes: 0 nothing to do, 2 changes pending or
findings open, 1 an error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import azs, zones
from harness.lambda_host import binary
from harness.scenario import ALLOWED, STRANGER, scheduled_event
from harness.template import ROOT

DOCUMENTS = ROOT / "events" / "documents"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


def autopilot(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Run:
    """Run the CLI with only the given environment (and PATH): nothing of this machine's AWS
    configuration leaks in."""
    done = subprocess.run([str(binary("autopilot")), *args], env={"PATH": os.environ.get("PATH", ""), **(env or {})},
                          capture_output=True, text=True, timeout=120, cwd=cwd)
    return Run(done.returncode, done.stdout, done.stderr)


# --- documents ------------------------------------------------------------------------------


def test_a_valid_policy_and_valid_rules_pass(tmp_path):
    ok = autopilot("policy", "check", str(DOCUMENTS / "connection-policy.json"))
    assert ok.code == 0, ok.stderr
    assert "a valid connection policy: 1 service(s), 3 allow rule(s)" in ok.stdout
    rules = autopilot("--output", "json", "rules", "check", str(DOCUMENTS / "zone-rules.json"))
    assert rules.code == 0
    assert rules.json == {"file": str(DOCUMENTS / "zone-rules.json"), "valid": True,
                          "summary": "valid zone rules: 3 account(s), 2 region(s), 2 rule(s), 1 Resolver rule set(s), "
                                     "1 inbound endpoint VPC(s) (and the hub's, found)"}


def test_a_bad_resolver_rule_is_placed_like_any_other_error(tmp_path):
    text = (DOCUMENTS / "zone-rules.json").read_text().replace("rslvr-rr-0123456789abcdef0", "rr-corporate")
    bad = tmp_path / "rules.json"
    bad.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "rr-corporate" in l)
    doc = autopilot("--output", "json", "rules", "check", str(bad)).json
    [error] = doc["errors"]
    assert error["path"] == "resolver_rules[0].rule_ids[0]" and error["line"] == line
    assert "is not a Resolver rule id" in error["message"]


def test_a_bad_policy_points_at_each_error_by_path_and_line(tmp_path):
    text = (DOCUMENTS / "connection-policy.json").read_text().replace('"222222222222"', '"2222"')
    text = text.replace('"otherwise": "reject"', '"otherwise": "maybe"')
    bad = tmp_path / "policy.json"
    bad.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if '"2222"' in l)
    table = autopilot("policy", "check", str(bad))
    assert table.code == 1
    assert "error(s)" in table.stdout
    as_json = autopilot("--output", "json", "policy", "check", str(bad))
    assert as_json.code == 1
    doc = as_json.json
    assert doc["valid"] is False
    # serde stops at the first value it cannot read: the fallback, with its line.
    [first] = doc["errors"]
    assert "unknown variant `maybe`" in first["message"] and first["line"] is not None
    # With the fallback fixed, the account is the error, with its path and line.
    bad.write_text(text.replace('"otherwise": "maybe"', '"otherwise": "reject"'))
    doc = autopilot("--output", "json", "policy", "check", str(bad)).json
    [account] = doc["errors"]
    assert account["path"] == "services.vpce-svc-0123456789abcdef0.allow[1].accounts[0]"
    assert account["line"] == line and account["column"] > 1
    assert '"2222" is not a 12-digit account id' in account["message"]
    table = autopilot("policy", "check", str(bad))
    assert f"{bad}:{line}:" in table.stdout and "allow[1].accounts[0]" in table.stdout


def test_a_duplicate_key_and_broken_json_are_placed_too(tmp_path):
    dup = tmp_path / "rules.json"
    dup.write_text('{\n  "version": 1,\n  "accounts": ["111111111111"],\n  "regions": ["us-east-1"],\n'
                   '  "rules": [],\n  "regions": ["eu-west-1"]\n}\n')
    [error] = autopilot("--output", "json", "rules", "check", str(dup)).json["errors"]
    assert 'duplicate key "regions"' in error["message"] and error["line"] == 6
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "version": 1,\n  "accounts": [\n')
    run = autopilot("rules", "check", str(broken))
    assert run.code == 1 and f"{broken}:4:" in run.stdout
    missing = autopilot("rules", "check", str(tmp_path / "nowhere.json"))
    assert missing.code == 1 and "cannot read" in missing.stderr


def test_help_explains_the_subcommands_and_exit_codes():
    run = autopilot("--help")
    assert run.code == 0
    for word in ("connections", "zones", "audit", "policy", "rules", "invoke", "--apply", "Exit codes", "--profile"):
        assert word in run.stdout, word


# --- connections ----------------------------------------------------------------------------


def test_connections_preview_changes_nothing_then_apply_does_what_the_function_does(world):
    world.put_policy(world.policy("reject"))
    ok, _ = world.create_endpoint(ALLOWED)
    stranger, _ = world.create_endpoint(STRANGER)
    env = world.function_env()
    preview = autopilot("connections", env=env)
    assert preview.code == 2, preview.stderr
    assert "Pending connections" in preview.stdout and "preview: nothing is changed or announced" in preview.stderr
    rows = {line.split()[1]: line.split()[4] for line in preview.stdout.splitlines() if "vpce-svc-" in line}
    assert rows == {ok: "accept", stranger: "reject"}
    as_json = autopilot("--output", "json", "connections", env=env)
    assert as_json.code == 2
    outcomes = {o["connection"]["endpoint_id"]: (o["action"], o["status"]) for o in as_json.json["report"]["outcomes"]}
    assert outcomes == {ok: ("accept", "dry_run"), stranger: ("reject", "dry_run")}
    # Nothing changed, nothing announced, nothing remembered.
    assert world.states() == {ok: "pendingAcceptance", stranger: "pendingAcceptance"}
    assert world.alerts() == []
    assert world.emu.client("dynamodb").scan(TableName=world.table)["Items"] == []

    applied = autopilot("connections", "--apply", env=env)
    assert applied.code == 0, applied.stderr + applied.stdout
    assert world.settled_states() == {ok: "available", stranger: "rejected"}
    [alert] = world.alerts()
    assert alert["content"]["title"] == "PrivateLink connections: 1 accepted, 1 rejected"
    after = autopilot("connections", env=env)
    assert after.code == 0 and "nothing to accept or reject" in after.stdout


def test_apply_honours_dry_run_and_the_single_writer_lock(world):
    world.put_policy(world.policy("reject"))
    ok, _ = world.create_endpoint(ALLOWED)
    dry = autopilot("connections", "--apply", env=world.function_env(dry_run=True))
    assert dry.code == 0, dry.stderr
    assert world.states() == {ok: "pendingAcceptance"}
    [alert] = world.alerts()
    assert alert["content"]["title"].startswith("[dry run]")
    # A function run is applying decisions: the CLI waits its turn rather than write beside it.
    import time
    world.emu.client("dynamodb").put_item(TableName=world.table, Item={
        "pk": {"S": "lock#acceptor"}, "holder": {"S": "a running invocation"},
        "lease_until": {"N": str(int(time.time()) + 300)}})
    busy = autopilot("connections", "--apply", env=world.function_env())
    assert busy.code == 1 and "another run is applying connection decisions" in busy.stderr
    assert world.states() == {ok: "pendingAcceptance"}
    # A preview takes no lock.
    assert autopilot("connections", env=world.function_env()).code == 2


def test_a_broken_policy_is_an_error_and_accepts_nothing(world):
    world.put_policy('{"version": 1, "services": {}, "services": {}}')
    ok, _ = world.create_endpoint(ALLOWED)
    run = autopilot("connections", env=world.function_env())
    assert run.code == 1 and 'duplicate key "services"' in run.stderr
    applied = autopilot("connections", "--apply", env=world.function_env())
    assert applied.code == 1
    assert world.states() == {ok: "pendingAcceptance"}
    [alert] = world.alerts()  # announced, as the function does
    assert "connection policy" in alert["content"]["title"].lower()
    unset = autopilot("connections", env={k: v for k, v in world.function_env().items() if k != "POLICY_PARAMETER"})
    assert unset.code == 1 and "set one of POLICY_PARAMETER, POLICY_FILE or POLICY_JSON" in unset.stderr


# --- zones ----------------------------------------------------------------------------------


@pytest.fixture
def hub(emu):
    h = zones.build(emu)
    h.put_rules(h.rules())
    return h


def test_zones_preview_lists_missing_zones_and_leftovers_then_apply_makes_them(hub):
    vpc = hub.create_vpc(zones.SPOKE)
    # An authorization left behind for a VPC the rules do not serve.
    stray = hub.create_vpc(zones.STRANGER)
    hub.emu.client("route53").create_vpc_association_authorization(
        HostedZoneId=hub.shared_zone, VPC={"VPCRegion": "us-east-1", "VPCId": stray})
    env = hub.function_env()
    preview = autopilot("--output", "json", "zones", env=env)
    assert preview.code == 2, preview.stderr
    changes = {(o["vpc_id"], o["zone_id"], o["change"]) for o in preview.json["report"]["outcomes"]}
    assert (vpc, hub.shared_zone, "associate") in changes
    assert (stray, hub.shared_zone, "deauthorize") in changes
    assert hub.zones_of(zones.SPOKE, vpc) == set() and len(hub.authorizations()) == 1
    assert hub.alerts() == []
    table = autopilot("zones", env=env)
    assert "Changes to make" in table.stdout and vpc in table.stdout and "zones --apply" in table.stdout

    applied = autopilot("zones", "--apply", env=env)
    assert applied.code == 0, applied.stderr + applied.stdout
    assert hub.zones_of(zones.SPOKE, vpc) == {hub.shared_zone}
    assert hub.authorizations() == []
    assert hub.alerts(), "announced as the function does"
    again = autopilot("zones", env=env)
    assert again.code == 0, again.stdout


# --- audit ----------------------------------------------------------------------------------


def test_audit_shows_every_finding_with_evidence_and_what_is_open(emu, functions):
    p = azs.build(emu)
    p.stop("us-east-1b")
    first = autopilot("--output", "json", "audit", env=p.env)
    assert first.code == 2, first.stderr
    [finding] = [f for f in first.json["findings"] if f["finding"]["check"] == "blackhole"]
    assert finding["already_open"] is False and finding["finding"]["evidence"]
    # The function's run opens it in the findings table; the CLI then shows it as open.
    assert functions(azs.FUNCTION, p.env).invoke({"version": "0", "id": "1", "detail-type": "Scheduled Event",
                                                  "source": "aws.events", "account": azs.PROVIDER,
                                                  "time": "2026-11-26T12:00:00Z", "region": "us-east-1",
                                                  "resources": [], "detail": {}}).ok
    table = autopilot("audit", env=p.env)
    assert table.code == 2
    row = next(line for line in table.stdout.splitlines() if "blackhole" in line)
    assert " open " in row and "critical" in row
    assert "1 already open in the findings table" in table.stdout
    p.add_targets("us-east-1b")
    healed = autopilot("audit", env=p.env)
    assert healed.code == 0, healed.stdout
    assert "the next audit resolves them" in healed.stdout
    # An informational finding is listed but does not gate.
    p.target_group_cross_zone("true")
    info = autopilot("audit", env=p.env)
    assert info.code == 0 and "cross_zone_on" in info.stdout, info.stdout


# --- invoke ---------------------------------------------------------------------------------


def test_invoke_runs_a_functions_handler_on_a_sample_event(world):
    world.put_policy(world.policy("reject"))
    ok, _ = world.create_endpoint(ALLOWED)
    run = autopilot("invoke", "accept-endpoint-connections", "--event", "events/scheduled.json", env=world.function_env())
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert [(o["connection"]["endpoint_id"], o["action"]) for o in report["outcomes"]] == [(ok, "accept")]
    assert world.settled_states() == {ok: "available"}
    assert "decided" in run.stderr, "the function's logs go to stderr"


def test_invoke_reports_a_function_that_fails_to_start_or_does_not_exist(world):
    env = {k: v for k, v in world.function_env().items() if k != "DECISIONS_TABLE"}
    broken = autopilot("invoke", "accept-endpoint-connections", "--event", "events/scheduled.json", env=env)
    assert broken.code == 1 and "DECISIONS_TABLE" in broken.stderr
    unknown = autopilot("invoke", "accept-everything", "--event", "events/scheduled.json")
    assert unknown.code == 1 and "is not a function of this project" in unknown.stderr


# --- status -----------------------------------------------------------------------------------


def test_status_says_whether_the_automation_is_healthy(emu, world, functions):
    """`autopilot status` from what the stack keeps: each scheduled job's last run, the open
    findings, the connections held, the failure queues. 2 while a job has not run on its schedule
    or a queue holds a failure, 0 once all is well, 1 when it cannot read what it needs."""
    hub = zones.build(emu)
    hub.put_rules(hub.rules())
    p = azs.build(emu)
    world.put_policy(world.policy("reject"))
    queue = emu.client("sqs").create_queue(QueueName="failed-invocations")["QueueUrl"]
    env = {**world.function_env(), "FINDINGS_TABLE": p.env["FINDINGS_TABLE"], "FAILED_INVOCATIONS_QUEUE_URL": queue}

    never = autopilot("--output", "json", "status", env=env)
    assert never.code == 2, never.stderr
    assert {j["job"]: j["standing"] for j in never.json["jobs"]} == \
        {"acceptor": "never_ran", "associator": "never_ran", "auditor": "never_ran"}

    # Each job runs on its schedule: the sweep, the reconcile (into the same decisions table, as
    # in the stack) and the audit.
    assert functions("accept-endpoint-connections", world.function_env()).invoke(scheduled_event()).ok
    assert functions(zones.FUNCTION, hub.function_env()).invoke(scheduled_event()).ok
    assert functions(azs.FUNCTION, p.env).invoke(scheduled_event()).ok
    healthy = autopilot("--output", "json", "status", env=env)
    assert healthy.code == 0, (healthy.stdout, healthy.stderr)
    assert healthy.json["verdict"] == "healthy"
    assert {j["standing"] for j in healthy.json["jobs"]} == {"healthy"}
    assert healthy.json["held_connections"] == 0 and healthy.json["queues"] == [{"queue": "FailedInvocations", "messages": 0}]

    # A failure waits in the queue: needs a look, and the table says which.
    emu.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps({"requestContext": {"condition": "RetriesExhausted"}}))
    failing = autopilot("status", env=env)
    assert failing.code == 2
    assert re.search(r"FailedInvocations messages\s+1", failing.stdout), failing.stdout
    assert "needs a look" in failing.stdout

    # A job late on its schedule (a window of 0 s has passed) needs a look too.
    time.sleep(1.1)
    late = autopilot("--output", "json", "status", env={**env, "FAILED_INVOCATIONS_QUEUE_URL": "", "AUDIT_HEARTBEAT_SECONDS": "0"})
    assert late.code == 2
    assert {j["job"]: j["standing"] for j in late.json["jobs"]}["auditor"]["late"]["seconds_ago"] >= 1

    # A table it cannot read: it cannot tell.
    unknown = autopilot("status", env={**env, "FINDINGS_TABLE": "no-such-table"})
    assert unknown.code == 1
    assert "cannot tell" in unknown.stdout


def _hub_stack(emu, decisions: str, findings: str) -> str:
    """A deployed hub stack as the CLI sees one: functions with the stack's environment, and the
    failure queue as an output (a stand-in for template.yaml's, made by CloudFormation)."""
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
            "FailedInvocations": {"Type": "AWS::SQS::Queue"},
            **{name: {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context): pass"},
                "Environment": {"Variables": variables}}}
               for name, variables in {
                   "AcceptEndpointConnections": {"DECISIONS_TABLE": decisions, "DRY_RUN": "true"},
                   "AuditAvailabilityZones": {"FINDINGS_TABLE": findings},
               }.items()},
        },
        "Outputs": {"FailedInvocationsQueueUrl": {"Value": {"Ref": "FailedInvocations"}}},
    }
    cloudformation = emu.client("cloudformation")
    cloudformation.create_stack(StackName="privatelink-autopilot", TemplateBody=json.dumps(template))
    [stack] = cloudformation.describe_stacks(StackName="privatelink-autopilot")["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["FailedInvocationsQueueUrl"]


def test_stack_names_the_deployed_configuration_and_the_environment_still_wins(emu, world):
    p = azs.build(emu)
    queue = _hub_stack(emu, world.function_env()["DECISIONS_TABLE"], p.env["FINDINGS_TABLE"])
    emu.client("sqs").send_message(QueueUrl=queue, MessageBody="{}")
    only_credentials = emu.function_env()
    found = autopilot("--stack", "privatelink-autopilot", "--output", "json", "status", env=only_credentials)
    assert found.code == 2, found.stderr
    # The tables came from the functions, the queue from the outputs.
    assert found.json["queues"] == [{"queue": "FailedInvocations", "messages": 1}]
    assert {j["job"]: j["standing"] for j in found.json["jobs"]}["auditor"] == "never_ran"
    overridden = autopilot("--stack", "privatelink-autopilot", "status",
                           env={**only_credentials, "FINDINGS_TABLE": "no-such-table"})
    assert overridden.code == 1 and "no-such-table" in overridden.stdout + overridden.stderr
    missing = autopilot("--stack", "no-such-stack", "status", env=only_credentials)
    assert missing.code == 1 and "stack no-such-stack" in missing.stderr
