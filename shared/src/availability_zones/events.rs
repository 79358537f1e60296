//! What an invocation of the auditor is about, and whom it believes: the schedule (the pass goes
//! on) or a CloudTrail record of the provider or a consumer, decoded into the services, endpoints
//! or load balancers it names; believed only from the accounts it trusts. Pure, so the fuzz
//! targets reach the decoder that reads another account's input.

use crate::availability_zones::ports::AuditScope;
use crate::events::{Incoming, Triage, classify};
use crate::ids::find_ids;
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

/// What an invocation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The schedule: carry the pass through the estate on.
    Pass,
    /// An event: audit what it touched, now.
    Audit(AuditScope),
}

/// The schedule carries the pass on; an event audits only what it touched: the endpoint
/// services an EC2 event names (or those of the endpoints it names), or the services in front
/// of the load balancers and target groups an ELB event names (resolved by the audit, in a call
/// or two). An event that names none of these, or comes from an account not among `senders`,
/// starts nothing.
pub fn job_of(payload: Value, senders: &BTreeSet<String>) -> Result<Job, Triage> {
    match classify(payload)? {
        Incoming::Scheduled => Ok(Job::Pass),
        Incoming::CloudTrail(event) => {
            event.handled(AUDITED_EVENTS)?;
            admit(senders, &event.account)?;
            let r = &event.record;
            if r.event_source == "elasticloadbalancing.amazonaws.com" {
                let arns = elb_arns(&r.request);
                if arns.is_empty() {
                    return Err(Triage::Ignored(format!(
                        "{} names no load balancer or target group",
                        r.event_name
                    )));
                }
                return Ok(Job::Audit(AuditScope::Resources(arns)));
            }
            let text = format!("{} {}", r.request, r.response);
            let services = find_ids(&text, "vpce-svc-");
            if !services.is_empty() {
                return Ok(Job::Audit(AuditScope::Services(services)));
            }
            // A consumer's endpoint named without its service (`ModifyVpcEndpoint`): the
            // audit finds the service through the endpoint's connection.
            let endpoints = find_ids(&text, "vpce-");
            if endpoints.is_empty() {
                return Err(Triage::Ignored(format!(
                    "{} names no endpoint service and no endpoint",
                    r.event_name
                )));
            }
            Ok(Job::Audit(AuditScope::Endpoints(endpoints)))
        }
        other @ (Incoming::Sns(_) | Incoming::OtherEventBridge { .. }) => Err(other.unhandled()),
    }
}

/// The load balancer and target group ARNs an ELB call's parameters name (`loadBalancerArn`,
/// `targetGroupArn`, at any depth).
fn elb_arns(request: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![request];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s)
                if s.starts_with("arn:")
                    && s.contains(":elasticloadbalancing:")
                    && (s.contains(":loadbalancer/") || s.contains(":targetgroup/")) =>
            {
                out.insert(s.clone());
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    out
}

/// Pure: an event is believed only from this account or one of `senders` (the accounts whose
/// events the bus takes).
pub fn admit(senders: &BTreeSet<String>, account: &str) -> Result<(), Triage> {
    if senders.contains(account) {
        return Ok(());
    }
    Err(Triage::Ignored(format!(
        "event from account {account}, which is neither this account nor in EVENT_SENDER_ACCOUNT_IDS"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples::sample;
    use serde_json::json;

    fn senders() -> BTreeSet<String> {
        ["111111111111", "123456789123"].map(String::from).into()
    }

    #[test]
    fn events_naming_a_service_audit_that_service() {
        let scope = job_of(sample("eventbridge-create-vpc-endpoint.json"), &senders()).unwrap();
        assert_eq!(
            scope,
            Job::Audit(AuditScope::Services(
                ["vpce-svc-0123456789abcdef0".to_owned()].into()
            ))
        );
    }

    #[test]
    fn elb_events_audit_what_they_name_schedules_everything_and_others_are_ignored() {
        let mut elb = sample("real/elbv2_AddTags__eventbridge.json");
        assert!(matches!(
            job_of(elb.clone(), &senders()),
            Err(Triage::Ignored(_))
        ));
        elb["detail"]["eventName"] = json!("ModifyTargetGroupAttributes");
        let tg =
            "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/app/73e2d6bc24d8a067";
        elb["detail"]["requestParameters"] = json!({"targetGroupArn": tg, "attributes": [{"key": "deregistration_delay.timeout_seconds", "value": "30"}]});
        assert_eq!(
            job_of(elb.clone(), &senders()).unwrap(),
            Job::Audit(AuditScope::Resources([tg.to_owned()].into()))
        );
        let lb = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/orders/50dc6c495c0c9188";
        elb["detail"]["eventName"] = json!("SetSubnets");
        elb["detail"]["requestParameters"] =
            json!({"loadBalancerArn": lb, "subnets": ["subnet-1"]});
        assert_eq!(
            job_of(elb.clone(), &senders()).unwrap(),
            Job::Audit(AuditScope::Resources([lb.to_owned()].into()))
        );
        elb["detail"]["requestParameters"] = json!({"subnets": ["subnet-1"]});
        assert!(
            matches!(job_of(elb.clone(), &senders()), Err(Triage::Ignored(why)) if why.contains("names no load balancer"))
        );
        elb["detail"]["errorCode"] = json!("ValidationError");
        assert!(
            matches!(job_of(elb, &senders()), Err(Triage::Ignored(why)) if why.contains("ValidationError"))
        );
        assert_eq!(
            job_of(sample("scheduled.json"), &senders()).unwrap(),
            Job::Pass
        );
    }

    #[test]
    fn an_endpoint_named_without_its_service_audits_its_service_and_nothing_named_is_ignored() {
        let mut event = sample("eventbridge-create-vpc-endpoint.json");
        event["detail"]["eventName"] = json!("ModifyVpcEndpoint");
        event["detail"]["requestParameters"] = json!({"ModifyVpcEndpointRequest": {"VpcEndpointId": "vpce-0abc1234def567890", "AddSubnetId": {"tag": 1, "content": "subnet-1"}}});
        event["detail"]["responseElements"] =
            json!({"ModifyVpcEndpointResponse": {"return": true}});
        assert_eq!(
            job_of(event.clone(), &senders()).unwrap(),
            Job::Audit(AuditScope::Endpoints(
                ["vpce-0abc1234def567890".to_owned()].into()
            ))
        );
        event["detail"]["requestParameters"] =
            json!({"ModifyVpcEndpointRequest": {"AddSubnetId": "subnet-1"}});
        assert!(matches!(
            job_of(event, &senders()),
            Err(Triage::Ignored(why)) if why.contains("names no endpoint service and no endpoint")
        ));
    }

    #[test]
    fn an_event_from_an_account_not_among_the_senders_starts_nothing() {
        let event = sample("eventbridge-create-vpc-endpoint.json");
        let only_home = ["999999999999".to_owned()].into();
        assert!(matches!(
            job_of(event, &only_home),
            Err(Triage::Ignored(why)) if why.contains("account 111111111111, which is neither this account nor in EVENT_SENDER_ACCOUNT_IDS")
        ));
    }
}
