//! accept-endpoint-connections: accepts or rejects PrivateLink endpoint connection requests
//! against the connection policy. Wiring only; the engine lives in the shared crate.

mod handler;

use autopilot::config::Env;
use autopilot::endpoint_connections::config::Config;
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
