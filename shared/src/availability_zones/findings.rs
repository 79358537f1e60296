//! The memory of open findings: one DynamoDB item per open finding, keyed by its fingerprint;
//! and, under the key `#pass`, the scheduled audit's pass through the estate.

use crate::availability_zones::analysis::AzFinding;
use crate::availability_zones::ports::{FindingsStore, OpenFinding, Pass, PassStore};
use crate::dynamo::conditional_failed;
use crate::error::{Error, Result};
use crate::notify::Severity;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// The key of the pass's item (no fingerprint starts with `#`).
const PASS: &str = "#pass";

pub struct DynamoFindings {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoFindings {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoFindings {
            client,
            table: table.into(),
        }
    }
}

impl FindingsStore for DynamoFindings {
    async fn open(&self) -> Result<Vec<OpenFinding>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("dynamodb:Scan", e))?;
            for item in page.items() {
                if item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|k| k.starts_with('#'))
                {
                    continue;
                }
                let text = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                out.push(OpenFinding {
                    fingerprint: text("pk"),
                    service_id: text("service_id"),
                    severity: Severity::parse(&text("severity")).unwrap_or(Severity::Info),
                    title: text("title"),
                    resource: text("resource"),
                    pending_since: item
                        .get("pending_since")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok()),
                });
            }
        }
        Ok(out)
    }

    async fn remember(&self, f: &AzFinding, pending_since: Option<u64>) -> Result<()> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(f.fingerprint.clone()))
            .item("service_id", AttributeValue::S(f.service_id.clone()))
            .item("severity", AttributeValue::S(f.severity.as_str().into()))
            .item("title", AttributeValue::S(f.title.clone()))
            .item("resource", AttributeValue::S(f.resource.clone()));
        if let Some(since) = pending_since {
            put = put.item("pending_since", AttributeValue::N(since.to_string()));
        }
        put.send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:PutItem", e))
    }

    async fn forget(&self, fingerprint: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(fingerprint.into()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:DeleteItem", e))
    }
}

impl PassStore for DynamoFindings {
    async fn claim(&self, holder: &str, now: u64, until: u64) -> Result<Option<Pass>> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(PASS.into()))
            .update_expression("SET lease_holder = :h, lease_until = :u")
            .condition_expression(
                "attribute_not_exists(lease_until) OR lease_until < :now OR lease_holder = :h",
            )
            .expression_attribute_values(":h", AttributeValue::S(holder.into()))
            .expression_attribute_values(":u", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let item = match answer {
            Ok(out) => out.attributes.unwrap_or_default(),
            // Another invocation's lease runs.
            Err(e) if conditional_failed(&e) => return Ok(None),
            Err(e) => return Err(Error::aws("dynamodb:UpdateItem", e)),
        };
        let number = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
        };
        Ok(Some(match number("pass_started") {
            // No pass yet: as if one had ended long ago.
            None => Pass {
                started: 0,
                after: None,
                complete: true,
            },
            Some(started) => Pass {
                started,
                after: item.get("pass_after").and_then(|v| v.as_s().ok()).cloned(),
                complete: item
                    .get("pass_complete")
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            },
        }))
    }

    async fn advance(&self, holder: &str, pass: &Pass, until: u64) -> Result<()> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(PASS.into()))
            .condition_expression("lease_holder = :h")
            .expression_attribute_values(":h", AttributeValue::S(holder.into()))
            .expression_attribute_values(":u", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":s", AttributeValue::N(pass.started.to_string()))
            .expression_attribute_values(":c", AttributeValue::Bool(pass.complete));
        update = match &pass.after {
            Some(after) => update
                .update_expression(
                    "SET lease_until = :u, pass_started = :s, pass_complete = :c, pass_after = :a",
                )
                .expression_attribute_values(":a", AttributeValue::S(after.clone())),
            None => update.update_expression(
                "SET lease_until = :u, pass_started = :s, pass_complete = :c REMOVE pass_after",
            ),
        };
        update
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:UpdateItem", e))
    }

    async fn release(&self, holder: &str) -> Result<()> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(PASS.into()))
            .update_expression("REMOVE lease_holder, lease_until")
            .condition_expression("lease_holder = :h")
            .expression_attribute_values(":h", AttributeValue::S(holder.into()))
            .send()
            .await;
        match answer {
            Err(e) if !conditional_failed(&e) => Err(Error::aws("dynamodb:UpdateItem", e)),
            _ => Ok(()),
        }
    }
}

/// The findings memory, read but never written: a preview's.
pub struct ReadOnly<F>(pub F);

impl<F: FindingsStore + Sync> FindingsStore for ReadOnly<F> {
    async fn open(&self) -> Result<Vec<OpenFinding>> {
        self.0.open().await
    }
    async fn remember(&self, _: &AzFinding, _: Option<u64>) -> Result<()> {
        Ok(())
    }
    async fn forget(&self, _: &str) -> Result<()> {
        Ok(())
    }
}
