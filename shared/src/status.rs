//! Each scheduled job's last run that finished, kept as one small item beside the job's own
//! records (the decisions table for the acceptor and the associator, the findings table for the
//! auditor: tables and grants they already have), and what `autopilot status` makes of it.
//!
//! The record is written after the run's work, and a failure to write it is logged, not raised:
//! the run's changes are made and announced either way, and the heartbeat alarm (on the run's
//! metric, not on this record) stays the stack's own watch. The item's key begins with `#`, as the
//! other bookkeeping items of those tables, which the readers of findings pass over.

use serde::Serialize;
use std::collections::BTreeMap;

/// The scheduled jobs: the job's name in its metrics, its status record's table, the run its
/// schedule starts, and the heartbeat window `autopilot status` allows it (the stack's defaults;
/// `<RUN>_HEARTBEAT_SECONDS` in the environment overrides it, as the template's parameters do).
pub const JOBS: [(&str, Table, &str, u64); 3] = [
    ("acceptor", Table::Decisions, "sweep", 1800),
    ("associator", Table::Decisions, "reconcile", 7200),
    ("auditor", Table::Findings, "audit", 600),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Decisions,
    Findings,
}

/// The key of a job's status item.
pub fn key(job: &str) -> String {
    format!("#status#{job}")
}

/// A job's record: when a run last finished, when a scheduled one did, and the counts the last
/// scheduled run left (connections held, accounts unreachable).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Record {
    pub last_finished: Option<u64>,
    pub last_scheduled: Option<u64>,
    pub counts: BTreeMap<String, u64>,
}

/// How a job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// A scheduled run finished within the window.
    Healthy,
    /// The last scheduled run finished longer ago than the window allows.
    Late { seconds_ago: u64 },
    /// No scheduled run has finished since the record was kept.
    NeverRan,
}

/// Pure: a job's standing at `now`, given its record and its window.
pub fn standing(record: Option<&Record>, now: u64, window: u64) -> Standing {
    match record.and_then(|r| r.last_scheduled) {
        None => Standing::NeverRan,
        Some(at) if now.saturating_sub(at) <= window => Standing::Healthy,
        Some(at) => Standing::Late {
            seconds_ago: now.saturating_sub(at),
        },
    }
}

#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "availability-zones"
))]
pub use dynamo::StatusStore;

#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "availability-zones"
))]
mod dynamo {
    use super::{Record, key};
    use crate::error::{Error, Result};
    use aws_sdk_dynamodb::types::AttributeValue;

    /// A job's status item in one of its tables.
    #[derive(Clone)]
    pub struct StatusStore {
        client: aws_sdk_dynamodb::Client,
        table: String,
    }

    impl StatusStore {
        pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
            StatusStore {
                client,
                table: table.into(),
            }
        }

        /// A run finished at `now` (a scheduled one sets `last_scheduled` and its counts too).
        /// Logged, never raised: see the module's comment.
        pub async fn finished(
            &self,
            job: &str,
            now: u64,
            scheduled: bool,
            counts: &[(&str, usize)],
        ) {
            let mut sets = vec!["last_finished = :now".to_owned()];
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key(job)))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
            if scheduled {
                sets.push("last_scheduled = :now".into());
                for (i, (name, n)) in counts.iter().enumerate() {
                    sets.push(format!("#c{i} = :c{i}"));
                    request = request
                        .expression_attribute_names(format!("#c{i}"), format!("count_{name}"))
                        .expression_attribute_values(
                            format!(":c{i}"),
                            AttributeValue::N(n.to_string()),
                        );
                }
            }
            let sent = request
                .update_expression(format!("SET {}", sets.join(", ")))
                .send()
                .await;
            if let Err(e) = sent {
                let e = Error::aws("dynamodb:UpdateItem", e);
                tracing::warn!(%job, error = %e, "status record not written (the run's work is done)");
            }
        }

        /// The job's record, if one was ever written.
        pub async fn read(&self, job: &str) -> Result<Option<Record>> {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key(job)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| Error::aws("dynamodb:GetItem", e))?
                .item;
            Ok(item.map(|item| {
                let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse().ok());
                Record {
                    last_finished: item.get("last_finished").and_then(number),
                    last_scheduled: item.get("last_scheduled").and_then(number),
                    counts: item
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.strip_prefix("count_")?.to_owned(), number(v)?))
                        })
                        .collect(),
                }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_healthy_within_its_window_late_past_it_and_never_ran_without_a_record() {
        let record = Record {
            last_scheduled: Some(1_000),
            ..Record::default()
        };
        assert_eq!(standing(Some(&record), 1_000 + 600, 600), Standing::Healthy);
        assert_eq!(
            standing(Some(&record), 1_000 + 601, 600),
            Standing::Late { seconds_ago: 601 }
        );
        assert_eq!(standing(None, 5_000, 600), Standing::NeverRan);
        // Runs started by events only: the schedule has not been seen to work.
        let events_only = Record {
            last_finished: Some(4_900),
            ..Record::default()
        };
        assert_eq!(standing(Some(&events_only), 5_000, 600), Standing::NeverRan);
    }
}
