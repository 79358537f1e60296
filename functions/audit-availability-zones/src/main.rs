//! audit-availability-zones: finds endpoint services and consumer endpoints whose AZ set-up drops
//! or misroutes traffic, and says so when a finding opens and when it resolves. Wiring only.

mod handler;

use autopilot::availability_zones::config::Config;
use autopilot::config::Env;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot::logs::init();
    let config = Config::from_env(&Env::from_process())
        .inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?;
    let sdk = autopilot::aws::sdk_config().await;
    let deps = handler::Deps::new(&sdk, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handler::handle(&deps, event)
    }))
    .await
}
