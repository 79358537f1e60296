//! The availability-zone audit's adapters over the real SDK clients: the findings table
//! (DynamoDB) and the estate (EC2 and ELBv2 in the provider, EC2 in the consumers).
//!
//! The provider's clients are served by the SDK's own mocks. Consumers are reached through
//! `AccountConfigs`, which builds their clients from an `SdkConfig`: that carries an HTTP client but
//! no interceptor, so consumer accounts (and STS, for the cross-account role) answer here over HTTP
//! with the XML EC2 and STS send.
#![allow(clippy::unwrap_used, clippy::panic)]

use autopilot::accounts::AccountConfigs;
use autopilot::availability_zones::analysis::{
    AzFinding, Check, CrossZone, Endpoint, LoadBalancer, Service, Snapshot, Target, TargetGroup,
};
use autopilot::availability_zones::estate::AwsEstate;
use autopilot::availability_zones::findings::DynamoFindings;
use autopilot::availability_zones::ports::{AuditScope, Estate, FindingsStore, OpenFinding};
use autopilot::notify::Severity;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_service_configurations::DescribeVpcEndpointServiceConfigurationsOutput;
use aws_sdk_ec2::types::{
    AvailabilityZone as Ec2Zone, Instance, Placement, Reservation, ServiceConfiguration, Subnet,
    VpcEndpointConnection,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    AvailabilityZone as ElbZone, LoadBalancer as ElbLoadBalancer, LoadBalancerAttribute,
    TargetDescription, TargetGroup as ElbTargetGroup, TargetGroupAttribute, TargetHealth,
    TargetHealthDescription, TargetHealthStateEnum,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TABLE: &str = "az-findings";

fn retries(attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1))
}

/// An error as DynamoDB's JSON protocol sends it.
fn dynamo_refusal(code: &str, message: &str) -> Response {
    let body =
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}"#);
    Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn item(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), s(v))).collect()
}

fn finding() -> AzFinding {
    AzFinding {
        fingerprint: "blackhole:tg-1:use1-az2".into(),
        check: Check::Blackhole,
        severity: Severity::Critical,
        service_id: "vpce-svc-1".into(),
        resource: "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/tg-1/1".into(),
        title: "No healthy target in use1-az2".into(),
        evidence: BTreeMap::from([("az_id".into(), "use1-az2".into())]),
        fix: "Register a target in use1-az2.".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The findings table
// ---------------------------------------------------------------------------------------------

/// A strongly consistent Scan of the table, followed page by page (each next page starting at the
/// previous one's LastEvaluatedKey), every item read into an `OpenFinding`.
#[tokio::test]
async fn open_findings_are_scanned_consistently_across_every_page() {
    let first = mock!(aws_sdk_dynamodb::Client::scan)
        .match_requests(|r| {
            r.table_name() == Some(TABLE)
                && r.consistent_read() == Some(true)
                && r.exclusive_start_key().is_none()
        })
        .then_output(|| {
            ScanOutput::builder()
                .items(item(&[
                    ("pk", "skew:tg-1"),
                    ("service_id", "vpce-svc-1"),
                    ("severity", "warning"),
                    ("title", "Targets skewed"),
                    ("resource", "tg-1"),
                ]))
                .items(item(&[
                    ("pk", "blackhole:tg-2:use1-az2"),
                    ("service_id", "vpce-svc-2"),
                    ("severity", "critical"),
                    ("title", "No healthy target"),
                    ("resource", "tg-2"),
                ]))
                .last_evaluated_key("pk", s("blackhole:tg-2:use1-az2"))
                .build()
        });
    let second = mock!(aws_sdk_dynamodb::Client::scan)
        .match_requests(|r| {
            r.table_name() == Some(TABLE)
                && r.consistent_read() == Some(true)
                && r.exclusive_start_key() == Some(&item(&[("pk", "blackhole:tg-2:use1-az2")]))
        })
        .then_output(|| {
            ScanOutput::builder()
                // An item written by an older version: no severity we know, no resource.
                .items(item(&[
                    ("pk", "cross-zone-on:nlb-1"),
                    ("service_id", "*"),
                    ("severity", "urgent"),
                    ("title", "Cross-zone on"),
                ]))
                .build()
        });
    let db = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&first, &second]);
    let open = DynamoFindings::new(db, TABLE).open().await.unwrap();
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!(
        open,
        [
            OpenFinding {
                fingerprint: "skew:tg-1".into(),
                service_id: "vpce-svc-1".into(),
                severity: Severity::Warning,
                title: "Targets skewed".into(),
                resource: "tg-1".into(),
            },
            OpenFinding {
                fingerprint: "blackhole:tg-2:use1-az2".into(),
                service_id: "vpce-svc-2".into(),
                severity: Severity::Critical,
                title: "No healthy target".into(),
                resource: "tg-2".into(),
            },
            OpenFinding {
                fingerprint: "cross-zone-on:nlb-1".into(),
                service_id: "*".into(),
                severity: Severity::Info,
                title: "Cross-zone on".into(),
                resource: String::new(),
            },
        ]
    );
}

#[tokio::test]
async fn an_empty_table_has_no_open_findings() {
    let scan = mock!(aws_sdk_dynamodb::Client::scan).then_output(|| ScanOutput::builder().build());
    let db = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&scan]);
    let open = DynamoFindings::new(db, TABLE).open().await.unwrap();
    assert!(open.is_empty());
    assert_eq!(scan.num_calls(), 1);
}

/// Opening a finding writes one item keyed by its fingerprint, with what a resolution needs.
#[tokio::test]
async fn an_opened_finding_is_written_under_its_fingerprint() {
    let f = finding();
    let expected = item(&[
        ("pk", &f.fingerprint),
        ("service_id", &f.service_id),
        ("severity", "critical"),
        ("title", &f.title),
        ("resource", &f.resource),
    ]);
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(move |r| r.table_name() == Some(TABLE) && r.item() == Some(&expected))
        .then_output(|| PutItemOutput::builder().build());
    let db = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put]);
    DynamoFindings::new(db, TABLE).remember(&f).await.unwrap();
    assert_eq!(put.num_calls(), 1);
}

/// Resolving a finding deletes the item keyed by its fingerprint, and nothing else.
#[tokio::test]
async fn a_resolved_finding_is_deleted_by_its_fingerprint() {
    let delete = mock!(aws_sdk_dynamodb::Client::delete_item)
        .match_requests(|r| {
            r.table_name() == Some(TABLE) && r.key() == Some(&item(&[("pk", "skew:tg-1")]))
        })
        .then_output(|| DeleteItemOutput::builder().build());
    let db = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&delete]);
    DynamoFindings::new(db, TABLE)
        .forget("skew:tg-1")
        .await
        .unwrap();
    assert_eq!(delete.num_calls(), 1);
}

/// Throttling that outlasts the SDK's retries is retryable, with DynamoDB's code; a page that fails
/// fails the read (no partial list of open findings).
#[tokio::test]
async fn a_scan_throttled_past_the_retries_is_a_retryable_error() {
    let first = mock!(aws_sdk_dynamodb::Client::scan)
        .match_requests(|r| r.exclusive_start_key().is_none())
        .then_output(|| {
            ScanOutput::builder()
                .items(item(&[("pk", "a")]))
                .last_evaluated_key("pk", s("a"))
                .build()
        });
    let throttled = mock!(aws_sdk_dynamodb::Client::scan)
        .match_requests(|r| r.exclusive_start_key().is_some())
        .then_http_response(|| {
            dynamo_refusal(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )
        });
    let db = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&first, &throttled],
        |c| c.retry_config(retries(3))
    );
    let err = DynamoFindings::new(db, TABLE).open().await.unwrap_err();
    assert_eq!(throttled.num_calls(), 3, "the SDK retried the page");
    assert_eq!(err.code(), Some("ProvisionedThroughputExceededException"));
    assert!(err.retryable());
    assert_eq!(err.kind(), "AwsTransient");
    assert!(err.to_string().starts_with("dynamodb:Scan: "), "{err}");
}

/// A missing table or a refusal is final, named by the call that failed.
#[tokio::test]
async fn a_missing_table_or_a_refusal_is_final() {
    let missing = mock!(aws_sdk_dynamodb::Client::put_item).then_http_response(|| {
        dynamo_refusal("ResourceNotFoundException", "Requested resource not found")
    });
    let denied = mock!(aws_sdk_dynamodb::Client::delete_item).then_http_response(|| {
        dynamo_refusal(
            "AccessDeniedException",
            "User is not authorized to perform: dynamodb:DeleteItem",
        )
    });
    let db = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&missing, &denied],
        |c| c.retry_config(retries(3))
    );
    let store = DynamoFindings::new(db, TABLE);

    let err = store.remember(&finding()).await.unwrap_err();
    assert_eq!(missing.num_calls(), 1, "not retried");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert!(!err.retryable());
    assert_eq!(err.kind(), "Aws");
    assert!(err.to_string().starts_with("dynamodb:PutItem: "), "{err}");

    let err = store.forget("skew:tg-1").await.unwrap_err();
    assert_eq!(denied.num_calls(), 1, "not retried");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(!err.retryable());
    assert!(
        err.to_string().starts_with("dynamodb:DeleteItem: "),
        "{err}"
    );
    assert!(
        err.to_string().contains("not authorized to perform"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// The estate
// ---------------------------------------------------------------------------------------------

const HOME: &str = "111111111111";
const CONSUMER: &str = "222222222222";
const LOCKED: &str = "333333333333";
const ROLE: &str = "AuditReadRole";
const REGION: &str = "us-east-1";
const SVC: &str = "vpce-svc-0aaa";
const OTHER_SVC: &str = "vpce-svc-0bbb";
const NLB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/a/1";
const OTHER_NLB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/b/2";
const TG_APP: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/app/1";
const TG_ON: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/on/2";
const TG_OFF: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/off/3";

/// One consumer account as EC2 describes it (names as that account sees them).
#[derive(Clone, Debug, Default)]
struct ConsumerAccount {
    /// AZ name → AZ ID.
    zones: Vec<(&'static str, &'static str)>,
    /// Endpoint id, VPC id, subnet ids.
    endpoints: Vec<(&'static str, &'static str, Vec<&'static str>)>,
    /// Subnet id, VPC id, AZ name.
    subnets: Vec<(&'static str, &'static str, &'static str)>,
}

/// One request a consumer account (or STS) received.
#[derive(Debug, Clone)]
struct Call {
    /// The account whose credentials signed the request.
    account: String,
    action: String,
    params: BTreeMap<String, String>,
}

/// Consumer accounts and STS over HTTP. Requests signed with the home credentials are the home
/// account's; `AssumeRole` hands out keys named after the role's account, so every later request
/// says which account it was made in.
#[derive(Clone, Default, Debug)]
struct ConsumerWorld {
    accounts: Arc<BTreeMap<String, ConsumerAccount>>,
    denied: Arc<BTreeSet<String>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

const HOME_KEY: &str = "AKIDHOME";

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn xml_response(status: u16, body: String) -> Response {
    Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

const EC2_NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

impl ConsumerWorld {
    fn answer(&self, request: &HttpRequest) -> Response {
        let body = std::str::from_utf8(request.body().bytes().unwrap_or_default()).unwrap();
        let params: BTreeMap<String, String> = body
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        let key = request
            .headers()
            .get("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').next())
            .unwrap_or_default()
            .to_owned();
        let account = if key == HOME_KEY {
            HOME.to_owned()
        } else {
            key.trim_start_matches("ASIA").to_owned()
        };
        let action = params.get("Action").cloned().unwrap_or_default();
        self.calls.lock().unwrap().push(Call {
            account: account.clone(),
            action: action.clone(),
            params: params.clone(),
        });
        if action == "AssumeRole" {
            return self.assume_role(&params);
        }
        let world = &self.accounts[&account];
        let list = |name: &str| -> Vec<String> {
            (1..)
                .map_while(|i| params.get(&format!("{name}.{i}")).cloned())
                .collect()
        };
        let body = match action.as_str() {
            "DescribeAvailabilityZones" => {
                let items: String = world
                    .zones
                    .iter()
                    .map(|(name, id)| {
                        format!("<item><zoneName>{name}</zoneName><zoneId>{id}</zoneId></item>")
                    })
                    .collect();
                format!(
                    "<DescribeAvailabilityZonesResponse xmlns=\"{EC2_NS}\"><requestId>r</requestId><availabilityZoneInfo>{items}</availabilityZoneInfo></DescribeAvailabilityZonesResponse>"
                )
            }
            "DescribeVpcEndpoints" => {
                let ids = list("VpcEndpointId");
                let items: String = world
                    .endpoints
                    .iter()
                    .filter(|(id, _, _)| ids.iter().any(|i| i == id))
                    .map(|(id, vpc, subnets)| {
                        let subnets: String = subnets
                            .iter()
                            .map(|s| format!("<item>{s}</item>"))
                            .collect();
                        format!(
                            "<item><vpcEndpointId>{id}</vpcEndpointId><vpcId>{vpc}</vpcId><subnetIdSet>{subnets}</subnetIdSet></item>"
                        )
                    })
                    .collect();
                format!(
                    "<DescribeVpcEndpointsResponse xmlns=\"{EC2_NS}\"><requestId>r</requestId><vpcEndpointSet>{items}</vpcEndpointSet></DescribeVpcEndpointsResponse>"
                )
            }
            "DescribeSubnets" => {
                assert_eq!(
                    params.get("Filter.1.Name").map(String::as_str),
                    Some("vpc-id")
                );
                let vpc = params.get("Filter.1.Value.1").cloned().unwrap_or_default();
                let items: String = world
                    .subnets
                    .iter()
                    .filter(|(_, v, _)| *v == vpc)
                    .map(|(id, v, az)| {
                        format!(
                            "<item><subnetId>{id}</subnetId><vpcId>{v}</vpcId><availabilityZone>{az}</availabilityZone></item>"
                        )
                    })
                    .collect();
                format!(
                    "<DescribeSubnetsResponse xmlns=\"{EC2_NS}\"><requestId>r</requestId><subnetSet>{items}</subnetSet></DescribeSubnetsResponse>"
                )
            }
            other => panic!("unexpected consumer call {other}"),
        };
        xml_response(200, body)
    }

    fn assume_role(&self, params: &BTreeMap<String, String>) -> Response {
        let arn = params.get("RoleArn").cloned().unwrap_or_default();
        let account = arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_default()
            .to_owned();
        if self.denied.contains(&account) {
            return xml_response(
                403,
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>r</RequestId></ErrorResponse>".into(),
            );
        }
        xml_response(
            200,
            format!(
                "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIA{account}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{ROLE}/privatelink-autopilot</Arn><AssumedRoleId>AROA:privatelink-autopilot</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"
            ),
        )
    }

    fn http_client(&self) -> SharedHttpClient {
        let world = self.clone();
        http_client_fn(move |_, _| SharedHttpConnector::new(world.clone()))
    }

    /// The home account's configuration, as the function loads it, over this world (with the SDK's
    /// fixed test clock, which the role's provider needs).
    fn home_config(&self) -> aws_config::SdkConfig {
        let clock = aws_sdk_ec2::Config::builder()
            .with_test_defaults_v2()
            .build()
            .time_source();
        let mut config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
                aws_sdk_ec2::config::Credentials::new(HOME_KEY, "secret", None, None, "test"),
            ))
            .http_client(self.http_client())
            .retry_config(retries(2));
        config.set_time_source(clock);
        config.build()
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl HttpConnector for ConsumerWorld {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(self.answer(&request)))
    }
}

fn ec2_zone(name: &str, id: &str) -> Ec2Zone {
    Ec2Zone::builder().zone_name(name).zone_id(id).build()
}

fn filter_values(filters: &[aws_sdk_ec2::types::Filter]) -> Vec<(String, Vec<String>)> {
    filters
        .iter()
        .map(|f| (f.name().unwrap_or_default().to_owned(), f.values().to_vec()))
        .collect()
}

fn health(id: &str, az: Option<&str>, state: TargetHealthStateEnum) -> TargetHealthDescription {
    TargetHealthDescription::builder()
        .target(
            TargetDescription::builder()
                .id(id)
                .port(443)
                .set_availability_zone(az.map(str::to_owned))
                .build(),
        )
        .target_health(TargetHealth::builder().state(state).build())
        .build()
}

fn tg_cross_zone(value: &str) -> DescribeTargetGroupAttributesOutput {
    DescribeTargetGroupAttributesOutput::builder()
        .attributes(
            TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value("300")
                .build(),
        )
        .attributes(
            TargetGroupAttribute::builder()
                .key("load_balancing.cross_zone.enabled")
                .value(value)
                .build(),
        )
        .build()
}

/// The provider's EC2: two services (only `SVC` in scope), its AZs, the instance and subnets
/// `locate` asks about, and `SVC`'s live connections over two pages.
fn provider_ec2(
    connection_pages: Vec<Vec<(&'static str, &'static str)>>,
) -> (Vec<Rule>, Rule, Rule) {
    let zones = mock!(aws_sdk_ec2::Client::describe_availability_zones).then_output(|| {
        DescribeAvailabilityZonesOutput::builder()
            .availability_zones(ec2_zone("us-east-1a", "use1-az1"))
            .availability_zones(ec2_zone("us-east-1b", "use1-az2"))
            .availability_zones(ec2_zone("us-east-1c", "use1-az3"))
            .build()
    });
    let services = mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_service_configurations)
        .then_output(|| {
            DescribeVpcEndpointServiceConfigurationsOutput::builder()
                .service_configurations(
                    ServiceConfiguration::builder()
                        .service_id(SVC)
                        .network_load_balancer_arns(NLB)
                        .build(),
                )
                .service_configurations(
                    ServiceConfiguration::builder()
                        .service_id(OTHER_SVC)
                        .network_load_balancer_arns(OTHER_NLB)
                        .build(),
                )
                .build()
        });
    // Only the instance whose AZ the health description left out is looked up.
    let instances = mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(|r| r.instance_ids() == ["i-0aaa"])
        .then_output(|| {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(
                            Instance::builder()
                                .instance_id("i-0aaa")
                                .placement(
                                    Placement::builder().availability_zone("us-east-1a").build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let subnets = mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
        DescribeSubnetsOutput::builder()
            .subnets(
                Subnet::builder()
                    .subnet_id("subnet-pa")
                    .cidr_block("10.0.1.0/24")
                    .availability_zone("us-east-1a")
                    .build(),
            )
            .subnets(
                Subnet::builder()
                    .subnet_id("subnet-pb")
                    .cidr_block("10.0.2.0/24")
                    .availability_zone("us-east-1b")
                    .build(),
            )
            .build()
    });
    // Page n+1 is asked for with the token page n returned ("page-2", "page-3", ...).
    let n = connection_pages.len();
    let pages = mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_connections)
        .match_requests(|r| {
            filter_values(r.filters())
                == [
                    ("service-id".to_owned(), vec![SVC.to_owned()]),
                    (
                        "vpc-endpoint-state".to_owned(),
                        vec!["available".to_owned()],
                    ),
                ]
        })
        .then_compute_output(move |r| {
            let index = r
                .next_token()
                .map_or(0, |t| t["page-".len()..].parse::<usize>().unwrap() - 1);
            let mut out = DescribeVpcEndpointConnectionsOutput::builder();
            for (id, owner) in &connection_pages[index] {
                out = out.vpc_endpoint_connections(
                    VpcEndpointConnection::builder()
                        .service_id(SVC)
                        .vpc_endpoint_id(*id)
                        .vpc_endpoint_owner(*owner)
                        .build(),
                );
            }
            out.set_next_token((index + 1 < n).then(|| format!("page-{}", index + 2)))
                .build()
        });
    (
        vec![zones, services, instances.clone(), subnets],
        instances,
        pages,
    )
}

/// The provider's ELBv2: `NLB` in two AZs with cross-zone off, three target groups (inherit, on,
/// off) and their targets.
fn provider_elb() -> Vec<Rule> {
    let lbs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers)
        .match_requests(|r| r.load_balancer_arns() == [NLB])
        .then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    ElbLoadBalancer::builder()
                        .load_balancer_arn(NLB)
                        .availability_zones(
                            ElbZone::builder()
                                .zone_name("us-east-1a")
                                .subnet_id("subnet-pa")
                                .build(),
                        )
                        .availability_zones(
                            ElbZone::builder()
                                .zone_name("us-east-1b")
                                .subnet_id("subnet-pb")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let lb_attrs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancer_attributes)
        .match_requests(|r| r.load_balancer_arn() == Some(NLB))
        .then_output(|| {
            DescribeLoadBalancerAttributesOutput::builder()
                .attributes(
                    LoadBalancerAttribute::builder()
                        .key("deletion_protection.enabled")
                        .value("true")
                        .build(),
                )
                .attributes(
                    LoadBalancerAttribute::builder()
                        .key("load_balancing.cross_zone.enabled")
                        .value("false")
                        .build(),
                )
                .build()
        });
    let groups = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
        .match_requests(|r| r.load_balancer_arn() == Some(NLB))
        .then_output(|| {
            let tg = |arn: &str| {
                ElbTargetGroup::builder()
                    .target_group_arn(arn)
                    .load_balancer_arns(NLB)
                    .build()
            };
            DescribeTargetGroupsOutput::builder()
                .target_groups(tg(TG_APP))
                .target_groups(tg(TG_ON))
                .target_groups(tg(TG_OFF))
                .build()
        });
    let tg_attrs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes)
        .then_compute_output(|r| match r.target_group_arn() {
            Some(TG_APP) => tg_cross_zone("use_load_balancer_configuration"),
            Some(TG_ON) => tg_cross_zone("true"),
            Some(TG_OFF) => tg_cross_zone("false"),
            other => panic!("attributes of {other:?}"),
        });
    let health = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_compute_output(|r| match r.target_group_arn() {
            Some(TG_APP) => DescribeTargetHealthOutput::builder()
                // An instance: its AZ from its placement.
                .target_health_descriptions(health("i-0aaa", None, TargetHealthStateEnum::Healthy))
                // An instance whose AZ is reported, still starting.
                .target_health_descriptions(health(
                    "i-0bbb",
                    Some("us-east-1b"),
                    TargetHealthStateEnum::Initial,
                ))
                // An IP target: its AZ from the subnet that holds it.
                .target_health_descriptions(health(
                    "10.0.2.15",
                    None,
                    TargetHealthStateEnum::Unhealthy,
                ))
                // Outside the VPC ("all"): in no AZ.
                .target_health_descriptions(health(
                    "192.168.7.7",
                    Some("all"),
                    TargetHealthStateEnum::Healthy,
                ))
                .build(),
            Some(TG_ON) => DescribeTargetHealthOutput::builder()
                .target_health_descriptions(health(
                    "10.0.1.9",
                    Some("us-east-1a"),
                    TargetHealthStateEnum::Healthy,
                ))
                .build(),
            Some(TG_OFF) => DescribeTargetHealthOutput::builder().build(),
            other => panic!("health of {other:?}"),
        });
    vec![lbs, lb_attrs, groups, tg_attrs, health]
}

fn consumer_world(denied: &[&str]) -> ConsumerWorld {
    let home = ConsumerAccount {
        zones: vec![
            ("us-east-1a", "use1-az1"),
            ("us-east-1b", "use1-az2"),
            ("us-east-1c", "use1-az3"),
        ],
        endpoints: vec![("vpce-home", "vpc-home", vec!["subnet-h1"])],
        subnets: vec![
            ("subnet-h1", "vpc-home", "us-east-1a"),
            ("subnet-h2", "vpc-home", "us-east-1c"),
            ("subnet-elsewhere", "vpc-other", "us-east-1b"),
        ],
    };
    // The consumer's names map to other zones than the provider's.
    let consumer = ConsumerAccount {
        zones: vec![("us-east-1a", "use1-az2"), ("us-east-1b", "use1-az3")],
        endpoints: vec![
            ("vpce-c1", "vpc-c", vec!["subnet-c1", "subnet-c2"]),
            ("vpce-c2", "vpc-c", vec!["subnet-c2"]),
            ("vpce-not-asked", "vpc-c", vec!["subnet-c1"]),
        ],
        subnets: vec![
            ("subnet-c1", "vpc-c", "us-east-1a"),
            ("subnet-c2", "vpc-c", "us-east-1b"),
        ],
    };
    ConsumerWorld {
        accounts: Arc::new(BTreeMap::from([
            (HOME.to_owned(), home),
            (CONSUMER.to_owned(), consumer),
            (LOCKED.to_owned(), ConsumerAccount::default()),
        ])),
        denied: Arc::new(denied.iter().map(|d| (*d).to_owned()).collect()),
        calls: Arc::default(),
    }
}

fn estate(ec2: &[Rule], elb: &[Rule], world: &ConsumerWorld) -> AwsEstate {
    AwsEstate {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, ec2),
        elb: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, elb),
        accounts: AccountConfigs::new(world.home_config(), HOME.into(), ROLE.into()),
        account: HOME.into(),
        region: REGION.into(),
    }
}

/// `SVC` only (`OTHER_SVC` is the provider's too, and out of scope).
fn in_scope() -> AuditScope {
    AuditScope::Services(BTreeSet::from([SVC.to_owned()]))
}

fn zone_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, i)| ((*n).to_owned(), (*i).to_owned()))
        .collect()
}

fn target(id: &str, az: Option<&str>, healthy: bool) -> Target {
    Target {
        id: id.into(),
        az_name: az.map(str::to_owned),
        healthy,
    }
}

/// A small estate read end to end: the service in scope (and not the other), its NLB with its AZs
/// and cross-zone setting, each target group's cross-zone setting and targets located in their AZ,
/// the live connections over both pages, and each consumer's endpoints with their AZs and their
/// VPC's, read in the consumer's own account (the home one with the function's credentials, the
/// other through its role) with that account's AZ map.
#[tokio::test]
async fn a_small_estate_is_read_into_the_snapshot() {
    let (ec2, instances, connections) = provider_ec2(vec![
        vec![("vpce-home", HOME), ("vpce-c1", CONSUMER)],
        vec![("vpce-c2", CONSUMER)],
    ]);
    let mut ec2 = ec2;
    ec2.push(connections.clone());
    let world = consumer_world(&[]);
    let estate = estate(&ec2, &provider_elb(), &world);
    let snapshot = estate.snapshot(&in_scope()).await.unwrap();

    assert_eq!(connections.num_calls(), 2, "both pages of connections");
    assert_eq!(instances.num_calls(), 1);
    let expected = Snapshot {
        az_maps: BTreeMap::from([
            (
                HOME.to_owned(),
                zone_map(&[
                    ("us-east-1a", "use1-az1"),
                    ("us-east-1b", "use1-az2"),
                    ("us-east-1c", "use1-az3"),
                ]),
            ),
            (
                CONSUMER.to_owned(),
                zone_map(&[("us-east-1a", "use1-az2"), ("us-east-1b", "use1-az3")]),
            ),
        ]),
        services: vec![Service {
            id: SVC.into(),
            account: HOME.into(),
            nlb_arns: vec![NLB.into()],
        }],
        load_balancers: vec![LoadBalancer {
            arn: NLB.into(),
            account: HOME.into(),
            az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
            cross_zone: false,
        }],
        target_groups: vec![
            TargetGroup {
                arn: TG_APP.into(),
                lb_arns: vec![NLB.into()],
                cross_zone: CrossZone::Inherit,
                targets: vec![
                    target("i-0aaa", Some("us-east-1a"), true),
                    target("i-0bbb", Some("us-east-1b"), false),
                    target("10.0.2.15", Some("us-east-1b"), false),
                    target("192.168.7.7", None, true),
                ],
            },
            TargetGroup {
                arn: TG_ON.into(),
                lb_arns: vec![NLB.into()],
                cross_zone: CrossZone::On,
                targets: vec![target("10.0.1.9", Some("us-east-1a"), true)],
            },
            TargetGroup {
                arn: TG_OFF.into(),
                lb_arns: vec![NLB.into()],
                cross_zone: CrossZone::Off,
                targets: vec![],
            },
        ],
        endpoints: vec![
            Endpoint {
                id: "vpce-home".into(),
                account: HOME.into(),
                vpc_id: "vpc-home".into(),
                service_id: SVC.into(),
                az_names: vec!["us-east-1a".into()],
                vpc_az_names: vec!["us-east-1a".into(), "us-east-1c".into()],
            },
            Endpoint {
                id: "vpce-c1".into(),
                account: CONSUMER.into(),
                vpc_id: "vpc-c".into(),
                service_id: SVC.into(),
                az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
                vpc_az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
            },
            Endpoint {
                id: "vpce-c2".into(),
                account: CONSUMER.into(),
                vpc_id: "vpc-c".into(),
                service_id: SVC.into(),
                az_names: vec!["us-east-1b".into()],
                vpc_az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
            },
        ],
        unreachable: vec![],
    };
    assert_eq!(snapshot, expected);

    // Each consumer was asked, in its own account, for exactly its endpoints.
    let calls = world.calls();
    let asked = |account: &str, action: &str| -> Vec<BTreeMap<String, String>> {
        calls
            .iter()
            .filter(|c| c.account == account && c.action == action)
            .map(|c| c.params.clone())
            .collect()
    };
    let endpoint_ids = |p: &BTreeMap<String, String>| -> Vec<String> {
        (1..)
            .map_while(|i| p.get(&format!("VpcEndpointId.{i}")).cloned())
            .collect()
    };
    let home = asked(HOME, "DescribeVpcEndpoints");
    assert_eq!(home.len(), 1);
    assert_eq!(endpoint_ids(&home[0]), ["vpce-home"]);
    let consumer = asked(CONSUMER, "DescribeVpcEndpoints");
    assert_eq!(consumer.len(), 1);
    assert_eq!(endpoint_ids(&consumer[0]), ["vpce-c1", "vpce-c2"]);
    // The consumer was reached through its role; the home account was not.
    let roles: Vec<_> = calls
        .iter()
        .filter(|c| c.action == "AssumeRole")
        .map(|c| {
            (
                c.account.as_str(),
                c.params.get("RoleArn").map(String::as_str),
                c.params.get("RoleSessionName").map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [(
            HOME,
            Some("arn:aws:iam::222222222222:role/AuditReadRole"),
            Some("privatelink-autopilot")
        )]
    );
    assert_eq!(asked(CONSUMER, "DescribeAvailabilityZones").len(), 1);
}

/// A scope that names no service of the provider reads no NLB, no connection and no consumer.
#[tokio::test]
async fn a_scope_that_names_no_known_service_reads_no_load_balancer() {
    let (mut ec2, instances, connections) = provider_ec2(vec![vec![]]);
    ec2.push(connections.clone());
    let world = consumer_world(&[]);
    // No ELB rule at all: any ELBv2 call would panic in the mock.
    let estate = estate(&ec2, &[], &world);
    let scope = AuditScope::Services(BTreeSet::from(["vpce-svc-unknown".to_owned()]));
    let snapshot = estate.snapshot(&scope).await.unwrap();
    assert!(snapshot.services.is_empty());
    assert!(snapshot.load_balancers.is_empty());
    assert!(snapshot.endpoints.is_empty());
    assert_eq!(connections.num_calls(), 0);
    assert_eq!(instances.num_calls(), 0);
    assert!(world.calls().is_empty(), "no consumer was asked");
    assert_eq!(
        snapshot.az_maps.keys().collect::<Vec<_>>(),
        [HOME],
        "the provider's own AZ map is always read"
    );
}

/// A consumer whose role cannot be assumed is reported as unreachable, and the others are read.
#[tokio::test]
async fn an_unreachable_consumer_is_reported_and_the_others_are_read() {
    let (mut ec2, _, connections) =
        provider_ec2(vec![vec![("vpce-home", HOME), ("vpce-locked", LOCKED)]]);
    ec2.push(connections.clone());
    let world = consumer_world(&[LOCKED]);
    let estate = estate(&ec2, &provider_elb(), &world);
    let snapshot = estate.snapshot(&in_scope()).await.unwrap();
    assert_eq!(
        snapshot
            .endpoints
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["vpce-home"]
    );
    let [(account, problem)] = snapshot.unreachable.as_slice() else {
        panic!("{:?}", snapshot.unreachable)
    };
    assert_eq!(account, LOCKED);
    assert!(
        problem.starts_with("ec2:DescribeAvailabilityZones: "),
        "{problem}"
    );
    assert!(problem.contains("AccessDenied"), "{problem}");
    assert!(
        !snapshot.az_maps.contains_key(LOCKED),
        "no AZ map for an account never read"
    );
    let attempts = world
        .calls()
        .iter()
        .filter(|c| c.action == "AssumeRole")
        .count();
    assert_eq!(attempts, 1, "a refused role is asked for once");
}

/// A provider call that fails fails the snapshot, with the call's name, AWS's code and whether a
/// retry can help.
#[tokio::test]
async fn a_provider_call_that_fails_fails_the_snapshot_with_its_code() {
    // EC2 refuses the service configurations: final.
    let zones = mock!(aws_sdk_ec2::Client::describe_availability_zones)
        .then_output(|| DescribeAvailabilityZonesOutput::builder().build());
    let denied = mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_service_configurations)
        .then_http_response(|| {
            xml_response(
                403,
                "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>".into(),
            )
        });
    let world = consumer_world(&[]);
    let estate = AwsEstate {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&zones, &denied], |c| c
            .retry_config(retries(3))),
        elb: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            [] as [&Rule; 0]
        ),
        accounts: AccountConfigs::new(world.home_config(), HOME.into(), ROLE.into()),
        account: HOME.into(),
        region: REGION.into(),
    };
    let err = estate.snapshot(&AuditScope::All).await.unwrap_err();
    assert_eq!(denied.num_calls(), 1, "a refusal is not retried");
    assert_eq!(err.code(), Some("UnauthorizedOperation"));
    assert!(!err.retryable());
    assert!(
        err.to_string()
            .starts_with("ec2:DescribeVpcEndpointServiceConfigurations: "),
        "{err}"
    );

    // ELBv2 throttles the target health past the retries: retryable.
    let (mut ec2, _, connections) = provider_ec2(vec![vec![]]);
    ec2.push(connections);
    let mut elb = provider_elb();
    let throttled = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(|| {
            xml_response(
                400,
                "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-2</RequestId></ErrorResponse>".into(),
            )
        });
    elb.pop(); // the healthy answers
    elb.push(throttled.clone());
    let estate = AwsEstate {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &ec2),
        elb: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            &elb,
            |c| c.retry_config(retries(3))
        ),
        accounts: AccountConfigs::new(world.home_config(), HOME.into(), ROLE.into()),
        account: HOME.into(),
        region: REGION.into(),
    };
    let err = estate.snapshot(&in_scope()).await.unwrap_err();
    assert_eq!(throttled.num_calls(), 3, "the SDK retried");
    assert_eq!(err.code(), Some("Throttling"));
    assert!(err.retryable());
    assert_eq!(err.kind(), "AwsTransient");
    assert!(
        err.to_string()
            .starts_with("elasticloadbalancing:DescribeTargetHealth: "),
        "{err}"
    );
}
