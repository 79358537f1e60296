//! A CloudWatch alarm's change of state, as CloudWatch publishes it to an alarm action's SNS topic
//! (a JSON message: `AlarmName`, `NewStateValue`, `OldStateValue`, `NewStateReason`,
//! `StateChangeTime`, `Trigger`, …;
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html>), read
//! into the notification model: the Slack notifier posts the stack's alarms as it posts findings,
//! an alarm opened in its channel and its return to OK in the same thread.

use crate::error::Invalid;
use crate::notify::{EventType, Fact, Facts, Lifecycle, Notification, Severity};
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether an SNS message's document is a CloudWatch alarm's (rather than a Chatbot notification).
pub fn is_alarm(doc: &Value) -> bool {
    doc.get("AlarmName").is_some() && doc.get("NewStateValue").is_some()
}

/// The notification for an alarm's change of state; `None` for a change with nothing to say (an
/// alarm leaving `INSUFFICIENT_DATA` for `OK` when it is created, or going back to it).
pub fn notification(doc: &Value) -> Result<Option<Notification>, Invalid> {
    let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::trim);
    let name = text("AlarmName")
        .filter(|n| !n.is_empty())
        .ok_or("AlarmName is missing")?;
    let new = text("NewStateValue").ok_or("NewStateValue is missing")?;
    let old = text("OldStateValue").unwrap_or("");
    let (severity, lifecycle, heading) = match (new, old) {
        ("ALARM", _) => (Severity::Critical, Some(Lifecycle::Opened), "Alarm"),
        ("OK", "ALARM") => (
            Severity::Info,
            Some(Lifecycle::Resolved {
                opened_severity: Severity::Critical,
            }),
            "Resolved: Alarm",
        ),
        ("INSUFFICIENT_DATA", "ALARM") => (Severity::Warning, None, "Alarm without data"),
        ("OK" | "INSUFFICIENT_DATA", _) => return Ok(None),
        (other, _) => return Err(Invalid(format!("unknown alarm state {other:?}"))),
    };
    let changed = text("StateChangeTime").unwrap_or("");
    let reason = text("NewStateReason").unwrap_or("");
    let mut context = BTreeMap::new();
    context.insert(Fact::Alarm.name().to_owned(), name.to_owned());
    if let Some(metric) = metric(doc.get("Trigger")) {
        context.insert(Fact::Metric.name().to_owned(), metric);
    }
    if let Some(account) = text("AWSAccountId") {
        context.insert(Fact::Account.name().to_owned(), account.to_owned());
    }
    for (fact, value) in lifecycle.map(Lifecycle::facts).unwrap_or_default() {
        context.insert(fact.name().to_owned(), value);
    }
    let title = format!("{heading}: {name}");
    // What to do, while there is something to do.
    let next_steps: Vec<String> = text("AlarmDescription")
        .filter(|d| !d.is_empty() && new != "OK")
        .map(|d| vec![d.to_owned()])
        .unwrap_or_default();
    Ok(Some(Notification {
        id: format!("alarm:{name}:{new}:{changed}"),
        event_type: EventType::CloudWatchAlarm,
        severity,
        summary: title.clone(),
        title,
        description: if old.is_empty() {
            format!("{new}: {reason}")
        } else {
            format!("{old} → {new}: {reason}")
        },
        next_steps,
        keywords: vec!["alarm".into()],
        thread_id: Some(format!("alarm:{name}")),
        related_resources: text("AlarmArn")
            .map(|a| vec![a.to_owned()])
            .unwrap_or_default(),
        context: Facts(context),
    }))
}

/// `AWS/Lambda Errors (FunctionName=x)`: what the alarm watches.
fn metric(trigger: Option<&Value>) -> Option<String> {
    let trigger = trigger?;
    let name = trigger.get("MetricName")?.as_str()?;
    let namespace = trigger
        .get("Namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let dimensions: Vec<String> = trigger
        .get("Dimensions")
        .and_then(Value::as_array)
        .map(|ds| {
            ds.iter()
                .filter_map(|d| {
                    // CloudWatch writes them lower-case here (`name`, `value`)
                    let key = d.get("name").or(d.get("Name"))?.as_str()?;
                    let value = d.get("value").or(d.get("Value"))?.as_str()?;
                    Some(format!("{key}={value}"))
                })
                .collect()
        })
        .unwrap_or_default();
    let metric = format!("{namespace} {name}").trim().to_owned();
    Some(if dimensions.is_empty() {
        metric
    } else {
        format!("{metric} ({})", dimensions.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alarm(new: &str, old: &str) -> Value {
        json!({
            "AlarmName": "autopilot-sweep-heartbeat",
            "AlarmDescription": "No scheduled sweep finished in the window.",
            "AWSAccountId": "111111111111",
            "NewStateValue": new,
            "OldStateValue": old,
            "NewStateReason": "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [Breaching].",
            "StateChangeTime": "2026-12-05T10:05:00.000+0000",
            "AlarmArn": "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:autopilot-sweep-heartbeat",
            "Trigger": {"MetricName": "ScheduledRunSucceeded", "Namespace": "PrivateLinkAutopilot",
                        "Dimensions": [{"value": "acceptor", "name": "Job"}]}
        })
    }

    #[test]
    fn an_alarm_opens_and_its_return_to_ok_resolves_in_the_same_thread() {
        let opened = notification(&alarm("ALARM", "OK")).unwrap().unwrap();
        assert_eq!(opened.severity, Severity::Critical);
        assert_eq!(opened.lifecycle(), Some(Lifecycle::Opened));
        assert_eq!(opened.title, "Alarm: autopilot-sweep-heartbeat");
        assert!(
            opened
                .description
                .starts_with("OK → ALARM: Threshold Crossed")
        );
        assert_eq!(
            opened.context.get(Fact::Metric),
            Some("PrivateLinkAutopilot ScheduledRunSucceeded (Job=acceptor)")
        );
        assert_eq!(
            opened.next_steps,
            ["No scheduled sweep finished in the window."]
        );
        let resolved = notification(&alarm("OK", "ALARM")).unwrap().unwrap();
        assert_eq!(
            resolved.lifecycle(),
            Some(Lifecycle::Resolved {
                opened_severity: Severity::Critical
            })
        );
        assert_eq!(resolved.thread_id, opened.thread_id);
        assert_ne!(resolved.id, opened.id);
        assert!(resolved.next_steps.is_empty());
    }

    #[test]
    fn a_new_alarm_settling_says_nothing() {
        assert_eq!(
            notification(&alarm("OK", "INSUFFICIENT_DATA")).unwrap(),
            None
        );
        assert_eq!(
            notification(&alarm("INSUFFICIENT_DATA", "OK")).unwrap(),
            None
        );
    }

    #[test]
    fn a_malformed_alarm_is_refused() {
        assert!(notification(&json!({"AlarmName": "", "NewStateValue": "ALARM"})).is_err());
        assert!(notification(&json!({"AlarmName": "x", "NewStateValue": "LOUD"})).is_err());
        assert!(is_alarm(&alarm("ALARM", "OK")) && !is_alarm(&json!({"version": "1.0"})));
    }
}
