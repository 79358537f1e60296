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

use crate::events::now_secs;

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
}
