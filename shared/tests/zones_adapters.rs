//! The associator over the real Route 53 client, with responses served by the SDK's mocks:
//! a throttling storm, and each Route 53 refusal that must become a finding.
#![allow(clippy::unwrap_used, clippy::panic)]

use autopilot::accounts::AccountConfigs;
use autopilot::ledger::DynamoLedger;
use autopilot::notify::SnsPublisher;
use autopilot::private_zones::events::Target;
use autopilot::private_zones::journal::DynamoJournal;
use autopilot::private_zones::ports::{Spokes, ZoneOwner};
use autopilot::private_zones::route53::{
    AssumedRoleSpokes, Route53Owner, Route53Rates, associate_with,
};
use autopilot::private_zones::rules::{RuleAssociation, Rules, Vpc, Zone};
use autopilot::private_zones::run::{Associator, Status, route53_retry};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_route53::operation::associate_vpc_with_hosted_zone::AssociateVpcWithHostedZoneOutput;
use aws_sdk_route53::operation::create_vpc_association_authorization::CreateVpcAssociationAuthorizationOutput;
use aws_sdk_route53::operation::delete_vpc_association_authorization::DeleteVpcAssociationAuthorizationOutput;
use aws_sdk_route53::operation::get_hosted_zone::GetHostedZoneOutput;
use aws_sdk_route53::operation::get_hosted_zone_limit::GetHostedZoneLimitOutput;
use aws_sdk_route53::operation::list_hosted_zones::ListHostedZonesOutput;
use aws_sdk_route53::operation::list_tags_for_resources::ListTagsForResourcesOutput;
use aws_sdk_route53::types::{
    ChangeInfo, ChangeStatus, HostedZone, HostedZoneConfig, ResourceTagSet, Tag, TagResourceType,
    Vpc as R53Vpc, VpcRegion,
};
use aws_sdk_route53::types::{HostedZoneLimit, HostedZoneLimitType};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Route 53's rates in this process alone, at their full documented size.
fn local_rates() -> std::sync::Arc<Route53Rates> {
    std::sync::Arc::new(Route53Rates::new(1.0, None))
}

fn owner_of(client: aws_sdk_route53::Client) -> Route53Owner {
    Route53Owner::new(client, HUB.into(), local_rates())
}

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
        associate_with(&self.client, || async {}, zone, vpc, region).await
    }

    // These rules give no Resolver rules: never called.
    async fn rule_associations(
        &self,
        _: &str,
        _: &str,
        _: &[String],
    ) -> autopilot::Result<Vec<RuleAssociation>> {
        Err(autopilot::Error::Config("no Resolver rules here".into()))
    }

    async fn associate_rule(&self, _: &str, _: &str, _: &str, _: &str) -> autopilot::Result<()> {
        Err(autopilot::Error::Config("no Resolver rules here".into()))
    }

    async fn disassociate_rule(&self, _: &str, _: &str, _: &str, _: &str) -> autopilot::Result<()> {
        Err(autopilot::Error::Config("no Resolver rules here".into()))
    }

    async fn inbound_vpcs(&self, _: &str, _: &str) -> autopilot::Result<Vec<String>> {
        Err(autopilot::Error::Config("no Resolver rules here".into()))
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
) -> Associator<Route53Owner, FixedSpokes, DynamoLedger, DynamoJournal, SnsPublisher> {
    let get = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .match_requests(|_| true)
        .then_output(|| BatchGetItemOutput::builder().build());
    let put = mock!(aws_sdk_dynamodb::Client::batch_write_item)
        .match_requests(|_| true)
        .then_output(|| BatchWriteItemOutput::builder().build());
    let claim = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|_| true)
        .then_output(|| aws_sdk_dynamodb::operation::put_item::PutItemOutput::builder().build());
    // The journal: no run left one; this run's is written and closed.
    let index = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|_| true)
        .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
    let journal = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|_| true)
        .then_output(|| {
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder().build()
        });
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|_| true)
        .then_output(|| PublishOutput::builder().message_id("m").build());
    // A summary and its parts: every entry taken.
    let publish_batch = mock!(aws_sdk_sns::Client::publish_batch)
        .match_requests(|r| r.publish_batch_request_entries().len() <= 10)
        .then_output(|| {
            aws_sdk_sns::operation::publish_batch::PublishBatchOutput::builder().build()
        });
    // No authorization is left over in these tests.
    let mut owner = owner;
    owner.push(
        mock!(aws_sdk_route53::Client::list_vpc_association_authorizations)
            .match_requests(|_| true)
            .then_output(|| {
                aws_sdk_route53::operation::list_vpc_association_authorizations::ListVpcAssociationAuthorizationsOutput::builder()
                    .hosted_zone_id(ZONE)
                    .set_vpcs(Some(vec![]))
                    .build()
                    .unwrap()
            }),
    );
    Associator {
        owner: owner_of(mock_client!(
            aws_sdk_route53,
            RuleMode::MatchAny,
            &owner,
            |c| c.retry_config(retries())
        )),
        spokes,
        ledger: DynamoLedger::new(
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &put, &claim]),
            "t",
            Duration::from_secs(60),
        ),
        journal: DynamoJournal::new(
            mock_client!(
                aws_sdk_dynamodb,
                RuleMode::MatchAny,
                [&get, &put, &claim, &index, &journal]
            ),
            "t",
        ),
        publisher: SnsPublisher::new(
            mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish, &publish_batch]),
            "arn:aws:sns:us-east-1:1:t",
        ),
        hub_account: HUB.into(),
        dry_run: false,
        recent: Default::default(),
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
    let report = a
        .run(Ok(rules()), Target::Reconcile)
        .await
        .unwrap()
        .ran()
        .unwrap();
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
        // The zone's VPC quota, read for a LimitsExceeded finding.
        let limit = mock!(aws_sdk_route53::Client::get_hosted_zone_limit)
            .match_requests(|r| {
                r.hosted_zone_id() == Some(ZONE)
                    && r.r#type() == Some(&HostedZoneLimitType::MaxVpcsAssociatedByZone)
            })
            .then_output(|| {
                GetHostedZoneLimitOutput::builder()
                    .count(500)
                    .limit(
                        HostedZoneLimit::builder()
                            .r#type(HostedZoneLimitType::MaxVpcsAssociatedByZone)
                            .value(500)
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let mut owner = catalogue_rules();
        owner.extend([authorize.clone(), deauthorize.clone(), limit.clone()]);
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
        let report = a
            .run(Ok(rules()), Target::Reconcile)
            .await
            .unwrap()
            .ran()
            .unwrap();
        let [outcome] = report.outcomes.as_slice() else {
            panic!("{code}: {:?}", report.outcomes)
        };
        assert_eq!(outcome.status, Status::Finding, "{code}");
        assert_eq!(
            outcome.finding.as_ref().map(|f| f.code.as_str()),
            Some(code)
        );
        assert_eq!(refused.num_calls(), 1, "{code} is not retried");
        if code == "LimitsExceeded" {
            let message = &outcome.finding.as_ref().unwrap().message;
            assert!(message.contains("500 VPCs of the 500"), "{message}");
            assert_eq!(limit.num_calls(), 1);
        }
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
        .unwrap()
        .ran()
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

// ---------------------------------------------------------------------------------------------
// Listing: every page, every zone
// ---------------------------------------------------------------------------------------------

fn hosted_zone(id: &str, name: &str, private: bool) -> HostedZone {
    HostedZone::builder()
        .id(format!("/hostedzone/{id}"))
        .name(name)
        .caller_reference(id)
        .config(HostedZoneConfig::builder().private_zone(private).build())
        .build()
        .unwrap()
}

/// The Marker of each ListHostedZones request, in order.
type Markers = std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>;

/// ListHostedZones as Route 53 pages it: page `n` (from 0) holds `pages[n]` and, until the last,
/// says IsTruncated with NextMarker the id of the next page's first zone, which the next request
/// must send as its Marker.
fn listing(pages: Vec<Vec<HostedZone>>) -> (Rule, Markers) {
    let markers = Markers::default();
    let seen = markers.clone();
    let first_id = |page: &[HostedZone]| {
        page.first()
            .map(|z| z.id().trim_start_matches("/hostedzone/").to_owned())
    };
    let rule = mock!(aws_sdk_route53::Client::list_hosted_zones)
        .match_requests(|_| true)
        .then_compute_output(move |r| {
            seen.lock().unwrap().push(r.marker().map(str::to_owned));
            let index = match r.marker() {
                None => 0,
                Some(marker) => pages
                    .iter()
                    .position(|p| first_id(p).as_deref() == Some(marker))
                    .unwrap(),
            };
            let next = pages.get(index + 1).and_then(|p| first_id(p));
            ListHostedZonesOutput::builder()
                .set_hosted_zones(Some(pages[index].clone()))
                .marker(r.marker().unwrap_or_default())
                .is_truncated(next.is_some())
                .set_next_marker(next)
                .max_items(2)
                .build()
                .unwrap()
        });
    (rule, markers)
}

/// GetHostedZone: `vpc-<zone id>` in us-east-1 for every zone.
fn zone_details() -> Rule {
    mock!(aws_sdk_route53::Client::get_hosted_zone)
        .match_requests(|_| true)
        .then_compute_output(|r| {
            let id = r.id().unwrap_or_default().to_owned();
            GetHostedZoneOutput::builder()
                .hosted_zone(hosted_zone(&id, "x.", true))
                .vpcs(
                    R53Vpc::builder()
                        .vpc_id(format!("vpc-{id}"))
                        .vpc_region(VpcRegion::UsEast1)
                        .build(),
                )
                .build()
        })
}

/// ListTagsForResources: `owner=<zone id>` on every zone asked for.
fn zone_tags(batches: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>) -> Rule {
    mock!(aws_sdk_route53::Client::list_tags_for_resources)
        .match_requests(|r| r.resource_type() == Some(&TagResourceType::Hostedzone))
        .then_compute_output(move |r| {
            batches.lock().unwrap().push(r.resource_ids().to_vec());
            let sets = r
                .resource_ids()
                .iter()
                .map(|id| {
                    ResourceTagSet::builder()
                        .resource_type(TagResourceType::Hostedzone)
                        .resource_id(id)
                        .tags(Tag::builder().key("owner").value(id).build())
                        .build()
                })
                .collect();
            ListTagsForResourcesOutput::builder()
                .set_resource_tag_sets(Some(sets))
                .build()
                .unwrap()
        })
}

/// Three pages of hosted zones, each asked for with the previous page's NextMarker: every private
/// zone of every page is catalogued (public ones left out), with its tags and its VPCs.
#[tokio::test]
async fn the_catalogue_follows_every_page_of_hosted_zones() {
    let (list, markers) = listing(vec![
        vec![
            hosted_zone("Z1", "a.internal.", true),
            hosted_zone("ZPUB", "example.com.", false),
        ],
        vec![
            hosted_zone("Z2", "b.internal.", true),
            hosted_zone("Z3", "c.internal.", true),
        ],
        vec![hosted_zone("Z4", "d.internal.", true)],
    ]);
    let details = zone_details();
    let batches = std::sync::Arc::default();
    let tags = zone_tags(std::sync::Arc::clone(&batches));
    let owner = owner_of(mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        [&list, &tags, &details]
    ));
    let zones = owner.catalogue(true).await.unwrap();

    assert_eq!(list.num_calls(), 3, "every page");
    assert_eq!(
        *markers.lock().unwrap(),
        [None, Some("Z2".to_owned()), Some("Z4".to_owned())],
        "each page asked for with the previous page's NextMarker"
    );
    let expected: Vec<Zone> = [
        ("Z1", "a.internal."),
        ("Z2", "b.internal."),
        ("Z3", "c.internal."),
        ("Z4", "d.internal."),
    ]
    .iter()
    .map(|(id, name)| Zone {
        id: (*id).into(),
        name: (*name).into(),
        tags: BTreeMap::from([("owner".into(), (*id).into())]),
        vpcs: BTreeSet::new(),
    })
    .collect();
    assert_eq!(zones, expected);
    assert_eq!(
        details.num_calls(),
        0,
        "a zone's VPCs are read only for the zones a run needs"
    );
    assert_eq!(*batches.lock().unwrap(), [["Z1", "Z2", "Z3", "Z4"]]);
    // Kept for the next event run; read again when asked fresh (the reconcile).
    assert_eq!(owner.catalogue(false).await.unwrap(), expected);
    assert_eq!(list.num_calls(), 3, "kept");
    owner.catalogue(true).await.unwrap();
    assert_eq!(list.num_calls(), 6, "read again");
    assert_eq!(
        owner.associated("Z2").await.unwrap(),
        BTreeSet::from([("vpc-Z2".to_owned(), "us-east-1".to_owned())])
    );
}

/// Zones across pages are tagged ten per ListTagsForResources call (the API's limit), and every
/// zone gets its own tags back.
#[tokio::test]
async fn the_catalogue_reads_tags_ten_zones_per_call() {
    let ids: Vec<String> = (0..23).map(|i| format!("Z{i:02}")).collect();
    let pages: Vec<Vec<HostedZone>> = ids
        .chunks(7)
        .map(|c| {
            c.iter()
                .map(|id| hosted_zone(id, "z.internal.", true))
                .collect()
        })
        .collect();
    let (list, markers) = listing(pages);
    let details = zone_details();
    let batches = std::sync::Arc::default();
    let tags = zone_tags(std::sync::Arc::clone(&batches));
    let owner = owner_of(mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        [&list, &tags, &details]
    ));
    let zones = owner.catalogue(true).await.unwrap();

    assert_eq!(list.num_calls(), 4, "23 zones, 7 a page");
    assert_eq!(
        *markers.lock().unwrap(),
        [
            None,
            Some("Z07".into()),
            Some("Z14".into()),
            Some("Z21".into())
        ]
    );
    assert_eq!(zones.len(), 23);
    let batches = batches.lock().unwrap();
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 3]
    );
    assert_eq!(batches.concat(), ids);
    assert!(
        zones.iter().all(|z| z.tags.get("owner") == Some(&z.id)),
        "{zones:?}"
    );
    assert_eq!(details.num_calls(), 0);
}

/// A page that fails fails the catalogue (no partial catalogue), with its code.
#[tokio::test]
async fn a_page_that_fails_fails_the_catalogue() {
    let first = mock!(aws_sdk_route53::Client::list_hosted_zones)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| {
            ListHostedZonesOutput::builder()
                .hosted_zones(hosted_zone("Z1", "a.internal.", true))
                .marker("")
                .is_truncated(true)
                .next_marker("Z2")
                .max_items(1)
                .build()
                .unwrap()
        });
    let denied = mock!(aws_sdk_route53::Client::list_hosted_zones)
        .match_requests(|r| r.marker() == Some("Z2"))
        .then_http_response(|| refusal(403, "AccessDenied", "not authorized"));
    let owner = owner_of(mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        [&first, &denied],
        |c| c.retry_config(retries())
    ));
    let err = owner.catalogue(true).await.unwrap_err();
    assert_eq!((first.num_calls(), denied.num_calls()), (1, 1));
    assert_eq!(err.code(), Some("AccessDenied"));
    assert!(!err.retryable());
    assert!(
        err.to_string().starts_with("route53:ListHostedZones: "),
        "{err}"
    );
}

/// A spoke's VPCs (here the hub's own, read with the function's credentials): DescribeVpcs is
/// followed across its pages, each asked for with the previous NextToken, tags and owner kept.
/// `AccountConfigs` builds the client from an `SdkConfig`, which takes no interceptor, so EC2
/// answers over HTTP here.
#[tokio::test]
async fn spoke_vpcs_are_read_across_every_page() {
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

    #[derive(Debug, Clone, Default)]
    struct Ec2 {
        /// The NextToken of each request, in order.
        tokens: std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
    }
    impl HttpConnector for Ec2 {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let body = std::str::from_utf8(request.body().bytes().unwrap_or_default())
                .unwrap()
                .to_owned();
            let param = |name: &str| {
                body.split('&')
                    .find_map(|p| p.strip_prefix(&format!("{name}=")))
                    .map(str::to_owned)
            };
            assert_eq!(param("Action").as_deref(), Some("DescribeVpcs"));
            assert_eq!(param("VpcId.1"), None, "no ids given, none asked for");
            let token = param("NextToken");
            self.tokens.lock().unwrap().push(token.clone());
            let (vpcs, next) = match token.as_deref() {
                None => (["vpc-a", "vpc-b"].as_slice(), Some("t2")),
                Some("t2") => (["vpc-c"].as_slice(), Some("t3")),
                Some("t3") => (["vpc-d"].as_slice(), None),
                Some(other) => panic!("unknown token {other}"),
            };
            let items: String = vpcs
                .iter()
                .map(|v| {
                    format!(
                        "<item><vpcId>{v}</vpcId><ownerId>{HUB}</ownerId><tagSet><item><key>Name</key><value>{v}-name</value></item></tagSet></item>"
                    )
                })
                .collect();
            let next = next
                .map(|t| format!("<nextToken>{t}</nextToken>"))
                .unwrap_or_default();
            let xml = format!(
                "<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><vpcSet>{items}</vpcSet>{next}</DescribeVpcsResponse>"
            );
            HttpConnectorFuture::ready(Ok(Response::new(
                StatusCode::try_from(200).unwrap(),
                SdkBody::from(xml),
            )))
        }
    }

    let ec2 = Ec2::default();
    let connector = ec2.clone();
    let home = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("AKID", "secret", None, None, "test"),
        ))
        .http_client(http_client_fn(move |_, _| {
            SharedHttpConnector::new(connector.clone())
        }))
        .build();
    let spokes = AssumedRoleSpokes::new(
        AccountConfigs::new(home, HUB.into(), "SpokeRole".into()),
        retries(),
        local_rates(),
    );
    let found = spokes.vpcs(HUB, "us-east-1", &[]).await.unwrap();

    assert_eq!(
        *ec2.tokens.lock().unwrap(),
        [None, Some("t2".to_owned()), Some("t3".to_owned())]
    );
    let expected: Vec<Vpc> = ["vpc-a", "vpc-b", "vpc-c", "vpc-d"]
        .iter()
        .map(|v| Vpc {
            account: HUB.into(),
            region: "us-east-1".into(),
            vpc_id: (*v).into(),
            tags: BTreeMap::from([("Name".into(), format!("{v}-name"))]),
        })
        .collect();
    assert_eq!(found, expected);
}
