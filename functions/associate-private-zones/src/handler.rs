//! Event decoding: which VPCs an invocation is about.

use autopilot::Error;
use autopilot::aws::SdkConfig;
use autopilot::cloudtrail::{get, list, path, scalar_string};
use autopilot::config::PolicySource;
use autopilot::events::{Answer, CloudTrailEvent, Incoming, Triage, classify};
use autopilot::ledger::DynamoLedger;
use autopilot::notify::SnsPublisher;
use autopilot::private_zones::config::Config;
use autopilot::private_zones::run::{Report, Target};
use autopilot::private_zones::{self, Associator};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// Everything built once per cold start.
pub struct Deps {
    associator: Associator<DynamoLedger, SnsPublisher>,
    ssm: aws_sdk_ssm::Client,
    rules_source: PolicySource,
}

impl Deps {
    pub fn new(sdk: &SdkConfig, config: Config) -> Self {
        Deps {
            associator: private_zones::associator(sdk, &config),
            ssm: aws_sdk_ssm::Client::new(sdk),
            rules_source: config.rules_source,
        }
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer<Report>, Error> {
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
    }
    Ok(answer)
}

pub fn target_of(payload: Value) -> Result<Target, Triage> {
    match classify(payload)? {
        Incoming::Scheduled => Ok(Target::Reconcile),
        Incoming::CloudTrail(event) => vpc_event(&event),
        other @ (Incoming::Sns(_) | Incoming::OtherEventBridge { .. }) => Err(other.unhandled()),
    }
}

/// The calls that make a VPC or its tags new.
const VPC_EVENTS: &[(&str, &str)] = &[
    ("aws.ec2", "CreateVpc"),
    ("aws.ec2", "CreateTags"),
    ("aws.ec2", "DeleteTags"),
];

fn vpc_event(event: &CloudTrailEvent) -> Result<Target, Triage> {
    let name = event.handled(VPC_EVENTS)?;
    let r = &event.record;
    let region = r
        .aws_region
        .clone()
        .or_else(|| event.region.clone())
        .ok_or_else(|| {
            Triage::Invalid(Error::InvalidEvent(format!(
                "{name} event without a region"
            )))
        })?;
    let vpc_ids: Vec<String> = if name == "CreateVpc" {
        let id = path(&r.response, &["vpc", "vpcId"])
            .and_then(scalar_string)
            .ok_or_else(|| {
                Triage::Invalid(Error::InvalidEvent(
                    "CreateVpc event without responseElements.vpc.vpcId".into(),
                ))
            })?;
        vec![id]
    } else {
        list(get(&r.request, "resourcesSet"))
            .into_iter()
            .filter_map(|item| get(item, "resourceId").and_then(scalar_string))
            .filter(|id| id.starts_with("vpc-"))
            .collect()
    };
    if vpc_ids.is_empty() {
        return Err(Triage::Ignored(format!("{name} touched no VPC")));
    }
    Ok(Target::Vpcs {
        account: event.account.clone(),
        region,
        vpc_ids,
    })
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

    #[test]
    fn real_create_vpc_events_name_their_vpc() {
        let target = target_of(sample("real/ec2_CreateVpc_no_tags__eventbridge.json")).unwrap();
        let Target::Vpcs {
            vpc_ids, region, ..
        } = target
        else {
            panic!("{target:?}")
        };
        assert_eq!(vpc_ids.len(), 1);
        assert!(vpc_ids[0].starts_with("vpc-"));
        assert_eq!(region, "us-east-1");
    }

    #[test]
    fn tags_on_something_else_are_ignored_and_tags_on_vpcs_are_not() {
        let sg = sample("real/ec2_CreateTags_on_security_group__eventbridge.json");
        assert!(
            matches!(target_of(sg.clone()), Err(Triage::Ignored(why)) if why == "CreateTags touched no VPC")
        );
        let mut vpc = sg;
        vpc["detail"]["requestParameters"]["resourcesSet"] =
            json!({"items": [{"resourceId": "vpc-0abc"}]});
        let Ok(Target::Vpcs { vpc_ids, .. }) = target_of(vpc) else {
            panic!()
        };
        assert_eq!(vpc_ids, ["vpc-0abc"]);
    }

    #[test]
    fn failed_calls_and_schedules() {
        let mut failed = sample("real/ec2_CreateVpc_no_tags__eventbridge.json");
        failed["detail"]["errorCode"] = json!("Client.VpcLimitExceeded");
        assert!(
            matches!(target_of(failed), Err(Triage::Ignored(why)) if why.contains("Client.VpcLimitExceeded"))
        );
        assert_eq!(
            target_of(sample("scheduled.json")).unwrap(),
            Target::Reconcile
        );
        let mut no_id = sample("real/ec2_CreateVpc_no_tags__eventbridge.json");
        no_id["detail"]["responseElements"] = Value::Null;
        assert!(matches!(target_of(no_id), Err(Triage::Invalid(_))));
    }
}
