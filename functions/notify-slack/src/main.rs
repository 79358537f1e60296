//! notify-slack: posts each notification of the alert topic to Slack as a Block Kit message,
//! once per SNS message, with a finding's resolution in its thread. Wiring only.

mod handler;

use autopilot::config::Env;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot::logs::init();
    let deps = handler::Deps::from_env(&Env::from_process())
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handler::handle(&deps, event)
    }))
    .await
}
