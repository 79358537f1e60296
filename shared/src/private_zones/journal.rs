//! The associator's journal on DynamoDB, in the decisions table: one record per open run
//! (`journal#<run>`: what it wrote ahead, when it started, and in how many parts — the others at
//! `journal#<run>#<n>`, so a run over any number of VPCs stays under DynamoDB's 400 KB item
//! limit) and an index of the open runs (a string set, changed atomically); and the preview's,
//! which writes nothing and finds nothing.

use crate::dynamo;
use crate::error::{Error, Result};
use crate::events::now_secs;
use crate::private_zones::ports::Journal;
use aws_sdk_dynamodb::types::AttributeValue;

/// The item listing the open journals (a string set, changed atomically), and each journal's.
const JOURNALS: &str = "journal-index";
fn journal_key(run: &str) -> String {
    format!("journal#{run}")
}
/// Part `n` (from 1) of a run's journal.
fn part_key(run: &str, n: usize) -> String {
    dynamo::part_key(&journal_key(run), n)
}
/// A journal nobody closes is dropped after this long (DynamoDB TTL).
const JOURNAL_MEMORY_SECS: u64 = 14 * 24 * 3600;

pub struct DynamoJournal {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// How many parts each run's journal was seen or written with here, so closing it deletes
    /// them all.
    parts: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
}

impl DynamoJournal {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoJournal {
            client,
            table: table.into(),
            parts: std::sync::Mutex::default(),
        }
    }

    fn note_parts(&self, run: &str, parts: usize) {
        if let Ok(mut known) = self.parts.lock() {
            known.insert(run.to_owned(), parts);
        }
    }
}

/// A journal's body (a JSON array) in parts DynamoDB takes.
fn split(body: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<serde_json::Value>>(body) {
        Ok(items) => dynamo::json_arrays(items.iter().map(|v| v.to_string()), dynamo::PART_BYTES),
        Err(_) => vec![body.to_owned()],
    }
}

/// Parts (JSON arrays) as one array.
fn join(parts: &[&str]) -> String {
    let items: Vec<serde_json::Value> = parts
        .iter()
        .flat_map(|p| serde_json::from_str::<Vec<serde_json::Value>>(p).unwrap_or_default())
        .collect();
    serde_json::Value::Array(items).to_string()
}

impl Journal for DynamoJournal {
    async fn open(&self, run: &str, body: &str, started_at: u64) -> Result<()> {
        let expires = AttributeValue::N((now_secs() + JOURNAL_MEMORY_SECS).to_string());
        let parts = split(body);
        self.note_parts(run, parts.len());
        // The other parts first: the first, which says how many there are, never names a part
        // that was not written.
        let rest: Vec<dynamo::Item> = parts
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, part)| {
                std::collections::HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(part_key(run, i + 1))),
                    ("body".to_owned(), AttributeValue::S(part.clone())),
                    ("expires_at".to_owned(), expires.clone()),
                ])
            })
            .collect();
        if !rest.is_empty() {
            dynamo::put(&self.client, &self.table, rest).await?;
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(journal_key(run)))
            .item("body", AttributeValue::S(parts[0].clone()))
            .item("parts", AttributeValue::N(parts.len().to_string()))
            .item("started_at", AttributeValue::N(started_at.to_string()))
            .item("expires_at", expires)
            .send()
            .await
            .map_err(|e| Error::aws("dynamodb:PutItem", e))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(JOURNALS.into()))
            .update_expression("ADD runs :run")
            .expression_attribute_values(":run", AttributeValue::Ss(vec![run.to_owned()]))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:UpdateItem", e))
    }

    async fn close(&self, runs: &[String]) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let known = self.parts.lock().map(|k| k.clone()).unwrap_or_default();
        let keys: Vec<String> = runs
            .iter()
            .flat_map(|r| (1..=known.get(r).copied().unwrap_or(1)).map(move |n| part_key(r, n)))
            .collect();
        dynamo::delete(&self.client, &self.table, &keys).await?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(JOURNALS.into()))
            .update_expression("DELETE runs :runs")
            .expression_attribute_values(":runs", AttributeValue::Ss(runs.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:UpdateItem", e))
    }

    async fn abandoned(&self, before: u64) -> Result<Vec<(String, String)>> {
        let index = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(JOURNALS.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("dynamodb:GetItem", e))?;
        let runs: Vec<String> = index
            .item()
            .and_then(|i| i.get("runs"))
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = runs.iter().map(|r| journal_key(r)).collect();
        let heads: Vec<(String, usize, String)> = dynamo::get(&self.client, &self.table, &keys)
            .await?
            .iter()
            .filter(|item| dynamo::number(item, "started_at").is_some_and(|t| t < before))
            .filter_map(|item| {
                let run = dynamo::text(item, "pk")?.strip_prefix("journal#")?;
                let count = dynamo::number(item, "parts").map_or(1, |n| n.max(1) as usize);
                Some((
                    run.to_owned(),
                    count,
                    dynamo::text(item, "body")?.to_owned(),
                ))
            })
            .collect();
        let rest: Vec<String> = heads
            .iter()
            .flat_map(|(run, count, _)| (2..=*count).map(move |n| part_key(run, n)))
            .collect();
        let others = dynamo::get(&self.client, &self.table, &rest).await?;
        let body_of = |pk: &str| {
            others
                .iter()
                .find(|item| dynamo::text(item, "pk") == Some(pk))
                .and_then(|item| dynamo::text(item, "body"))
        };
        Ok(heads
            .into_iter()
            .map(|(run, count, first)| {
                self.note_parts(&run, count);
                let mut parts = vec![first.as_str()];
                for n in 2..=count {
                    match body_of(&part_key(&run, n)) {
                        Some(body) => parts.push(body),
                        None => tracing::error!(%run, part = n, "journal part missing"),
                    }
                }
                let body = if count == 1 {
                    first.clone()
                } else {
                    join(&parts)
                };
                (run, body)
            })
            .collect())
    }
}

/// The preview's journal: nothing is written ahead (nothing is changed), and no run's is read.
pub struct Unwritten;

impl Journal for Unwritten {
    async fn open(&self, _: &str, _: &str, _: u64) -> Result<()> {
        Ok(())
    }
    async fn close(&self, _: &[String]) -> Result<()> {
        Ok(())
    }
    async fn abandoned(&self, _: u64) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A run over thousands of VPCs writes a journal of megabytes: it goes in parts DynamoDB
    /// takes, and reads back as it was written.
    #[test]
    fn a_journal_of_any_size_is_split_into_parts_and_joined_back_whole() {
        let intents: Vec<serde_json::Value> = (0..8_000)
            .map(|i| json!({"account": "111111111111", "region": "us-east-1", "vpc_id": format!("vpc-{i:017x}"),
                "step": {"zone_id": "Z0SHARED", "zone_name": "internal.example.", "change": "associate",
                         "reason": "rule 1 gives internal.example. to this VPC"}}))
            .collect();
        let body = serde_json::Value::Array(intents).to_string();
        assert!(body.len() > 1_500_000, "{}", body.len());
        let parts = split(&body);
        assert!(parts.len() >= 5, "{}", parts.len());
        assert!(parts.iter().all(|p| p.len() <= dynamo::PART_BYTES));
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        assert_eq!(join(&refs), body);
        // A small journal is one part, as it always was.
        assert_eq!(split("[]"), ["[]"]);
        assert_eq!(split(r#"[{"a":1}]"#), [r#"[{"a":1}]"#]);
    }
}
