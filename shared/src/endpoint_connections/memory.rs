//! What the acceptor keeps in its decisions table besides the announce-once ledger:
//!
//! - the outbox: decisions written down before they are applied, so that a run which fails
//!   after applying (a refused publish, a DynamoDB error, a timeout) leaves a record; the next
//!   run — Lambda's retry or the next sweep — reads it, checks each connection's actual state,
//!   and announces what did happen. One item per endpoint service (`outbox#<service id>`),
//!   written in one `BatchWriteItem` for all services before any Accept or Reject, deleted once
//!   the run's announcement is published;
//! - what consumers' events said about endpoints (`claim#<endpoint id>`): kept while the
//!   connection is not visible yet or is held for want of them, forgotten once it is decided.
//!
//! The acceptor runs one invocation at a time (reserved concurrency 1), so each item has one
//! writer.

use crate::dynamo::{self, text};
use crate::endpoint_connections::claims::Known;
use crate::endpoint_connections::policy::Action;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

/// One decision about to be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub endpoint_id: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub action: Action,
    pub reason: String,
}

/// Entries by endpoint service.
pub type Entries = BTreeMap<String, Vec<Entry>>;

/// `dynamodb:BatchGetItem`, `dynamodb:BatchWriteItem` on the decisions table.
pub trait Memory {
    /// What runs that did not finish left for these services.
    fn left(&self, services: &[String]) -> impl Future<Output = Result<Entries>> + Send;
    /// Write down what is about to be applied (each service's entries replace its item).
    fn write_ahead(&self, entries: &Entries) -> impl Future<Output = Result<()>> + Send;
    /// The services' decisions are announced: forget them.
    fn clear(&self, services: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// What consumers' events said about these endpoints, by endpoint id.
    fn recall(
        &self,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, Known>>> + Send;
    /// Keep these for later runs.
    fn keep(&self, known: &[Known]) -> impl Future<Output = Result<()>> + Send;
    /// These endpoints are decided: forget what was said about them.
    fn forget(&self, endpoint_ids: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// How many times decisions have been applied so far (the lock's generation), read before
    /// a run reads anything else.
    fn generation(&self) -> impl Future<Output = Result<u64>> + Send;
    /// The right to apply decisions, for [`LOCK_LEASE`] at most: the outbox has one writer at a
    /// time (the function's runs, the operator CLI's `--apply`). `false` if another holds it, or
    /// if another applied since this run read `seen` (what it read may be stale).
    fn lock(&self, holder: &str, seen: u64) -> impl Future<Output = Result<bool>> + Send;
    /// Give the lock back (only `holder`'s), one generation on.
    fn unlock(&self, holder: &str) -> impl Future<Output = Result<()>> + Send;
}

/// A lock left by a run that died is free again after this long (well past the acceptor's
/// timeout).
pub const LOCK_LEASE: std::time::Duration = std::time::Duration::from_secs(300);
/// One item, kept (no TTL): its generation must outlive the runs.
const LOCK_PK: &str = "lock#acceptor";

pub struct DynamoMemory {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoMemory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoMemory {
            client,
            table: table.into(),
        }
    }
}

fn outbox_pk(service_id: &str) -> String {
    format!("outbox#{service_id}")
}

fn claim_pk(endpoint_id: &str) -> String {
    format!("claim#{endpoint_id}")
}

/// An outbox item is kept this long at most (DynamoDB TTL), should no run ever finish it.
const OUTBOX_DAYS: u64 = 14;
/// What a consumer said is kept this long for a connection that never shows up or stays held.
const CLAIM_DAYS: u64 = 30;

fn expires(days: u64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(
        (crate::ledger::now_secs() + days * 24 * 3600).to_string(),
    )
}

/// Items of `pk` → one JSON document in `body`.
fn documents(items: &[(String, String)], days: u64) -> Vec<dynamo::Item> {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    items
        .iter()
        .map(|(pk, body)| {
            std::collections::HashMap::from([
                ("pk".to_owned(), S(pk.clone())),
                ("body".to_owned(), S(body.clone())),
                ("expires_at".to_owned(), expires(days)),
            ])
        })
        .collect()
}

/// The JSON documents stored under these `pk`s, by `pk` (unreadable ones logged and skipped).
async fn read<T: for<'de> Deserialize<'de>>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pks: &[String],
) -> Result<BTreeMap<String, T>> {
    let mut out = BTreeMap::new();
    for item in dynamo::get(client, table, pks).await? {
        let (Some(pk), Some(body)) = (text(&item, "pk"), text(&item, "body")) else {
            continue;
        };
        match serde_json::from_str(body) {
            Ok(doc) => {
                out.insert(pk.to_owned(), doc);
            }
            Err(e) => tracing::error!(%pk, error = %e, "unreadable item skipped"),
        }
    }
    Ok(out)
}

impl Memory for DynamoMemory {
    async fn left(&self, services: &[String]) -> Result<Entries> {
        let pks: Vec<String> = services.iter().map(|s| outbox_pk(s)).collect();
        let found: BTreeMap<String, Vec<Entry>> = read(&self.client, &self.table, &pks).await?;
        Ok(found
            .into_iter()
            .filter(|(_, entries)| !entries.is_empty())
            .filter_map(|(pk, entries)| Some((pk.strip_prefix("outbox#")?.to_owned(), entries)))
            .collect())
    }

    async fn write_ahead(&self, entries: &Entries) -> Result<()> {
        let docs: Vec<(String, String)> = entries
            .iter()
            .filter(|(_, e)| !e.is_empty())
            .map(|(service, e)| {
                serde_json::to_string(e)
                    .map(|doc| (outbox_pk(service), doc))
                    .map_err(|e| Error::encoding("the acceptor's outbox", e))
            })
            .collect::<Result<_>>()?;
        if docs.is_empty() {
            return Ok(());
        }
        dynamo::put(&self.client, &self.table, documents(&docs, OUTBOX_DAYS)).await
    }

    async fn clear(&self, services: &[String]) -> Result<()> {
        let pks: Vec<String> = services.iter().map(|s| outbox_pk(s)).collect();
        dynamo::delete(&self.client, &self.table, &pks).await
    }

    async fn recall(&self, endpoint_ids: &[String]) -> Result<BTreeMap<String, Known>> {
        let pks: Vec<String> = endpoint_ids.iter().map(|e| claim_pk(e)).collect();
        let found: BTreeMap<String, Known> = read(&self.client, &self.table, &pks).await?;
        Ok(found
            .into_values()
            .map(|k| (k.endpoint_id.clone(), k))
            .collect())
    }

    async fn keep(&self, known: &[Known]) -> Result<()> {
        let docs: Vec<(String, String)> = known
            .iter()
            .map(|k| {
                serde_json::to_string(k)
                    .map(|doc| (claim_pk(&k.endpoint_id), doc))
                    .map_err(|e| Error::encoding("a remembered claim", e))
            })
            .collect::<Result<_>>()?;
        dynamo::put(&self.client, &self.table, documents(&docs, CLAIM_DAYS)).await
    }

    async fn forget(&self, endpoint_ids: &[String]) -> Result<()> {
        let pks: Vec<String> = endpoint_ids.iter().map(|e| claim_pk(e)).collect();
        dynamo::delete(&self.client, &self.table, &pks).await
    }

    /// A consistent `GetItem` of the lock item (0 before the first run applied anything).
    async fn generation(&self) -> Result<u64> {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", S(LOCK_PK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::error::Error::aws("dynamodb:GetItem", e))?;
        Ok(out
            .item()
            .and_then(|i| i.get("generation"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default())
    }

    /// A conditional `UpdateItem`: free (no holder, or its lease ran out) and no run applied
    /// since `seen`.
    async fn lock(&self, holder: &str, seen: u64) -> Result<bool> {
        use aws_sdk_dynamodb::types::AttributeValue::{N, S};
        let now = crate::ledger::now_secs();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", S(LOCK_PK.into()))
            .update_expression("SET holder = :holder, lease_until = :until")
            .condition_expression(
                "(attribute_not_exists(holder) OR lease_until < :now) \
                 AND (attribute_not_exists(generation) OR generation = :seen)",
            )
            .expression_attribute_values(":holder", S(holder.into()))
            .expression_attribute_values(":until", N((now + LOCK_LEASE.as_secs()).to_string()))
            .expression_attribute_values(":now", N(now.to_string()))
            .expression_attribute_values(":seen", N(seen.to_string()))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(e) if dynamo::conditional_failed(&e) => Ok(false),
            Err(e) => Err(crate::error::Error::aws("dynamodb:UpdateItem", e)),
        }
    }

    /// A conditional `UpdateItem`: a lock taken over after its lease is not someone else's to
    /// give back.
    async fn unlock(&self, holder: &str) -> Result<()> {
        use aws_sdk_dynamodb::types::AttributeValue::{N, S};
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", S(LOCK_PK.into()))
            .update_expression("REMOVE holder, lease_until ADD generation :one")
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", S(holder.into()))
            .expression_attribute_values(":one", N("1".into()))
            .send()
            .await;
        match update {
            Ok(_) => Ok(()),
            Err(e) if dynamo::conditional_failed(&e) => Ok(()),
            Err(e) => Err(crate::error::Error::aws("dynamodb:UpdateItem", e)),
        }
    }
}
