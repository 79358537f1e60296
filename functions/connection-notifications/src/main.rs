//! connection-notifications: the CloudFormation custom resource that keeps one EC2 connection
//! notification per managed endpoint service. Wiring only; the engine lives in the shared crate.

mod handler;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot::logs::init();
    let sdk = autopilot::aws::sdk_config().await;
    let deps = handler::Deps::new(&sdk);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handler::handle(&deps, event)
    }))
    .await
}
