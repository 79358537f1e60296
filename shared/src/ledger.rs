//! Memory of what was already announced, so a replayed event or the next scheduled sweep does
//! not announce the same decision twice. A DynamoDB table keyed by `pk`, with `expires_at`
//! (epoch seconds) as its TTL attribute: a remembered key is forgotten after the memory period.

use crate::dynamo;
use crate::error::Result;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

/// `dynamodb:BatchGetItem`, `dynamodb:BatchWriteItem`.
pub trait Ledger {
    /// The keys not remembered (or whose memory has expired), in the order given.
    fn unseen(&self, keys: &[String]) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Remember the keys for the memory period.
    fn remember(&self, keys: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// Remember each key not remembered yet, with a conditional write, and return those this
    /// call remembered: of runs racing on the same key, exactly one gets it.
    fn claim(&self, keys: &[String]) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Forget keys claimed for an announcement that did not go out.
    fn release(&self, keys: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// Write ahead what run `run` is about to change (`body`), before it changes anything; kept
    /// until [`Ledger::close`]. `started_at` (epoch seconds) tells a live run from a dead one.
    fn open(
        &self,
        run: &str,
        body: &str,
        started_at: u64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The runs' changes are announced: forget what they wrote ahead.
    fn close(&self, runs: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// What runs started before `before` wrote ahead and never closed (they died, or gave up):
    /// (run, body).
    fn abandoned(&self, before: u64) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
}

/// The item listing the open journals (a string set, changed atomically), and each journal's.
const JOURNALS: &str = "journal-index";
fn journal_key(run: &str) -> String {
    format!("journal#{run}")
}
/// A journal nobody closes is dropped after this long (DynamoDB TTL).
const JOURNAL_MEMORY_SECS: u64 = 14 * 24 * 3600;

pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
    memory: Duration,
}

impl DynamoLedger {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        memory: Duration,
    ) -> Self {
        DynamoLedger {
            client,
            table: table.into(),
            memory,
        }
    }
}

pub(crate) use crate::events::now_secs;

impl Ledger for DynamoLedger {
    async fn unseen(&self, keys: &[String]) -> Result<Vec<String>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_secs();
        // TTL deletion lags by up to days: an expired item counts as forgotten.
        let live: BTreeSet<String> = dynamo::get(&self.client, &self.table, keys)
            .await?
            .iter()
            .filter(|item| dynamo::number(item, "expires_at").is_some_and(|e| e > now))
            .filter_map(|item| dynamo::text(item, "pk").map(str::to_owned))
            .collect();
        Ok(keys
            .iter()
            .filter(|k| !live.contains(k.as_str()))
            .cloned()
            .collect())
    }

    async fn remember(&self, keys: &[String]) -> Result<()> {
        let expires = AttributeValue::N((now_secs() + self.memory.as_secs()).to_string());
        let unique: BTreeSet<&String> = keys.iter().collect();
        let items = unique
            .into_iter()
            .map(|key| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(key.clone())),
                    ("expires_at".to_owned(), expires.clone()),
                ])
            })
            .collect();
        dynamo::put(&self.client, &self.table, items).await
    }

    async fn claim(&self, keys: &[String]) -> Result<Vec<String>> {
        let now = now_secs();
        let expires = AttributeValue::N((now + self.memory.as_secs()).to_string());
        let unique: BTreeSet<&String> = keys.iter().collect();
        let mut claimed = Vec::new();
        for key in unique {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(key.clone()))
                .item("expires_at", expires.clone())
                // TTL deletion lags: an expired memory counts as gone.
                .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .send()
                .await;
            match put {
                Ok(_) => claimed.push(key.clone()),
                Err(e) if crate::dynamo::conditional_failed(&e) => {}
                Err(e) => return Err(crate::error::Error::aws("dynamodb:PutItem", e)),
            }
        }
        Ok(claimed)
    }

    async fn release(&self, keys: &[String]) -> Result<()> {
        dynamo::delete(&self.client, &self.table, keys).await
    }

    async fn open(&self, run: &str, body: &str, started_at: u64) -> Result<()> {
        let expires = AttributeValue::N((now_secs() + JOURNAL_MEMORY_SECS).to_string());
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(journal_key(run)))
            .item("body", AttributeValue::S(body.to_owned()))
            .item("started_at", AttributeValue::N(started_at.to_string()))
            .item("expires_at", expires)
            .send()
            .await
            .map_err(|e| crate::error::Error::aws("dynamodb:PutItem", e))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(JOURNALS.into()))
            .update_expression("ADD runs :run")
            .expression_attribute_values(":run", AttributeValue::Ss(vec![run.to_owned()]))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| crate::error::Error::aws("dynamodb:UpdateItem", e))
    }

    async fn close(&self, runs: &[String]) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = runs.iter().map(|r| journal_key(r)).collect();
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
            .map_err(|e| crate::error::Error::aws("dynamodb:UpdateItem", e))
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
            .map_err(|e| crate::error::Error::aws("dynamodb:GetItem", e))?;
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
        Ok(dynamo::get(&self.client, &self.table, &keys)
            .await?
            .iter()
            .filter(|item| dynamo::number(item, "started_at").is_some_and(|t| t < before))
            .filter_map(|item| {
                let run = dynamo::text(item, "pk")?.strip_prefix("journal#")?;
                Some((run.to_owned(), dynamo::text(item, "body")?.to_owned()))
            })
            .collect())
    }
}
