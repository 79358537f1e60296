//! The availability-zone audit's adapters over the real SDK clients: the findings table
//! (DynamoDB) and the estate (EC2 and ELBv2 in the provider, EC2 in the consumers).
//!
//! The provider's clients are served by the SDK's own mocks, answering from a description of the
//! provider's account page by page and refusing what AWS refuses (more than 20 ARNs in
//! `DescribeLoadBalancers`, more than 200 values in an EC2 filter); they log every request, so the
//! tests can say which calls the reader made. Consumer accounts are reached through the
//! `Accounts` port, here a stand-in whose EC2 clients are SDK mocks too (the role the real one
//! assumes is tested in `tests/accounts.rs`).
#![allow(clippy::unwrap_used, clippy::panic)]

use autopilot::availability_zones::analysis::{
    AzFinding, Check, CrossZone, Endpoint, LoadBalancer, Service, Snapshot, Target, TargetAzs,
    TargetGroup, TargetState,
};
use autopilot::availability_zones::estate::{AwsEstate, Memory};
use autopilot::availability_zones::findings::DynamoFindings;
use autopilot::availability_zones::ports::{
    Accounts, AuditScope, Estate, FindingsStore, OpenFinding,
};
use autopilot::notify::{Fact, Facts, Severity};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_connections::DescribeVpcEndpointConnectionsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoint_service_configurations::DescribeVpcEndpointServiceConfigurationsOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
use aws_sdk_ec2::types::{
    AvailabilityZone as Ec2Zone, Instance, Placement, Reservation, ServiceConfiguration, Subnet,
    VpcEndpoint, VpcEndpointConnection,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    AvailabilityZone as ElbZone, LoadBalancer as ElbLoadBalancer, LoadBalancerAttribute,
    TargetDescription, TargetGroup as ElbTargetGroup, TargetGroupAttribute, TargetHealth,
    TargetHealthDescription, TargetHealthStateEnum, TargetTypeEnum,
};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
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
        evidence: Facts::from_iter([(Fact::AzId, "use1-az2".to_owned())]),
        fix: "Register a target in use1-az2.".into(),
        grace_seconds: None,
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
                pending_since: None,
            },
            OpenFinding {
                fingerprint: "blackhole:tg-2:use1-az2".into(),
                service_id: "vpce-svc-2".into(),
                severity: Severity::Critical,
                title: "No healthy target".into(),
                resource: "tg-2".into(),
                pending_since: None,
            },
            OpenFinding {
                fingerprint: "cross-zone-on:nlb-1".into(),
                service_id: "*".into(),
                severity: Severity::Info,
                title: "Cross-zone on".into(),
                resource: String::new(),
                pending_since: None,
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
    DynamoFindings::new(db, TABLE)
        .remember(&f, None)
        .await
        .unwrap();
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

    let err = store.remember(&finding(), None).await.unwrap_err();
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
/// An account whose endpoints are in another region.
const FAR: &str = "444444444444";
const REGION: &str = "us-east-1";
const SVC: &str = "vpce-svc-0aaa";
const OTHER_SVC: &str = "vpce-svc-0bbb";
const GWLB_SVC: &str = "vpce-svc-0ccc";
const NLB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/a/1";
const OTHER_NLB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/b/2";
const GWLB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/gwy/g/3";
const ALB_WEB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/web/4";
const ALB_API: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/api/5";
const TG_APP: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/app/1";
const TG_IP: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/ip/2";
const TG_OFF: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/off/3";
const TG_WEB: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/web/4";
const TG_API: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/api/5";
const TG_PEER: &str = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/peer/6";
/// What AWS accepts per call: ARNs in `DescribeLoadBalancers`, values in one EC2 filter.
const AWS_MAX_LB_ARNS: usize = 20;
const AWS_MAX_FILTER_VALUES: usize = 200;
/// Page sizes of the stand-ins (small, so that every describe has to follow its pages).
const LB_PAGE: usize = 15;
const TG_PAGE: usize = 2;
const ENDPOINT_PAGE: usize = 2;

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

/// One call a consumer account (or the home account, read as a consumer) received.
#[derive(Debug, Clone)]
struct Call {
    account: String,
    action: &'static str,
    filters: Vec<(String, Vec<String>)>,
    next_token: Option<String>,
}

/// The accounts the estate reads as consumers, through the [`Accounts`] port: each account's
/// EC2 is an SDK mock answering from its description, page by page, refusing what AWS refuses
/// (more than 200 values in a filter, an endpoint id that does not exist), logging every call.
/// A denied account's role cannot be assumed, so every call made there fails with
/// `AccessDenied`; a refused (account, action) answers `UnauthorizedOperation`.
#[derive(Clone, Default, Debug)]
struct Consumers {
    accounts: Arc<BTreeMap<String, ConsumerAccount>>,
    denied: Arc<BTreeSet<String>>,
    refused: Arc<BTreeSet<(String, String)>>,
    calls: Arc<Mutex<Vec<Call>>>,
    /// The accounts a client was asked for, in order.
    reached: Arc<Mutex<Vec<String>>>,
}

impl Consumers {
    /// What `account` answers to `action`: `Err` with the refusal, or `Ok` with its description.
    fn answer(
        &self,
        account: &str,
        action: &'static str,
        filters: Vec<(String, Vec<String>)>,
        next_token: Option<&str>,
    ) -> Result<ConsumerAccount, Box<Response>> {
        self.calls.lock().unwrap().push(Call {
            account: account.to_owned(),
            action,
            filters: filters.clone(),
            next_token: next_token.map(str::to_owned),
        });
        if self.denied.contains(account) {
            return Err(Box::new(ec2_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: sts:AssumeRole",
            )));
        }
        if self
            .refused
            .contains(&(account.to_owned(), action.to_owned()))
        {
            return Err(Box::new(ec2_error(
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            )));
        }
        if filters.iter().any(|(_, v)| v.len() > AWS_MAX_FILTER_VALUES) {
            return Err(Box::new(ec2_error(
                400,
                "FilterLimitExceeded",
                "The maximum number of filter values specified on a single call is 200",
            )));
        }
        Ok(self.accounts[account].clone())
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Every `action` made in `account`, in order.
    fn asked(&self, account: &str, action: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.account == account && c.action == action)
            .collect()
    }

    fn reached(&self) -> Vec<String> {
        self.reached.lock().unwrap().clone()
    }
}

impl Accounts for Consumers {
    async fn ec2(&self, account: &str, region: &str) -> aws_sdk_ec2::Client {
        assert_eq!(
            region, REGION,
            "consumers are read in the provider's region"
        );
        self.reached.lock().unwrap().push(account.to_owned());
        let zones = {
            let (world, account) = (self.clone(), account.to_owned());
            mock!(aws_sdk_ec2::Client::describe_availability_zones).then_compute_response(
                move |_| match world.answer(&account, "DescribeAvailabilityZones", vec![], None) {
                    Err(refusal) => MockResponse::Http(*refusal),
                    Ok(a) => MockResponse::Output(
                        DescribeAvailabilityZonesOutput::builder()
                            .set_availability_zones(Some(
                                a.zones
                                    .iter()
                                    .map(|(name, id)| ec2_zone(name, id))
                                    .collect(),
                            ))
                            .build(),
                    ),
                },
            )
        };
        let endpoints = {
            let (world, account) = (self.clone(), account.to_owned());
            mock!(aws_sdk_ec2::Client::describe_vpc_endpoints).then_compute_response(move |r| {
                let filters = filter_values(r.filters());
                let a = match world.answer(
                    &account,
                    "DescribeVpcEndpoints",
                    filters.clone(),
                    r.next_token(),
                ) {
                    Err(refusal) => return MockResponse::Http(*refusal),
                    Ok(a) => a,
                };
                // By id, EC2 refuses the whole call if one endpoint is gone; by filter, a gone
                // endpoint is simply not listed.
                let by_id = r.vpc_endpoint_ids();
                if let Some(gone) = by_id
                    .iter()
                    .find(|id| !a.endpoints.iter().any(|(e, ..)| e == id))
                {
                    return MockResponse::Http(ec2_error(
                        400,
                        "InvalidVpcEndpointId.NotFound",
                        &format!("The Vpc Endpoint Id '{gone}' does not exist"),
                    ));
                }
                let wanted = values_of(&filters, "vpc-endpoint-id");
                let matching: Vec<_> = a
                    .endpoints
                    .iter()
                    .filter(|(id, ..)| by_id.is_empty() || by_id.iter().any(|i| i == id))
                    .filter(|(id, ..)| wanted.as_ref().is_none_or(|w| w.iter().any(|i| i == id)))
                    .collect();
                let (matching, next) = page(&matching, r.next_token(), ENDPOINT_PAGE, "ep-");
                MockResponse::Output(
                    DescribeVpcEndpointsOutput::builder()
                        .set_vpc_endpoints(Some(
                            matching
                                .iter()
                                .map(|(id, vpc, subnets)| {
                                    VpcEndpoint::builder()
                                        .vpc_endpoint_id(*id)
                                        .vpc_id(*vpc)
                                        .set_subnet_ids(Some(strings(subnets)))
                                        .build()
                                })
                                .collect(),
                        ))
                        .set_next_token(next)
                        .build(),
                )
            })
        };
        let subnets = {
            let (world, account) = (self.clone(), account.to_owned());
            mock!(aws_sdk_ec2::Client::describe_subnets).then_compute_response(move |r| {
                let filters = filter_values(r.filters());
                let a = match world.answer(
                    &account,
                    "DescribeSubnets",
                    filters.clone(),
                    r.next_token(),
                ) {
                    Err(refusal) => return MockResponse::Http(*refusal),
                    Ok(a) => a,
                };
                let vpcs = values_of(&filters, "vpc-id");
                MockResponse::Output(
                    DescribeSubnetsOutput::builder()
                        .set_subnets(Some(
                            a.subnets
                                .iter()
                                .filter(|(_, v, _)| {
                                    vpcs.as_ref().is_none_or(|w| w.iter().any(|i| i == v))
                                })
                                .map(|(id, v, az)| {
                                    Subnet::builder()
                                        .subnet_id(*id)
                                        .vpc_id(*v)
                                        .availability_zone(*az)
                                        .build()
                                })
                                .collect(),
                        ))
                        .build(),
                )
            })
        };
        mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            [&zones, &endpoints, &subnets],
            |c| c.retry_config(retries(2))
        )
    }
}

/// An HTTP response with this status and body.
fn xml_response(status: u16, body: String) -> Response {
    Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

/// An error as EC2's query protocol sends it.
fn ec2_error(status: u16, code: &str, message: &str) -> Response {
    xml_response(
        status,
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>r</RequestID></Response>"
        ),
    )
}

/// An error as ELBv2's query protocol sends it.
fn elb_error(code: &str, message: &str) -> Response {
    xml_response(
        400,
        format!(
            "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        ),
    )
}

/// The values of the filter `name`, if the request has it (without it EC2 describes everything).
fn values_of(filters: &[(String, Vec<String>)], name: &str) -> Option<Vec<String>> {
    filters
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// One page of `items`, starting where the token of the previous page (`{prefix}{offset}`)
/// says, and the token of the next one.
fn page<T: Clone>(
    items: &[T],
    token: Option<&str>,
    size: usize,
    prefix: &str,
) -> (Vec<T>, Option<String>) {
    let from = token.map_or(0, |t| {
        t.strip_prefix(prefix).unwrap().parse::<usize>().unwrap()
    });
    let to = (from + size).min(items.len());
    (
        items[from..to].to_vec(),
        (to < items.len()).then(|| format!("{prefix}{to}")),
    )
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

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
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

/// A load balancer as ELBv2 describes it.
struct Lb {
    arn: String,
    /// Enabled AZs (names).
    zones: Vec<String>,
    /// `load_balancing.cross_zone.enabled`.
    cross_zone: bool,
}

fn lb(arn: &str, zones: &[&str], cross_zone: bool) -> Lb {
    Lb {
        arn: arn.into(),
        zones: strings(zones),
        cross_zone,
    }
}

/// A target group of one load balancer, with its targets as `DescribeTargetHealth` reports them.
struct Tg {
    arn: String,
    lb: String,
    kind: TargetTypeEnum,
    vpc: String,
    /// `load_balancing.cross_zone.enabled`.
    cross_zone: String,
    targets: Vec<TargetHealthDescription>,
}

fn tg(
    arn: &str,
    kind: TargetTypeEnum,
    vpc: &str,
    cross_zone: &str,
    targets: Vec<TargetHealthDescription>,
) -> Tg {
    Tg {
        arn: arn.into(),
        lb: NLB.into(),
        kind,
        vpc: vpc.into(),
        cross_zone: cross_zone.into(),
        targets,
    }
}

/// The provider's account as EC2 and ELBv2 describe it.
#[derive(Default)]
struct Provider {
    /// The pages of `DescribeVpcEndpointServiceConfigurations`.
    services: Vec<Vec<ServiceConfiguration>>,
    lbs: Vec<Lb>,
    tgs: Vec<Tg>,
    /// Instance id, AZ name (a terminated instance is not described).
    instances: Vec<(String, String)>,
    /// Subnet id, VPC id, CIDR, AZ name.
    subnets: Vec<(String, String, String, String)>,
    /// Service id → the pages of its live connections.
    connections: BTreeMap<String, Vec<Vec<VpcEndpointConnection>>>,
}

/// One request the provider's account received.
#[derive(Clone, Debug, Default)]
struct Req {
    op: &'static str,
    /// ARNs or ids the request names (`LoadBalancerArns`, `LoadBalancerArn`, `TargetGroupArn`,
    /// `InstanceIds`, `SubnetIds`).
    ids: Vec<String>,
    filters: Vec<(String, Vec<String>)>,
    /// `Marker` or `NextToken`.
    page: Option<String>,
}

/// Every request the provider's account received, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Req>>>);

impl Log {
    fn push(
        &self,
        op: &'static str,
        ids: &[String],
        filters: Vec<(String, Vec<String>)>,
        page: Option<&str>,
    ) {
        self.0.lock().unwrap().push(Req {
            op,
            ids: ids.to_vec(),
            filters,
            page: page.map(str::to_owned),
        });
    }

    fn of(&self, op: &str) -> Vec<Req> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.op == op)
            .cloned()
            .collect()
    }

    fn pages(&self, op: &str) -> Vec<Option<String>> {
        self.of(op).into_iter().map(|r| r.page).collect()
    }

    fn ids(&self, op: &str) -> Vec<Vec<String>> {
        self.of(op).into_iter().map(|r| r.ids).collect()
    }
}

impl Provider {
    /// The provider's EC2 and ELBv2 as SDK mocks that answer from this description, page by page,
    /// refusing what AWS refuses (more than 20 ARNs, more than 200 filter values), and the log of
    /// what they were asked.
    fn rules(self) -> (Vec<Rule>, Vec<Rule>, Log) {
        let log = Log::default();
        let p = Arc::new(self);
        let zones = mock!(aws_sdk_ec2::Client::describe_availability_zones).then_output(|| {
            DescribeAvailabilityZonesOutput::builder()
                .availability_zones(ec2_zone("us-east-1a", "use1-az1"))
                .availability_zones(ec2_zone("us-east-1b", "use1-az2"))
                .availability_zones(ec2_zone("us-east-1c", "use1-az3"))
                .build()
        });
        let services = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_service_configurations)
                .then_compute_output(move |r| {
                    let op = "DescribeVpcEndpointServiceConfigurations";
                    log.push(
                        op,
                        r.service_ids(),
                        filter_values(r.filters()),
                        r.next_token(),
                    );
                    let index = r
                        .next_token()
                        .map_or(0, |t| t["svc-".len()..].parse::<usize>().unwrap());
                    DescribeVpcEndpointServiceConfigurationsOutput::builder()
                        .set_service_configurations(Some(p.services[index].clone()))
                        .set_next_token(
                            (index + 1 < p.services.len()).then(|| format!("svc-{}", index + 1)),
                        )
                        .build()
                })
        };
        let instances = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_ec2::Client::describe_instances).then_compute_response(move |r| {
                let filters = filter_values(r.filters());
                log.push(
                    "DescribeInstances",
                    r.instance_ids(),
                    filters.clone(),
                    r.next_token(),
                );
                if filters.iter().any(|(_, v)| v.len() > AWS_MAX_FILTER_VALUES) {
                    return MockResponse::Http(ec2_error(
                        400,
                        "FilterLimitExceeded",
                        "The maximum number of filter values specified on a single call is 200",
                    ));
                }
                let wanted = values_of(&filters, "instance-id");
                let mut out = DescribeInstancesOutput::builder();
                for (id, az) in p
                    .instances
                    .iter()
                    .filter(|(id, _)| wanted.as_ref().is_none_or(|w| w.contains(id)))
                {
                    out = out.reservations(
                        Reservation::builder()
                            .instances(
                                Instance::builder()
                                    .instance_id(id)
                                    .placement(Placement::builder().availability_zone(az).build())
                                    .build(),
                            )
                            .build(),
                    );
                }
                MockResponse::Output(out.build())
            })
        };
        let subnets = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_ec2::Client::describe_subnets).then_compute_response(move |r| {
                let filters = filter_values(r.filters());
                log.push(
                    "DescribeSubnets",
                    r.subnet_ids(),
                    filters.clone(),
                    r.next_token(),
                );
                if filters.iter().any(|(_, v)| v.len() > AWS_MAX_FILTER_VALUES) {
                    return MockResponse::Http(ec2_error(
                        400,
                        "FilterLimitExceeded",
                        "The maximum number of filter values specified on a single call is 200",
                    ));
                }
                let vpcs = values_of(&filters, "vpc-id");
                let mut out = DescribeSubnetsOutput::builder();
                for (id, vpc, cidr, az) in p
                    .subnets
                    .iter()
                    .filter(|(_, vpc, ..)| vpcs.as_ref().is_none_or(|w| w.contains(vpc)))
                {
                    out = out.subnets(
                        Subnet::builder()
                            .subnet_id(id)
                            .vpc_id(vpc)
                            .cidr_block(cidr)
                            .availability_zone(az)
                            .build(),
                    );
                }
                MockResponse::Output(out.build())
            })
        };
        // Page n+1 of a service's connections is asked for with the token page n returned.
        let connections = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_ec2::Client::describe_vpc_endpoint_connections).then_compute_output(
                move |r| {
                    let filters = filter_values(r.filters());
                    let op = "DescribeVpcEndpointConnections";
                    log.push(op, &[], filters.clone(), r.next_token());
                    let service = values_of(&filters, "service-id").unwrap_or_default();
                    let pages = match service.as_slice() {
                        [one] => p.connections.get(one).cloned().unwrap_or_default(),
                        _ => vec![],
                    };
                    let index = r
                        .next_token()
                        .map_or(0, |t| t["conn-".len()..].parse::<usize>().unwrap());
                    DescribeVpcEndpointConnectionsOutput::builder()
                        .set_vpc_endpoint_connections(pages.get(index).cloned())
                        .set_next_token(
                            (index + 1 < pages.len()).then(|| format!("conn-{}", index + 1)),
                        )
                        .build()
                },
            )
        };

        let lbs = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers)
                .then_compute_response(move |r| {
                    let arns = r.load_balancer_arns();
                    log.push("DescribeLoadBalancers", arns, vec![], r.marker());
                    if arns.len() > AWS_MAX_LB_ARNS {
                        return MockResponse::Http(elb_error(
                            "ValidationError",
                            "Cannot specify more than 20 load balancer ARNs",
                        ));
                    }
                    // No ARNs: every load balancer of the account.
                    let found: Vec<&Lb> = if arns.is_empty() {
                        p.lbs.iter().collect()
                    } else {
                        arns.iter()
                            .filter_map(|arn| p.lbs.iter().find(|lb| &lb.arn == arn))
                            .collect()
                    };
                    let (found, next) = page(&found, r.marker(), LB_PAGE, "lb-");
                    let mut out = DescribeLoadBalancersOutput::builder();
                    for lb in found {
                        let mut one = ElbLoadBalancer::builder().load_balancer_arn(&lb.arn);
                        for zone in &lb.zones {
                            one = one.availability_zones(
                                ElbZone::builder()
                                    .zone_name(zone)
                                    .subnet_id(format!("subnet-{zone}"))
                                    .build(),
                            );
                        }
                        out = out.load_balancers(one.build());
                    }
                    MockResponse::Output(out.set_next_marker(next).build())
                })
        };
        let lb_attrs = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancer_attributes)
                .then_compute_output(move |r| {
                    let arn = r.load_balancer_arn().unwrap_or_default().to_owned();
                    log.push(
                        "DescribeLoadBalancerAttributes",
                        std::slice::from_ref(&arn),
                        vec![],
                        None,
                    );
                    let lb = p.lbs.iter().find(|lb| lb.arn == arn).unwrap();
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
                                .value(lb.cross_zone.to_string())
                                .build(),
                        )
                        .build()
                })
        };
        let groups = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
                .then_compute_output(move |r| {
                    let lb = r.load_balancer_arn().unwrap_or_default().to_owned();
                    let mut ids = vec![lb.clone()];
                    ids.extend(r.target_group_arns().iter().cloned());
                    log.push("DescribeTargetGroups", &ids, vec![], r.marker());
                    let named = r.target_group_arns();
                    // Neither a load balancer nor names: every target group of the account.
                    let of_lb: Vec<&Tg> = p
                        .tgs
                        .iter()
                        .filter(|tg| {
                            (lb.is_empty() && named.is_empty())
                                || tg.lb == lb
                                || named.contains(&tg.arn)
                        })
                        .collect();
                    let (of_lb, next) = page(&of_lb, r.marker(), TG_PAGE, "tg-");
                    let mut out = DescribeTargetGroupsOutput::builder();
                    for tg in of_lb {
                        out = out.target_groups(
                            ElbTargetGroup::builder()
                                .target_group_arn(&tg.arn)
                                .load_balancer_arns(&tg.lb)
                                .target_type(tg.kind.clone())
                                .vpc_id(&tg.vpc)
                                .health_check_interval_seconds(10)
                                .healthy_threshold_count(3)
                                .build(),
                        );
                    }
                    out.set_next_marker(next).build()
                })
        };
        let tg_attrs = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes)
                .then_compute_output(move |r| {
                    let arn = r.target_group_arn().unwrap_or_default().to_owned();
                    log.push(
                        "DescribeTargetGroupAttributes",
                        std::slice::from_ref(&arn),
                        vec![],
                        None,
                    );
                    let tg = p.tgs.iter().find(|tg| tg.arn == arn).unwrap();
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
                                .value(&tg.cross_zone)
                                .build(),
                        )
                        .build()
                })
        };
        let health = {
            let (p, log) = (p.clone(), log.clone());
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
                .then_compute_output(move |r| {
                    let arn = r.target_group_arn().unwrap_or_default().to_owned();
                    log.push(
                        "DescribeTargetHealth",
                        std::slice::from_ref(&arn),
                        vec![],
                        None,
                    );
                    let tg = p.tgs.iter().find(|tg| tg.arn == arn).unwrap();
                    DescribeTargetHealthOutput::builder()
                        .set_target_health_descriptions(Some(tg.targets.clone()))
                        .build()
                })
        };
        (
            vec![zones, services, instances, subnets, connections],
            vec![lbs, lb_attrs, groups, tg_attrs, health],
            log,
        )
    }
}

fn nlb_service(id: &str, nlb: &str) -> ServiceConfiguration {
    ServiceConfiguration::builder()
        .service_id(id)
        .network_load_balancer_arns(nlb)
        .build()
}

/// A live connection to `SVC`, from an endpoint of `owner` in `region` (none: as connections made
/// before cross-region PrivateLink are described).
fn connection(id: &str, owner: &str, region: Option<&str>) -> VpcEndpointConnection {
    VpcEndpointConnection::builder()
        .service_id(SVC)
        .vpc_endpoint_id(id)
        .vpc_endpoint_owner(owner)
        .set_vpc_endpoint_region(region.map(str::to_owned))
        .build()
}

/// The provider's account: three services over two pages — `SVC` (in scope) in front of `NLB`,
/// `OTHER_SVC` (out of scope) and `GWLB_SVC` (in scope, a Gateway Load Balancer) — and `NLB`'s
/// five target groups over three pages, with targets of every type:
/// - `TG_APP` (instances, inherits): two placed instances and one terminated;
/// - `TG_IP` (IPs in `vpc-prov`, on): one located by its subnet (another VPC has the same CIDR
///   in another AZ), one registered with `all`, one with its AZ;
/// - `TG_OFF` (instances, off): one more instance, placed with the others in one call;
/// - `TG_WEB`, `TG_API` (ALBs): their ALBs' enabled AZs, both ALBs read in one call.
///
/// `SVC`'s live connections are `connection_pages`.
fn provider(connection_pages: Vec<Vec<VpcEndpointConnection>>) -> Provider {
    use TargetHealthStateEnum::{Draining, Healthy, Initial, Unhealthy};
    Provider {
        services: vec![
            vec![nlb_service(SVC, NLB), nlb_service(OTHER_SVC, OTHER_NLB)],
            vec![
                ServiceConfiguration::builder()
                    .service_id(GWLB_SVC)
                    .gateway_load_balancer_arns(GWLB)
                    .build(),
            ],
        ],
        lbs: vec![
            lb(NLB, &["us-east-1a", "us-east-1b"], false),
            lb(OTHER_NLB, &["us-east-1c"], true),
            lb(ALB_WEB, &["us-east-1a", "us-east-1b", "us-east-1c"], false),
            lb(ALB_API, &["us-east-1a"], false),
        ],
        tgs: vec![
            tg(
                TG_APP,
                TargetTypeEnum::Instance,
                "vpc-prov",
                "use_load_balancer_configuration",
                vec![
                    health("i-0aaa", None, Healthy),
                    health("i-0bbb", None, Initial),
                    health("i-0gone", None, Draining),
                ],
            ),
            tg(
                TG_IP,
                TargetTypeEnum::Ip,
                "vpc-prov",
                "true",
                vec![
                    health("10.0.2.15", None, Unhealthy),
                    health("192.168.7.7", Some("all"), Healthy),
                    health("10.0.1.9", Some("us-east-1a"), Healthy),
                ],
            ),
            tg(
                TG_OFF,
                TargetTypeEnum::Instance,
                "vpc-prov",
                "false",
                vec![health("i-0ccc", None, Healthy)],
            ),
            tg(
                TG_WEB,
                TargetTypeEnum::Alb,
                "vpc-prov",
                "use_load_balancer_configuration",
                vec![health(ALB_WEB, None, Healthy)],
            ),
            tg(
                TG_API,
                TargetTypeEnum::Alb,
                "vpc-prov",
                "use_load_balancer_configuration",
                vec![health(ALB_API, None, Unhealthy)],
            ),
        ],
        instances: [
            ("i-0aaa", "us-east-1a"),
            ("i-0bbb", "us-east-1b"),
            ("i-0ccc", "us-east-1c"),
            ("i-0elsewhere", "us-east-1b"),
        ]
        .iter()
        .map(|(id, az)| ((*id).to_owned(), (*az).to_owned()))
        .collect(),
        subnets: [
            // Another VPC with the same CIDR, listed first.
            ("subnet-peer", "vpc-peer", "10.0.2.0/24", "us-east-1c"),
            ("subnet-pa", "vpc-prov", "10.0.1.0/24", "us-east-1a"),
            ("subnet-pb", "vpc-prov", "10.0.2.0/24", "us-east-1b"),
        ]
        .iter()
        .map(|(id, vpc, cidr, az)| {
            (
                (*id).to_owned(),
                (*vpc).to_owned(),
                (*cidr).to_owned(),
                (*az).to_owned(),
            )
        })
        .collect(),
        connections: BTreeMap::from([(SVC.to_owned(), connection_pages)]),
    }
}

fn consumers(denied: &[&str]) -> Consumers {
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
            ("vpce-c3", "vpc-d", vec!["subnet-d1"]),
        ],
        subnets: vec![
            ("subnet-c1", "vpc-c", "us-east-1a"),
            ("subnet-c2", "vpc-c", "us-east-1b"),
            ("subnet-d1", "vpc-d", "us-east-1b"),
            ("subnet-e1", "vpc-e", "us-east-1a"),
        ],
    };
    let zones_only = ConsumerAccount {
        zones: vec![("us-east-1a", "use1-az1")],
        ..ConsumerAccount::default()
    };
    Consumers {
        accounts: Arc::new(BTreeMap::from([
            (HOME.to_owned(), home),
            (CONSUMER.to_owned(), consumer),
            (LOCKED.to_owned(), zones_only.clone()),
            (FAR.to_owned(), zones_only),
        ])),
        denied: Arc::new(denied.iter().map(|d| (*d).to_owned()).collect()),
        ..Consumers::default()
    }
}

fn estate(ec2: &[Rule], elb: &[Rule], world: &Consumers) -> AwsEstate<Consumers> {
    AwsEstate {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, ec2),
        elb: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, elb),
        accounts: world.clone(),
        account: HOME.into(),
        region: REGION.into(),
        rates: None,
        memory: Memory::new(Duration::from_secs(3600)),
    }
}

/// `SVC` and `GWLB_SVC` (`OTHER_SVC` is the provider's too, and out of scope).
fn in_scope() -> AuditScope {
    AuditScope::Services(BTreeSet::from([SVC.to_owned(), GWLB_SVC.to_owned()]))
}

fn zone_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, i)| ((*n).to_owned(), (*i).to_owned()))
        .collect()
}

fn target(id: &str, azs: TargetAzs, state: TargetState) -> Target {
    Target {
        id: id.into(),
        azs,
        state,
    }
}

fn located(names: &[&str]) -> TargetAzs {
    TargetAzs::In(strings(names))
}

fn sorted(values: &[String]) -> BTreeSet<String> {
    values.iter().cloned().collect()
}

fn ids_of(endpoints: &[Endpoint]) -> Vec<&str> {
    endpoints.iter().map(|e| e.id.as_str()).collect()
}

/// A small estate read end to end into the snapshot, with the calls the reader makes:
/// - the service configurations over both pages: `SVC` in scope, `OTHER_SVC` not read, the
///   Gateway Load Balancer service `GWLB_SVC` reported as not audited (its load balancer and
///   its connections never read);
/// - `NLB` with its AZs and cross-zone setting; its target groups over three pages (by load
///   balancer, following `NextMarker`), each with its cross-zone setting (on, off, inherit) and
///   its health read once;
/// - instance targets of both instance groups placed by ONE `DescribeInstances` filtered by
///   `instance-id`, a terminated one left `Unknown`; an IP target located by the subnets of its
///   target group's VPC (one `DescribeSubnets` filtered by `vpc-id`), one registered with `all`
///   serving every AZ, one with its registered AZ; each ALB target in its ALB's enabled AZs, both
///   ALBs read in one `DescribeLoadBalancers`;
/// - the live connections over both pages, and each consumer's endpoints, read in the consumer's
///   own account (the home one with the function's credentials, the other through its role)
///   with that account's AZ map: by `vpc-endpoint-id` filter over two pages, the subnets of both
///   its VPCs in one call.
#[tokio::test]
async fn a_small_estate_is_read_into_the_snapshot() {
    let (ec2, elb, log) = provider(vec![
        vec![
            connection("vpce-home", HOME, Some(REGION)),
            connection("vpce-c1", CONSUMER, Some(REGION)),
        ],
        vec![
            connection("vpce-c2", CONSUMER, None),
            connection("vpce-c3", CONSUMER, Some(REGION)),
        ],
    ])
    .rules();
    let world = consumers(&[]);
    let snapshot = estate(&ec2, &elb, &world)
        .snapshot(&in_scope())
        .await
        .unwrap();

    let [gwlb] = snapshot.not_audited.as_slice() else {
        panic!("{:?}", snapshot.not_audited)
    };
    assert_eq!(gwlb.resource, GWLB_SVC);
    assert!(
        gwlb.reason.contains("Gateway Load Balancer"),
        "{}",
        gwlb.reason
    );
    let expected = Snapshot {
        unread_services: BTreeSet::new(),
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
                settle_seconds: Some(30),
                targets: vec![
                    target("i-0aaa", located(&["us-east-1a"]), TargetState::Healthy),
                    target("i-0bbb", located(&["us-east-1b"]), TargetState::Initial),
                    target("i-0gone", TargetAzs::Unknown, TargetState::Draining),
                ],
            },
            TargetGroup {
                arn: TG_IP.into(),
                lb_arns: vec![NLB.into()],
                cross_zone: CrossZone::On,
                settle_seconds: Some(30),
                targets: vec![
                    // In vpc-prov's 10.0.2.0/24, not vpc-peer's.
                    target(
                        "10.0.2.15",
                        located(&["us-east-1b"]),
                        TargetState::Unhealthy,
                    ),
                    target("192.168.7.7", TargetAzs::All, TargetState::Healthy),
                    target("10.0.1.9", located(&["us-east-1a"]), TargetState::Healthy),
                ],
            },
            TargetGroup {
                arn: TG_OFF.into(),
                lb_arns: vec![NLB.into()],
                cross_zone: CrossZone::Off,
                settle_seconds: Some(30),
                targets: vec![target(
                    "i-0ccc",
                    located(&["us-east-1c"]),
                    TargetState::Healthy,
                )],
            },
            TargetGroup {
                arn: TG_WEB.into(),
                lb_arns: vec![NLB.into()],
                cross_zone: CrossZone::Inherit,
                settle_seconds: Some(30),
                targets: vec![target(
                    ALB_WEB,
                    located(&["us-east-1a", "us-east-1b", "us-east-1c"]),
                    TargetState::Healthy,
                )],
            },
            TargetGroup {
                arn: TG_API.into(),
                lb_arns: vec![NLB.into()],
                cross_zone: CrossZone::Inherit,
                settle_seconds: Some(30),
                targets: vec![target(
                    ALB_API,
                    located(&["us-east-1a"]),
                    TargetState::Unhealthy,
                )],
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
            Endpoint {
                id: "vpce-c3".into(),
                account: CONSUMER.into(),
                vpc_id: "vpc-d".into(),
                service_id: SVC.into(),
                az_names: vec!["us-east-1b".into()],
                vpc_az_names: vec!["us-east-1b".into()],
            },
        ],
        unreachable: vec![],
        reached: BTreeSet::from([HOME.to_owned(), CONSUMER.to_owned()]),
        unread: BTreeSet::new(),
        not_audited: snapshot.not_audited.clone(),
    };
    assert_eq!(snapshot, expected);

    // The provider: every page, each resource once, the out-of-scope and GWLB ones never.
    assert_eq!(
        log.pages("DescribeVpcEndpointServiceConfigurations"),
        [None, Some("svc-1".to_owned())]
    );
    assert_eq!(
        log.ids("DescribeLoadBalancers"),
        [strings(&[NLB]), strings(&[ALB_API, ALB_WEB])],
        "the NLB, then both ALB targets in one call"
    );
    assert_eq!(log.ids("DescribeLoadBalancerAttributes"), [strings(&[NLB])]);
    let groups = log.of("DescribeTargetGroups");
    assert_eq!(
        groups.iter().map(|r| r.ids.clone()).collect::<Vec<_>>(),
        [strings(&[NLB]), strings(&[NLB]), strings(&[NLB])],
        "by load balancer"
    );
    assert_eq!(
        groups.iter().map(|r| r.page.clone()).collect::<Vec<_>>(),
        [None, Some("tg-2".to_owned()), Some("tg-4".to_owned())]
    );
    let each_group = strings(&[TG_APP, TG_IP, TG_OFF, TG_WEB, TG_API]);
    for op in ["DescribeTargetGroupAttributes", "DescribeTargetHealth"] {
        assert_eq!(
            log.ids(op).concat(),
            each_group,
            "{op}: once per target group"
        );
    }
    let [instances] = log.of("DescribeInstances").try_into().unwrap();
    assert!(
        instances.ids.is_empty(),
        "by filter, not by id: {instances:?}"
    );
    let [(name, ids)] = instances.filters.as_slice() else {
        panic!("{instances:?}")
    };
    assert_eq!(name, "instance-id");
    assert_eq!(
        sorted(ids),
        sorted(&strings(&["i-0aaa", "i-0bbb", "i-0ccc", "i-0gone"])),
        "the instances of both instance groups in one call"
    );
    let [subnets] = log.of("DescribeSubnets").try_into().unwrap();
    assert_eq!(
        subnets.filters,
        [("vpc-id".to_owned(), strings(&["vpc-prov"]))],
        "the subnets of the IP target group's VPC only"
    );
    let connections = log.of("DescribeVpcEndpointConnections");
    assert_eq!(
        connections
            .iter()
            .map(|r| r.page.clone())
            .collect::<Vec<_>>(),
        [None, Some("conn-1".to_owned())],
        "both pages, and no connection of the GWLB service"
    );
    for r in &connections {
        assert_eq!(
            r.filters,
            [
                ("service-id".to_owned(), strings(&[SVC])),
                ("vpc-endpoint-state".to_owned(), strings(&["available"])),
            ]
        );
    }

    // Each consumer was asked, in its own account, for exactly its endpoints, by filter.
    let home = world.asked(HOME, "DescribeVpcEndpoints");
    assert_eq!(home.len(), 1);
    assert_eq!(
        home[0].filters,
        [("vpc-endpoint-id".to_owned(), strings(&["vpce-home"]))]
    );
    let consumer = world.asked(CONSUMER, "DescribeVpcEndpoints");
    assert_eq!(
        consumer
            .iter()
            .map(|c| (c.filters.clone(), c.next_token.clone()))
            .collect::<Vec<_>>(),
        [
            (
                vec![(
                    "vpc-endpoint-id".to_owned(),
                    strings(&["vpce-c1", "vpce-c2", "vpce-c3"])
                )],
                None
            ),
            (
                vec![(
                    "vpc-endpoint-id".to_owned(),
                    strings(&["vpce-c1", "vpce-c2", "vpce-c3"])
                )],
                Some("ep-2".to_owned())
            ),
        ],
        "both pages"
    );
    let consumer_subnets = world.asked(CONSUMER, "DescribeSubnets");
    assert_eq!(consumer_subnets.len(), 1, "one call for both VPCs");
    assert_eq!(
        consumer_subnets[0].filters,
        [("vpc-id".to_owned(), strings(&["vpc-c", "vpc-d"]))]
    );
    let home_subnets = world.asked(HOME, "DescribeSubnets");
    assert_eq!(home_subnets.len(), 1);
    assert_eq!(
        home_subnets[0].filters,
        [("vpc-id".to_owned(), strings(&["vpc-home"]))]
    );
    // Each account was reached once (the role's ARN and session: tests/accounts.rs).
    assert_eq!(world.reached(), [HOME, CONSUMER]);
    assert_eq!(world.asked(CONSUMER, "DescribeAvailabilityZones").len(), 1);
}

/// 45 services, each in front of its own NLB with one instance target group of five
/// instances: the load balancers and the target groups are listed unfiltered, in pages (not a
/// call per NLB, not 20 ARNs at a time), every NLB is read once with its target groups, and the
/// 225 instances of the 45 target groups are placed in 2 calls (200 filter values, then 25), not
/// one per target group. Fewer NLBs than one call by ARN takes are described by ARN.
#[tokio::test]
async fn forty_five_nlbs_are_listed_in_pages_not_read_one_by_one() {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let nlb = |i: usize| {
        format!("arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/n{i:02}/{i}")
    };
    let group = |i: usize| {
        format!("arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/t{i:02}/{i}")
    };
    let instance = |i: usize, k: usize| format!("i-{i:02}{k}");
    let services: Vec<ServiceConfiguration> = (0..45)
        .map(|i| nlb_service(&format!("vpce-svc-{i:02}"), &nlb(i)))
        .collect();
    let provider = Provider {
        services: services.chunks(10).map(<[_]>::to_vec).collect(),
        lbs: (0..45).map(|i| lb(&nlb(i), &zones, false)).collect(),
        tgs: (0..45)
            .map(|i| Tg {
                lb: nlb(i),
                ..tg(
                    &group(i),
                    TargetTypeEnum::Instance,
                    "vpc-prov",
                    "use_load_balancer_configuration",
                    (0..5)
                        .map(|k| health(&instance(i, k), None, TargetHealthStateEnum::Healthy))
                        .collect(),
                )
            })
            .collect(),
        instances: (0..45)
            .flat_map(|i| (0..5).map(move |k| (i, k)))
            .map(|(i, k)| (instance(i, k), zones[k % 3].to_owned()))
            .collect(),
        ..Provider::default()
    };
    let (ec2, elb, log) = provider.rules();
    let world = consumers(&[]);
    let snapshot = estate(&ec2, &elb, &world)
        .snapshot(&AuditScope::All)
        .await
        .unwrap();

    let all_nlbs: BTreeSet<String> = (0..45).map(nlb).collect();
    let calls = log.of("DescribeLoadBalancers");
    assert!(
        calls.iter().all(|c| c.ids.len() <= AWS_MAX_LB_ARNS),
        "{calls:?}"
    );
    // One unfiltered listing, followed over its pages (15 a page here).
    assert!(calls.iter().all(|c| c.ids.is_empty()), "{calls:?}");
    assert_eq!(
        calls.iter().map(|c| c.page.clone()).collect::<Vec<_>>(),
        [None, Some("lb-15".into()), Some("lb-30".into())]
    );

    // Every NLB is read, once, with its target groups.
    let read: Vec<String> = snapshot
        .load_balancers
        .iter()
        .map(|lb| lb.arn.clone())
        .collect();
    assert_eq!(read.len(), 45);
    assert_eq!(sorted(&read), all_nlbs);
    assert!(
        snapshot
            .load_balancers
            .iter()
            .all(|lb| lb.az_names == zones && lb.account == HOME)
    );
    assert_eq!(log.of("DescribeLoadBalancerAttributes").len(), 45);
    // Every target group of the account, unfiltered, over its pages (2 a page here).
    let listed = log.of("DescribeTargetGroups");
    assert!(
        listed.iter().all(|c| c.ids.iter().all(String::is_empty)),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 23, "45 groups in pages of 2");
    assert_eq!(snapshot.target_groups.len(), 45);
    for (i, tg) in (0..45).map(|i| (i, group(i))) {
        let read = snapshot
            .target_groups
            .iter()
            .find(|g| g.arn == tg)
            .unwrap_or_else(|| panic!("{tg} not read"));
        assert_eq!(read.lb_arns, [nlb(i)]);
        assert_eq!(
            read.targets,
            (0..5)
                .map(|k| target(
                    &instance(i, k),
                    located(&[zones[k % 3]]),
                    TargetState::Healthy
                ))
                .collect::<Vec<_>>()
        );
    }

    // The instances of all target groups, in as few calls as the filter allows.
    let placed = log.of("DescribeInstances");
    let mut sizes: Vec<usize> = placed
        .iter()
        .map(|r| match r.filters.as_slice() {
            [(name, values)] if name == "instance-id" && r.ids.is_empty() => values.len(),
            _ => panic!("{r:?}"),
        })
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [25, 200]);
    let asked: Vec<String> = placed.iter().flat_map(|r| r.filters[0].1.clone()).collect();
    assert_eq!(sorted(&asked).len(), 225, "each instance asked for once");
}

/// IP targets without an AZ are located in the subnets of their own target group's VPC: two
/// NLBs in two VPCs whose CIDRs overlap, both VPCs' subnets read in one `DescribeSubnets`
/// filtered by `vpc-id`. The same address is in a different AZ in each VPC, and an address that
/// only the other VPC's subnets hold is not located.
#[tokio::test]
async fn an_ip_target_is_located_only_in_its_target_groups_vpc() {
    let ip = |id| health(id, None, TargetHealthStateEnum::Healthy);
    let subnet = |id: &str, vpc: &str, cidr: &str, az: &str| {
        (
            id.to_owned(),
            vpc.to_owned(),
            cidr.to_owned(),
            az.to_owned(),
        )
    };
    let provider = Provider {
        services: vec![vec![
            nlb_service(SVC, NLB),
            nlb_service(OTHER_SVC, OTHER_NLB),
        ]],
        lbs: vec![
            lb(NLB, &["us-east-1a", "us-east-1b"], false),
            lb(OTHER_NLB, &["us-east-1a", "us-east-1c"], false),
        ],
        tgs: vec![
            tg(
                TG_IP,
                TargetTypeEnum::Ip,
                "vpc-prov",
                "false",
                vec![ip("10.0.2.15"), ip("10.0.3.7")],
            ),
            Tg {
                lb: OTHER_NLB.into(),
                ..tg(
                    TG_PEER,
                    TargetTypeEnum::Ip,
                    "vpc-peer",
                    "false",
                    vec![ip("10.0.2.15"), ip("10.0.3.7")],
                )
            },
        ],
        subnets: vec![
            // The other VPCs are listed first: a lookup blind to VPCs would pick them.
            subnet("subnet-peer-1", "vpc-peer", "10.0.2.0/24", "us-east-1c"),
            subnet("subnet-peer-2", "vpc-peer", "10.0.3.0/24", "us-east-1a"),
            subnet("subnet-wide", "vpc-third", "10.0.0.0/8", "us-east-1b"),
            subnet("subnet-pa", "vpc-prov", "10.0.1.0/24", "us-east-1a"),
            subnet("subnet-pb", "vpc-prov", "10.0.2.0/24", "us-east-1b"),
        ],
        ..Provider::default()
    };
    let (ec2, elb, log) = provider.rules();
    let world = consumers(&[]);
    let snapshot = estate(&ec2, &elb, &world)
        .snapshot(&AuditScope::All)
        .await
        .unwrap();
    let targets = |arn: &str| {
        snapshot
            .target_groups
            .iter()
            .find(|g| g.arn == arn)
            .unwrap()
            .targets
            .clone()
    };
    assert_eq!(
        targets(TG_IP),
        [
            target("10.0.2.15", located(&["us-east-1b"]), TargetState::Healthy),
            target("10.0.3.7", TargetAzs::Unknown, TargetState::Healthy),
        ]
    );
    assert_eq!(
        targets(TG_PEER),
        [
            target("10.0.2.15", located(&["us-east-1c"]), TargetState::Healthy),
            target("10.0.3.7", located(&["us-east-1a"]), TargetState::Healthy),
        ]
    );
    let [subnets] = log.of("DescribeSubnets").try_into().unwrap();
    let [(name, vpcs)] = subnets.filters.as_slice() else {
        panic!("{subnets:?}")
    };
    assert_eq!(name, "vpc-id");
    assert_eq!(sorted(vpcs), sorted(&strings(&["vpc-peer", "vpc-prov"])));
    assert!(log.of("DescribeInstances").is_empty(), "no instance target");
}

/// An endpoint deleted since its connection was listed is simply absent: the rest of its
/// account is read, and an account none of whose endpoints is left is read without error (and
/// without a subnet call). EC2 asked by id would have refused the whole call.
#[tokio::test]
async fn a_vanished_endpoint_is_absent_and_does_not_fail_its_account() {
    let (ec2, elb, _) = provider(vec![vec![
        connection("vpce-home-gone", HOME, Some(REGION)),
        connection("vpce-c1", CONSUMER, Some(REGION)),
        connection("vpce-c-gone", CONSUMER, Some(REGION)),
    ]])
    .rules();
    let world = consumers(&[]);
    let snapshot = estate(&ec2, &elb, &world)
        .snapshot(&in_scope())
        .await
        .unwrap();
    assert_eq!(ids_of(&snapshot.endpoints), ["vpce-c1"]);
    assert_eq!(
        snapshot.endpoints[0].az_names,
        ["us-east-1a", "us-east-1b"],
        "the endpoint left is read in full"
    );
    assert!(
        snapshot.unreachable.is_empty(),
        "{:?}",
        snapshot.unreachable
    );
    assert!(snapshot.unread.is_empty(), "{:?}", snapshot.unread);
    assert_eq!(
        snapshot.az_maps.keys().collect::<Vec<_>>(),
        [HOME, CONSUMER],
        "both accounts were read"
    );
    let consumer = world.asked(CONSUMER, "DescribeVpcEndpoints");
    assert_eq!(consumer.len(), 1);
    assert_eq!(
        consumer[0].filters,
        [(
            "vpc-endpoint-id".to_owned(),
            strings(&["vpce-c1", "vpce-c-gone"])
        )]
    );
    assert_eq!(world.asked(HOME, "DescribeVpcEndpoints").len(), 1);
    assert!(
        world.asked(HOME, "DescribeSubnets").is_empty(),
        "no endpoint left, no VPC to read"
    );
}

/// A connection whose endpoint is in another region (cross-region PrivateLink) is reported as
/// not audited, with its region, and is not read: an account with only such endpoints is not
/// reached at all, and an account with both is asked for its local endpoints only.
#[tokio::test]
async fn an_endpoint_in_another_region_is_not_audited_and_not_read() {
    let (ec2, elb, _) = provider(vec![vec![
        connection("vpce-c1", CONSUMER, Some(REGION)),
        connection("vpce-c-far", CONSUMER, Some("eu-west-1")),
        connection("vpce-far", FAR, Some("us-west-2")),
    ]])
    .rules();
    let world = consumers(&[]);
    let snapshot = estate(&ec2, &elb, &world)
        .snapshot(&AuditScope::Services(BTreeSet::from([SVC.to_owned()])))
        .await
        .unwrap();
    let not_audited: Vec<(&str, &str)> = snapshot
        .not_audited
        .iter()
        .map(|n| (n.resource.as_str(), n.reason.as_str()))
        .collect();
    let [(far_consumer, in_eu), (far, in_us_west)] = not_audited.as_slice() else {
        panic!("{not_audited:?}")
    };
    assert_eq!((*far_consumer, *far), ("vpce-c-far", "vpce-far"));
    assert!(in_eu.contains("eu-west-1"), "{in_eu}");
    assert!(in_us_west.contains("us-west-2"), "{in_us_west}");
    assert_eq!(ids_of(&snapshot.endpoints), ["vpce-c1"]);
    assert!(snapshot.unread.is_empty(), "{:?}", snapshot.unread);
    assert!(
        snapshot.unreachable.is_empty(),
        "{:?}",
        snapshot.unreachable
    );
    let consumer = world.asked(CONSUMER, "DescribeVpcEndpoints");
    assert_eq!(consumer.len(), 1);
    assert_eq!(
        consumer[0].filters,
        [("vpc-endpoint-id".to_owned(), strings(&["vpce-c1"]))]
    );
    assert!(
        world.calls().iter().all(|c| c.account != FAR),
        "nothing asked in the far account"
    );
    assert_eq!(
        world.reached(),
        [CONSUMER],
        "the far account is not reached"
    );
    assert!(!snapshot.az_maps.contains_key(FAR));
}

/// A scope that names no service of the provider reads no NLB, no target, no connection and no
/// consumer.
#[tokio::test]
async fn a_scope_that_names_no_known_service_reads_no_load_balancer() {
    let (ec2, _, log) = provider(vec![vec![connection("vpce-c1", CONSUMER, Some(REGION))]]).rules();
    let world = consumers(&[]);
    // No ELB rule at all: any ELBv2 call would fail the snapshot.
    let estate = estate(&ec2, &[], &world);
    let scope = AuditScope::Services(BTreeSet::from(["vpce-svc-unknown".to_owned()]));
    let snapshot = estate.snapshot(&scope).await.unwrap();
    assert!(snapshot.services.is_empty());
    assert!(snapshot.load_balancers.is_empty());
    assert!(snapshot.target_groups.is_empty());
    assert!(snapshot.endpoints.is_empty());
    assert!(
        snapshot.not_audited.is_empty(),
        "{:?}",
        snapshot.not_audited
    );
    assert!(snapshot.unread.is_empty());
    assert_eq!(
        log.pages("DescribeVpcEndpointServiceConfigurations").len(),
        2,
        "every page of services was looked through"
    );
    for op in [
        "DescribeVpcEndpointConnections",
        "DescribeInstances",
        "DescribeSubnets",
    ] {
        assert!(log.of(op).is_empty(), "{op}");
    }
    assert!(world.calls().is_empty(), "no consumer was asked");
    assert_eq!(
        snapshot.az_maps.keys().collect::<Vec<_>>(),
        [HOME],
        "the provider's own AZ map is always read"
    );
}

/// A consumer whose role cannot be assumed is reported as unreachable, its endpoints are
/// marked unread (their findings can be neither confirmed nor resolved), and the others are
/// read.
#[tokio::test]
async fn an_unreachable_consumer_is_reported_and_the_others_are_read() {
    let (ec2, elb, _) = provider(vec![vec![
        connection("vpce-home", HOME, Some(REGION)),
        connection("vpce-locked-1", LOCKED, Some(REGION)),
        connection("vpce-locked-2", LOCKED, Some(REGION)),
    ]])
    .rules();
    let world = consumers(&[LOCKED]);
    let snapshot = estate(&ec2, &elb, &world)
        .snapshot(&in_scope())
        .await
        .unwrap();
    assert_eq!(ids_of(&snapshot.endpoints), ["vpce-home"]);
    let [(account, problem)] = snapshot.unreachable.as_slice() else {
        panic!("{:?}", snapshot.unreachable)
    };
    assert_eq!(account, LOCKED);
    assert!(
        problem.starts_with("ec2:DescribeAvailabilityZones: "),
        "{problem}"
    );
    assert!(problem.contains("AccessDenied"), "{problem}");
    assert_eq!(
        snapshot.unread,
        BTreeSet::from(["vpce-locked-1".to_owned(), "vpce-locked-2".to_owned()])
    );
    assert!(
        !snapshot.az_maps.contains_key(LOCKED),
        "no AZ map for an account never read"
    );
    assert_eq!(
        world.reached().iter().filter(|a| *a == LOCKED).count(),
        1,
        "a refused role is asked for once"
    );
    assert_eq!(
        world.calls().iter().filter(|c| c.account == LOCKED).count(),
        1,
        "nothing is read after the first refusal"
    );
}

/// A consumer whose role is assumed but refuses a later read (here its subnets, after its
/// endpoints were read) is unreachable too, named by the call refused: none of its endpoints is
/// half-read into the snapshot, all are unread, and the other accounts are read.
#[tokio::test]
async fn a_consumer_refusing_a_read_midway_is_unreachable_with_nothing_half_read() {
    let (ec2, elb, _) = provider(vec![vec![
        connection("vpce-home", HOME, Some(REGION)),
        connection("vpce-c1", CONSUMER, Some(REGION)),
        connection("vpce-c2", CONSUMER, Some(REGION)),
    ]])
    .rules();
    let world = Consumers {
        refused: Arc::new(BTreeSet::from([(
            CONSUMER.to_owned(),
            "DescribeSubnets".to_owned(),
        )])),
        ..consumers(&[])
    };
    let snapshot = estate(&ec2, &elb, &world)
        .snapshot(&in_scope())
        .await
        .unwrap();
    assert_eq!(ids_of(&snapshot.endpoints), ["vpce-home"]);
    let [(account, problem)] = snapshot.unreachable.as_slice() else {
        panic!("{:?}", snapshot.unreachable)
    };
    assert_eq!(account, CONSUMER);
    assert!(problem.starts_with("ec2:DescribeSubnets: "), "{problem}");
    assert!(problem.contains("UnauthorizedOperation"), "{problem}");
    assert_eq!(
        snapshot.unread,
        BTreeSet::from(["vpce-c1".to_owned(), "vpce-c2".to_owned()])
    );
    assert_eq!(world.asked(CONSUMER, "DescribeVpcEndpoints").len(), 1);
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
            ec2_error(
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            )
        });
    let world = consumers(&[]);
    let estate = AwsEstate {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&zones, &denied], |c| c
            .retry_config(retries(3))),
        elb: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            [] as [&Rule; 0]
        ),
        accounts: world.clone(),
        account: HOME.into(),
        region: REGION.into(),
        rates: None,
        memory: Memory::new(Duration::from_secs(3600)),
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

    // ELBv2 throttles the target health past every retry: that service is left unread (its
    // findings kept as they are), and the snapshot is taken all the same.
    let (ec2, mut elb, _) = provider(vec![vec![]]).rules();
    let throttled = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(|| elb_error("Throttling", "Rate exceeded"));
    // Matched before the healthy answers.
    elb.insert(0, throttled.clone());
    let estate = AwsEstate {
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &ec2),
        elb: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            &elb,
            |c| c.retry_config(retries(3))
        ),
        accounts: world.clone(),
        account: HOME.into(),
        region: REGION.into(),
        rates: None,
        memory: Memory::new(Duration::from_secs(3600)),
    };
    let snapshot = estate.snapshot(&in_scope()).await.unwrap();
    assert_eq!(
        throttled.num_calls(),
        9,
        "the SDK's three attempts, three times within the pace"
    );
    assert_eq!(snapshot.unread_services, BTreeSet::from([SVC.to_owned()]));
    assert!(snapshot.services.is_empty() && snapshot.target_groups.is_empty());
    assert!(
        snapshot.endpoints.is_empty(),
        "an unread service's consumers are not judged either"
    );
    assert_eq!(
        snapshot.not_audited.len(),
        1,
        "the GWLB service is still noted"
    );
}

fn ops(log: &Log) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in log.0.lock().unwrap().iter() {
        *out.entry(r.op).or_default() += 1;
    }
    out
}

/// What rarely changes is read once and kept: of ELB, a second audit of the same service reads
/// only its target groups' health — nothing of the load balancer or the groups' settings; of
/// EC2, the services and their live connections (which change), the subnets of IP targets
/// registered without an AZ, and the one instance that no longer exists (an absence is not
/// kept); the placed instances are not asked again.
#[tokio::test]
async fn a_second_audit_reads_of_elb_only_target_health() {
    let (ec2, elb, log) = provider(vec![vec![]]).rules();
    let world = consumers(&[]);
    let estate = estate(&ec2, &elb, &world);
    let first = estate.snapshot(&in_scope()).await.unwrap();
    let before = ops(&log);
    assert_eq!(before["DescribeTargetHealth"], 5);
    assert_eq!(first.target_groups[0].settle_seconds, Some(30), "10 s × 3");
    let second = estate.snapshot(&in_scope()).await.unwrap();
    assert_eq!(second, first);
    let after = ops(&log);
    let added: BTreeMap<&str, usize> = after
        .iter()
        .map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        added,
        BTreeMap::from([
            ("DescribeInstances", 1),
            ("DescribeSubnets", 1),
            ("DescribeTargetHealth", 5),
            ("DescribeVpcEndpointConnections", 1),
            ("DescribeVpcEndpointServiceConfigurations", 2),
        ]),
        "{after:?}"
    );
}

/// An ELB event names a target group: one call finds its load balancer, the services are those
/// in front of it, and what was kept of the group is read again by the audit that follows.
#[tokio::test]
async fn an_event_on_a_target_group_audits_the_services_in_front_of_it() {
    let (ec2, elb, log) = provider(vec![vec![]]).rules();
    let world = consumers(&[]);
    let estate = estate(&ec2, &elb, &world);
    estate.snapshot(&in_scope()).await.unwrap();
    let groups_read = log.of("DescribeTargetGroups").len();
    let services = estate
        .services_behind(&BTreeSet::from([TG_APP.to_owned()]))
        .await
        .unwrap();
    assert_eq!(services, BTreeSet::from([SVC.to_owned()]));
    assert_eq!(log.of("DescribeTargetGroups").len(), groups_read + 1);
    assert_eq!(
        log.ids("DescribeTargetGroups").last().unwrap()[1..],
        [TG_APP.to_owned()]
    );
    // A group nobody fronts, or a load balancer behind no service: nothing to audit.
    let orphan = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/z/9";
    let none = estate
        .services_behind(&BTreeSet::from([orphan.to_owned()]))
        .await
        .unwrap();
    assert!(none.is_empty());
}
