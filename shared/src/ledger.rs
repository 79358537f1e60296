//! Memory of what was already announced, so a replayed event or the next scheduled sweep does
//! not announce the same decision twice. A DynamoDB table keyed by `pk`, with `expires_at`
//! (epoch seconds) as its TTL attribute: a remembered key is forgotten after the memory period.

use crate::dynamo;
use crate::error::Result;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `dynamodb:BatchGetItem`, `dynamodb:BatchWriteItem`.
pub trait Ledger {
    /// The keys not remembered (or whose memory has expired), in the order given.
    fn unseen(&self, keys: &[String]) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Remember the keys for the memory period.
    fn remember(&self, keys: &[String]) -> impl Future<Output = Result<()>> + Send;
}

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

/// Seconds since the epoch, as DynamoDB TTL attributes count them.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

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
}
