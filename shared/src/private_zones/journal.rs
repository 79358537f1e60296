//! The associator's journal on DynamoDB, in the decisions table: one item per open run
//! (`journal#<run>`: what it wrote ahead, when it started) and an index of the open runs (a
//! string set, changed atomically); and the preview's, which writes nothing and finds nothing.

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
/// A journal nobody closes is dropped after this long (DynamoDB TTL).
const JOURNAL_MEMORY_SECS: u64 = 14 * 24 * 3600;

pub struct DynamoJournal {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoJournal {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoJournal {
            client,
            table: table.into(),
        }
    }
}

impl Journal for DynamoJournal {
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
