//! What an invocation of the acceptor is about, and whom it believes: the schedule, a connection
//! notification, or a consumer's CloudTrail record (`CreateVpcEndpoint`, `CreateTags`,
//! `DeleteTags`) decoded into claims; then admitted against the policy. Pure, so the fuzz targets
//! reach every decoder that reads another account's input.

use crate::cloudtrail::{get, list, path, resource_ids, scalar_string};
use crate::endpoint_connections::claims::{Claim, TagChange};
use crate::endpoint_connections::policy::Policy;
use crate::error::Error;
use crate::events::{CloudTrailEvent, Incoming, Triage, classify};
use crate::ids::{find_ids, service_id_from_name};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What an invocation asks to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every service the policy manages (schedule, or a notification without a service id).
    All,
    /// These services (a connection notification naming them).
    Services(BTreeSet<String>),
    /// Endpoints a consumer's event speaks of (`CreateVpcEndpoint`, `CreateTags`, `DeleteTags`),
    /// all from the event's account.
    Claims(Vec<Claim>),
}

/// The connections an event asks to look at.
pub fn scope_of(payload: Value) -> Result<Scope, Triage> {
    match classify(payload)? {
        Incoming::Scheduled => Ok(Scope::All),
        // The connection-notification body has no published sample: it is only a trigger. Take any
        // service ids it names; without one, look at every managed service.
        Incoming::Sns(notices) => {
            let ids: BTreeSet<String> = notices
                .iter()
                .flat_map(|n| find_ids(&n.message, "vpce-svc-"))
                .collect();
            Ok(if ids.is_empty() {
                Scope::All
            } else {
                Scope::Services(ids)
            })
        }
        Incoming::CloudTrail(event) => match event.record.event_name.as_str() {
            "CreateTags" | "DeleteTags" => endpoint_tags(&event),
            _ => create_vpc_endpoint(&event),
        },
        other @ Incoming::OtherEventBridge { .. } => Err(other.unhandled()),
    }
}

fn create_vpc_endpoint(event: &CloudTrailEvent) -> Result<Scope, Triage> {
    event.handled(&[("aws.ec2", "CreateVpcEndpoint")])?;
    let r = &event.record;
    let endpoint = get(&r.response, "vpcEndpoint");
    let service_name = agreed(&r.request, endpoint, "serviceName")?.ok_or_else(|| {
        Triage::Invalid(Error::InvalidEvent(
            "CreateVpcEndpoint event without a serviceName".into(),
        ))
    })?;
    let Some(service_id) = service_id_from_name(&service_name) else {
        return Err(Triage::Ignored(format!(
            "{service_name} is not an endpoint service"
        )));
    };
    let vpc_id = agreed(&r.request, endpoint, "vpcId")?;
    if let Some(owner) = endpoint
        .and_then(|e| get(e, "ownerId"))
        .and_then(scalar_string)
        && owner != event.account
    {
        return Err(Triage::Ignored(format!(
            "the endpoint's owner {owner} is not the sending account {}",
            event.account
        )));
    }
    match path(&r.response, &["vpcEndpoint", "vpcEndpointId"])
        .and_then(scalar_string)
        .filter(|id| crate::ids::is_id(id, "vpce-"))
    {
        Some(endpoint_id) => Ok(Scope::Claims(vec![Claim {
            service_id: Some(service_id),
            endpoint_id,
            vpc_id,
            account: event.account.clone(),
            tags: TagChange::Set(tag_specification(&r.request)),
        }])),
        None => {
            // Without the endpoint id the event still says the service has a new request.
            tracing::warn!(%service_id, "CreateVpcEndpoint event without an endpoint id; sweeping the service");
            Ok(Scope::Services([service_id].into()))
        }
    }
}

/// A value both the request and AWS's response may name: the response's wins (it is what AWS
/// did); where both name it and differ, the event is not believed.
fn agreed(
    request: &Value,
    response: Option<&Value>,
    field: &str,
) -> Result<Option<String>, Triage> {
    let asked = get(request, field).and_then(scalar_string);
    let done = response.and_then(|e| get(e, field)).and_then(scalar_string);
    match (asked, done) {
        (Some(asked), Some(done)) if asked != done => {
            tracing::warn!(field, requested = %asked, responded = %done, "request and response disagree: event ignored");
            Err(Triage::Ignored(format!(
                "the request's {field} {asked} is not the response's {done}"
            )))
        }
        (asked, done) => Ok(done.or(asked)),
    }
}

/// The endpoint's tags at creation: `tagSpecificationSet` (flat shape) or `TagSpecification`
/// (wrapped), for resource type `vpc-endpoint`.
fn tag_specification(request: &Value) -> BTreeMap<String, String> {
    let specs = get(request, "tagSpecificationSet").or_else(|| get(request, "TagSpecification"));
    list(specs)
        .into_iter()
        .filter(|spec| {
            get(spec, "resourceType")
                .and_then(scalar_string)
                .is_none_or(|t| t == "vpc-endpoint")
        })
        .flat_map(|spec| tag_list(get(spec, "tags").or_else(|| get(spec, "Tag"))))
        .collect()
}

fn tag_list(tags: Option<&Value>) -> Vec<(String, String)> {
    list(tags)
        .into_iter()
        .filter_map(|t| {
            let key = get(t, "key").and_then(scalar_string)?;
            Some((
                key,
                get(t, "value").and_then(scalar_string).unwrap_or_default(),
            ))
        })
        .collect()
}

/// A consumer's `CreateTags` / `DeleteTags` on its endpoints: what the endpoints' tags now are.
fn endpoint_tags(event: &CloudTrailEvent) -> Result<Scope, Triage> {
    let name = event.handled(&[("aws.ec2", "CreateTags"), ("aws.ec2", "DeleteTags")])?;
    let r = &event.record;
    let tags = tag_list(get(&r.request, "tagSet"));
    let change = if name == "CreateTags" {
        TagChange::Add(tags.into_iter().collect())
    } else {
        TagChange::Remove(tags.into_iter().map(|(k, _)| k).collect())
    };
    let claims: Vec<Claim> = resource_ids(&r.request)
        .map_err(|e| Triage::Invalid(Error::InvalidEvent(e.0)))?
        .into_iter()
        .filter(|id| crate::ids::is_id(id, "vpce-"))
        .map(|endpoint_id| Claim {
            endpoint_id,
            service_id: None,
            account: event.account.clone(),
            vpc_id: None,
            tags: change.clone(),
        })
        .collect();
    if claims.is_empty() {
        return Err(Triage::Ignored(format!("{name} touched no VPC endpoint")));
    }
    Ok(Scope::Claims(claims))
}

/// `vpce-` followed by hex: an endpoint, not a service (`vpce-svc-`) or a connection (`vpce-con-`).
/// Pure: which services a run reads, and the consumers' claims it may use; or why the event is
/// ignored. Services the policy does not manage are left alone; claims are believed only from
/// an account the policy trusts, about a service it manages (every managed service, for a tag
/// event that does not say which).
pub fn admit(policy: &Policy, scope: Scope) -> Result<(Vec<String>, Vec<Claim>), Triage> {
    let all = || policy.service_ids().map(str::to_owned).collect::<Vec<_>>();
    match scope {
        Scope::All => Ok((all(), vec![])),
        Scope::Services(ids) => {
            let (managed, other): (Vec<_>, Vec<_>) =
                ids.into_iter().partition(|id| policy.service(id).is_some());
            if !other.is_empty() {
                tracing::info!(services = ?other, "not managed by the policy; left alone");
            }
            if managed.is_empty() {
                return Err(Triage::Ignored(format!(
                    "no managed service among {}",
                    crate::ids::few(&other)
                )));
            }
            Ok((managed, vec![]))
        }
        Scope::Claims(claims) => {
            if let Some(stranger) = claims.iter().find(|c| !policy.trusts_account(&c.account)) {
                return Err(Triage::Ignored(format!(
                    "event from account {}, which the policy does not trust",
                    stranger.account
                )));
            }
            let named: BTreeSet<&str> = claims
                .iter()
                .filter_map(|c| c.service_id.as_deref())
                .collect();
            if let Some(other) = named.iter().find(|s| policy.service(s).is_none()) {
                return Err(Triage::Ignored(format!(
                    "{other} is not managed by the policy"
                )));
            }
            let services = if claims.iter().all(|c| c.service_id.is_some()) {
                named.into_iter().map(str::to_owned).collect()
            } else {
                all()
            };
            Ok((services, claims))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::events::samples::{self, sample};
    use serde_json::json;

    const SVC: &str = "vpce-svc-0123456789abcdef0";

    #[test]
    fn connection_notification_names_its_service() {
        let scope = scope_of(sample("sns-connection-notification.json")).unwrap();
        assert_eq!(scope, Scope::Services([SVC.to_owned()].into()));
        // A body that names no service: every managed service is looked at.
        let mut bare = sample("sns-connection-notification.json");
        bare["Records"][0]["Sns"]["Message"] = json!("{}");
        assert_eq!(scope_of(bare).unwrap(), Scope::All);
    }

    #[test]
    fn an_endpoint_to_an_aws_service_is_not_ours() {
        let mut event = sample("eventbridge-create-vpc-endpoint.json");
        event["detail"]["requestParameters"]["serviceName"] = json!("com.amazonaws.us-east-1.s3");
        event["detail"]["responseElements"] = Value::Null;
        assert!(matches!(
            scope_of(event),
            Err(Triage::Ignored(why)) if why == "com.amazonaws.us-east-1.s3 is not an endpoint service"
        ));
    }

    #[test]
    fn schedule_sweeps_everything() {
        assert_eq!(scope_of(sample("scheduled.json")).unwrap(), Scope::All);
    }

    #[test]
    fn create_vpc_endpoint_reads_alike_in_both_ec2_shapes() {
        let expected = Scope::Claims(vec![Claim {
            service_id: Some(SVC.into()),
            endpoint_id: "vpce-0a1b2c3d4e5f60718".into(),
            vpc_id: Some("vpc-0aa11bb22cc33dd44".into()),
            account: "111111111111".into(),
            tags: TagChange::Set([("team".to_owned(), "orders".to_owned())].into()),
        }]);
        assert_eq!(
            scope_of(sample("eventbridge-create-vpc-endpoint.json")).unwrap(),
            expected
        );
        assert_eq!(
            scope_of(sample("eventbridge-create-vpc-endpoint-flat.json")).unwrap(),
            expected
        );
    }

    #[test]
    fn the_response_wins_and_an_event_whose_request_and_response_disagree_is_ignored() {
        let mut forged = sample("eventbridge-create-vpc-endpoint-flat.json");
        forged["detail"]["requestParameters"]["vpcId"] = json!("vpc-0allowed000000000");
        assert!(matches!(
            scope_of(forged),
            Err(Triage::Ignored(why)) if why.contains("vpcId vpc-0allowed000000000 is not the response's vpc-0aa11bb22cc33dd44")
        ));
        let mut foreign = sample("eventbridge-create-vpc-endpoint-flat.json");
        foreign["detail"]["responseElements"]["vpcEndpoint"]["ownerId"] = json!("222222222222");
        assert!(matches!(
            scope_of(foreign),
            Err(Triage::Ignored(why)) if why.contains("owner 222222222222 is not the sending account")
        ));
        // Only the response names the VPC: it is taken.
        let mut terse = sample("eventbridge-create-vpc-endpoint-flat.json");
        terse["detail"]["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove("vpcId");
        let Ok(Scope::Claims(claims)) = scope_of(terse) else {
            panic!()
        };
        assert_eq!(claims[0].vpc_id.as_deref(), Some("vpc-0aa11bb22cc33dd44"));
    }

    #[test]
    fn create_vpc_endpoint_without_response_sweeps_the_service() {
        let mut event = sample("eventbridge-create-vpc-endpoint.json");
        event["detail"]["responseElements"] = Value::Null;
        assert_eq!(
            scope_of(event).unwrap(),
            Scope::Services([SVC.to_owned()].into())
        );
    }

    /// Wrap a bare CloudTrail record in the EventBridge envelope it would arrive in.
    fn envelope(record: &Value) -> Value {
        let account = record["recipientAccountId"]
            .as_str()
            .or(record["userIdentity"]["accountId"].as_str());
        let source = record["eventSource"]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches(".amazonaws.com");
        json!({"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
               "source": format!("aws.{source}"), "account": account.unwrap_or("123456789012"),
               "time": "2026-11-26T12:00:00Z", "region": "us-east-1", "resources": [], "detail": record})
    }

    /// Every real payload is understood or cleanly ignored; none is an error.
    #[test]
    fn real_events_are_parsed_or_cleanly_ignored() {
        let mut seen = 0;
        for entry in std::fs::read_dir(samples::dir().join("real")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let file: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            // Lambda payloads as they are; bare CloudTrail records (and log files of them) in
            // the envelope EventBridge would deliver them in.
            let is_payload =
                file.get("detail-type").is_some() || file["Records"][0].get("Sns").is_some();
            let invocations: Vec<Value> = match file["Records"].as_array() {
                _ if is_payload => vec![file],
                Some(records) => records.iter().map(envelope).collect(),
                None => vec![envelope(&file)],
            };
            for event in invocations {
                seen += 1;
                match scope_of(event) {
                    Ok(_) | Err(Triage::Ignored(_)) => {}
                    Err(Triage::Invalid(e)) => panic!("{}: {e}", path.display()),
                }
            }
        }
        assert!(seen >= 18, "only {seen} real payloads found");
    }

    /// Every real payload in `events/real` says where it came from (the tests read only files
    /// inside the repository, so the provenance travels with the copies).
    #[test]
    fn every_real_payload_names_its_source() {
        let real = samples::dir().join("real");
        let sources = std::fs::read_to_string(real.join("SOURCES.md")).unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(&real).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    sources.contains(&format!("| {name} |")),
                    "{name} is not in events/real/SOURCES.md"
                );
                checked += 1;
            }
        }
        assert!(checked >= 17, "only {checked} real payloads found");
    }

    #[test]
    fn a_consumers_tag_events_on_its_endpoints_are_claims_and_others_are_ignored() {
        let sg = sample("real/ec2_CreateTags_on_security_group__eventbridge.json");
        assert!(
            matches!(scope_of(sg.clone()), Err(Triage::Ignored(why)) if why == "CreateTags touched no VPC endpoint")
        );
        let mut tagged = sg;
        tagged["detail"]["requestParameters"]["resourcesSet"] = json!({"items": [
            {"resourceId": "vpce-0a1b2c3d4e5f60718"}, {"resourceId": "vpce-svc-0123456789abcdef0"}]});
        tagged["detail"]["requestParameters"]["tagSet"] =
            json!({"items": [{"key": "team", "value": "orders"}]});
        let Ok(Scope::Claims(claims)) = scope_of(tagged.clone()) else {
            panic!()
        };
        assert_eq!(claims.len(), 1, "the endpoint, not the service");
        assert_eq!(claims[0].endpoint_id, "vpce-0a1b2c3d4e5f60718");
        assert_eq!(claims[0].service_id, None);
        assert_eq!(
            claims[0].tags,
            TagChange::Add([("team".to_owned(), "orders".to_owned())].into())
        );
        tagged["detail"]["eventName"] = json!("DeleteTags");
        let Ok(Scope::Claims(claims)) = scope_of(tagged) else {
            panic!()
        };
        assert_eq!(claims[0].tags, TagChange::Remove(vec!["team".into()]));
    }

    #[test]
    fn failed_and_foreign_calls_are_ignored_with_a_reason() {
        let mut failed = sample("eventbridge-create-vpc-endpoint.json");
        failed["detail"]["errorCode"] = json!("Client.VpcEndpointLimitExceeded");
        assert!(
            matches!(scope_of(failed), Err(Triage::Ignored(why)) if why.contains("Client.VpcEndpointLimitExceeded"))
        );
        let mut create_vpc = sample("eventbridge-create-vpc-endpoint.json");
        create_vpc["detail"]["eventName"] = json!("CreateVpc");
        assert!(
            matches!(scope_of(create_vpc), Err(Triage::Ignored(why)) if why.contains("CreateVpc from aws.ec2"))
        );
    }

    pub(crate) fn policy() -> Policy {
        Policy::parse(
            r#"{"version": 1, "services": {
                "vpce-svc-0a": {"allow": [{"name": "orders", "accounts": ["111111111111"]}], "otherwise": "reject"},
                "vpce-svc-0b": {"allow": [{"name": "tagged", "accounts": ["333333333333"], "tags": {"team": "orders"}}], "otherwise": "reject"}}}"#,
        )
        .unwrap()
    }

    pub(crate) fn claim(account: &str, service: Option<&str>) -> Claim {
        Claim {
            endpoint_id: "vpce-0e1".into(),
            service_id: service.map(str::to_owned),
            account: account.into(),
            vpc_id: Some("vpc-0c".into()),
            tags: TagChange::Set(BTreeMap::new()),
        }
    }

    /// Why admission refused.
    fn refused(admitted: Result<(Vec<String>, Vec<Claim>), Triage>) -> String {
        match admitted {
            Err(Triage::Ignored(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_managed_services_and_trusted_claims_are_admitted() {
        let p = policy();
        assert_eq!(
            admit(&p, Scope::All).unwrap().0,
            ["vpce-svc-0a", "vpce-svc-0b"]
        );
        let some = Scope::Services(["vpce-svc-0a".to_owned(), "vpce-svc-0f".to_owned()].into());
        assert_eq!(
            admit(&p, some).unwrap(),
            (vec!["vpce-svc-0a".to_owned()], vec![])
        );
        let none = Scope::Services(["vpce-svc-0f".to_owned()].into());
        assert_eq!(
            refused(admit(&p, none)),
            "no managed service among vpce-svc-0f"
        );

        let trusted = claim("111111111111", Some("vpce-svc-0a"));
        assert_eq!(
            admit(&p, Scope::Claims(vec![trusted.clone()])).unwrap(),
            (vec!["vpce-svc-0a".to_owned()], vec![trusted])
        );
        // A tag event does not name the service: every managed service is looked at.
        let tags = claim("111111111111", None);
        assert_eq!(admit(&p, Scope::Claims(vec![tags])).unwrap().0.len(), 2);
        assert_eq!(
            refused(admit(
                &p,
                Scope::Claims(vec![claim("999999999999", Some("vpce-svc-0a"))])
            )),
            "event from account 999999999999, which the policy does not trust"
        );
        assert_eq!(
            refused(admit(
                &p,
                Scope::Claims(vec![claim("111111111111", Some("vpce-svc-0f"))])
            )),
            "vpce-svc-0f is not managed by the policy"
        );
    }
}
