//! Slack delivery of the alert topic: every notification becomes one Block Kit message, posted
//! once per SNS message, with a finding's resolution in the thread of the message that opened it
//! (bot-token mode) or clearly marked as resolved (webhook mode).
//!
//! The SNS message itself stays an AWS Chatbot custom notification: this is an alternative
//! subscriber, not a different format.

pub mod client;
pub mod config;
pub mod deliveries;
pub mod message;

use crate::error::{Error, Result};
use crate::events::SnsNotice;
use crate::notify::Severity;
use client::SlackClient;
use config::Destination;
use deliveries::{Claim, Deliveries};
use message::{Alert, render};
use serde::Serialize;
use tokio::time::Instant;

/// What became of one SNS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Delivery {
    Posted {
        message_id: String,
        channel: Option<String>,
        ts: Option<String>,
        /// Set when it was posted as a reply in a finding's thread.
        thread_ts: Option<String>,
    },
    /// Below the severity filter.
    Filtered {
        message_id: String,
        severity: Severity,
    },
    /// Already posted by an earlier delivery of the same SNS message.
    Duplicate { message_id: String },
}

pub struct Notifier {
    pub slack: SlackClient,
    pub deliveries: Deliveries,
    pub min_severity: Severity,
}

impl Notifier {
    /// Posts one alert-topic message, unless it is filtered out or already posted. Nothing is
    /// posted for a message that is not a Chatbot custom notification.
    pub async fn deliver(&self, notice: &SnsNotice, deadline: Instant) -> Result<Delivery> {
        let alert = Alert::from_sns(notice)?;
        let message_id = alert.message_id.clone();
        let severity = alert.routing_severity();
        if severity < self.min_severity {
            tracing::info!(%message_id, severity = severity.as_str(), "below SLACK_MIN_SEVERITY, not posted");
            return Ok(Delivery::Filtered {
                message_id,
                severity,
            });
        }
        let message = render(&alert);
        let (channel, thread_ts) = match self.slack.destination() {
            Destination::Webhook { .. } => (None, None),
            Destination::Bot { routing, .. } => {
                let opener = match (&alert.notification.thread_id, alert.resolves()) {
                    (Some(thread), true) => self.deliveries.thread(thread).await?,
                    _ => None,
                };
                match opener {
                    Some((channel, ts)) => (Some(channel), Some(ts)),
                    None => (routing.channel(severity).map(str::to_owned), None),
                }
            }
        };
        match self.deliveries.claim(&message_id).await? {
            Claim::Mine => {}
            Claim::Posted => {
                tracing::info!(%message_id, "already posted, not posting again");
                return Ok(Delivery::Duplicate { message_id });
            }
            Claim::InFlight => {
                return Err(failed(
                    format!(
                        "SNS message {message_id} is being posted by another invocation; try again later"
                    ),
                    true,
                ));
            }
            Claim::Interrupted => {
                return Err(failed(
                    format!(
                        "an earlier attempt to post SNS message {message_id} was interrupted: it may be in Slack already, so it is not posted again (check the channel)"
                    ),
                    false,
                ));
            }
        }
        let posted = match self
            .slack
            .post(&message, channel.as_deref(), thread_ts.as_deref(), deadline)
            .await
        {
            Ok(posted) => posted,
            Err(err) => {
                // Not posted: the retry may post it. If even this fails, the claim expires into
                // "interrupted" and the message ends in the dead-letter queue, not in Slack twice.
                if let Err(release) = self.deliveries.release(&message_id).await {
                    tracing::error!(%message_id, error = %release, "could not release the claim");
                }
                return Err(err);
            }
        };
        self.deliveries.posted(&message_id).await?;
        if let (true, Some(thread), Some(channel), Some(ts)) = (
            alert.opens(),
            &alert.notification.thread_id,
            &posted.channel,
            &posted.ts,
        ) {
            self.deliveries.remember_thread(thread, channel, ts).await?;
        }
        tracing::info!(
            %message_id,
            mode = self.slack.destination().mode(),
            channel = posted.channel.as_deref().unwrap_or("webhook"),
            ts = posted.ts.as_deref().unwrap_or_default(),
            in_thread = thread_ts.is_some(),
            event_type = %alert.notification.event_type,
            "posted to Slack"
        );
        Ok(Delivery::Posted {
            message_id,
            channel: posted.channel,
            ts: posted.ts,
            thread_ts,
        })
    }
}

/// A message that could not be posted; `retryable` when running the invocation again may help.
fn failed(message: String, retryable: bool) -> Error {
    Error::Delivery {
        service: "Slack",
        message,
        retryable,
    }
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
