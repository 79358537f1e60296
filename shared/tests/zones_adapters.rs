//! The associator over the real Route 53 client, with responses served by the SDK's mocks:
//! a throttling storm, and each Route 53 refusal that must become a finding.
#![allow(clippy::unwrap_used, clippy::panic)]

use autopilot::ledger::DynamoLedger;
use autopilot::notify::SnsPublisher;
use autopilot::private_zones::route53::{Route53Owner, Spokes, associate_with};
use autopilot::private_zones::rules::{Rules, Vpc};
use autopilot::private_zones::run::{Associator, Status, Target, route53_retry};
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_route53::operation::associate_vpc_with_hosted_zone::AssociateVpcWithHostedZoneOutput;
use aws_sdk_route53::operation::create_vpc_association_authorization::CreateVpcAssociationAuthorizationOutput;
use aws_sdk_route53::operation::delete_vpc_association_authorization::DeleteVpcAssociationAuthorizationOutput;
use aws_sdk_route53::operation::get_hosted_zone::GetHostedZoneOutput;
use aws_sdk_route53::operation::list_hosted_zones::ListHostedZonesOutput;
use aws_sdk_route53::operation::list_tags_for_resources::ListTagsForResourcesOutput;
use aws_sdk_route53::types::{
    ChangeInfo, ChangeStatus, HostedZone, HostedZoneConfig, Vpc as R53Vpc, VpcRegion,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use std::time::Duration;

const HUB: &str = "123456789012";
const SPOKE: &str = "111111111111";
const ZONE: &str = "Z0SHARED";

fn refusal(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    );
    Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn throttled() -> Response {
    refusal(400, "Throttling", "Rate exceeded")
}

/// The functions' own Route 53 retry settings, with the backoff shortened for the test.
fn retries() -> RetryConfig {
    route53_retry().with_initial_backoff(Duration::from_millis(1))
}

fn change() -> ChangeInfo {
    ChangeInfo::builder()
        .id("/change/C1")
        .status(ChangeStatus::Insync)
        .submitted_at(aws_smithy_types::DateTime::from_secs(0))
        .build()
        .unwrap()
}

/// The hub's catalogue: one private zone, associated with the hub's own VPC.
fn catalogue_rules() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_route53::Client::list_hosted_zones)
            .match_requests(|_| true)
            .then_output(|| {
                ListHostedZonesOutput::builder()
                    .hosted_zones(
                        HostedZone::builder()
                            .id(format!("/hostedzone/{ZONE}"))
                            .name("internal.example.")
                            .caller_reference("c")
                            .config(HostedZoneConfig::builder().private_zone(true).build())
                            .build()
                            .unwrap(),
                    )
                    .marker("")
                    .is_truncated(false)
                    .max_items(100)
                    .build()
                    .unwrap()
            }),
        mock!(aws_sdk_route53::Client::list_tags_for_resources)
            .match_requests(|_| true)
            .then_output(|| {
                ListTagsForResourcesOutput::builder()
                    .set_resource_tag_sets(Some(vec![]))
                    .build()
                    .unwrap()
            }),
        mock!(aws_sdk_route53::Client::get_hosted_zone)
            .match_requests(|_| true)
            .then_output(|| {
                GetHostedZoneOutput::builder()
                    .hosted_zone(
                        HostedZone::builder()
                            .id(ZONE)
                            .name("internal.example.")
                            .caller_reference("c")
                            .build()
                            .unwrap(),
                    )
                    .vpcs(
                        R53Vpc::builder()
                            .vpc_id("vpc-hub")
                            .vpc_region(VpcRegion::UsEast1)
                            .build(),
                    )
                    .build()
            }),
    ]
}

/// Spoke VPCs as given; associations as the VPC owner through `client`.
struct FixedSpokes {
    vpcs: Vec<Vpc>,
    client: aws_sdk_route53::Client,
    /// Accounts whose role cannot be assumed.
    broken: Vec<String>,
}

impl Spokes for FixedSpokes {
    async fn vpcs(
        &self,
        account: &str,
        region: &str,
        ids: &[String],
    ) -> autopilot::Result<Vec<Vpc>> {
        if self.broken.iter().any(|b| b == account) {
            return Err(autopilot::Error::Aws {
                operation: "sts:AssumeRole",
                code: Some("AccessDenied".into()),
                message: "not authorized to perform sts:AssumeRole".into(),
                retryable: false,
                source: "denied".into(),
            });
        }
        Ok(self
            .vpcs
            .iter()
            .filter(|v| {
                v.account == account
                    && v.region == region
                    && (ids.is_empty() || ids.contains(&v.vpc_id))
            })
            .cloned()
            .collect())
    }

    async fn associate(
        &self,
        _account: &str,
        zone: &str,
        vpc: &str,
        region: &str,
    ) -> autopilot::Result<()> {
        associate_with(&self.client, zone, vpc, region).await
    }
}

fn vpcs(account: &str, n: usize) -> Vec<Vpc> {
    (0..n)
        .map(|i| Vpc {
            account: account.into(),
            region: "us-east-1".into(),
            vpc_id: format!("vpc-{i:04}"),
            tags: Default::default(),
        })
        .collect()
}

fn rules() -> Rules {
    Rules::parse(&format!(
        r#"{{"version": 1, "accounts": ["{HUB}", "{SPOKE}"], "regions": ["us-east-1"], "rules": [{{"zones": ["{ZONE}"]}}]}}"#
    ))
    .unwrap()
}

fn associator(
    owner: Vec<Rule>,
    spokes: FixedSpokes,
) -> Associator<Route53Owner, FixedSpokes, DynamoLedger, SnsPublisher> {
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|_| true)
        .then_output(|| GetItemOutput::builder().build());
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|_| true)
        .then_output(|| PutItemOutput::builder().build());
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|_| true)
        .then_output(|| PublishOutput::builder().message_id("m").build());
    Associator {
        owner: Route53Owner::new(mock_client!(
            aws_sdk_route53,
            RuleMode::MatchAny,
            &owner,
            |c| c.retry_config(retries())
        )),
        spokes,
        ledger: DynamoLedger::new(
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &put]),
            "t",
            Duration::from_secs(60),
        ),
        publisher: SnsPublisher::new(
            mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]),
            "arn:aws:sns:us-east-1:1:t",
        ),
        hub_account: HUB.into(),
        dry_run: false,
    }
}

fn unused_spoke_client() -> aws_sdk_route53::Client {
    let none = mock!(aws_sdk_route53::Client::associate_vpc_with_hosted_zone)
        .match_requests(|_| true)
        .then_http_response(throttled);
    mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&none])
}

/// 50 new VPCs at once, every Route 53 call throttled three times before it succeeds: all 50 are
/// associated, none fails with "Rate exceeded".
#[tokio::test]
async fn a_burst_of_fifty_vpcs_rides_out_a_throttling_storm() {
    // One rule per association: three throttled answers, then success.
    let storm: Vec<Rule> = (0..50)
        .map(|_| {
            mock!(aws_sdk_route53::Client::associate_vpc_with_hosted_zone)
                .match_requests(|_| true)
                .sequence()
                .http_response(throttled)
                .times(3)
                .output(|| {
                    AssociateVpcWithHostedZoneOutput::builder()
                        .change_info(change())
                        .build()
                })
                .build()
        })
        .collect();
    let mut owner = catalogue_rules();
    owner.extend(storm.iter().cloned());
    let a = associator(
        owner,
        FixedSpokes {
            vpcs: vpcs(HUB, 50),
            client: unused_spoke_client(),
            broken: vec![],
        },
    );
    let report = a.run(Ok(rules()), Target::Reconcile).await.unwrap();
    assert_eq!(report.outcomes.len(), 50);
    assert!(
        report.outcomes.iter().all(|o| o.status == Status::Done),
        "{:?}",
        report.outcomes
    );
    let calls: usize = storm.iter().map(Rule::num_calls).sum();
    assert_eq!(
        calls, 200,
        "each association: three throttled attempts, then success"
    );
}

/// Each refusal Route 53 documents for an association becomes a finding, is not retried, and the
/// cross-account authorization is removed all the same.
#[tokio::test]
async fn refusals_become_findings_and_the_authorization_is_still_removed() {
    for (status, code) in [
        (400, "ConflictingDomainExists"),
        (400, "LimitsExceeded"),
        (401, "NotAuthorizedException"),
    ] {
        let refused = mock!(aws_sdk_route53::Client::associate_vpc_with_hosted_zone)
            .match_requests(|_| true)
            .then_http_response(move || refusal(status, code, "refused"));
        let authorize = mock!(aws_sdk_route53::Client::create_vpc_association_authorization)
            .match_requests(|_| true)
            .then_output(|| {
                CreateVpcAssociationAuthorizationOutput::builder()
                    .hosted_zone_id(ZONE)
                    .vpc(R53Vpc::builder().vpc_id("vpc-0000").build())
                    .build()
                    .unwrap()
            });
        let deauthorize = mock!(aws_sdk_route53::Client::delete_vpc_association_authorization)
            .match_requests(|_| true)
            .then_output(|| DeleteVpcAssociationAuthorizationOutput::builder().build());
        let mut owner = catalogue_rules();
        owner.extend([authorize.clone(), deauthorize.clone()]);
        let spoke = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&refused], |c| c
            .retry_config(retries()));
        let a = associator(
            owner,
            FixedSpokes {
                vpcs: vpcs(SPOKE, 1),
                client: spoke,
                broken: vec![],
            },
        );
        let report = a.run(Ok(rules()), Target::Reconcile).await.unwrap();
        let [outcome] = report.outcomes.as_slice() else {
            panic!("{code}: {:?}", report.outcomes)
        };
        assert_eq!(outcome.status, Status::Finding, "{code}");
        assert_eq!(
            outcome.finding.as_ref().map(|f| f.code.as_str()),
            Some(code)
        );
        assert_eq!(refused.num_calls(), 1, "{code} is not retried");
        assert_eq!(
            (authorize.num_calls(), deauthorize.num_calls()),
            (1, 1),
            "{code}"
        );
    }
}

/// A spoke whose role is missing is reported, and the reconcile carries on with the others.
#[tokio::test]
async fn an_unreachable_account_does_not_stop_the_reconcile() {
    let associate = mock!(aws_sdk_route53::Client::associate_vpc_with_hosted_zone)
        .match_requests(|_| true)
        .then_output(|| {
            AssociateVpcWithHostedZoneOutput::builder()
                .change_info(change())
                .build()
        });
    let mut owner = catalogue_rules();
    owner.push(associate.clone());
    let spokes = FixedSpokes {
        vpcs: vpcs(HUB, 2),
        client: unused_spoke_client(),
        broken: vec![SPOKE.into()],
    };
    let report = associator(owner, spokes)
        .run(Ok(rules()), Target::Reconcile)
        .await
        .unwrap();
    assert_eq!(associate.num_calls(), 2);
    assert_eq!(report.unreachable.len(), 1);
    assert_eq!(report.unreachable[0].account, SPOKE);
    assert!(
        report.unreachable[0].problem.contains("AssumeRole"),
        "{:?}",
        report.unreachable
    );
    assert_eq!(
        report.announced, 3,
        "two associations and the unreachable account"
    );
}
