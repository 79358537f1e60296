//! What was posted, in DynamoDB (the `pk`-keyed table with `expires_at` as TTL), so a
//! notification delivered twice, published twice by its producer's retry, or whose invocation is
//! retried, is never posted twice; and where each finding's message went, so its resolution can
//! reply in that thread.

use crate::dynamo::conditional_failed;
use crate::error::{Error, Result};
use crate::events::now_secs as now;
use crate::slack::ports::{Claim, DeliveryStore};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::time::Duration;

/// How long "posted" is remembered for the same SNS message: longer than SNS and Lambda keep
/// retrying (an asynchronous invocation is kept up to six hours).
const POSTED_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a thread stays open for the resolution of the finding that started it.
const THREAD_MEMORY: Duration = Duration::from_secs(90 * 24 * 3600);
/// A claim younger than this may belong to an invocation still posting (the function's timeout
/// is well below it).
pub const CLAIM_LEASE: Duration = Duration::from_secs(180);
/// The same notification in another SNS message within this time of the first is its producer's
/// retry, posted once. Lambda retries an asynchronous invocation after one and then two more
/// minutes (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>);
/// a later one is a new occurrence (a held connection's reminder, a finding that opens again).
pub const REPEAT_AFTER: Duration = Duration::from_secs(5 * 60);

/// `dynamodb:PutItem`, `GetItem`, `UpdateItem`, `DeleteItem` on the deliveries table.
pub struct DynamoDeliveries {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn notification_key(notification_id: &str) -> AttributeValue {
    AttributeValue::S(format!("slack-notification#{notification_id}"))
}

fn thread_key(thread_id: &str) -> AttributeValue {
    AttributeValue::S(format!("slack-thread#{thread_id}"))
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn number(item: &HashMap<String, AttributeValue>, key: &str) -> u64 {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

/// What a claim found, from the item's `status` and `claimed_at`.
fn state(item: &HashMap<String, AttributeValue>, now: u64) -> Claim {
    let claimed_at = number(item, "claimed_at");
    match item
        .get("status")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
    {
        Some("posted") => Claim::Posted,
        Some("posting") if claimed_at.saturating_add(CLAIM_LEASE.as_secs()) > now => {
            Claim::InFlight
        }
        _ => Claim::Interrupted { claimed_at },
    }
}

impl DynamoDeliveries {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDeliveries {
            client,
            table: table.into(),
        }
    }

    /// Sets `status` (and `claimed_at` with `claimed_now`) if `condition` holds.
    async fn set_status(
        &self,
        notification_id: &str,
        status: &str,
        claimed_now: Option<u64>,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", notification_key(notification_id))
            .update_expression(if claimed_now.is_some() {
                "SET #s = :status, claimed_at = :now"
            } else {
                "SET #s = :status"
            })
            .condition_expression(condition)
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":status", s(status));
        if let Some(now) = claimed_now {
            update = update.expression_attribute_values(":now", n(now));
        }
        for (name, value) in values {
            update = update.expression_attribute_values(*name, value.clone());
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(Error::aws("dynamodb:UpdateItem", e)),
        }
    }
}

impl DeliveryStore for DynamoDeliveries {
    /// A conditional write: the notification is ours if nobody claimed it, if the claim expired
    /// (TTL deletion lags), or if it was posted from another SNS message longer than
    /// [`REPEAT_AFTER`] ago (a new occurrence).
    async fn claim(&self, notification_id: &str, message_id: &str) -> Result<Claim> {
        let now = now();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", notification_key(notification_id))
            .item("status", s("posting"))
            .item("message_id", s(message_id))
            .item("claimed_at", n(now))
            .item("expires_at", n(now + POSTED_MEMORY.as_secs()))
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now \
                 OR (#s = :posted AND message_id <> :mid AND claimed_at < :repeat)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":posted", s("posted"))
            .expression_attribute_values(":mid", s(message_id))
            .expression_attribute_values(":repeat", n(now.saturating_sub(REPEAT_AFTER.as_secs())))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Claim::Mine),
            Err(e) if conditional_failed(&e) => {}
            Err(e) => return Err(Error::aws("dynamodb:PutItem", e)),
        }
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", notification_key(notification_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("dynamodb:GetItem", e))?;
        // Gone between the two calls (released by a failed attempt): try once more later.
        Ok(item.item().map_or(Claim::InFlight, |item| state(item, now)))
    }

    async fn reclaim(&self, notification_id: &str, claimed_at: u64) -> Result<Claim> {
        let taken = self
            .set_status(
                notification_id,
                "posting",
                Some(now()),
                "claimed_at = :seen AND #s <> :posted",
                &[(":seen", n(claimed_at)), (":posted", s("posted"))],
            )
            .await?;
        Ok(if taken { Claim::Mine } else { Claim::InFlight })
    }

    async fn posted(&self, notification_id: &str) -> Result<()> {
        self.set_status(notification_id, "posted", None, "attribute_exists(pk)", &[])
            .await
            .map(|_| ())
    }

    /// Posting failed for sure: let the retry post it.
    async fn release(&self, notification_id: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", notification_key(notification_id))
            .condition_expression("#s = :posting")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":posting", s("posting"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:DeleteItem", e))
    }

    async fn unsure(&self, notification_id: &str) -> Result<()> {
        self.set_status(
            notification_id,
            "unsure",
            None,
            "#s = :posting",
            &[(":posting", s("posting"))],
        )
        .await
        .map(|_| ())
    }

    /// Where the message that opened `thread_id` is.
    async fn remember_thread(&self, thread_id: &str, channel: &str, ts: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", thread_key(thread_id))
            .item("channel", s(channel))
            .item("ts", s(ts))
            .item("expires_at", n(now() + THREAD_MEMORY.as_secs()))
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
