//! Adapter tests: the real SDK clients, with responses served by the SDK's own mocks.
#![allow(clippy::unwrap_used)]

use autopilot::endpoint_connections::ec2::{ConsumerRoles, Ec2Connections, IDS_PER_CALL};
use autopilot::endpoint_connections::events::Scope;
use autopilot::endpoint_connections::memory::DynamoMemory;
use autopilot::endpoint_connections::policy::{Action, Policy, Tags};
use autopilot::endpoint_connections::ports::{ConnectionApi, Entries, Entry, Memory};
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
        consumers: None::<ConsumerRoles>,
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

/// DynamoDB as the outbox sees it: items kept by `pk`, any item over 400 KB refused as DynamoDB
/// refuses it (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items>:
/// attribute names and values count).
#[derive(Clone, Default)]
struct Table(std::sync::Arc<std::sync::Mutex<HashMap<String, HashMap<String, AttributeValue>>>>);

const DYNAMODB_MAX_ITEM_BYTES: usize = 400 * 1024;

fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    _ => 8,
                }
        })
        .sum()
}

impl Table {
    fn client(&self) -> aws_sdk_dynamodb::Client {
        let (writes, reads) = (self.clone(), self.clone());
        let write = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_response(
            move |r| {
                let requests = &r.request_items().unwrap()["t"];
                assert!(requests.len() <= 25, "{} writes in one call", requests.len());
                if let Some(big) = requests
                    .iter()
                    .filter_map(|w| w.put_request())
                    .find(|p| item_bytes(p.item()) > DYNAMODB_MAX_ITEM_BYTES)
                {
                    return aws_smithy_mocks::MockResponse::Http(
                        aws_smithy_runtime_api::http::Response::new(
                            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                            aws_smithy_types::body::SdkBody::from(format!(
                                r#"{{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Item size has exceeded the maximum allowed size ({} bytes)"}}"#,
                                item_bytes(big.item())
                            )),
                        ),
                    );
                }
                let mut table = writes.0.lock().unwrap();
                for w in requests {
                    if let Some(put) = w.put_request() {
                        table.insert(pk_of(put.item()), put.item().clone());
                    }
                    if let Some(delete) = w.delete_request() {
                        table.remove(&pk_of(delete.key()));
                    }
                }
                aws_smithy_mocks::MockResponse::Output(BatchWriteItemOutput::builder().build())
            },
        );
        let get = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_compute_output(move |r| {
            let keys = r.request_items().unwrap()["t"].keys();
            assert!(keys.len() <= 100, "{} keys in one call", keys.len());
            let table = reads.0.lock().unwrap();
            let items = keys
                .iter()
                .filter_map(|k| table.get(&pk_of(k)).cloned())
                .collect();
            BatchGetItemOutput::builder().responses("t", items).build()
        });
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&write, &get])
    }

    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.0.lock().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }
}

fn entries(service: &str, count: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| Entry {
            endpoint_id: format!("vpce-{i:017x}"),
            owner: "111111111111".into(),
            vpc_id: Some(format!("vpc-{i:017x}")),
            action: Action::Accept,
            reason: format!("rule 1 (orders, the team's production consumers of {service}) allows account 111111111111"),
        })
        .collect()
}

/// 10,000 decisions on one service are written down in parts DynamoDB takes (one item would
/// be over 2 MB and refused, failing every sweep), read back whole and in order, and cleared.
#[tokio::test]
async fn a_service_with_ten_thousand_decisions_is_written_down_in_parts_dynamodb_takes() {
    let table = Table::default();
    let memory = DynamoMemory::new(table.client(), "t");
    let big = entries("vpce-svc-0big", 10_000);
    let written = Entries::from([
        ("vpce-svc-0big".to_owned(), big.clone()),
        ("vpce-svc-0small".to_owned(), entries("vpce-svc-0small", 2)),
    ]);
    memory.write_ahead(&written).await.unwrap();
    let keys = table.keys();
    assert!(keys.len() > 6, "{keys:?}");
    assert!(keys.contains(&"outbox#vpce-svc-0big#2".to_owned()));

    // A later run (another execution environment) reads them back as they were.
    let reader = DynamoMemory::new(table.client(), "t");
    let services = ["vpce-svc-0big", "vpce-svc-0small", "vpce-svc-0none"].map(String::from);
    assert_eq!(reader.left(&services).await.unwrap(), written);
    reader.clear(&services).await.unwrap();
    assert!(table.keys().is_empty(), "{:?}", table.keys());
}

/// A record rewritten with fewer parts is read as the new write alone: an old write's part
/// left behind carries another mark and is never read as this one's.
#[tokio::test]
async fn parts_of_an_earlier_write_are_not_read_as_the_later_ones() {
    let table = Table::default();
    let memory = DynamoMemory::new(table.client(), "t");
    let service = "vpce-svc-0a".to_owned();
    memory
        .write_ahead(&Entries::from([(
            service.clone(),
            entries(&service, 6_000),
        )]))
        .await
        .unwrap();
    let three = table.keys().len();
    assert!(three >= 3, "{:?}", table.keys());
    // The next write has one part; the process that wrote three is gone (nothing cleared).
    let small = Entries::from([(service.clone(), entries(&service, 5))]);
    let next = DynamoMemory::new(table.client(), "t");
    next.write_ahead(&small).await.unwrap();
    assert_eq!(table.keys().len(), three, "the old parts are still there");
    assert_eq!(
        next.left(std::slice::from_ref(&service)).await.unwrap(),
        small
    );

    // A record whose second part is another write's: that part is skipped, the rest read.
    let mixed = DynamoMemory::new(table.client(), "t");
    mixed
        .write_ahead(&Entries::from([(
            service.clone(),
            entries(&service, 6_000),
        )]))
        .await
        .unwrap();
    table
        .0
        .lock()
        .unwrap()
        .get_mut(&format!("outbox#{service}#2"))
        .unwrap()
        .insert("mark".into(), AttributeValue::S("another".into()));
    let read = mixed.left(std::slice::from_ref(&service)).await.unwrap();
    assert!(read[&service].len() < 6_000 && !read[&service].is_empty());
}

fn notification(n: usize) -> autopilot::notify::Notification {
    autopilot::notify::Notification {
        id: format!("n-{n}"),
        event_type: autopilot::notify::EventType::EndpointConnectionDecisions,
        severity: autopilot::notify::Severity::Info,
        title: format!("part {n}"),
        description: "x".repeat(100),
        next_steps: vec![],
        keywords: vec![],
        thread_id: Some("t".into()),
        summary: format!("part {n}"),
        related_resources: vec![],
        context: Default::default(),
    }
}

/// A run's many messages go out ten to a `PublishBatch` call, in order; an entry SNS reports
/// failed is sent again once, and one that fails again fails the call with SNS's code.
#[tokio::test]
async fn many_notifications_go_out_in_batches_and_a_failed_entry_is_sent_again_once() {
    use autopilot::notify::Publisher;
    use aws_sdk_sns::operation::publish_batch::PublishBatchOutput;
    use aws_sdk_sns::types::BatchResultErrorEntry;
    let failure = |id: &str| {
        BatchResultErrorEntry::builder()
            .id(id)
            .code("InternalError")
            .message("try again")
            .sender_fault(false)
            .build()
            .unwrap()
    };
    let titles = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<String>>::new()));
    let seen = titles.clone();
    // The first call: one entry (the fourth) failed; every other call takes everything.
    let first = mock!(aws_sdk_sns::Client::publish_batch)
        .match_requests(move |r| {
            seen.lock().unwrap().push(
                r.publish_batch_request_entries()
                    .iter()
                    .map(|e| e.subject().unwrap_or_default().to_owned())
                    .collect(),
            );
            true
        })
        .sequence()
        .output(move || PublishBatchOutput::builder().failed(failure("m-3")).build())
        .output(|| PublishBatchOutput::builder().build())
        .times(4)
        .build();
    let sns = SnsPublisher::new(
        mock_client!(aws_sdk_sns, RuleMode::Sequential, [&first]),
        "arn:aws:sns:us-east-1:1:t",
    );
    let notes: Vec<_> = (0..23).map(notification).collect();
    sns.publish_all(&notes).await.unwrap();
    let sent = titles.lock().unwrap().clone();
    let sizes: Vec<usize> = sent.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [10, 1, 10, 3],
        "ten to a call; the failed one again on its own"
    );
    assert!(sent[1][0].contains("part 3"), "{sent:?}");

    // An entry that fails twice fails the call, with SNS's code.
    let always = mock!(aws_sdk_sns::Client::publish_batch)
        .match_requests(|_| true)
        .then_output(move || PublishBatchOutput::builder().failed(failure("m-0")).build());
    let sns = SnsPublisher::new(
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&always]),
        "arn:aws:sns:us-east-1:1:t",
    );
    let err = sns.publish_all(&notes[..2]).await.unwrap_err();
    assert_eq!(err.code(), Some("InternalError"), "{err}");
    assert_eq!(always.num_calls(), 2);
}
