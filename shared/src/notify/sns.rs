//! The SNS publisher: one Chatbot document per notification, with `severity` and `event_type`
//! message attributes for subscription filter policies. Several notifications of one run go out
//! in `PublishBatch` calls: at most 10 messages and 256 KiB (262,144 bytes, attributes included)
//! per call (<https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html>).

use super::Notification;
use crate::error::{Error, Result};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use std::collections::HashMap;
use std::future::Future;

/// Where notifications go.
pub trait Publisher {
    fn publish(&self, notification: &Notification) -> impl Future<Output = Result<()>> + Send;

    /// Several notifications of one run. Like [`Publisher::publish`] called for each: an error
    /// means some may not have gone out (what did go out may go out again on the retry).
    fn publish_all(&self, notifications: &[Notification]) -> impl Future<Output = Result<()>> + Send
    where
        Self: Sync,
    {
        async move {
            for n in notifications {
                self.publish(n).await?;
            }
            Ok(())
        }
    }
}

/// Messages per `PublishBatch` call.
pub const MESSAGES_PER_BATCH: usize = 10;
/// Bytes of messages and their attributes per `PublishBatch` call (and per `Publish`).
pub const BYTES_PER_BATCH: usize = 262_144;

/// Publishes to an SNS topic, in the Chatbot schema, with `severity` and `event_type` message
/// attributes for subscription filter policies.
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsPublisher {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// A notification as SNS carries it: subject, body and attributes, and its size as SNS counts it
/// (the body and each attribute's name, type and value).
struct Message {
    subject: String,
    body: String,
    attributes: HashMap<String, MessageAttributeValue>,
    bytes: usize,
}

impl Message {
    fn of(n: &Notification) -> Result<Message> {
        let mut attributes = HashMap::new();
        let mut bytes = 0;
        for (name, value) in [
            ("severity", n.severity.as_str()),
            ("event_type", n.event_type.as_str()),
        ] {
            bytes += name.len() + "String".len() + value.len();
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Error::encoding("an SNS message attribute", e))?;
            attributes.insert(name.to_owned(), value);
        }
        let body = n.to_chatbot().to_string();
        bytes += body.len();
        Ok(Message {
            subject: n.subject(),
            body,
            attributes,
            bytes,
        })
    }
}

/// Pure: the messages (by their sizes) in batches SNS takes, in order: at most
/// [`MESSAGES_PER_BATCH`] and [`BYTES_PER_BATCH`] each (a message alone is always a batch).
pub fn batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && (i - start == MESSAGES_PER_BATCH || bytes + size > BYTES_PER_BATCH) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

impl Publisher for SnsPublisher {
    async fn publish(&self, n: &Notification) -> Result<()> {
        let m = Message::of(n)?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(m.subject)
            .message(m.body)
            .set_message_attributes(Some(m.attributes))
            .send()
            .await
            .map_err(|e| Error::aws("sns:Publish", e))?;
        tracing::info!(
            topic = %self.topic_arn,
            message_id = out.message_id().unwrap_or_default(),
            event_type = %n.event_type,
            "notification published"
        );
        Ok(())
    }

    /// One `PublishBatch` call per [`batches`]; entries SNS reports failed are sent again once in
    /// a batch of their own, then reported.
    async fn publish_all(&self, notifications: &[Notification]) -> Result<()> {
        if let [single] = notifications {
            return self.publish(single).await;
        }
        let messages = notifications
            .iter()
            .map(Message::of)
            .collect::<Result<Vec<_>>>()?;
        let sizes: Vec<usize> = messages.iter().map(|m| m.bytes).collect();
        for batch in batches(&sizes) {
            let entries: Vec<(usize, &Message)> =
                batch.clone().map(|i| (i, &messages[i])).collect();
            let mut failed = self.send_batch(&entries).await?;
            if !failed.is_empty() {
                tracing::warn!(
                    failed = failed.len(),
                    "messages SNS did not take: sent again"
                );
                let again: Vec<(usize, &Message)> =
                    failed.iter().map(|(i, _)| (*i, &messages[*i])).collect();
                failed = self.send_batch(&again).await?;
            }
            if let Some((_, (code, message))) = failed.first() {
                return Err(Error::Aws {
                    operation: "sns:PublishBatch",
                    code: Some(code.clone()),
                    message: format!(
                        "{} of {} messages not published: {message}",
                        failed.len(),
                        notifications.len()
                    ),
                    retryable: true,
                    source: Box::new(std::io::Error::other(message.clone())),
                });
            }
        }
        Ok(())
    }
}

impl SnsPublisher {
    /// One `PublishBatch` call; the entries SNS reports failed, by index, with code and message.
    async fn send_batch(
        &self,
        entries: &[(usize, &Message)],
    ) -> Result<Vec<(usize, (String, String))>> {
        let request: Vec<PublishBatchRequestEntry> = entries
            .iter()
            .map(|(i, m)| {
                PublishBatchRequestEntry::builder()
                    .id(format!("m-{i}"))
                    .subject(&m.subject)
                    .message(&m.body)
                    .set_message_attributes(Some(m.attributes.clone()))
                    .build()
                    .map_err(|e| Error::encoding("an SNS batch entry", e))
            })
            .collect::<Result<_>>()?;
        let out = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(request))
            .send()
            .await
            .map_err(|e| Error::aws("sns:PublishBatch", e))?;
        tracing::info!(
            topic = %self.topic_arn,
            published = out.successful().len(),
            failed = out.failed().len(),
            "notifications published"
        );
        Ok(out
            .failed()
            .iter()
            .filter_map(|f| {
                let i = f.id().strip_prefix("m-")?.parse().ok()?;
                Some((
                    i,
                    (
                        f.code().to_owned(),
                        f.message().unwrap_or_default().to_owned(),
                    ),
                ))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_ten_messages_and_256_kib_at_most() {
        assert_eq!(batches(&[]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(batches(&[100; 13]), [0..10, 10..13]);
        // Four of 100 KB: two per batch.
        assert_eq!(batches(&[100_000; 4]), [0..2, 2..4]);
        // Exactly at the limit fits; one byte over starts a new batch.
        assert_eq!(batches(&[131_072, 131_072, 1]), [0..2, 2..3]);
        // A message alone is a batch whatever its size (SNS judges it).
        assert_eq!(batches(&[300_000, 10]), [0..1, 1..2]);
    }
}
