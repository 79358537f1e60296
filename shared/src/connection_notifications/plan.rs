//! The custom resource's pure rules: what its properties ask for, and the plan that makes the
//! topic's notifications match it.

use super::ports::Notification;
use crate::error::Invalid;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// `ConnectionEvents` values the API takes.
pub const EVENTS: [&str; 4] = ["Accept", "Connect", "Delete", "Reject"];
/// Ids per `DeleteVpcEndpointConnectionNotifications` call: the API documents no maximum, so a
/// modest page.
pub const IDS_PER_DELETE: usize = 25;
/// The physical id is the topic's ARN behind this prefix: a new topic is a new resource, and
/// CloudFormation then deletes the old one's notifications.
pub(super) const PHYSICAL_PREFIX: &str = "connection-notifications:";
/// What clearing a new topic after a failed move may take beyond the deadline.
pub(super) const UNDO_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// What the resource's properties ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub topic_arn: String,
    pub service_ids: BTreeSet<String>,
    pub events: BTreeSet<String>,
}

impl Wanted {
    /// `TopicArn` (an SNS topic ARN), `ServiceIds` (a list, as CloudFormation passes a
    /// `CommaDelimitedList`, or one comma-separated string; blanks ignored, so an empty
    /// parameter means none) and `ConnectionEvents` (`Connect` unless given).
    pub fn from_properties(props: &Map<String, Value>) -> Result<Self, Invalid> {
        let topic_arn = topic_of(props)?;
        let service_ids = strings(props, "ServiceIds")?;
        if let Some(bad) = service_ids.iter().find(|id| !is_service_id(id)) {
            return Err(Invalid(format!(
                "ServiceIds: {bad:?} is not an endpoint service id (vpce-svc-…)"
            )));
        }
        let mut events = strings(props, "ConnectionEvents")?;
        if events.is_empty() {
            events.insert("Connect".to_owned());
        }
        if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(Invalid(format!(
                "ConnectionEvents: {bad:?} is not one of {}",
                EVENTS.join(", ")
            )));
        }
        Ok(Wanted {
            topic_arn,
            service_ids,
            events,
        })
    }
}

/// The `TopicArn` property, checked to be an SNS topic ARN.
pub fn topic_of(props: &Map<String, Value>) -> Result<String, Invalid> {
    let arn = props
        .get("TopicArn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim();
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty();
    if well_formed {
        Ok(arn.to_owned())
    } else {
        Err(Invalid(format!(
            "TopicArn: {arn:?} is not an SNS topic ARN"
        )))
    }
}

fn strings(props: &Map<String, Value>, key: &str) -> Result<BTreeSet<String>, Invalid> {
    let items: Vec<&str> = match props.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split(',').collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| Invalid(format!("{key}: {v} is not a string")))
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(other) => {
            return Err(Invalid(format!("{key}: {other} is not a list of strings")));
        }
    };
    Ok(items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

fn is_service_id(id: &str) -> bool {
    id.strip_prefix("vpce-svc-")
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The calls that make what exists match what is wanted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Services that need a notification.
    pub create: Vec<String>,
    /// Notifications to remove: of services no longer wanted, duplicates, or with other events
    /// (removed after their replacement exists, so no request goes unnotified meanwhile).
    pub delete: Vec<String>,
    /// Notifications already right.
    pub kept: Vec<String>,
}

/// Pure: what to create and delete so that each wanted service has exactly one notification for
/// `events` on the topic, and no other service has one.
pub fn plan(
    services: &BTreeSet<String>,
    events: &BTreeSet<String>,
    existing: &[Notification],
) -> Plan {
    let mut plan = Plan::default();
    let mut covered = BTreeSet::new();
    for n in existing {
        let Some(service) = &n.service_id else {
            continue;
        };
        if services.contains(service) && &n.events == events && covered.insert(service.clone()) {
            plan.kept.push(n.id.clone());
        } else {
            plan.delete.push(n.id.clone());
        }
    }
    plan.create = services.difference(&covered).cloned().collect();
    plan
}
