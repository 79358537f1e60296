"""The Slack notifier end to end: its real binary, Secrets Manager and DynamoDB on the emulator,
and a real local HTTP server standing in for Slack."""

import json
import os
import time
from pathlib import Path

import pytest

from harness import azs
from harness.scenario import create_table, drain, scheduled_event, sns_event
from harness.slack import BOT_TOKEN, SlackStub, secret_env, violations

FUNCTION = "notify-slack"
EVENTS = Path(__file__).resolve().parents[2] / "events" / "slack"
GOLDEN = Path(__file__).resolve().parent / "golden" / "slack"
CASES = ["connection-accepted", "connection-rejected", "zone-associated", "blackhole-opened", "blackhole-resolved"]


def event(case: str) -> dict:
    return json.loads((EVENTS / f"sns-{case}.json").read_text())


def golden(name: str, actual: dict) -> dict:
    """The expected JSON; ``UPDATE_GOLDEN=1`` writes what was posted instead (review the diff).
    A reply's ``thread_ts`` is the time its thread was opened: compared as a placeholder."""
    if "thread_ts" in actual:
        actual = {**actual, "thread_ts": "<ts of the opening message>"}
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    return json.loads(path.read_text())


@pytest.fixture
def slack():
    with SlackStub() as stub:
        yield stub


@pytest.fixture
def notifier(emu, slack, functions):
    """notifier(mode, channels=None, **env) → the started function, posting to the stand-in."""
    table = create_table(emu, "deliveries")

    def start(mode: str, channels: str | None = None, **extra: str):
        return functions(FUNCTION, secret_env(emu, slack, mode, table, channels, **extra))

    return start


def no_secrets(fn) -> None:
    logs = "\n".join(fn.logs)
    assert BOT_TOKEN not in logs and "local0webhook0secret" not in logs


@pytest.mark.parametrize("case", CASES)
def test_webhook_posts_the_exact_block_kit_message(notifier, slack, case):
    fn = notifier("webhook")
    result = fn.invoke(event(case))
    assert result.ok, result.body
    [posted] = slack.delivered()
    assert posted == golden(f"webhook-{case}", posted)
    assert violations(posted) == []
    [request] = slack.requests
    assert request.path.startswith("/services/") and "authorization" not in request.headers
    no_secrets(fn)


def test_a_long_finding_is_cut_to_slacks_limits_and_accepted(notifier, slack):
    """Slack refuses a message over its Block Kit limits (the stand-in too): a finding with a
    very long title, description and facts is cut, not refused."""
    long = event("blackhole-opened")
    doc = json.loads(long["Records"][0]["Sns"]["Message"])
    doc["content"]["title"] = "No healthy target " * 20
    doc["content"]["description"] = "\n".join(f"• target i-{n:017x} in use1-az2 is unhealthy" for n in range(400))
    doc["metadata"]["additionalContext"].update({f"evidence_{n:02}": "x" * 2500 for n in range(25)})
    long["Records"][0]["Sns"]["Message"] = json.dumps(doc)
    result = notifier("webhook").invoke(long)
    assert result.ok, result.body
    [posted] = slack.delivered()
    assert violations(posted) == []
    header, description = posted["blocks"][0]["text"]["text"], posted["blocks"][1]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")
    assert description.endswith("more lines_") and len(description) <= 3000
    assert sum(len(b.get("fields", [])) for b in posted["blocks"]) == 25 + 5


def test_a_forged_alert_posts_no_link_of_its_own(notifier, slack):
    """Anyone who may publish to the alert topic controls a message's facts. A service id
    carrying Slack markup makes no console link, and the markup shows as text."""
    forged = event("connection-accepted")
    doc = json.loads(forged["Records"][0]["Sns"]["Message"])
    lure = "vpce-svc-0123456789abcdef0>|<https://evil.example/login|Open the AWS console>"
    doc["metadata"]["additionalContext"]["service"] = lure
    doc["metadata"]["relatedResources"] = [lure]
    doc["content"]["description"] = f"• *accepted* to `{lure}` <https://evil.example|details>"
    forged["Records"][0]["Sns"]["Message"] = json.dumps(doc)
    result = notifier("webhook").invoke(forged)
    assert result.ok, result.body
    [posted] = slack.delivered()
    text = json.dumps(posted)
    assert "<https://evil.example" not in text, text
    assert "&lt;https://evil.example" in text
    assert violations(posted) == []


def test_bot_routes_by_severity_and_replies_to_the_finding_in_its_thread(notifier, slack):
    fn = notifier("bot", channels="critical=#privatelink-oncall,default=#privatelink")
    accepted = fn.invoke(event("connection-accepted"))
    opened = fn.invoke(event("blackhole-opened"))
    resolved = fn.invoke(event("blackhole-resolved"))
    assert all(r.ok for r in (accepted, opened, resolved)), [accepted.body, opened.body, resolved.body]
    first, finding, resolution = slack.delivered()
    assert first == golden("bot-connection-accepted", first)
    assert finding == golden("bot-blackhole-opened", finding)
    assert {**resolution, "thread_ts": "<ts of the opening message>"} == golden("bot-blackhole-resolved", resolution)
    assert (first["channel"], finding["channel"]) == ("#privatelink", "#privatelink-oncall")
    [opened_delivery] = opened.body["deliveries"]
    # The resolution goes to the finding's channel, in its thread (though itself only info).
    assert resolution["channel"] == "#privatelink-oncall"
    assert resolution["thread_ts"] == opened_delivery["ts"]
    assert resolved.body["deliveries"][0]["thread_ts"] == opened_delivery["ts"]
    assert all(r.headers["authorization"] == f"Bearer {BOT_TOKEN}" for r in slack.requests)
    no_secrets(fn)


def test_an_alarm_opens_and_its_return_to_ok_resolves_in_its_thread(notifier, slack):
    """The stack's own alarms, from the alarm topic: opened in the critical channel with what to
    do and a link to the alarm, resolved in the same thread; a new alarm settling says nothing."""
    fn = notifier("bot", channels="critical=#privatelink-oncall,default=#privatelink")
    settled = fn.invoke(event("alarm-settled"))
    assert settled.ok and settled.body["deliveries"] == [{"outcome": "quiet", "message_id": "7f2a8b5c-0d3e-5a4f-9b6c-2d3e4f5a6b72"}]
    opened, resolved = fn.invoke(event("alarm-opened")), fn.invoke(event("alarm-resolved"))
    assert opened.ok and resolved.ok, [opened.body, resolved.body]
    alarm, back = slack.delivered()
    assert alarm == golden("bot-alarm-opened", alarm)
    assert {**back, "thread_ts": "<ts of the opening message>"} == golden("bot-alarm-resolved", back)
    assert alarm["channel"] == back["channel"] == "#privatelink-oncall"
    assert back["thread_ts"] == opened.body["deliveries"][0]["ts"]
    assert "cloudwatch/home?region=us-east-1#alarmsV2:alarm/privatelink-autopilot-sweep-heartbeat" in json.dumps(alarm)
    assert violations(alarm) == [] and violations(back) == []
    # The real capture (an older message, without AlarmArn) is posted as well.
    real = json.loads((EVENTS.parent / "real" / "sns_lambda_event__real_capture_cloudwatch_alarm.json").read_text())
    assert fn.invoke(real).ok
    assert "InvalidSSHLoginAlarm" in slack.delivered()[-1]["blocks"][0]["text"]["text"]


def test_severity_filter_posts_nothing_below_it(notifier, slack):
    fn = notifier("bot", channels="critical=#privatelink-oncall,warning=#privatelink", SLACK_MIN_SEVERITY="warning")
    result = fn.invoke(event("connection-accepted"))
    assert result.body["deliveries"] == [{"outcome": "filtered", "message_id": event("connection-accepted")["Records"][0]["Sns"]["MessageId"], "severity": "info"}]
    assert slack.requests == []
    fn.invoke(event("blackhole-opened"))
    assert [m["channel"] for m in slack.delivered()] == ["#privatelink-oncall"]


def test_the_same_sns_message_is_posted_once(notifier, slack):
    fn = notifier("webhook")
    first = fn.invoke(event("connection-rejected"))
    again = fn.invoke(event("connection-rejected"))
    assert first.body["deliveries"][0]["outcome"] == "posted"
    assert again.body["deliveries"][0]["outcome"] == "duplicate"
    assert len(slack.requests) == 1


@pytest.mark.parametrize("claimed_ago, why", [
    (5, "is being posted by another invocation; try again later"),
    (600, "was interrupted: it may be in Slack already, so it is not posted again (check the channel; an incoming webhook cannot read its channel)"),
])
def test_a_message_claimed_by_another_invocation_is_not_posted(emu, notifier, slack, claimed_ago, why):
    """A claim left by an invocation still running, or by one that died mid-post."""
    sns = event("blackhole-opened")
    message_id = sns["Records"][0]["Sns"]["MessageId"]
    notification_id = json.loads(sns["Records"][0]["Sns"]["Message"])["id"]
    now = int(time.time())
    emu.client("dynamodb").put_item(TableName="deliveries", Item={
        "pk": {"S": f"slack-notification#{notification_id}"}, "status": {"S": "posting"}, "message_id": {"S": message_id},
        "claimed_at": {"N": str(now - claimed_ago)}, "expires_at": {"N": str(now + 3600)}})
    failed = notifier("webhook").invoke(sns)
    assert failed.error_type == "Delivery" and why in failed.error_message
    assert slack.requests == []


def test_429_waits_for_retry_after_then_posts(notifier, slack):
    fn = notifier("bot", channels="default=#privatelink")
    slack.fail(429, retry_after=1)
    result = fn.invoke(event("zone-associated"))
    assert result.ok, result.body
    limited, posted = slack.requests
    assert (limited.status, posted.status) == (429, 200)
    assert posted.at - limited.at >= 0.95, "Retry-After was not honoured"
    assert len(slack.delivered()) == 1


def test_a_retry_after_past_the_deadline_fails_now_for_lambda_to_retry_later(notifier, slack):
    fn = notifier("webhook")
    slack.fail(429, retry_after=300)  # the invocation has 60 s
    started = time.monotonic()
    failed = fn.invoke(event("zone-associated"))
    assert time.monotonic() - started < 10, "it did not sit out the wait"
    assert failed.error_type == "Delivery"
    assert "would pass the invocation's deadline" in failed.error_message
    assert len(slack.requests) == 1 and slack.delivered() == []


def test_500_three_times_fails_the_invocation_and_a_retry_posts_once(notifier, slack):
    fn = notifier("webhook")
    slack.fail(500, times=3, body="internal_error")
    failed = fn.invoke(event("blackhole-opened"))
    assert not failed.ok
    assert failed.error_type == "Delivery"
    assert failed.error_message == "Slack: answered 500: internal_error (3 attempts)"
    assert [r.status for r in slack.requests] == [500, 500, 500]
    assert slack.delivered() == []
    # Nothing is marked posted: Lambda's retry of the same event posts it, once.
    retried = fn.invoke(event("blackhole-opened"))
    assert retried.ok and retried.body["deliveries"][0]["outcome"] == "posted"
    assert len(slack.delivered()) == 1


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue(emu, notifier, slack):
    sqs = emu.client("sqs")
    dlq = sqs.create_queue(QueueName="slack-dead-letters")["QueueUrl"]
    fn = notifier("webhook")
    slack.fail(500, times=9)  # three invocations (Lambda's two retries) of three attempts each
    attempts = fn.invoke_async(event("blackhole-opened"), sqs, dlq)
    assert [a.error_type for a in attempts] == ["Delivery"] * 3
    assert len(slack.requests) == 9 and slack.delivered() == []
    [kept] = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(kept["Body"]) == event("blackhole-opened")
    assert kept["MessageAttributes"]["ErrorMessage"]["StringValue"] == "Slack: answered 500 (3 attempts)"


def test_a_producers_retry_in_a_second_sns_message_is_posted_once(notifier, slack):
    """The same notification published twice (the producer retried after a lost answer from SNS):
    two SNS message ids, one Slack message."""
    fn = notifier("webhook")
    first = event("connection-rejected")
    again = json.loads(json.dumps(first))
    again["Records"][0]["Sns"]["MessageId"] = "0b5c2a4e-1111-4d7b-9a8e-7c1b2a3d4e5f"
    assert fn.invoke(first).body["deliveries"][0]["outcome"] == "posted"
    assert fn.invoke(again).body["deliveries"] == [{"outcome": "duplicate", "message_id": "0b5c2a4e-1111-4d7b-9a8e-7c1b2a3d4e5f"}]
    assert len(slack.delivered()) == 1


CHANNEL_ID = "C0PRIVLINK1"


@pytest.mark.parametrize("how", ["after", "garbage"])
def test_a_lost_answer_in_bot_mode_is_looked_for_before_posting_again(notifier, slack, how):
    """Slack posted it but the answer was lost (the connection cut, or a 200 that is not Slack's
    JSON): the notifier reads the channel, finds its message by metadata and does not post again."""
    fn = notifier("bot", channels=f"default={CHANNEL_ID}")
    slack.lose(how)
    result = fn.invoke(event("blackhole-opened"))
    assert result.ok, result.error_message
    [delivery] = result.body["deliveries"]
    assert delivery["outcome"] == "posted" and delivery["channel"] == CHANNEL_ID
    [posted] = slack.delivered()
    assert posted["metadata"]["event_payload"]["notification_id"] == "az-finding-4c1d3f7a9b2e6d80-opened"
    [look] = [r for r in slack.requests if r.path.startswith("/api/conversations.history")]
    assert f"channel={CHANNEL_ID}" in look.path and "include_all_metadata=true" in look.path
    # Lambda's retry of the same event, and a later duplicate, post nothing.
    assert fn.invoke(event("blackhole-opened")).body["deliveries"][0]["outcome"] == "duplicate"
    assert len(slack.delivered()) == 1


def test_a_post_cut_before_slack_had_it_is_looked_for_then_posted_once(notifier, slack):
    fn = notifier("bot", channels=f"default={CHANNEL_ID}")
    slack.lose("before")
    result = fn.invoke(event("blackhole-opened"))
    assert result.ok, result.error_message
    assert [r.path.split("?")[0] for r in slack.requests] == ["/api/conversations.history", "/api/chat.postMessage"]
    assert len(slack.delivered()) == 1


def test_a_reply_whose_answer_is_lost_is_looked_for_in_its_thread(notifier, slack):
    fn = notifier("bot", channels=f"default={CHANNEL_ID}")
    opened = fn.invoke(event("blackhole-opened")).body["deliveries"][0]
    slack.lose("after")
    resolved = fn.invoke(event("blackhole-resolved"))
    assert resolved.ok, resolved.error_message
    [look] = [r for r in slack.requests if r.path.startswith("/api/conversations.replies")]
    assert f"ts={opened['ts']}" in look.path
    assert len(slack.delivered()) == 2


@pytest.mark.parametrize("mode, channels, why", [
    ("webhook", None, "an incoming webhook cannot read its channel"),
    ("bot", "default=#privatelink", "the channel is given by name"),
])
def test_a_lost_answer_that_cannot_be_checked_is_never_posted_twice(emu, notifier, slack, mode, channels, why):
    """Where the channel cannot be read, the message may be in Slack: the invocation fails
    without retrying, Lambda's retries post nothing, and the dead-letter queue says why."""
    sqs = emu.client("sqs")
    dlq = sqs.create_queue(QueueName=f"slack-dead-letters-{mode}")["QueueUrl"]
    fn = notifier(mode, channels=channels)
    slack.lose("after")
    attempts = fn.invoke_async(event("blackhole-opened"), sqs, dlq)
    assert [a.error_type for a in attempts] == ["Delivery"] * 3
    assert "the message may already be in Slack, so it is not posted again" in attempts[0].error_message
    assert why in attempts[0].error_message
    assert all("may be in Slack already" in a.error_message for a in attempts[1:]), [a.error_message for a in attempts]
    assert len(slack.delivered()) == 1
    [kept] = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert "may be in Slack already" in kept["MessageAttributes"]["ErrorMessage"]["StringValue"]
    no_secrets(fn)


def test_a_refusal_is_final_and_says_why(notifier, slack):
    fn = notifier("bot", channels="default=#gone")
    slack.fail(200, body=json.dumps({"ok": False, "error": "channel_not_found"}))
    failed = fn.invoke(event("connection-accepted"))
    assert (failed.error_type, failed.error_message) == ("Delivery", "Slack: refused the message: channel_not_found")
    assert len(slack.requests) == 1, "a refusal is not retried"


@pytest.mark.parametrize("mode, env, why", [
    ("bot", {}, "holds a bot token, so SLACK_CHANNELS must name the channels"),
    ("webhook", {"SLACK_CHANNELS": "default=#x"}, "SLACK_CHANNELS needs a bot token"),
    ("bot", {"SLACK_CHANNELS": "critical=#x"}, "no channel for info alerts"),
    ("bot", {"SLACK_CHANNELS": "default=#x", "SLACK_MIN_SEVERITY": "loud"}, "SLACK_MIN_SEVERITY must be info, warning or critical"),
])
def test_configuration_is_checked_at_cold_start(emu, slack, functions, mode, env, why):
    table = create_table(emu, "deliveries")
    fn = functions(FUNCTION, {**secret_env(emu, slack, mode, table), **env})
    code, logs = fn.wait_exit()
    assert code != 0
    assert any(why in line for line in logs), logs
    assert not any(BOT_TOKEN in line or "local0webhook0secret" in line for line in logs)


def test_real_findings_flow_from_the_auditor_through_the_alert_topic_into_a_thread(emu, slack, functions):
    """The auditor publishes to the alert topic; every message it published is delivered to the
    notifier as SNS delivers it, and the resolution lands in the finding's thread."""
    provider = azs.build(emu)
    auditor = functions(azs.FUNCTION, provider.env)
    table = create_table(emu, "deliveries")
    fn = functions(FUNCTION, secret_env(emu, slack, "bot", table, "critical=#privatelink-oncall,default=#privatelink"))

    def audit_and_notify(event: dict | None = None) -> None:
        assert auditor.invoke(event or scheduled_event()).ok
        for envelope in drain(emu, provider.alert_queue):
            result = fn.invoke(sns_event(envelope))
            assert result.ok, result.body

    provider.stop("us-east-1b")
    served = [provider.zone_ids(azs.PROVIDER)[az] for az in provider.subnets]
    consumer = provider.consumer_endpoint(azs.CONSUMER, served, served, by_id=True)
    audit_and_notify()
    [finding] = slack.delivered()
    assert finding["channel"] == "#privatelink-oncall" and "thread_ts" not in finding
    assert finding["blocks"][0]["text"]["text"].startswith("🔴 CRITICAL · PrivateLink availability zones: No healthy target in")
    # The service's AZ layout in a code block, the blackholed AZ marked, the consumer's column in it.
    matrix = finding["blocks"][2]["text"]["text"]
    hole = provider.zone_ids(azs.PROVIDER)["us-east-1b"]
    assert matrix.startswith(f"```\n{provider.service_id} · provider {azs.PROVIDER}") and matrix.endswith("\n```")
    [row] = [line for line in matrix.splitlines() if line.strip().startswith(hole)]
    assert "blackhole" in row and "⊘" in row
    assert consumer in matrix and len(matrix) <= 3000
    # The change's CloudTrail event has the group's kept settings read anew.
    provider.target_group_cross_zone("true")
    audit_and_notify({**scheduled_event(), "detail-type": "AWS API Call via CloudTrail", "source": "aws.elasticloadbalancing",
                      "detail": {"eventSource": "elasticloadbalancing.amazonaws.com", "eventName": "ModifyTargetGroupAttributes",
                                 "awsRegion": "us-east-1", "requestParameters": {"targetGroupArn": provider.target_group}}})
    _, cost, resolution = slack.delivered()
    assert cost["blocks"][0]["text"]["text"].startswith("🔵 INFO")
    assert resolution["blocks"][0]["text"]["text"].startswith("✅ RESOLVED · No healthy target in")
    assert resolution["thread_ts"] == json.loads(slack.requests[0].answer)["ts"]
    assert all(violations(m) == [] for m in slack.delivered())
