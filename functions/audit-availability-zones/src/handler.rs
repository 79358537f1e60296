//! Event decoding: which endpoint services an invocation is about.

use autopilot::Error;
use autopilot::availability_zones::config::Config;
use autopilot::availability_zones::ports::AuditScope;
use autopilot::availability_zones::run::AuditReport;
use autopilot::availability_zones::{self, AwsAuditor};
use autopilot::aws::SdkConfig;
use autopilot::events::{Answer, Incoming, Triage, classify};
use autopilot::ids::find_ids;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::collections::BTreeSet;

/// The calls that change what an endpoint service or a consumer endpoint serves (EC2), or where
/// an NLB sends traffic (ELB).
const AUDITED_EVENTS: &[(&str, &str)] = &[
    ("aws.ec2", "CreateVpcEndpoint"),
    ("aws.ec2", "ModifyVpcEndpoint"),
    ("aws.ec2", "CreateVpcEndpointServiceConfiguration"),
    ("aws.ec2", "ModifyVpcEndpointServiceConfiguration"),
    ("aws.elasticloadbalancing", "ModifyLoadBalancerAttributes"),
    ("aws.elasticloadbalancing", "ModifyTargetGroupAttributes"),
    ("aws.elasticloadbalancing", "SetSubnets"),
    ("aws.elasticloadbalancing", "RegisterTargets"),
    ("aws.elasticloadbalancing", "DeregisterTargets"),
];

pub struct Deps {
    auditor: AwsAuditor,
    senders: BTreeSet<String>,
}

impl Deps {
    pub fn new(sdk: &SdkConfig, config: Config) -> Self {
        Deps {
            auditor: availability_zones::auditor(sdk, &config),
            senders: config.senders,
        }
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer<AuditReport>, Error> {
    let scope = match scope_of(event.payload, &deps.senders) {
        Ok(scope) => scope,
        Err(triage) => return triage.answer(),
    };
    tracing::info!(?scope, request_id = %event.context.request_id, "invocation");
    let report: AuditReport = deps.auditor.run(scope).await?;
    tracing::info!(
        opened = report.opened.len(),
        resolved = report.resolved.len(),
        still_open = report.still_open,
        "done"
    );
    Ok(Answer::Ran(report))
}

/// Audit only what the event touched: the endpoint services it names. ELB events name load
/// balancers and target groups, which map to services only through reads, so they audit everything.
/// An event from an account not among `senders` starts nothing.
pub fn scope_of(payload: Value, senders: &BTreeSet<String>) -> Result<AuditScope, Triage> {
    match classify(payload)? {
        Incoming::Scheduled => Ok(AuditScope::All),
        Incoming::CloudTrail(event) => {
            event.handled(AUDITED_EVENTS)?;
            if !senders.contains(&event.account) {
                return Err(Triage::Ignored(format!(
                    "event from account {}, which is neither this account nor in EVENT_SENDER_ACCOUNT_IDS",
                    event.account
                )));
            }
            let r = &event.record;
            let text = format!("{} {}", r.request, r.response);
            let services = find_ids(&text, "vpce-svc-");
            Ok(if services.is_empty() {
                AuditScope::All
            } else {
                AuditScope::Services(services)
            })
        }
        other @ (Incoming::Sns(_) | Incoming::OtherEventBridge { .. }) => Err(other.unhandled()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn sample(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn senders() -> BTreeSet<String> {
        ["111111111111", "123456789123"].map(String::from).into()
    }

    #[test]
    fn events_naming_a_service_audit_that_service() {
        let scope = scope_of(sample("eventbridge-create-vpc-endpoint.json"), &senders()).unwrap();
        assert_eq!(
            scope,
            AuditScope::Services(["vpce-svc-0123456789abcdef0".to_owned()].into())
        );
    }

    #[test]
    fn elb_events_and_schedules_audit_everything_and_others_are_ignored() {
        let mut elb = sample("real/elbv2_AddTags__eventbridge.json");
        assert!(matches!(
            scope_of(elb.clone(), &senders()),
            Err(Triage::Ignored(_))
        ));
        elb["detail"]["eventName"] = json!("ModifyTargetGroupAttributes");
        assert_eq!(scope_of(elb.clone(), &senders()).unwrap(), AuditScope::All);
        elb["detail"]["errorCode"] = json!("ValidationError");
        assert!(
            matches!(scope_of(elb, &senders()), Err(Triage::Ignored(why)) if why.contains("ValidationError"))
        );
        assert_eq!(
            scope_of(sample("scheduled.json"), &senders()).unwrap(),
            AuditScope::All
        );
    }

    #[test]
    fn an_event_from_an_account_not_among_the_senders_starts_nothing() {
        let event = sample("eventbridge-create-vpc-endpoint.json");
        let only_home = ["999999999999".to_owned()].into();
        assert!(matches!(
            scope_of(event, &only_home),
            Err(Triage::Ignored(why)) if why.contains("account 111111111111, which is neither this account nor in EVENT_SENDER_ACCOUNT_IDS")
        ));
    }
}
