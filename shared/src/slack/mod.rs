//! Slack delivery of the alert topic: every notification becomes one Block Kit message, posted
//! once per SNS message, with a finding's resolution in the thread of the message that opened it
//! (bot-token mode) or clearly marked as resolved (webhook mode).
//!
//! The SNS message itself stays an AWS Chatbot custom notification: this is an alternative
//! subscriber, not a different format.

pub mod client;
pub mod config;
pub mod deliveries;
pub mod events;
#[cfg(test)]
pub(crate) mod fakes;
pub mod message;
pub mod ports;
pub mod run;

use crate::error::{Error, Result};
use config::Destination;

/// The notifier on AWS: Slack over HTTPS, deliveries in DynamoDB.
pub type AwsNotifier = run::Notifier<client::SlackClient, deliveries::DynamoDeliveries>;

/// The notifier on AWS as configured, the Slack secret read and checked (once per cold start).
pub async fn notifier(sdk: &crate::aws::SdkConfig, config: config::Config) -> Result<AwsNotifier> {
    let secret = read_secret(&aws_sdk_secretsmanager::Client::new(sdk), &config.secret_id).await?;
    let destination = Destination::from_secret(&secret, &config)?;
    tracing::info!(
        mode = destination.mode(),
        min_severity = config.min_severity.as_str(),
        "Slack destination ready"
    );
    Ok(run::Notifier {
        slack: client::SlackClient::new(destination, client::RetryPolicy::default())?,
        deliveries: deliveries::DynamoDeliveries::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.deliveries_table,
        ),
        min_severity: config.min_severity,
    })
}

/// The Slack secret's value, read once per cold start (`secretsmanager:GetSecretValue`).
pub async fn read_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String> {
    client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| Error::aws("secretsmanager:GetSecretValue", e))?
        .secret_string()
        .map(str::to_owned)
        .ok_or_else(|| Error::Config(format!("the Slack secret {secret_id} has no SecretString")))
}

/// What went wrong with Slack, without the error's "Slack:" prefix.
pub(crate) fn reason(e: &Error) -> String {
    match e {
        Error::Delivery { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A message that could not be posted; `retryable` when running the invocation again may help.
pub(crate) fn failed(message: String, retryable: bool) -> Error {
    Error::Delivery {
        service: "Slack",
        message,
        retryable,
    }
}
