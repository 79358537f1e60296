//! The memory of open findings: one DynamoDB item per open finding, keyed by its fingerprint.

use crate::availability_zones::analysis::AzFinding;
use crate::availability_zones::ports::{FindingsStore, OpenFinding};
use crate::error::{Error, Result};
use crate::notify::Severity;
use aws_sdk_dynamodb::types::AttributeValue;

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
