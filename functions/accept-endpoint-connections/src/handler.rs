//! Wiring: the event decoded by the engine, the policy read, the acceptor run.

use autopilot::Error;
use autopilot::aws::SdkConfig;
use autopilot::config::PolicySource;
use autopilot::endpoint_connections::config::Config;
use autopilot::endpoint_connections::events::scope_of;
use autopilot::endpoint_connections::policy::Action;
use autopilot::endpoint_connections::run::Report;
use autopilot::endpoint_connections::{self, AwsAcceptor, load_policy};
use autopilot::events::{Answer, now_secs};
use autopilot::status::StatusStore;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// Everything built once per cold start.
pub struct Deps {
    acceptor: AwsAcceptor,
    ssm: aws_sdk_ssm::Client,
    policy_source: PolicySource,
    status: StatusStore,
}

impl Deps {
    pub fn new(sdk: &SdkConfig, config: Config) -> Self {
        Deps {
            acceptor: endpoint_connections::acceptor(sdk, &config),
            ssm: aws_sdk_ssm::Client::new(sdk),
            status: StatusStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                &config.run.decisions_table,
            ),
            policy_source: config.policy_source,
        }
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer<Report>, Error> {
    let started = std::time::Instant::now();
    let scheduled = autopilot::metrics::is_scheduled(&event.payload);
    let scope = match scope_of(event.payload) {
        Ok(scope) => scope,
        Err(triage) => return triage.answer(),
    };
    tracing::info!(?scope, request_id = %event.context.request_id, "invocation");
    // Read per invocation: a policy edit applies on the next event, and a broken one is caught.
    let policy = load_policy(&deps.policy_source, &deps.ssm).await;
    let answer = deps.acceptor.run(policy, scope).await?;
    if let Answer::Ran(report) = &answer {
        tracing::info!(
            decisions = report.outcomes.len(),
            announced = report.announced,
            "done"
        );
        report.metrics().finish(started, scheduled);
        let held = report
            .outcomes
            .iter()
            .filter(|o| o.decision.action == Action::Hold)
            .count();
        deps.status
            .finished("acceptor", now_secs(), scheduled, &[("held", held)])
            .await;
    }
    Ok(answer)
}
