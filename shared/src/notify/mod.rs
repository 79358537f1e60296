//! What every decision and finding becomes: a [`Notification`], published to SNS as an AWS
//! Chatbot custom notification (so Chatbot can post it as is) with the structured facts kept in
//! `metadata.additionalContext` for other subscribers.

pub mod digest;
mod sns;

pub use digest::Digest;
pub use sns::{Publisher, SnsPublisher};

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

/// The facts a consumer of the alert topic acts on, not only shows: every producer writes them
/// through these names and [`Lifecycle`], and the Slack notifier reads them back the same way.
pub mod fact {
    /// A finding's lifecycle: `opened` or `resolved` (see [`super::Lifecycle`]).
    pub const STATUS: &str = "status";
    /// On a resolution, the severity of the finding it resolves: it is routed as that.
    pub const OPENED_SEVERITY: &str = "opened_severity";
    /// `true` when the run changed nothing.
    pub const DRY_RUN: &str = "dry_run";
    /// The hosted zone the notification is about (its console link; it has no id prefix).
    pub const ZONE_ID: &str = "zone_id";
    /// The stable key of a finding.
    pub const FINGERPRINT: &str = "fingerprint";
}

/// Where a finding stands: a notification that opens one, or resolves one of this severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Opened,
    Resolved { opened_severity: Severity },
}

impl Lifecycle {
    /// The facts that say so.
    pub fn facts(self) -> Vec<(String, String)> {
        match self {
            Lifecycle::Opened => vec![(fact::STATUS.into(), "opened".into())],
            Lifecycle::Resolved { opened_severity } => vec![
                (fact::STATUS.into(), "resolved".into()),
                (
                    fact::OPENED_SEVERITY.into(),
                    opened_severity.as_str().into(),
                ),
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Unique per notification; also the SNS message's deduplication hint.
    pub id: String,
    /// A stable name for what happened (`EndpointConnectionDecisions`, `PolicyInvalid`, …).
    pub event_type: String,
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
    /// Facts as key/value text: account, VPC, service, decision, reason, …
    pub context: BTreeMap<String, String>,
}

impl Notification {
    /// A finding's lifecycle, when the notification is about one. A resolution whose opening
    /// severity is missing or unknown is routed as its own severity.
    pub fn lifecycle(&self) -> Option<Lifecycle> {
        match self.context.get(fact::STATUS).map(String::as_str) {
            Some("opened") => Some(Lifecycle::Opened),
            Some("resolved") => Some(Lifecycle::Resolved {
                opened_severity: self
                    .context
                    .get(fact::OPENED_SEVERITY)
                    .and_then(|s| Severity::parse(s))
                    .unwrap_or(self.severity),
            }),
            _ => None,
        }
    }

    /// Whether the run that sent it changed nothing.
    pub fn dry_run(&self) -> bool {
        self.context.get(fact::DRY_RUN).is_some_and(|v| v == "true")
    }

    /// The dry-run fact, as every deciding job writes it.
    pub fn dry_run_fact(dry_run: bool) -> (String, String) {
        (fact::DRY_RUN.into(), dry_run.to_string())
    }

    /// The hosted zone the notification is about.
    pub fn zone_id(&self) -> Option<&str> {
        self.context.get(fact::ZONE_ID).map(String::as_str)
    }

    /// The AWS Chatbot custom-notification document (`version` and `source` are required).
    pub fn to_chatbot(&self) -> Value {
        let mut context: BTreeMap<&str, &str> = self
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
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
            event_type: text(&metadata["eventType"]).unwrap_or_default(),
            severity,
            title: text(&content["title"]).unwrap_or_else(|| summary.clone()),
            description,
            next_steps: strings(&content["nextSteps"]),
            keywords: strings(&content["keywords"]),
            thread_id: text(&metadata["threadId"]),
            summary,
            related_resources: strings(&metadata["relatedResources"]),
            context,
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
            (fact::ZONE_ID.into(), "Z123".into()),
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
        bare.context.insert(fact::STATUS.into(), "resolved".into());
        assert_eq!(
            bare.lifecycle(),
            Some(Lifecycle::Resolved {
                opened_severity: Severity::Warning
            })
        );
        bare.context.insert(fact::STATUS.into(), "opened".into());
        assert_eq!(bare.lifecycle(), Some(Lifecycle::Opened));
    }

    fn sample() -> Notification {
        Notification {
            id: "n-1".into(),
            event_type: "EndpointConnectionDecisions".into(),
            severity: Severity::Warning,
            title: "PrivateLink — 1 accepted, 1 rejected".into(),
            description: "- accepted".into(),
            next_steps: vec!["Check the policy".into()],
            keywords: vec!["privatelink".into()],
            thread_id: Some("vpce-svc-1".into()),
            summary: "1 accepted, 1 rejected".into(),
            related_resources: vec!["vpce-svc-1".into()],
            context: BTreeMap::from([("service".into(), "vpce-svc-1".into())]),
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
    fn subject_is_ascii_and_short() {
        let mut n = sample();
        assert_eq!(n.subject(), "PrivateLink 1 accepted, 1 rejected");
        n.title = "x".repeat(300);
        assert_eq!(n.subject().len(), 99);
    }
}
