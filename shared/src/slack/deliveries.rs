//! What was posted, in DynamoDB (the `pk`-keyed table with `expires_at` as TTL), so an SNS
//! message delivered twice, or an invocation retried, is never posted twice; and where each
//! finding's message went, so its resolution can reply in that thread.

use crate::error::{Error, Result};
use crate::ledger::now_secs as now;
use crate::slack::ports::{Claim, DeliveryStore};
use aws_sdk_dynamodb::types::AttributeValue;
use std::time::Duration;

/// How long "posted" is remembered: longer than SNS and Lambda keep retrying.
const POSTED_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a thread stays open for the resolution of the finding that started it.
const THREAD_MEMORY: Duration = Duration::from_secs(90 * 24 * 3600);
/// A claim younger than this may belong to an invocation still posting (the function's timeout
/// is well below it).
pub const CLAIM_LEASE: Duration = Duration::from_secs(180);

/// `dynamodb:PutItem`, `GetItem`, `UpdateItem`, `DeleteItem` on the deliveries table.
pub struct DynamoDeliveries {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn message_key(message_id: &str) -> AttributeValue {
    AttributeValue::S(format!("slack-message#{message_id}"))
}

fn thread_key(thread_id: &str) -> AttributeValue {
    AttributeValue::S(format!("slack-thread#{thread_id}"))
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, key: &str) -> u64 {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

impl DynamoDeliveries {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDeliveries {
            client,
            table: table.into(),
        }
    }
}

impl DeliveryStore for DynamoDeliveries {
    /// Claims an SNS message before posting it: a conditional write, so of two deliveries of
    /// the same message only one posts.
    async fn claim(&self, message_id: &str) -> Result<Claim> {
        let now = now();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", message_key(message_id))
            .item("status", AttributeValue::S("posting".into()))
            .item("claimed_at", AttributeValue::N(now.to_string()))
            .item(
                "expires_at",
                AttributeValue::N((now + POSTED_MEMORY.as_secs()).to_string()),
            )
            // TTL deletion lags: an expired item counts as gone.
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Claim::Mine),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(Error::aws("dynamodb:PutItem", e)),
        }
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", message_key(message_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("dynamodb:GetItem", e))?;
        let Some(item) = item.item() else {
            // Gone between the two calls (released by a failed attempt): try once more later.
            return Ok(Claim::InFlight);
        };
        let status = item.get("status").and_then(|v| v.as_s().ok());
        Ok(if status.is_some_and(|s| s == "posted") {
            Claim::Posted
        } else if number(item, "claimed_at") + CLAIM_LEASE.as_secs() > now {
            Claim::InFlight
        } else {
            Claim::Interrupted
        })
    }

    /// The message is in Slack.
    async fn posted(&self, message_id: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", message_key(message_id))
            .update_expression("SET #s = :posted")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":posted", AttributeValue::S("posted".into()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:UpdateItem", e))
    }

    /// Posting failed for sure: let the retry post it.
    async fn release(&self, message_id: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", message_key(message_id))
            .condition_expression("#s = :posting")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":posting", AttributeValue::S("posting".into()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:DeleteItem", e))
    }

    /// Where the message that opened `thread_id` is.
    async fn remember_thread(&self, thread_id: &str, channel: &str, ts: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", thread_key(thread_id))
            .item("channel", AttributeValue::S(channel.into()))
            .item("ts", AttributeValue::S(ts.into()))
            .item(
                "expires_at",
                AttributeValue::N((now() + THREAD_MEMORY.as_secs()).to_string()),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:PutItem", e))
    }

    /// The channel and `ts` of the message that opened `thread_id`, if it is remembered.
    async fn thread(&self, thread_id: &str) -> Result<Option<(String, String)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", thread_key(thread_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("dynamodb:GetItem", e))?;
        let text = |k: &str| {
            out.item()
                .and_then(|i| i.get(k))
                .and_then(|v| v.as_s().ok())
                .cloned()
        };
        Ok(text("channel").zip(text("ts")))
    }
}
