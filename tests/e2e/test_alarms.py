"""The stack watches itself, in template.yaml and in the CDK construct alike: every function has
an errors and a throttles alarm, every queue of failures a depth alarm, every scheduled job a
heartbeat alarm that counts missing data as breaching and gives the job at least two schedule
periods; every alarm tells the alarm topic when it fires and when it clears."""

from __future__ import annotations

import re

import pytest

from harness.architecture import Model, load_yaml, parity_configs, sam_transformed, synthesized
from harness.template import ROOT

CONFIGS = parity_configs()["hub"]
SAM = sam_transformed(load_yaml(ROOT / "template.yaml"))
# The job each function's metrics carry (autopilot::metrics::Metrics::new in each job's run.rs).
JOB = {"accept-endpoint-connections": "acceptor", "associate-private-zones": "associator",
       "audit-availability-zones": "auditor"}
SECONDS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def model(source: str, setting: str) -> Model:
    if source == "template.yaml":
        return Model(SAM, CONFIGS[setting]["parameters"])
    return Model(synthesized("hub", setting))


def schedule_seconds(expression: str) -> int:
    m = re.fullmatch(r"rate\((\d+) (\w+)\)", expression)
    assert m, f"not a rate expression: {expression}"
    return int(m.group(1)) * SECONDS[m.group(2)]


CASES = [(source, setting) for source in ("template.yaml", "construct") for setting in CONFIGS]


@pytest.mark.parametrize("source,setting", CASES)
def test_every_function_queue_and_schedule_has_its_alarm(source, setting):
    m = model(source, setting)
    alarms = list(m.alarms().values())
    functions = m.functions()
    for function in functions:
        for metric in ("Errors", "Throttles"):
            watching = [a for a in alarms if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == metric
                        and a["Dimensions"] == [{"Name": "FunctionName", "Value": f"ref({function})"}]]
            assert len(watching) == 1, f"{function}: {len(watching)} {metric} alarms"
    for queue in m.queues():
        watching = [a for a in alarms if a["Namespace"] == "AWS/SQS"
                    and a["MetricName"] == "ApproximateNumberOfMessagesVisible"
                    and a["Dimensions"] == [{"Name": "QueueName", "Value": f"att({queue}.QueueName)"}]]
        assert len(watching) == 1 and watching[0]["Threshold"] == 1, f"{queue}: no depth alarm"
    scheduled = {name.removeprefix("function "): t["Schedule"]
                 for name, f in functions.items() for t in f["Triggers"] if t.get("Schedule")}
    assert set(scheduled) == set(JOB), "every job on a schedule has a heartbeat"
    for binary, expression in scheduled.items():
        [beat] = [a for a in alarms if a["MetricName"] == "ScheduledRunSucceeded"
                  and a["Dimensions"] == [{"Name": "Job", "Value": JOB[binary]}]]
        assert (beat["Namespace"], beat["Statistic"], beat["ComparisonOperator"], beat["Threshold"]) == \
            ("PrivateLinkAutopilot", "Sum", "LessThanThreshold", 1)
        assert beat["TreatMissingData"] == "breaching", f"{binary}: a job that stopped must alarm"
        assert beat["Period"] * beat["EvaluationPeriods"] >= 2 * schedule_seconds(expression), \
            f"{binary}: the heartbeat's window is under two periods of {expression}"


@pytest.mark.parametrize("source,setting", CASES)
def test_every_alarm_tells_the_alarm_topic_when_it_fires_and_when_it_clears(source, setting):
    m = model(source, setting)
    given = CONFIGS[setting]["parameters"].get("AlarmTopicArn")
    target = given or "ref(topic PrivateLink autopilot alarms)"
    for name, alarm in m.alarms().items():
        assert alarm["AlarmActions"] == [target] and alarm["OKActions"] == [target], name
        assert name.startswith("${AWS::StackName}-"), f"{name}: the topic policy takes the stack's alarms by name"
    if given:
        assert "topic PrivateLink autopilot alarms" not in m.topics()
    else:
        [publish] = [s for s in m.topics()["topic PrivateLink autopilot alarms"]["Policy"] if s["Effect"] == "Allow"]
        assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
        assert publish["Condition"]["ArnLike"]["aws:SourceArn"] == \
            "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-*"


@pytest.mark.parametrize("source,setting", CASES)
def test_the_dashboard_has_a_row_per_job_and_every_alarm(source, setting):
    m = model(source, setting)
    [dashboard] = m.dashboards()
    widgets = dashboard["DashboardBody"]["widgets"]
    on_it = {a for w in widgets if w["type"] == "alarm" for a in w["properties"]["alarms"]}
    assert on_it == {f"att(alarm {name}.Arn)" for name in m.alarms()}, "every alarm, once"
    work = {line[3] for w in widgets if w["type"] == "metric" for line in w["properties"]["metrics"]
            if line[0] == "PrivateLinkAutopilot"}
    assert work == set(JOB.values()), "a row of each job's own metrics"
    functions = {line[3] for w in widgets if w["type"] == "metric" for line in w["properties"]["metrics"]
                 if line[0] == "AWS/Lambda"}
    assert functions == {f"ref({f})" for f in m.functions()} - {"ref(function connection-notifications)"}
