//! Memory of what was already announced, so a replayed event or the next scheduled sweep does
//! not announce the same decision twice. A DynamoDB table keyed by `pk`, with `expires_at`
//! (epoch seconds) as its TTL attribute: a remembered key is forgotten after the memory period.

use crate::error::{Error, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `dynamodb:GetItem`, `dynamodb:PutItem`.
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
        let now = now_secs();
        let mut out = Vec::new();
        for key in keys {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| Error::aws("dynamodb:GetItem", e))?;
            // TTL deletion lags by up to days: an expired item counts as forgotten.
            let live = item
                .item()
                .and_then(|i| i.get("expires_at"))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|expires| expires > now);
            if !live {
                out.push(key.clone());
            }
        }
        Ok(out)
    }

    async fn remember(&self, keys: &[String]) -> Result<()> {
        let expires = now_secs() + self.memory.as_secs();
        for key in keys {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(key.clone()))
                .item("expires_at", AttributeValue::N(expires.to_string()))
                .send()
                .await
                .map_err(|e| Error::aws("dynamodb:PutItem", e))?;
        }
        Ok(())
    }
}
