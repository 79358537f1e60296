//! The envelopes a function can be invoked with, told apart and checked once.
//!
//! Envelopes are `aws_lambda_events` types; only CloudTrail `detail` bodies are ours
//! ([`crate::cloudtrail`]).

use crate::cloudtrail::Record;
use crate::error::{Error, Result};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use serde::Serialize;
use serde_json::Value;

/// An invocation, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Messages delivered by an SNS subscription.
    Sns(Vec<SnsNotice>),
    /// An "AWS API Call via CloudTrail" event, possibly forwarded from another account.
    CloudTrail(Box<CloudTrailEvent>),
    /// An EventBridge schedule fired.
    Scheduled,
    /// A well-formed EventBridge event of a kind the caller may not handle.
    OtherEventBridge { source: String, detail_type: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnsNotice {
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    /// Always a string in the Lambda event; JSON payloads are JSON inside it.
    pub message: String,
    /// When SNS accepted the message: seconds since the epoch, and as RFC 3339 text.
    pub published_epoch: i64,
    pub published: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloudTrailEvent {
    pub id: Option<String>,
    /// The envelope `account`: the account the event happened in. A forwarded event keeps the
    /// sender's account, so this is what a receiver checks against the accounts it trusts.
    pub account: String,
    pub region: Option<String>,
    pub source: String,
    pub record: Record,
}

impl CloudTrailEvent {
    /// The call's name when it is one of `calls` (source, event name) and it succeeded; otherwise
    /// why it is ignored: a call not handled here, or a failed call, which changed nothing.
    pub fn handled(&self, calls: &[(&str, &str)]) -> std::result::Result<&str, Triage> {
        let name = self.record.event_name.as_str();
        if !calls.contains(&(self.source.as_str(), name)) {
            return Err(Triage::Ignored(format!(
                "{name} from {} is not handled here",
                self.source
            )));
        }
        // The record's own account (the resource owner's, where the event was recorded) must be
        // the envelope's, which is what trust is judged on. The caller's account
        // (`userIdentity.accountId`) may differ for a cross-account call, so it is not compared.
        if let Some(recipient) = self
            .record
            .recipient_account
            .as_deref()
            .filter(|r| *r != self.account)
        {
            return Err(Triage::Ignored(format!(
                "{name} recorded in account {recipient} arrived as an event of account {}: the accounts disagree",
                self.account
            )));
        }
        match &self.record.error_code {
            Some(code) => Err(Triage::Ignored(format!(
                "{name} failed ({code}): nothing changed"
            ))),
            None => Ok(name),
        }
    }
}

/// What every handler answers: the run's report, or why the event was ignored (well-formed but
/// not ours to act on: nothing changed, nothing to retry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer<R> {
    Ran(R),
    Ignored { ignored: String },
}

impl<R> Answer<R> {
    /// Ignore the event, saying why in the log and the answer.
    pub fn ignored(why: impl Into<String>) -> Self {
        let ignored = why.into();
        tracing::warn!(reason = %ignored, "event ignored");
        Answer::Ignored { ignored }
    }

    /// The report, if the run ran.
    pub fn ran(self) -> Option<R> {
        match self {
            Answer::Ran(report) => Some(report),
            Answer::Ignored { .. } => None,
        }
    }
}

/// Why an event leads to no work.
#[derive(Debug)]
pub enum Triage {
    /// Well-formed, but not ours to act on: logged and answered, not retried.
    Ignored(String),
    /// Malformed: a clear error, nothing changed.
    Invalid(Error),
}

impl Triage {
    /// Log why the event leads to no work and answer it: an ignored event with its reason, an
    /// invalid one with the error.
    pub fn answer<R>(self) -> Result<Answer<R>> {
        self.settle().map(|ignored| Answer::Ignored { ignored })
    }

    fn settle(self) -> Result<String> {
        match self {
            Triage::Ignored(why) => {
                tracing::info!(reason = %why, "event ignored");
                Ok(why)
            }
            Triage::Invalid(err) => {
                tracing::error!(error = %err, "event rejected");
                Err(err)
            }
        }
    }
}

impl Incoming {
    /// This event is well-formed but not one the caller handles.
    pub fn unhandled(&self) -> Triage {
        Triage::Ignored(match self {
            Incoming::Sns(_) => "SNS messages are not handled here".into(),
            Incoming::Scheduled => "schedules are not handled here".into(),
            Incoming::CloudTrail(e) => format!(
                "{} from {} is not handled here",
                e.record.event_name, e.source
            ),
            Incoming::OtherEventBridge {
                source,
                detail_type,
            } => {
                format!("{detail_type} events from {source} are not handled here")
            }
        })
    }
}

impl From<Error> for Triage {
    fn from(err: Error) -> Self {
        Triage::Invalid(err)
    }
}

/// The wall clock: time since the epoch (zero should the clock read before it). The one place
/// the engine reads it.
pub fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the epoch (as DynamoDB TTL attributes count them).
pub fn now_secs() -> u64 {
    since_epoch().as_secs()
}

/// The invocation's deadline (Lambda's milliseconds since the epoch) as an instant, `margin`
/// earlier: what is left for work that must still be followed by a last step.
pub fn deadline(deadline_ms: u64, margin: std::time::Duration) -> tokio::time::Instant {
    let left = std::time::Duration::from_millis(deadline_ms).saturating_sub(since_epoch());
    tokio::time::Instant::now() + left.saturating_sub(margin)
}

/// Tell an invocation payload's kind, with a clear error for anything malformed.
pub fn classify(event: Value) -> Result<Incoming> {
    let Some(obj) = event.as_object() else {
        return Err(Error::InvalidEvent(format!(
            "expected a JSON object, got {}",
            kind_of(&event)
        )));
    };
    if obj.contains_key("Records") {
        let sns: SnsEvent = serde_json::from_value(event)
            .map_err(|e| Error::InvalidEvent(format!("not a valid SNS event: {e}")))?;
        if sns.records.is_empty() {
            return Err(Error::InvalidEvent("SNS event has no Records".into()));
        }
        let mut notices = Vec::with_capacity(sns.records.len());
        for record in sns.records {
            if record.event_source != "aws:sns" {
                return Err(Error::InvalidEvent(format!(
                    "record from {:?}, expected aws:sns",
                    record.event_source
                )));
            }
            notices.push(SnsNotice {
                message_id: record.sns.message_id,
                topic_arn: record.sns.topic_arn,
                subject: record.sns.subject,
                message: record.sns.message,
                published_epoch: record.sns.timestamp.timestamp(),
                published: record
                    .sns
                    .timestamp
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            });
        }
        return Ok(Incoming::Sns(notices));
    }
    if obj.contains_key("detail-type") {
        let eb: EventBridgeEvent<Value> = serde_json::from_value(event)
            .map_err(|e| Error::InvalidEvent(format!("not a valid EventBridge event: {e}")))?;
        return match (eb.source.as_str(), eb.detail_type.as_str()) {
            ("aws.events", "Scheduled Event") => Ok(Incoming::Scheduled),
            (_, "AWS API Call via CloudTrail") => {
                let account = eb.account.filter(|a| !a.is_empty()).ok_or_else(|| {
                    Error::InvalidEvent("CloudTrail event has no envelope account".into())
                })?;
                let record = Record::from_detail(&eb.detail)?;
                Ok(Incoming::CloudTrail(Box::new(CloudTrailEvent {
                    id: eb.id,
                    account,
                    region: eb.region,
                    source: eb.source,
                    record,
                })))
            }
            _ => Ok(Incoming::OtherEventBridge {
                source: eb.source,
                detail_type: eb.detail_type,
            }),
        };
    }
    Err(Error::InvalidEvent(
        "neither an SNS event (Records) nor an EventBridge event (detail-type)".into(),
    ))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The sample payloads in `events/`, for the engine's tests (they read only files inside the
/// repository).
#[cfg(test)]
pub(crate) mod samples {
    use serde_json::Value;
    use std::path::PathBuf;

    pub(crate) fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
    }

    /// `events/<name>`, parsed.
    pub(crate) fn sample(name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_vpc(envelope: &str, recipient: &str, caller: &str) -> CloudTrailEvent {
        let e = json!({"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ec2", "account": envelope, "time": "2026-11-26T12:00:00Z",
            "region": "us-east-1", "resources": [], "detail": {
                "eventSource": "ec2.amazonaws.com", "eventName": "CreateVpc", "awsRegion": "us-east-1",
                "userIdentity": {"accountId": caller}, "recipientAccountId": recipient,
                "requestParameters": {}, "responseElements": {}}});
        match classify(e).unwrap() {
            Incoming::CloudTrail(event) => *event,
            other => panic!("{other:?}"),
        }
    }

    /// A record whose own account is not the envelope's is ignored: trust is judged on the
    /// envelope. A caller from another account (a cross-account call) is normal.
    #[test]
    fn a_record_of_another_account_than_its_envelope_is_ignored() {
        let calls = [("aws.ec2", "CreateVpc")];
        let forged = create_vpc("111111111111", "999999999999", "999999999999");
        assert!(
            matches!(forged.handled(&calls), Err(Triage::Ignored(why)) if why.contains("disagree"))
        );
        let cross = create_vpc("111111111111", "111111111111", "222222222222");
        assert_eq!(cross.handled(&calls).unwrap(), "CreateVpc");
    }

    #[test]
    fn a_schedule_without_version_is_a_schedule() {
        let e = json!({"id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
                       "account": "123456789012", "time": "2016-12-30T18:44:49Z", "region": "us-east-1",
                       "resources": ["arn:aws:events:us-east-1:123456789012:rule/x"], "detail": {}, "debug": true});
        assert_eq!(classify(e).unwrap(), Incoming::Scheduled);
    }

    #[test]
    fn malformed_payloads_say_what_is_wrong() {
        let cases = [
            (
                json!([1]),
                "invalid event: expected a JSON object, got an array",
            ),
            (
                json!({"hello": 1}),
                "invalid event: neither an SNS event (Records) nor an EventBridge event (detail-type)",
            ),
            (
                json!({"Records": []}),
                "invalid event: SNS event has no Records",
            ),
        ];
        for (event, message) in cases {
            assert_eq!(classify(event).unwrap_err().to_string(), message);
        }
        let err = classify(json!({"Records": [{"EventSource": "aws:sns"}]})).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid event: not a valid SNS event: missing field"),
            "{err}"
        );
        let err = classify(json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
                                   "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateVpc"}}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid event: CloudTrail event has no envelope account"
        );
    }
}
