//! `autopilot status`: whether the automation is healthy, from what the stack keeps. For each
//! scheduled job, when its last scheduled run finished (its status record) against its heartbeat
//! window; the open findings by severity; the connections the last sweep held; the depth of each
//! failure queue. Exit 0 when healthy, 2 when something needs a look, 1 when it cannot tell.

use crate::jobs::Aws;
use crate::output::{Output, Table};
use crate::{Outcome, Verdict};
use autopilot::availability_zones::findings::DynamoFindings;
use autopilot::availability_zones::ports::FindingsStore;
use autopilot::events::now_secs;
use autopilot::notify::Severity;
use autopilot::status::{JOBS, Record, Standing, StatusStore, Table as Kept, standing};
use serde_json::json;
use std::collections::BTreeMap;

/// The failure queues, by the environment variable that names each (the stack's outputs
/// `FailedInvocationsQueueUrl` and `SlackDeadLettersQueueUrl`); an unset one is not read.
const QUEUES: [(&str, &str); 2] = [
    ("FailedInvocations", "FAILED_INVOCATIONS_QUEUE_URL"),
    ("SlackDeadLetters", "SLACK_DEAD_LETTERS_QUEUE_URL"),
];

/// An AWS error in a line: the call and AWS's code (the SDK's full context is for the logs).
fn brief(e: &autopilot::Error) -> String {
    match e {
        autopilot::Error::Aws {
            operation,
            code: Some(code),
            ..
        } => format!("{operation}: {code}"),
        other => other.to_string(),
    }
}

pub async fn status(out: &Output, aws: Aws) -> Outcome {
    let env = &aws.env;
    let decisions = env.required("DECISIONS_TABLE")?;
    let findings_table = env.required("FINDINGS_TABLE")?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws.sdk);
    let now = now_secs();
    // What could not be read: the verdict is then "cannot tell".
    let mut unread: Vec<String> = Vec::new();
    let mut needs_a_look = false;

    let mut jobs = Vec::new();
    let mut records: BTreeMap<&str, Record> = BTreeMap::new();
    for (job, table, run, default_window) in JOBS {
        let variable = format!("{}_HEARTBEAT_SECONDS", run.to_uppercase());
        let window = env.number(&variable, default_window)?;
        let store = StatusStore::new(
            dynamodb.clone(),
            match table {
                Kept::Decisions => &decisions,
                Kept::Findings => &findings_table,
            },
        );
        match store.read(job).await {
            Ok(record) => {
                let standing = standing(record.as_ref(), now, window);
                needs_a_look |= standing != Standing::Healthy;
                jobs.push((job, run, window, Some(standing), record.clone()));
                if let Some(r) = record {
                    records.insert(job, r);
                }
            }
            Err(e) => {
                unread.push(format!("{job}'s status: {}", brief(&e)));
                jobs.push((job, run, window, None, None));
            }
        }
    }

    let open = match DynamoFindings::new(dynamodb.clone(), &findings_table)
        .open()
        .await
    {
        Ok(open) => Some(open),
        Err(e) => {
            unread.push(format!("open findings ({findings_table}): {}", brief(&e)));
            None
        }
    };
    let mut by_severity: BTreeMap<&str, usize> = BTreeMap::new();
    let mut pending = 0;
    for f in open.iter().flatten() {
        if f.pending_since.is_some() {
            pending += 1;
        } else {
            *by_severity.entry(f.severity.as_str()).or_default() += 1;
            needs_a_look |= f.severity > Severity::Info;
        }
    }
    let held = records
        .get("acceptor")
        .and_then(|r| r.counts.get("held"))
        .copied();
    needs_a_look |= held.is_some_and(|n| n > 0);

    let sqs = aws_sdk_sqs::Client::new(&aws.sdk);
    let mut queues = Vec::new();
    for (name, variable) in QUEUES {
        let Some(url) = env.optional(variable) else {
            continue;
        };
        let depth = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| autopilot::Error::aws("sqs:GetQueueAttributes", e))
            .and_then(|r| {
                r.attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                    })
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| autopilot::Error::Config(format!("{name}: no message count")))
            });
        match depth {
            Ok(n) => {
                needs_a_look |= n > 0;
                queues.push((name, Some(n)));
            }
            Err(e) => {
                unread.push(format!("{name}: {}", brief(&e)));
                queues.push((name, None));
            }
        }
    }

    let verdict = if !unread.is_empty() {
        Verdict::Failed
    } else if needs_a_look {
        Verdict::Pending
    } else {
        Verdict::Clear
    };
    let summary = match verdict {
        Verdict::Clear => "healthy".to_owned(),
        Verdict::Pending => "needs a look".to_owned(),
        Verdict::Failed => format!("cannot tell: {}", unread.join("; ")),
    };
    if out.json() {
        out.document(&json!({
            "verdict": summary,
            "jobs": jobs.iter().map(|(job, run, window, standing, record)| json!({
                "job": job, "run": run, "window_seconds": window,
                "standing": standing, "record": record,
            })).collect::<Vec<_>>(),
            "open_findings": by_severity,
            "pending_findings": pending,
            "held_connections": held,
            "queues": queues.iter().map(|(q, n)| json!({"queue": q, "messages": n})).collect::<Vec<_>>(),
            "unread": unread,
        }));
    } else {
        let ago = |at: Option<u64>| {
            at.map_or("never".to_owned(), |at| {
                format!("{} s ago", now.saturating_sub(at))
            })
        };
        let job_rows = jobs
            .iter()
            .map(|(job, run, window, standing, record)| {
                vec![
                    (*job).to_owned(),
                    (*run).to_owned(),
                    ago(record.as_ref().and_then(|r| r.last_scheduled)),
                    format!("{window} s"),
                    match standing {
                        Some(Standing::Healthy) => "healthy".into(),
                        Some(Standing::Late { .. }) => {
                            "late: no scheduled run in the window".into()
                        }
                        Some(Standing::NeverRan) => "never ran on its schedule".into(),
                        None => "cannot tell".into(),
                    },
                ]
            })
            .collect();
        let mut work = vec![vec![
            "open findings".to_owned(),
            if open.is_some() {
                let parts: Vec<String> = by_severity
                    .iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect();
                if parts.is_empty() {
                    "none".into()
                } else {
                    parts.join(", ")
                }
            } else {
                "cannot tell".into()
            },
        ]];
        work.push(vec![
            "findings pending (targets in transition)".into(),
            pending.to_string(),
        ]);
        work.push(vec![
            "connections held by the last sweep".into(),
            held.map_or("unknown (no sweep yet)".into(), |n| n.to_string()),
        ]);
        for (q, n) in &queues {
            work.push(vec![
                format!("{q} messages"),
                n.map_or("cannot tell".into(), |n| n.to_string()),
            ]);
        }
        out.tables(
            &[
                Table {
                    title: "Scheduled jobs".into(),
                    columns: vec!["job", "run", "last finished", "window", "standing"],
                    rows: job_rows,
                },
                Table {
                    title: "Work and failures".into(),
                    columns: vec!["what", "now"],
                    rows: work,
                },
            ],
            &[summary],
        );
    }
    Ok(verdict)
}
