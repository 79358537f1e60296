//! The spokes' Route 53 Resolver adapter over the real client, answered over HTTP (the clients
//! are built from an `SdkConfig`, which takes no interceptor): association lists followed across
//! pages of 100, and an associate sent once whatever the client's retries, so that an answer lost
//! on the way is read before anything is sent again.
#![allow(clippy::unwrap_used, clippy::panic)]

use autopilot::accounts::AccountConfigs;
use autopilot::private_zones::ports::Spokes;
use autopilot::private_zones::route53::{AssumedRoleSpokes, Route53Rates};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const HUB: &str = "123456789012";

/// Resolver as JSON 1.1 over HTTP: each request's operation and body, kept in order.
#[derive(Debug, Clone, Default)]
struct Resolver {
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

fn answer(status: u16, body: Value) -> HttpConnectorFuture {
    HttpConnectorFuture::ready(Ok(Response::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body.to_string()),
    )))
}

impl HttpConnector for Resolver {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap()
            .to_owned();
        let body: Value =
            serde_json::from_slice(request.body().bytes().unwrap_or_default()).unwrap();
        self.seen
            .lock()
            .unwrap()
            .push((target.clone(), body.clone()));
        let association = |n: u32| {
            json!({"Id": format!("rslvr-rrassoc-{n}"), "ResolverRuleId": "rslvr-rr-0000000000000000a",
                   "VPCId": format!("vpc-{n:08x}"), "Status": "COMPLETE"})
        };
        match target.as_str() {
            "ListResolverRuleAssociations" => {
                let page = match body.get("NextToken").and_then(Value::as_str) {
                    None => {
                        json!({"ResolverRuleAssociations": (0..100).map(association).collect::<Vec<_>>(), "NextToken": "t2"})
                    }
                    Some("t2") => {
                        json!({"ResolverRuleAssociations": [association(100), association(101)]})
                    }
                    Some(other) => panic!("unknown token {other}"),
                };
                // A VPCId filter, as Resolver applies it.
                let wanted = body["Filters"][0]["Values"][0].as_str().map(str::to_owned);
                let mut page = page;
                if let Some(vpc) = wanted {
                    page["ResolverRuleAssociations"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|a| a["VPCId"] == vpc.as_str());
                    page.as_object_mut().unwrap().remove("NextToken");
                }
                answer(200, page)
            }
            "AssociateResolverRule" => answer(
                500,
                json!({"__type": "InternalServiceErrorException", "message": "try again"}),
            ),
            other => panic!("unexpected {other}"),
        }
    }
}

fn spokes(resolver: &Resolver) -> AssumedRoleSpokes {
    let connector = resolver.clone();
    let home = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("AKID", "secret", None, None, "test"),
        ))
        .http_client(http_client_fn(move |_, _| {
            SharedHttpConnector::new(connector.clone())
        }))
        .build();
    AssumedRoleSpokes::new(
        AccountConfigs::new(home, HUB.into(), "SpokeRole".into()),
        RetryConfig::standard()
            .with_max_attempts(10)
            .with_initial_backoff(std::time::Duration::from_millis(1)),
        Arc::new(Route53Rates::new(1.0, None)),
    )
}

#[tokio::test]
async fn an_accounts_associations_are_read_in_pages_of_100_and_a_few_vpcs_by_filter() {
    let resolver = Resolver::default();
    let spokes = spokes(&resolver);
    let all = spokes
        .rule_associations(HUB, "us-east-1", &[])
        .await
        .unwrap();
    assert_eq!(all.len(), 102);
    let seen = resolver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (op, body) in &seen {
        assert_eq!(op, "ListResolverRuleAssociations");
        assert_eq!(body["MaxResults"], 100);
        assert!(body.get("Filters").is_none());
    }
    assert_eq!(seen[1].1["NextToken"], "t2");
    resolver.seen.lock().unwrap().clear();
    let one = spokes
        .rule_associations(HUB, "us-east-1", &["vpc-00000001".into()])
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].vpc_id, "vpc-00000001");
    let seen = resolver.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].1["Filters"],
        json!([{"Name": "VPCId", "Values": ["vpc-00000001"]}])
    );
}

#[tokio::test]
async fn an_associate_is_sent_once_whatever_the_clients_retries() {
    let resolver = Resolver::default();
    let err = spokes(&resolver)
        .associate_rule(
            HUB,
            "us-east-1",
            "rslvr-rr-0000000000000000a",
            "vpc-00000001",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalServiceErrorException"));
    assert!(err.retryable(), "the caller reads, then may try again");
    let seen = resolver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1["Name"], "privatelink-autopilot");
}
