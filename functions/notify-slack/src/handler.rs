//! Wiring: the SNS messages decoded by the engine, each delivered to Slack once.

use autopilot::Error;
use autopilot::config::Env;
use autopilot::events::Answer;
use autopilot::slack::config::Config;
use autopilot::slack::events::notices_of;
use autopilot::slack::run::Report;
use autopilot::slack::{self, AwsNotifier};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::time::Duration;

/// Kept back from the invocation's deadline for the bookkeeping after a post.
const MARGIN: Duration = Duration::from_secs(3);

/// Everything built once per cold start.
pub struct Deps {
    notifier: AwsNotifier,
}

impl Deps {
    /// Configuration and the Slack secret, read and checked once per cold start.
    pub async fn from_env(env: &Env) -> Result<Self, Error> {
        let config = Config::from_env(env)?;
        let sdk = autopilot::aws::sdk_config().await;
        Ok(Deps {
            notifier: slack::notifier(&sdk, config).await?,
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
