//! Event decoding: which connections an invocation is about.

use autopilot::acceptor::{Acceptor, Report, Scope};
use autopilot::aws::SdkConfig;
use autopilot::cloudtrail::{get, path, scalar_string};
use autopilot::config::{AcceptorConfig, PolicySource};
use autopilot::endpoints::Ec2Connections;
use autopilot::events::{CloudTrailEvent, Incoming, classify};
use autopilot::ids::{find_ids, service_id_from_name};
use autopilot::ledger::DynamoLedger;
use autopilot::notify::SnsPublisher;
use autopilot::{Error, policy_source};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::time::Duration;

/// Everything built once per cold start.
pub struct Deps {
    acceptor: Acceptor<Ec2Connections, DynamoLedger, SnsPublisher>,
    ssm: aws_sdk_ssm::Client,
    policy_source: PolicySource,
}

impl Deps {
    pub fn new(sdk: &SdkConfig, config: AcceptorConfig) -> Self {
        Deps {
            acceptor: Acceptor {
                connections: Ec2Connections::new(aws_sdk_ec2::Client::new(sdk)),
                ledger: DynamoLedger::new(
                    aws_sdk_dynamodb::Client::new(sdk),
                    config.decisions_table,
                    Duration::from_secs(config.decision_memory_hours * 3600),
                ),
                publisher: SnsPublisher::new(aws_sdk_sns::Client::new(sdk), config.alert_topic_arn),
                dry_run: config.dry_run,
            },
            ssm: aws_sdk_ssm::Client::new(sdk),
            policy_source: config.policy_source,
        }
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Report, Error> {
    let scope = match scope_of(event.payload) {
        Ok(scope) => scope,
        Err(Triage::Ignored(why)) => {
            tracing::info!(reason = %why, "event ignored");
            return Ok(Report {
                dry_run: deps.acceptor.dry_run,
                ignored: Some(why),
                ..Report::default()
            });
        }
        Err(Triage::Invalid(err)) => {
            tracing::error!(error = %err, "event rejected");
            return Err(err);
        }
    };
    tracing::info!(?scope, request_id = %event.context.request_id, "invocation");
    // Read per invocation: a policy edit applies on the next event, and a broken one is caught.
    let policy = policy_source::load(&deps.policy_source, &deps.ssm).await;
    let report = deps.acceptor.run(policy, scope).await?;
    tracing::info!(
        decisions = report.outcomes.len(),
        announced = report.announced,
        "done"
    );
    Ok(report)
}

/// Why an event leads to no work.
#[derive(Debug)]
pub enum Triage {
    /// Well-formed, but not ours to act on.
    Ignored(String),
    /// Malformed: a clear error, nothing changed.
    Invalid(Error),
}

impl From<Error> for Triage {
    fn from(err: Error) -> Self {
        Triage::Invalid(err)
    }
}

/// The connections an event asks to look at.
pub fn scope_of(payload: Value) -> Result<Scope, Triage> {
    match classify(payload)? {
        Incoming::Scheduled => Ok(Scope::All),
        // The connection-notification body has no published sample: it is only a trigger. Take any
        // service ids it names; without one, look at every managed service.
        Incoming::Sns(notices) => {
            let ids: std::collections::BTreeSet<String> = notices
                .iter()
                .flat_map(|n| find_ids(&n.message, "vpce-svc-"))
                .collect();
            Ok(if ids.is_empty() {
                Scope::All
            } else {
                Scope::Services(ids)
            })
        }
        Incoming::CloudTrail(event) => create_vpc_endpoint(&event),
        Incoming::OtherEventBridge {
            source,
            detail_type,
        } => Err(Triage::Ignored(format!(
            "{detail_type} events from {source} are not handled here"
        ))),
    }
}

fn create_vpc_endpoint(event: &CloudTrailEvent) -> Result<Scope, Triage> {
    let r = &event.record;
    if event.source != "aws.ec2" || r.event_name != "CreateVpcEndpoint" {
        return Err(Triage::Ignored(format!(
            "{} from {} is not handled here",
            r.event_name, event.source
        )));
    }
    if let Some(code) = &r.error_code {
        return Err(Triage::Ignored(format!(
            "CreateVpcEndpoint failed ({code}): no endpoint was created"
        )));
    }
    let endpoint = get(&r.response, "vpcEndpoint");
    let service_name = get(&r.request, "serviceName")
        .or_else(|| endpoint.and_then(|e| get(e, "serviceName")))
        .and_then(scalar_string)
        .ok_or_else(|| {
            Triage::Invalid(Error::InvalidEvent(
                "CreateVpcEndpoint event without a serviceName".into(),
            ))
        })?;
    let Some(service_id) = service_id_from_name(&service_name) else {
        return Err(Triage::Ignored(format!(
            "{service_name} is not an endpoint service"
        )));
    };
    let vpc_id = get(&r.request, "vpcId")
        .or_else(|| endpoint.and_then(|e| get(e, "vpcId")))
        .and_then(scalar_string);
    match path(&r.response, &["vpcEndpoint", "vpcEndpointId"]).and_then(scalar_string) {
        Some(endpoint_id) => Ok(Scope::Endpoint {
            service_id,
            endpoint_id,
            vpc_id,
            account: event.account.clone(),
        }),
        None => {
            // Without the endpoint id the event still says the service has a new request.
            tracing::warn!(%service_id, "CreateVpcEndpoint event without an endpoint id; sweeping the service");
            Ok(Scope::Services([service_id].into()))
        }
    }
}
