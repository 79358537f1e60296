//! What an invocation of the associator is about, and whom it believes: the schedule (a
//! reconcile) or a spoke's CloudTrail record (`CreateVpc`, `CreateTags`, `DeleteTags`) decoded into
//! the VPCs it names; then admitted against the rules. Pure, so the fuzz targets reach the
//! decoder that reads another account's input.

use crate::cloudtrail::{path, resource_ids, scalar_string};
use crate::error::Error;
use crate::events::{CloudTrailEvent, Incoming, Triage, classify};
use crate::private_zones::rules::Rules;
use serde_json::Value;

/// What an invocation asks to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// VPCs named by an event (`CreateVpc`, `CreateTags`, `DeleteTags`) in one account and region.
    Vpcs {
        account: String,
        region: String,
        vpc_ids: Vec<String>,
    },
    /// Every VPC of every trusted account in every configured region.
    Reconcile,
}

/// The VPCs an event names; a schedule is a reconcile.
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
            .filter(|id| crate::ids::is_id(id, "vpc-"))
            .ok_or_else(|| {
                Triage::Invalid(Error::InvalidEvent(
                    "CreateVpc event without a VPC id in responseElements.vpc.vpcId".into(),
                ))
            })?;
        vec![id]
    } else {
        resource_ids(&r.request)
            .map_err(|e| Triage::Invalid(Error::InvalidEvent(e.0)))?
            .into_iter()
            .filter(|id| crate::ids::is_id(id, "vpc-"))
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

/// VPCs of one account and region, as a run reads them (no ids: every VPC there).
pub type Scope = (String, String, Vec<String>);

/// Pure: where a run looks, or why the event is ignored. An event's VPCs are believed only from
/// an account the rules trust, in a region they cover; a reconcile looks at every trusted
/// account in every covered region.
pub fn admit(rules: &Rules, target: Target) -> Result<Vec<Scope>, Triage> {
    match target {
        Target::Vpcs {
            account,
            region,
            vpc_ids,
        } => {
            if !rules.trusts_account(&account) {
                return Err(Triage::Ignored(format!(
                    "event from account {account}, which the rules do not trust"
                )));
            }
            if !rules.covers_region(&region) {
                return Err(Triage::Ignored(format!(
                    "region {region} is not covered by the rules"
                )));
            }
            Ok(vec![(account, region, vpc_ids)])
        }
        Target::Reconcile => Ok(rules
            .accounts
            .iter()
            .flat_map(|a| {
                rules
                    .regions
                    .iter()
                    .map(move |r| (a.clone(), r.clone(), vec![]))
            })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples::sample;
    use serde_json::json;

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
        vpc["detail"]["requestParameters"]["resourcesSet"] = json!({"items": [
            {"resourceId": "vpc-0abc00000000000ff"}, {"resourceId": "vpc-0abc"},
            {"resourceId": "vpc-0ABC00000000000FF"}, {"resourceId": "vpc-0abc00000000000ff>|x"}]});
        let Ok(Target::Vpcs { vpc_ids, .. }) = target_of(vpc.clone()) else {
            panic!()
        };
        assert_eq!(
            vpc_ids,
            ["vpc-0abc00000000000ff"],
            "only well-formed VPC ids"
        );
        // More ids than EC2 tags in one call: not an event AWS sends.
        let many: Vec<Value> = (0..=crate::ids::MAX_IDS_PER_EVENT)
            .map(|n| json!({"resourceId": format!("vpc-{n:017x}")}))
            .collect();
        vpc["detail"]["requestParameters"]["resourcesSet"] = json!({ "items": many });
        assert!(matches!(
            target_of(vpc),
            Err(Triage::Invalid(Error::InvalidEvent(why))) if why.contains("names 2001 resources")
        ));
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
