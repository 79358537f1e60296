//! Event decoding: the SNS messages an invocation carries, and the time it has left.

use autopilot::Error;
use autopilot::config::Env;
use autopilot::events::{Answer, Incoming, SnsNotice, Triage, classify};
use autopilot::slack::client::{RetryPolicy, SlackClient};
use autopilot::slack::config::{Config, Destination};
use autopilot::slack::deliveries::DynamoDeliveries;
use autopilot::slack::{Notifier, Report, read_secret};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::time::Duration;

/// Kept back from the invocation's deadline for the bookkeeping after a post.
const MARGIN: Duration = Duration::from_secs(3);

pub struct Deps {
    notifier: Notifier<SlackClient, DynamoDeliveries>,
}

impl Deps {
    /// Configuration and the Slack secret, read and checked once per cold start.
    pub async fn from_env(env: &Env) -> Result<Self, Error> {
        let config = Config::from_env(env)?;
        let sdk = autopilot::aws::sdk_config().await;
        let secret = read_secret(
            &aws_sdk_secretsmanager::Client::new(&sdk),
            &config.secret_id,
        )
        .await?;
        let destination = Destination::from_secret(&secret, &config)?;
        tracing::info!(
            mode = destination.mode(),
            min_severity = config.min_severity.as_str(),
            "Slack destination ready"
        );
        Ok(Deps {
            notifier: Notifier {
                slack: SlackClient::new(destination, RetryPolicy::default())?,
                deliveries: DynamoDeliveries::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    config.deliveries_table,
                ),
                min_severity: config.min_severity,
            },
        })
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer<Report>, Error> {
    let notices = match notices_of(event.payload) {
        Ok(notices) => notices,
        Err(triage) => return triage.answer(),
    };
    let deadline = autopilot::events::deadline(event.context.deadline, MARGIN);
    Ok(Answer::Ran(
        deps.notifier.deliver_all(&notices, deadline).await?,
    ))
}

/// SNS is the only way in; anything else is logged and answered.
pub fn notices_of(payload: Value) -> Result<Vec<SnsNotice>, Triage> {
    match classify(payload)? {
        Incoming::Sns(notices) => Ok(notices),
        other => Err(other.unhandled()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn an_alert_topic_delivery_is_one_notice() {
        let notices = notices_of(sample("slack/sns-blackhole-opened.json")).unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].published, "2026-11-26T09:30:00Z");
    }

    #[test]
    fn other_events_are_answered_not_posted() {
        assert!(matches!(
            notices_of(sample("scheduled.json")),
            Err(Triage::Ignored(_))
        ));
        assert!(matches!(
            notices_of(json!({"Records": []})),
            Err(Triage::Invalid(_))
        ));
    }
}
