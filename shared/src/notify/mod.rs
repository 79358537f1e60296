//! What every decision and finding becomes: a [`Notification`], published to SNS as an AWS
//! Chatbot custom notification (so Chatbot can post it as is) with the structured facts kept in
//! `metadata.additionalContext` for other subscribers.

pub mod alarm;
pub mod digest;
mod sns;

pub use digest::Digest;
pub use sns::{MESSAGES_PER_BATCH, Publisher, SnsPublisher};

use crate::error::Invalid;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// `info`, `warning` or `critical`.
    pub fn parse(text: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Every fact a producer writes into a notification's `metadata.additionalContext`, and the Slack
/// notifier reads back: one list, so both sides name them alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    /// What was decided or done to the one item of a batch of one (`accepted`, `associated`, …).
    Decision,
    Account,
    Vpc,
    Endpoint,
    /// An endpoint service id (`vpce-svc-…`).
    Service,
    /// A hosted zone as `name (id)`.
    Zone,
    Region,
    /// The AZ check a finding comes from.
    Check,
    AzId,
    AzIds,
    ServiceAzIds,
    EndpointAzIds,
    ConsumerAzIds,
    HealthyPerAz,
    TargetStates,
    /// What a finding is about (an ARN or an id).
    Resource,
    /// On a resolution, the severity of the finding it resolves: it is routed as that.
    OpenedSeverity,
    Reason,
    Problem,
    /// Which written document is unusable.
    Document,
    /// A finding's lifecycle: `opened` or `resolved` (see [`Lifecycle`]).
    Status,
    /// The stable key of a finding.
    Fingerprint,
    /// The batch's records, one JSON array.
    Decisions,
    /// `true` when the run changed nothing.
    DryRun,
    /// The hosted zone the notification is about (its console link; it has no id prefix).
    ZoneId,
    /// Which message of a batch split over several (`2/3`).
    Part,
    /// A CloudWatch alarm's name.
    Alarm,
    /// What a CloudWatch alarm watches: namespace, metric and dimensions.
    Metric,
    /// A finding's service drawn as text: its AZ IDs against its consumers (a code block).
    AzMatrix,
}

impl Fact {
    pub const ALL: [Fact; 29] = [
        Fact::Decision,
        Fact::Account,
        Fact::Vpc,
        Fact::Endpoint,
        Fact::Service,
        Fact::Zone,
        Fact::Region,
        Fact::Check,
        Fact::AzId,
        Fact::AzIds,
        Fact::ServiceAzIds,
        Fact::EndpointAzIds,
        Fact::ConsumerAzIds,
        Fact::HealthyPerAz,
        Fact::TargetStates,
        Fact::Resource,
        Fact::OpenedSeverity,
        Fact::Reason,
        Fact::Problem,
        Fact::Document,
        Fact::Status,
        Fact::Fingerprint,
        Fact::Decisions,
        Fact::DryRun,
        Fact::ZoneId,
        Fact::Part,
        Fact::Alarm,
        Fact::Metric,
        Fact::AzMatrix,
    ];

    /// Its key in `additionalContext`.
    pub fn name(self) -> &'static str {
        match self {
            Fact::Decision => "decision",
            Fact::Account => "account",
            Fact::Vpc => "vpc",
            Fact::Endpoint => "endpoint",
            Fact::Service => "service",
            Fact::Zone => "zone",
            Fact::Region => "region",
            Fact::Check => "check",
            Fact::AzId => "az_id",
            Fact::AzIds => "az_ids",
            Fact::ServiceAzIds => "service_az_ids",
            Fact::EndpointAzIds => "endpoint_az_ids",
            Fact::ConsumerAzIds => "consumer_az_ids",
            Fact::HealthyPerAz => "healthy_per_az",
            Fact::TargetStates => "target_states",
            Fact::Resource => "resource",
            Fact::OpenedSeverity => "opened_severity",
            Fact::Reason => "reason",
            Fact::Problem => "problem",
            Fact::Document => "document",
            Fact::Status => "status",
            Fact::Fingerprint => "fingerprint",
            Fact::Decisions => "decisions",
            Fact::DryRun => "dry_run",
            Fact::ZoneId => "zone_id",
            Fact::Part => "part",
            Fact::Alarm => "alarm",
            Fact::Metric => "metric",
            Fact::AzMatrix => "az_matrix",
        }
    }

    /// The fact of this key, if it is one of ours.
    pub fn of(name: &str) -> Option<Fact> {
        Fact::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A notification's facts. Ours are read and written as [`Fact`]s; a fact of another producer of
/// the topic is kept under its own key, so it is shown too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Facts(BTreeMap<String, String>);

impl Facts {
    pub fn get(&self, fact: Fact) -> Option<&str> {
        self.0.get(fact.name()).map(String::as_str)
    }

    pub fn set(&mut self, fact: Fact, value: impl Into<String>) {
        self.0.insert(fact.name().to_owned(), value.into());
    }

    pub fn remove(&mut self, fact: Fact) -> Option<String> {
        self.0.remove(fact.name())
    }

    /// Facts under keys that are not ours, by key.
    pub fn others(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter(|(k, _)| Fact::of(k).is_none())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every fact by key, as the Chatbot document carries them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl FromIterator<(Fact, String)> for Facts {
    fn from_iter<I: IntoIterator<Item = (Fact, String)>>(facts: I) -> Self {
        let mut out = Facts::default();
        out.extend(facts);
        out
    }
}

impl Extend<(Fact, String)> for Facts {
    fn extend<I: IntoIterator<Item = (Fact, String)>>(&mut self, facts: I) {
        for (fact, value) in facts {
            self.set(fact, value);
        }
    }
}

/// What a notification is about, as `metadata.eventType` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType {
    EndpointConnectionDecisions,
    PrivateZoneAssociations,
    AvailabilityZoneFinding,
    /// A written document (policy, zone rules) is unusable.
    PolicyInvalid,
    /// A CloudWatch alarm changed state (the stack's own alarms, on its alarm topic).
    CloudWatchAlarm,
    /// Another producer's, read back as it is.
    Other(String),
}

impl EventType {
    pub fn as_str(&self) -> &str {
        match self {
            EventType::EndpointConnectionDecisions => "EndpointConnectionDecisions",
            EventType::PrivateZoneAssociations => "PrivateZoneAssociations",
            EventType::AvailabilityZoneFinding => "AvailabilityZoneFinding",
            EventType::PolicyInvalid => "PolicyInvalid",
            EventType::CloudWatchAlarm => "CloudWatchAlarm",
            EventType::Other(other) => other,
        }
    }

    pub fn parse(text: &str) -> EventType {
        [
            EventType::EndpointConnectionDecisions,
            EventType::PrivateZoneAssociations,
            EventType::AvailabilityZoneFinding,
            EventType::PolicyInvalid,
            EventType::CloudWatchAlarm,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
        .unwrap_or_else(|| EventType::Other(text.to_owned()))
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Where a finding stands: a notification that opens one, or resolves one of this severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Opened,
    Resolved { opened_severity: Severity },
}

impl Lifecycle {
    /// The facts that say so.
    pub fn facts(self) -> Vec<(Fact, String)> {
        match self {
            Lifecycle::Opened => vec![(Fact::Status, "opened".into())],
            Lifecycle::Resolved { opened_severity } => vec![
                (Fact::Status, "resolved".into()),
                (Fact::OpenedSeverity, opened_severity.as_str().into()),
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Unique per notification; also the SNS message's deduplication hint.
    pub id: String,
    /// What happened.
    pub event_type: EventType,
    pub severity: Severity,
    pub title: String,
    /// Markdown, one line per decision or fact.
    pub description: String,
    pub next_steps: Vec<String>,
    pub keywords: Vec<String>,
    /// Groups related notifications into one thread where the chat client supports it.
    pub thread_id: Option<String>,
    /// One line, for previews and phone notifications.
    pub summary: String,
    /// ARNs or ids of what the notification is about.
    pub related_resources: Vec<String>,
    /// Facts: account, VPC, service, decision, reason, …
    pub context: Facts,
}

impl Notification {
    /// A finding's lifecycle, when the notification is about one. A resolution whose opening
    /// severity is missing or unknown is routed as its own severity.
    pub fn lifecycle(&self) -> Option<Lifecycle> {
        match self.context.get(Fact::Status) {
            Some("opened") => Some(Lifecycle::Opened),
            Some("resolved") => Some(Lifecycle::Resolved {
                opened_severity: self
                    .context
                    .get(Fact::OpenedSeverity)
                    .and_then(Severity::parse)
                    .unwrap_or(self.severity),
            }),
            _ => None,
        }
    }

    /// Whether the run that sent it changed nothing.
    pub fn dry_run(&self) -> bool {
        self.context.get(Fact::DryRun) == Some("true")
    }

    /// The dry-run fact, as every deciding job writes it.
    pub fn dry_run_fact(dry_run: bool) -> (Fact, String) {
        (Fact::DryRun, dry_run.to_string())
    }

    /// The hosted zone the notification is about.
    pub fn zone_id(&self) -> Option<&str> {
        self.context.get(Fact::ZoneId)
    }

    /// The AWS Chatbot custom-notification document (`version` and `source` are required).
    pub fn to_chatbot(&self) -> Value {
        let mut context: BTreeMap<&str, &str> = self.context.iter().collect();
        context.insert("severity", self.severity.as_str());
        let mut metadata = json!({
            "summary": self.summary,
            "eventType": self.event_type,
            "relatedResources": self.related_resources,
            "additionalContext": context,
        });
        if let Some(thread) = &self.thread_id {
            metadata["threadId"] = json!(thread);
        }
        json!({
            "version": "1.0",
            "source": "custom",
            "id": self.id,
            "content": {
                "textType": "client-markdown",
                "title": self.title,
                "description": self.description,
                "nextSteps": self.next_steps,
                "keywords": self.keywords,
            },
            "metadata": metadata,
        })
    }

    /// Reads a Chatbot custom-notification document back (what a subscriber of the alert topic
    /// receives); the inverse of [`Notification::to_chatbot`]. Only `version`, `source` and
    /// `content.description` are required, as for Chatbot; the error says what is wrong.
    pub fn from_chatbot(doc: &Value) -> std::result::Result<Notification, Invalid> {
        if doc["version"] != "1.0" || doc["source"] != "custom" {
            return Err(
                "not an AWS Chatbot custom notification (needs version \"1.0\" and source \"custom\")"
                    .into(),
            );
        }
        let (content, metadata) = (&doc["content"], &doc["metadata"]);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().filter_map(&text).collect())
                .unwrap_or_default()
        };
        let description = text(&content["description"]).ok_or("content.description is missing")?;
        let mut context: BTreeMap<String, String> = metadata["additionalContext"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), text(v).unwrap_or_else(|| v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let severity = match context.remove("severity") {
            None => Severity::Info,
            Some(s) => Severity::parse(&s).ok_or(Invalid(format!("unknown severity {s:?}")))?,
        };
        let summary = text(&metadata["summary"]).unwrap_or_default();
        Ok(Notification {
            id: text(&doc["id"]).unwrap_or_default(),
            event_type: EventType::parse(&text(&metadata["eventType"]).unwrap_or_default()),
            severity,
            title: text(&content["title"]).unwrap_or_else(|| summary.clone()),
            description,
            next_steps: strings(&content["nextSteps"]),
            keywords: strings(&content["keywords"]),
            thread_id: text(&metadata["threadId"]),
            summary,
            related_resources: strings(&metadata["relatedResources"]),
            context: Facts(context),
        })
    }

    /// An SNS subject: ASCII, one line, under 100 characters (SNS rejects anything else).
    pub fn subject(&self) -> String {
        let ascii: String = self
            .title
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        let trimmed = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
        if trimmed.len() > 99 {
            format!("{}...", &trimmed[..96])
        } else {
            trimmed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_consumers_act_on_survive_the_chatbot_document() {
        let mut n = sample();
        assert_eq!(
            (n.lifecycle(), n.dry_run(), n.zone_id()),
            (None, false, None)
        );
        n.context.extend(
            Lifecycle::Resolved {
                opened_severity: Severity::Critical,
            }
            .facts(),
        );
        n.context.extend([
            Notification::dry_run_fact(true),
            (Fact::ZoneId, "Z123".into()),
        ]);
        let back = Notification::from_chatbot(&n.to_chatbot()).unwrap();
        assert_eq!(
            back.lifecycle(),
            Some(Lifecycle::Resolved {
                opened_severity: Severity::Critical
            })
        );
        assert!(back.dry_run());
        assert_eq!(back.zone_id(), Some("Z123"));

        // A resolution that lost its opening severity is routed as itself.
        let mut bare = sample();
        bare.context.set(Fact::Status, "resolved");
        assert_eq!(
            bare.lifecycle(),
            Some(Lifecycle::Resolved {
                opened_severity: Severity::Warning
            })
        );
        bare.context.set(Fact::Status, "opened");
        assert_eq!(bare.lifecycle(), Some(Lifecycle::Opened));
    }

    fn sample() -> Notification {
        Notification {
            id: "n-1".into(),
            event_type: EventType::EndpointConnectionDecisions,
            severity: Severity::Warning,
            title: "PrivateLink — 1 accepted, 1 rejected".into(),
            description: "- accepted".into(),
            next_steps: vec!["Check the policy".into()],
            keywords: vec!["privatelink".into()],
            thread_id: Some("vpce-svc-1".into()),
            summary: "1 accepted, 1 rejected".into(),
            related_resources: vec!["vpce-svc-1".into()],
            context: Facts::from_iter([(Fact::Service, "vpce-svc-1".to_owned())]),
        }
    }

    #[test]
    fn chatbot_document_has_the_required_fields() {
        let doc = sample().to_chatbot();
        assert_eq!(doc["version"], "1.0");
        assert_eq!(doc["source"], "custom");
        assert_eq!(doc["content"]["textType"], "client-markdown");
        assert_eq!(
            doc["content"]["title"],
            "PrivateLink — 1 accepted, 1 rejected"
        );
        assert_eq!(doc["metadata"]["threadId"], "vpce-svc-1");
        assert_eq!(doc["metadata"]["additionalContext"]["severity"], "warning");
        assert_eq!(
            doc["metadata"]["additionalContext"]["service"],
            "vpce-svc-1"
        );
    }

    #[test]
    fn a_chatbot_document_reads_back_as_the_notification() {
        let n = sample();
        assert_eq!(Notification::from_chatbot(&n.to_chatbot()), Ok(n));
        let err = Notification::from_chatbot(&json!({"version": "1.0", "source": "custom",
            "content": {"description": "x"}, "metadata": {"additionalContext": {"severity": "loud"}}}));
        assert_eq!(err, Err("unknown severity \"loud\"".into()));
    }

    #[test]
    fn every_fact_has_its_own_name_and_others_are_kept() {
        for fact in Fact::ALL {
            assert_eq!(Fact::of(fact.name()), Some(fact));
        }
        let n = Notification::from_chatbot(&json!({"version": "1.0", "source": "custom",
            "content": {"description": "x"}, "metadata": {"eventType": "Theirs",
            "additionalContext": {"vpc": "vpc-1", "ticket": "OPS-1"}}}))
        .unwrap();
        assert_eq!(n.context.get(Fact::Vpc), Some("vpc-1"));
        assert_eq!(
            n.context.others().collect::<Vec<_>>(),
            [("ticket", "OPS-1")]
        );
        assert_eq!(n.event_type, EventType::Other("Theirs".into()));
        assert_eq!(
            EventType::parse("AvailabilityZoneFinding"),
            EventType::AvailabilityZoneFinding
        );
    }

    #[test]
    fn subject_is_ascii_and_short() {
        let mut n = sample();
        assert_eq!(n.subject(), "PrivateLink 1 accepted, 1 rejected");
        n.title = "x".repeat(300);
        assert_eq!(n.subject().len(), 99);
    }
}
