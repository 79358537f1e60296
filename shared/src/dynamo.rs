//! DynamoDB's batch calls at the sizes AWS takes, with what AWS leaves unprocessed tried again:
//! `BatchGetItem` reads at most 100 keys per call, `BatchWriteItem` writes at most 25 items per
//! call, and either may return part of a batch as unprocessed (under throttling), to be sent
//! again after a pause. Keys must be unique within a call.
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html>,
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html>

use crate::error::{Error, Result};
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest,
};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

pub type Item = HashMap<String, AttributeValue>;

pub const KEYS_PER_GET: usize = 100;
pub const ITEMS_PER_WRITE: usize = 25;
/// Rounds for what AWS leaves unprocessed, with exponential backoff from 50 ms (AWS: "we
/// strongly recommend that you use an exponential backoff algorithm").
const ROUNDS: u32 = 8;
const FIRST_PAUSE: Duration = Duration::from_millis(50);

/// A conditional write refused because its condition did not hold (the item was claimed, locked,
/// or changed by someone else): an answer, not a failure.
pub fn conditional_failed<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .is_some_and(|s| s.code() == Some("ConditionalCheckFailedException"))
}

fn key(pk: &str) -> Item {
    HashMap::from([("pk".to_owned(), AttributeValue::S(pk.to_owned()))])
}

/// The items stored under these `pk`s (those that exist), read consistently.
pub async fn get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pks: &[String],
) -> Result<Vec<Item>> {
    let unique: BTreeSet<&String> = pks.iter().collect();
    let unique: Vec<&String> = unique.into_iter().collect();
    let mut found = Vec::new();
    for chunk in unique.chunks(KEYS_PER_GET) {
        let mut keys: Vec<Item> = chunk.iter().map(|pk| key(pk)).collect();
        for round in 0..ROUNDS {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| Error::encoding("a dynamodb:BatchGetItem request", e))?;
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| Error::aws("dynamodb:BatchGetItem", e))?;
            if let Some(items) = out.responses.and_then(|mut r| r.remove(table)) {
                found.extend(items);
            }
            keys = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if keys.is_empty() {
                break;
            }
            if round + 1 == ROUNDS {
                return Err(unprocessed("dynamodb:BatchGetItem", keys.len()));
            }
            tokio::time::sleep(FIRST_PAUSE * 2u32.pow(round)).await;
        }
    }
    Ok(found)
}

/// Store these items (each with its `pk`), overwriting.
pub async fn put(client: &aws_sdk_dynamodb::Client, table: &str, items: Vec<Item>) -> Result<()> {
    let requests = items
        .into_iter()
        .map(|item| {
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|put| WriteRequest::builder().put_request(put).build())
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::encoding("a dynamodb:BatchWriteItem request", e))?;
    write(client, table, requests).await
}

/// Delete the items under these `pk`s (absent ones are no error).
pub async fn delete(client: &aws_sdk_dynamodb::Client, table: &str, pks: &[String]) -> Result<()> {
    let unique: BTreeSet<&String> = pks.iter().collect();
    let requests = unique
        .into_iter()
        .map(|pk| {
            DeleteRequest::builder()
                .set_key(Some(key(pk)))
                .build()
                .map(|delete| WriteRequest::builder().delete_request(delete).build())
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::encoding("a dynamodb:BatchWriteItem request", e))?;
    write(client, table, requests).await
}

async fn write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    requests: Vec<WriteRequest>,
) -> Result<()> {
    for chunk in requests.chunks(ITEMS_PER_WRITE) {
        let mut pending = chunk.to_vec();
        for round in 0..ROUNDS {
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|e| Error::aws("dynamodb:BatchWriteItem", e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(table))
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            if round + 1 == ROUNDS {
                return Err(unprocessed("dynamodb:BatchWriteItem", pending.len()));
            }
            tokio::time::sleep(FIRST_PAUSE * 2u32.pow(round)).await;
        }
    }
    Ok(())
}

fn unprocessed(operation: &'static str, left: usize) -> Error {
    Error::Aws {
        operation,
        code: Some("UnprocessedItems".into()),
        message: format!("{left} items still unprocessed after {ROUNDS} rounds"),
        retryable: true,
        source: Box::new(std::io::Error::other("unprocessed")),
    }
}

/// A string attribute of an item.
pub fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The most JSON one part of a record holds: with its key and attributes, well under
/// DynamoDB's 400 KB item limit
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items>).
/// Records that grow with the estate (the acceptor's outbox, the associator's journal) are
/// split into parts of this size.
pub const PART_BYTES: usize = 300 * 1024;

/// The key of part `n` (from 1) of the record at `first`: the first part is the record's own key.
pub fn part_key(first: &str, n: usize) -> String {
    if n == 1 {
        first.to_owned()
    } else {
        format!("{first}#{n}")
    }
}

/// Pure: JSON documents as JSON arrays of at most `max` bytes each (a document larger than
/// that alone is a part of its own), in order; at least one, possibly `[]`.
pub fn json_arrays(docs: impl IntoIterator<Item = String>, max: usize) -> Vec<String> {
    let mut out = vec![String::from("[")];
    for doc in docs {
        let current = out.last().map_or(0, String::len);
        if current > 1 && current + doc.len() + 2 > max {
            out.push(String::from("["));
        }
        if let Some(part) = out.last_mut() {
            if part.len() > 1 {
                part.push(',');
            }
            part.push_str(&doc);
        }
    }
    for part in &mut out {
        part.push(']');
    }
    out
}

/// A number attribute of an item, as `u64`.
pub fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}
