//! The SNS publisher: one Chatbot document per notification, with `severity` and `event_type`
//! message attributes for subscription filter policies.

use super::Notification;
use crate::error::{Error, Result};
use std::future::Future;

/// Where notifications go.
pub trait Publisher {
    fn publish(&self, notification: &Notification) -> impl Future<Output = Result<()>> + Send;
}

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

impl Publisher for SnsPublisher {
    async fn publish(&self, n: &Notification) -> Result<()> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Error::encoding("an SNS message attribute", e))
        };
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(n.subject())
            .message(n.to_chatbot().to_string())
            .message_attributes("severity", attribute(n.severity.as_str())?)
            .message_attributes("event_type", attribute(n.event_type.as_str())?)
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
}
