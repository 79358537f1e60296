//! Adapter tests: the real SDK clients, with responses served by the SDK's own mocks.
#![allow(clippy::unwrap_used)]

use autopilot::endpoint_connections::ec2::{Ec2Connections, IDS_PER_CALL};
use autopilot::endpoint_connections::events::Scope;
use autopilot::endpoint_connections::memory::DynamoMemory;
use autopilot::endpoint_connections::policy::{Policy, Tags};
use autopilot::endpoint_connections::ports::ConnectionApi;
use autopilot::endpoint_connections::run::Acceptor;
use autopilot::ledger::{DynamoLedger, Ledger};
use autopilot::notify::SnsPublisher;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_ec2::operation::accept_vpc_endpoint_connections::AcceptVpcEndpointConnectionsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsOutput;
use aws_sdk_ec2::operation::reject_vpc_endpoint_connections::RejectVpcEndpointConnectionsOutput;
use aws_sdk_ec2::types::{
    State, Tag, UnsuccessfulItem, UnsuccessfulItemError, VpcEndpointConnection,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::retry::RetryConfig;
use std::collections::HashMap;
use std::time::Duration;

const SVC: &str = "vpce-svc-0123456789abcdef0";
const THROTTLED: &str = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r-1</RequestID></Response>";

fn retries(attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1))
}

fn connection(id: &str, owner: &str) -> VpcEndpointConnection {
    VpcEndpointConnection::builder()
        .service_id(SVC)
        .vpc_endpoint_id(id)
        .vpc_endpoint_owner(owner)
        .vpc_endpoint_state(State::from("pendingAcceptance"))
        .tags(Tag::builder().key("team").value("orders").build())
        .build()
}

fn unsuccessful(id: &str, code: &str) -> UnsuccessfulItem {
    UnsuccessfulItem::builder()
        .resource_id(id)
        .error(
            UnsuccessfulItemError::builder()
                .code(code)
                .message("not pending")
                .build(),
        )
        .build()
}

#[tokio::test]
async fn describe_follows_every_page_and_filters_by_service_and_state() {
    let pages = mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_connections)
        .match_requests(|r| {
            let names: Vec<_> = r.filters().iter().filter_map(|f| f.name()).collect();
            names == ["service-id", "vpc-endpoint-state"]
        })
        .sequence()
        .output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection("vpce-1", "111111111111"))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection("vpce-2", "222222222222"))
                .build()
        })
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&pages]);
    let found = Ec2Connections::new(ec2).pending(SVC, &[]).await.unwrap();
    assert_eq!(pages.num_calls(), 2);
    let ids: Vec<_> = found
        .iter()
        .map(|c| (c.endpoint_id.as_str(), c.owner.as_str()))
        .collect();
    assert_eq!(
        ids,
        [("vpce-1", "111111111111"), ("vpce-2", "222222222222")]
    );
    // The connection's own tags are not the consumer endpoint's: not taken for them.
    assert_eq!(found[0].tags, Tags::Unknown);
    assert_eq!(found[0].state, "pendingAcceptance");
}

#[tokio::test]
async fn throttling_is_retried_until_it_succeeds() {
    let throttled = mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_connections)
        .sequence()
        .http_status(503, Some(THROTTLED.into()))
        .times(3)
        .output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection("vpce-1", "111111111111"))
                .build()
        })
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&throttled], |c| c
        .retry_config(retries(5)));
    let found = Ec2Connections::new(ec2)
        .pending(SVC, &["vpce-1".to_owned()])
        .await
        .unwrap();
    assert_eq!(throttled.num_calls(), 4);
    assert_eq!(found.len(), 1);
}

/// A call refused as a whole (throttled past the retries here) makes each of its ids a failure
/// with the call's code; the other pages still go.
#[tokio::test]
async fn a_call_refused_as_a_whole_fails_each_of_its_items_with_its_code() {
    let throttled = mock!(aws_sdk_ec2::Client::accept_vpc_endpoint_connections)
        .sequence()
        .http_status(503, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&throttled], |c| c
        .retry_config(retries(3)));
    let failures = Ec2Connections::new(ec2)
        .accept(SVC, &["vpce-1".into(), "vpce-2".into()])
        .await
        .unwrap();
    assert_eq!(throttled.num_calls(), 3);
    let codes: Vec<_> = failures
        .iter()
        .map(|f| (f.resource_id.as_str(), f.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("vpce-1", "RequestLimitExceeded"),
            ("vpce-2", "RequestLimitExceeded")
        ]
    );
}

#[tokio::test]
async fn a_refusal_is_final() {
    let denied = mock!(aws_sdk_ec2::Client::reject_vpc_endpoint_connections).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>",
            ),
        )
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&denied], |c| c
        .retry_config(retries(3)));
    let failures = Ec2Connections::new(ec2)
        .reject(SVC, &["vpce-1".into()])
        .await
        .unwrap();
    assert_eq!(denied.num_calls(), 1, "not retried");
    assert_eq!(failures[0].code, "UnauthorizedOperation");
}

#[tokio::test]
async fn ids_go_in_pages_and_unsuccessful_items_come_back() {
    let accept = mock!(aws_sdk_ec2::Client::accept_vpc_endpoint_connections)
        .match_requests(|r| r.service_id() == Some(SVC))
        .then_compute_output(|r| {
            let ids = r.vpc_endpoint_ids();
            assert!(ids.len() <= IDS_PER_CALL);
            let mut out = AcceptVpcEndpointConnectionsOutput::builder();
            if ids.contains(&"vpce-42".to_string()) {
                out = out.unsuccessful(unsuccessful("vpce-42", "IncorrectState"));
            }
            out.build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&accept]);
    let ids: Vec<String> = (0..250).map(|i| format!("vpce-{i}")).collect();
    let failures = Ec2Connections::new(ec2).accept(SVC, &ids).await.unwrap();
    assert_eq!(accept.num_calls(), 3);
    assert_eq!(failures.len(), 1);
    assert_eq!(
        (failures[0].resource_id.as_str(), failures[0].code.as_str()),
        ("vpce-42", "IncorrectState")
    );
}

fn pk_of(item: &HashMap<String, AttributeValue>) -> String {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn ledger_reads_in_batches_of_100_and_forgets_expired_memories() {
    let get = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_compute_output(|r| {
        let keys = r.request_items().unwrap()["t"].keys();
        assert!(keys.len() <= 100, "{} keys in one call", keys.len());
        let items = keys
            .iter()
            .filter_map(|k| {
                let key = pk_of(k);
                let expires = match key.as_str() {
                    "fresh" => u64::MAX / 2,
                    "expired" => 1,
                    k if k.starts_with("known-") => u64::MAX / 2,
                    _ => return None,
                };
                Some(HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(key)),
                    (
                        "expires_at".to_owned(),
                        AttributeValue::N(expires.to_string()),
                    ),
                ]))
            })
            .collect();
        BatchGetItemOutput::builder().responses("t", items).build()
    });
    let db = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get]);
    let ledger = DynamoLedger::new(db, "t", Duration::from_secs(3600));
    let keys = ["fresh", "expired", "never"].map(String::from);
    assert_eq!(ledger.unseen(&keys).await.unwrap(), ["expired", "never"]);
    let many: Vec<String> = (0..250).map(|i| format!("known-{i}")).collect();
    assert!(ledger.unseen(&many).await.unwrap().is_empty());
    assert_eq!(get.num_calls(), 1 + 3);
}

/// What DynamoDB leaves unprocessed is sent again, and writes go 25 at a time.
#[tokio::test]
async fn unprocessed_items_and_keys_are_retried() {
    let write = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .sequence()
        .output(|| {
            let put = PutRequest::builder()
                .item("pk", AttributeValue::S("k-3".into()))
                .build()
                .unwrap();
            BatchWriteItemOutput::builder()
                .unprocessed_items("t", vec![WriteRequest::builder().put_request(put).build()])
                .build()
        })
        .output(|| BatchWriteItemOutput::builder().build())
        .times(2)
        .build();
    let get = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .sequence()
        .output(|| {
            let left = KeysAndAttributes::builder()
                .keys(HashMap::from([(
                    "pk".to_owned(),
                    AttributeValue::S("k-2".into()),
                )]))
                .build()
                .unwrap();
            BatchGetItemOutput::builder()
                .unprocessed_keys("t", left)
                .build()
        })
        .output(|| BatchGetItemOutput::builder().build())
        .build();
    let db = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&write, &get]);
    let ledger = DynamoLedger::new(db, "t", Duration::from_secs(3600));
    let keys: Vec<String> = (0..30).map(|i| format!("k-{i}")).collect();
    ledger.remember(&keys).await.unwrap();
    // 30 keys: 25 (one left unprocessed, sent again), then 5.
    assert_eq!(write.num_calls(), 3);
    assert_eq!(ledger.unseen(&keys[..3]).await.unwrap().len(), 3);
    assert_eq!(get.num_calls(), 2);
}

/// Unsuccessful items are announced with AWS's reason and fail the invocation so Lambda retries.
#[tokio::test]
async fn unapplied_decisions_are_announced_and_fail_the_run() {
    let describe =
        mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_connections).then_output(|| {
            DescribeVpcEndpointConnectionsOutput::builder()
                .vpc_endpoint_connections(connection("vpce-ok", "111111111111"))
                .vpc_endpoint_connections(connection("vpce-gone", "111111111111"))
                .vpc_endpoint_connections(connection("vpce-stranger", "999999999999"))
                .build()
        });
    let accept = mock!(aws_sdk_ec2::Client::accept_vpc_endpoint_connections)
        .match_requests(|r| r.vpc_endpoint_ids() == ["vpce-ok", "vpce-gone"])
        .then_output(|| {
            AcceptVpcEndpointConnectionsOutput::builder()
                .unsuccessful(unsuccessful("vpce-gone", "InvalidVpcEndpointId.NotFound"))
                .build()
        });
    let reject = mock!(aws_sdk_ec2::Client::reject_vpc_endpoint_connections)
        .match_requests(|r| r.vpc_endpoint_ids() == ["vpce-stranger"])
        .then_output(|| RejectVpcEndpointConnectionsOutput::builder().build());
    let get = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .then_output(|| BatchGetItemOutput::builder().build());
    let write = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .then_output(|| BatchWriteItemOutput::builder().build());
    // The lock that keeps one run applying at a time: its generation read, taken
    // conditionally, given back one generation on.
    let generation = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
    let lock = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.update_expression() == Some("SET holder = :holder, lease_until = :until")
                && r.expression_attribute_values()
                    .and_then(|v| v.get(":seen"))
                    .and_then(|v| v.as_n().ok())
                    .is_some_and(|n| n == "0")
        })
        .then_output(|| {
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder().build()
        });
    let unlock = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| r.condition_expression() == Some("holder = :holder"))
        .then_output(|| {
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder().build()
        });
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            let doc: serde_json::Value =
                serde_json::from_str(r.message().unwrap_or_default()).unwrap();
            let text = doc["content"]["description"].as_str().unwrap_or_default();
            doc["content"]["title"]
                == "PrivateLink connections: 1 accept failed, 1 accepted, 1 rejected"
                && text.contains("AWS said InvalidVpcEndpointId.NotFound")
                && r.message_attributes()
                    .and_then(|a| a.get("severity"))
                    .and_then(|v| v.string_value())
                    == Some("warning")
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build());

    let acceptor = Acceptor {
        connections: Ec2Connections::new(mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            [&describe, &accept, &reject]
        )),
        ledger: DynamoLedger::new(
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &write]),
            "t",
            Duration::from_secs(3600),
        ),
        memory: DynamoMemory::new(
            mock_client!(
                aws_sdk_dynamodb,
                RuleMode::MatchAny,
                [&get, &write, &generation, &lock, &unlock]
            ),
            "t",
        ),
        publisher: SnsPublisher::new(
            mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]),
            "arn:aws:sns:us-east-1:1:t",
        ),
        dry_run: false,
    };
    let policy = Policy::parse(&format!(
        r#"{{"version":1,"services":{{"{SVC}":{{"allow":[{{"accounts":["111111111111"]}}],"otherwise":"reject"}}}}}}"#
    ));
    let err = acceptor.run(policy, Scope::All).await.unwrap_err();
    assert_eq!(
        (generation.num_calls(), lock.num_calls(), unlock.num_calls()),
        (1, 1, 1)
    );
    assert_eq!(err.kind(), "Unapplied");
    assert!(err.retryable());
    assert!(
        err.to_string()
            .contains("vpce-gone (InvalidVpcEndpointId.NotFound"),
        "{err}"
    );
    assert_eq!(
        (accept.num_calls(), reject.num_calls(), publish.num_calls()),
        (1, 1, 1)
    );
    // Outbox read and ledger read; outbox written, the failure remembered, outbox cleared.
    assert_eq!((get.num_calls(), write.num_calls()), (2, 3));
}
