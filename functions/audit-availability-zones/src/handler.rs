//! Wiring: the event decoded by the engine, then an audit of what it names or the pass carried on.

use autopilot::Error;
use autopilot::availability_zones::config::Config;
use autopilot::availability_zones::events::{Job, job_of};
use autopilot::availability_zones::run::{AuditReport, Tick};
use autopilot::availability_zones::{self, AwsAuditor};
use autopilot::aws::SdkConfig;
use autopilot::events::{Answer, now_secs};
use autopilot::status::StatusStore;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// The most a scheduled invocation spends starting stretches of the pass: under the schedule's
/// minute, so invocations follow one another instead of waiting on each other's claim.
const TICK_BUDGET: Duration = Duration::from_secs(45);
/// Kept free before the invocation's deadline for the stretch under way to finish.
const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

pub struct Deps {
    auditor: AwsAuditor,
    senders: BTreeSet<String>,
    period_seconds: u64,
    status: StatusStore,
}

impl Deps {
    pub fn new(sdk: &SdkConfig, config: Config) -> Self {
        Deps {
            auditor: availability_zones::auditor(sdk, &config),
            status: StatusStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.findings_table),
            senders: config.senders,
            period_seconds: config.period_seconds,
        }
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer<AuditReport>, Error> {
    let started = std::time::Instant::now();
    let scheduled = autopilot::metrics::is_scheduled(&event.payload);
    let job = match job_of(event.payload, &deps.senders) {
        Ok(job) => job,
        Err(triage) => return triage.answer(),
    };
    tracing::info!(?job, request_id = %event.context.request_id, "invocation");
    let report: AuditReport = match job {
        Job::Audit(scope) => deps.auditor.run(scope).await?,
        Job::Pass => {
            let remaining = autopilot::events::deadline(event.context.deadline, Duration::ZERO)
                .saturating_duration_since(tokio::time::Instant::now());
            let tick = Tick {
                holder: event.context.request_id.clone(),
                period: deps.period_seconds,
                budget: TICK_BUDGET.min(remaining.saturating_sub(DEADLINE_MARGIN)),
                lease: remaining + Duration::from_secs(5),
            };
            deps.auditor.tick(&tick).await?
        }
    };
    tracing::info!(
        opened = report.opened.len(),
        resolved = report.resolved.len(),
        still_open = report.still_open,
        "done"
    );
    report.metrics().finish(started, scheduled);
    let undecided = report.unread_services.len();
    deps.status
        .finished(
            "auditor",
            now_secs(),
            scheduled,
            &[("undecided", undecided)],
        )
        .await;
    Ok(Answer::Ran(report))
}
