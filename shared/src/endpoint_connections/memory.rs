//! What the acceptor keeps in its decisions table besides the announce-once ledger:
//!
//! - the outbox: decisions written down before they are applied, so that a run which fails
//!   after applying (a refused publish, a DynamoDB error, a timeout) leaves a record; the next
//!   run — Lambda's retry or the next sweep — reads it, checks each connection's actual state,
//!   and announces what did happen. One record per endpoint service, written before any Accept
//!   or Reject, deleted once the run's announcement is published. A record is split into parts
//!   well under DynamoDB's 400 KB item limit, so a service with any number of pending
//!   connections can be written down: `outbox#<service id>` holds the first part, how many parts
//!   there are and the write's mark; `outbox#<service id>#<n>` the others, each with the same
//!   mark (a part of another write is not read as this one's);
//! - what consumers' events said about endpoints (`claim#<account>#<endpoint id>`: each
//!   account's word apart, so one account's never replaces another's): kept while the
//!   connection is not visible yet or is held for want of them, forgotten once it is decided.
//!
//! The acceptor runs one invocation at a time (reserved concurrency 1), so each item has one
//! writer.

use crate::dynamo::{self, text};
use crate::endpoint_connections::claims::Known;
use crate::endpoint_connections::ports::{ClaimKey, Entries, Entry, LOCK_LEASE, Memory};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One item, kept (no TTL): its generation must outlive the runs.
const LOCK_PK: &str = "lock#acceptor";

pub struct DynamoMemory {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// How many parts each service's outbox record was last seen or written with here, so
    /// clearing it deletes them all (a part left behind is never read: its mark is stale).
    parts: std::sync::Mutex<BTreeMap<String, usize>>,
}

impl DynamoMemory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoMemory {
            client,
            table: table.into(),
            parts: std::sync::Mutex::default(),
        }
    }

    fn note_parts(&self, service: &str, parts: usize) {
        if let Ok(mut known) = self.parts.lock() {
            let seen = known.entry(service.to_owned()).or_insert(0);
            *seen = (*seen).max(parts);
        }
    }
}

fn outbox_pk(service_id: &str) -> String {
    format!("outbox#{service_id}")
}

/// Part `n` (from 1) of a service's outbox record.
fn part_pk(service_id: &str, n: usize) -> String {
    dynamo::part_key(&outbox_pk(service_id), n)
}

/// Pure: entries as JSON arrays of at most [`dynamo::PART_BYTES`] each, in order.
pub fn parts(entries: &[Entry]) -> Result<Vec<String>> {
    let docs = entries
        .iter()
        .map(|e| serde_json::to_string(e).map_err(|e| Error::encoding("the acceptor's outbox", e)))
        .collect::<Result<Vec<_>>>()?;
    Ok(dynamo::json_arrays(docs, dynamo::PART_BYTES))
}

fn claim_pk((account, endpoint_id): &ClaimKey) -> String {
    format!("claim#{account}#{endpoint_id}")
}

/// An outbox item is kept this long at most (DynamoDB TTL), should no run ever finish it.
const OUTBOX_DAYS: u64 = 14;
/// What a consumer said is kept this long for a connection that never shows up or stays held.
const CLAIM_DAYS: u64 = 30;

fn expires(days: u64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(
        (crate::events::now_secs() + days * 24 * 3600).to_string(),
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
        let firsts: Vec<String> = services.iter().map(|s| outbox_pk(s)).collect();
        let heads = dynamo::get(&self.client, &self.table, &firsts).await?;
        // (service, parts, mark) of every record found, and the keys of its other parts.
        let mut records = Vec::new();
        let mut rest = Vec::new();
        for item in &heads {
            let Some(service) = text(item, "pk").and_then(|pk| pk.strip_prefix("outbox#")) else {
                continue;
            };
            let count = dynamo::number(item, "parts").map_or(1, |n| n.max(1) as usize);
            self.note_parts(service, count);
            rest.extend((2..=count).map(|n| part_pk(service, n)));
            records.push((
                service.to_owned(),
                count,
                text(item, "mark").map(str::to_owned),
            ));
        }
        let others = dynamo::get(&self.client, &self.table, &rest).await?;
        let by_pk: BTreeMap<&str, &dynamo::Item> = heads
            .iter()
            .chain(others.iter())
            .filter_map(|item| Some((text(item, "pk")?, item)))
            .collect();
        let mut out = Entries::new();
        for (service, count, mark) in records {
            let mut entries: Vec<Entry> = Vec::new();
            for n in 1..=count {
                let pk = part_pk(&service, n);
                let Some(item) = by_pk.get(pk.as_str()) else {
                    tracing::error!(%pk, "outbox part missing: its write failed before anything was applied");
                    continue;
                };
                if n > 1 && text(item, "mark").map(str::to_owned) != mark {
                    tracing::error!(%pk, "outbox part of another write skipped");
                    continue;
                }
                match text(item, "body").map(serde_json::from_str::<Vec<Entry>>) {
                    Some(Ok(part)) => entries.extend(part),
                    Some(Err(e)) => {
                        tracing::error!(%pk, error = %e, "unreadable outbox part skipped")
                    }
                    None => tracing::error!(%pk, "outbox part without a body skipped"),
                }
            }
            if !entries.is_empty() {
                out.insert(service, entries);
            }
        }
        Ok(out)
    }

    async fn write_ahead(&self, entries: &Entries) -> Result<()> {
        use aws_sdk_dynamodb::types::AttributeValue::{N, S};
        let mark = format!("{:x}", crate::events::since_epoch().as_nanos());
        let mut items = Vec::new();
        for (service, e) in entries.iter().filter(|(_, e)| !e.is_empty()) {
            let parts = parts(e)?;
            self.note_parts(service, parts.len());
            for (i, body) in parts.iter().enumerate() {
                let mut item = std::collections::HashMap::from([
                    ("pk".to_owned(), S(part_pk(service, i + 1))),
                    ("body".to_owned(), S(body.clone())),
                    ("mark".to_owned(), S(mark.clone())),
                    ("expires_at".to_owned(), expires(OUTBOX_DAYS)),
                ]);
                if i == 0 {
                    item.insert("parts".to_owned(), N(parts.len().to_string()));
                }
                items.push(item);
            }
        }
        if items.is_empty() {
            return Ok(());
        }
        dynamo::put(&self.client, &self.table, items).await
    }

    async fn clear(&self, services: &[String]) -> Result<()> {
        let known = self.parts.lock().map(|k| k.clone()).unwrap_or_default();
        let pks: Vec<String> = services
            .iter()
            .flat_map(|s| {
                let count = known.get(s).copied().unwrap_or(1);
                (1..=count).map(move |n| part_pk(s, n))
            })
            .collect();
        dynamo::delete(&self.client, &self.table, &pks).await?;
        if let Ok(mut k) = self.parts.lock() {
            services.iter().for_each(|s| {
                k.remove(s);
            });
        }
        Ok(())
    }

    async fn recall(&self, keys: &[ClaimKey]) -> Result<BTreeMap<String, Known>> {
        let pks: Vec<String> = keys.iter().map(claim_pk).collect();
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
                    .map(|doc| (claim_pk(&(k.account.clone(), k.endpoint_id.clone())), doc))
                    .map_err(|e| Error::encoding("a remembered claim", e))
            })
            .collect::<Result<_>>()?;
        dynamo::put(&self.client, &self.table, documents(&docs, CLAIM_DAYS)).await
    }

    async fn forget(&self, keys: &[ClaimKey]) -> Result<()> {
        let pks: Vec<String> = keys.iter().map(claim_pk).collect();
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
        let now = crate::events::now_secs();
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

/// The acceptor's memory, read but never written: what consumers' events said is used, nothing
/// is kept or forgotten, and no lock is taken (a preview applies nothing).
pub struct ReadOnly<M>(pub M);

impl<M: Memory + Sync> Memory for ReadOnly<M> {
    async fn left(&self, services: &[String]) -> Result<Entries> {
        self.0.left(services).await
    }
    async fn write_ahead(&self, _: &Entries) -> Result<()> {
        Ok(())
    }
    async fn clear(&self, _: &[String]) -> Result<()> {
        Ok(())
    }
    async fn recall(&self, keys: &[ClaimKey]) -> Result<BTreeMap<String, Known>> {
        self.0.recall(keys).await
    }
    async fn keep(&self, _: &[Known]) -> Result<()> {
        Ok(())
    }
    async fn forget(&self, _: &[ClaimKey]) -> Result<()> {
        Ok(())
    }
    async fn generation(&self) -> Result<u64> {
        Ok(0)
    }
    async fn lock(&self, _: &str, _: u64) -> Result<bool> {
        Ok(true)
    }
    async fn unlock(&self, _: &str) -> Result<()> {
        Ok(())
    }
}
