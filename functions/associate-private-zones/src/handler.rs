//! Wiring: the event decoded by the engine, the rules read, the associator run.

use autopilot::Error;
use autopilot::aws::SdkConfig;
use autopilot::config::PolicySource;
use autopilot::events::{Answer, now_secs};
use autopilot::private_zones::config::Config;
use autopilot::private_zones::events::target_of;
use autopilot::private_zones::run::Report;
use autopilot::private_zones::{self, DeployedAssociator};
use autopilot::status::StatusStore;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// Everything built once per cold start.
pub struct Deps {
    associator: DeployedAssociator,
    ssm: aws_sdk_ssm::Client,
    rules_source: PolicySource,
    status: StatusStore,
}

impl Deps {
    pub fn new(sdk: &SdkConfig, config: Config) -> Self {
        Deps {
            associator: private_zones::associator(sdk, &config),
            ssm: aws_sdk_ssm::Client::new(sdk),
            status: StatusStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                &config.run.decisions_table,
            ),
            rules_source: config.rules_source,
        }
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer<Report>, Error> {
    let started = std::time::Instant::now();
    let scheduled = autopilot::metrics::is_scheduled(&event.payload);
    let target = match target_of(event.payload) {
        Ok(target) => target,
        Err(triage) => return triage.answer(),
    };
    tracing::info!(?target, request_id = %event.context.request_id, "invocation");
    let rules = private_zones::load_rules(&deps.rules_source, &deps.ssm).await;
    let answer = deps.associator.run(rules, target).await?;
    if let Answer::Ran(report) = &answer {
        tracing::info!(
            vpcs = report.vpcs_checked,
            changes = report.outcomes.len(),
            announced = report.announced,
            "done"
        );
        report.metrics().finish(started, scheduled);
        let unreachable = report.unreachable.len();
        deps.status
            .finished(
                "associator",
                now_secs(),
                scheduled,
                &[("unreachable", unreachable)],
            )
            .await;
    }
    Ok(answer)
}
