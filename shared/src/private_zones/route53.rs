//! Private hosted zones across accounts on AWS: the adapters of the associator's ports (Route 53
//! in the hub; EC2 and Route 53 in each spoke, through an assumed role).

use crate::accounts::AccountConfigs;
use crate::error::{Error, Result};
use crate::pace::Pace;
use crate::private_zones::ports::{Spokes, ZoneOwner};
use crate::private_zones::rules::{RuleAssociation, Vpc, Zone};
use aws_sdk_route53::types::{Tag, TagResourceType, Vpc as R53Vpc, VpcRegion};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

fn r53_vpc(vpc_id: &str, region: &str) -> R53Vpc {
    R53Vpc::builder()
        .vpc_id(vpc_id)
        .vpc_region(VpcRegion::from(region))
        .build()
}

/// Route 53's request rates: every request takes a token from its account's bucket (and from
/// its operation's).
/// <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html>:
/// per account 50 requests at once, 10 per second after; `AssociateVPCWithHostedZone` 20 at once,
/// 5 per second after; `DisassociateVPCFromHostedZone` 10 at once, 5 per second after (the other
/// operations' own buckets, 50 and 10, are never tighter than the account's). Kept 5% under, so
/// that the jitter between our clock and Route 53's never makes a request arrive before its token.
pub const ACCOUNT: (f64, f64) = (10.0 * MARGIN, 50.0 - 5.0);
/// `AssociateVPCWithHostedZone`: 5 per second, 20 at once (5% under, likewise).
pub const ASSOCIATE: (f64, f64) = (5.0 * MARGIN, 20.0 - 2.0);
/// `DisassociateVPCFromHostedZone`: 5 per second, 10 at once (5% under, likewise).
pub const DISASSOCIATE: (f64, f64) = (5.0 * MARGIN, 10.0 - 1.0);
/// Route 53 Resolver, per account and region: 5 per second, 5 at once (5% under, likewise).
pub const RESOLVER: (f64, f64) = (5.0 * MARGIN, 5.0 - 1.0);
const MARGIN: f64 = 0.95;

/// The buckets of Route 53 a request draws on besides its account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Reads, authorizations: the account's bucket only.
    Other,
    Associate,
    Disassociate,
}

/// Route 53's rates kept on our side, per account (Route 53 is global: every region's stacks
/// and every other client of the account draw on the same buckets), and Route 53 Resolver's, per
/// account and region. Shared by every execution
/// environment through the table when one is given (the function's, the CLI's `--apply`); in
/// this process only otherwise (a preview writes nothing), and as a fallback if the table
/// cannot be reached. `share` (0 < share ≤ 1) is this stack's part of each rate.
pub struct Route53Rates {
    share: f64,
    shared: Option<crate::pace::SharedBuckets>,
    local: std::sync::Mutex<BTreeMap<(String, &'static str), std::sync::Arc<Pace>>>,
}

impl Route53Rates {
    pub fn new(share: f64, shared: Option<crate::pace::SharedBuckets>) -> Self {
        Route53Rates {
            share,
            shared,
            local: Default::default(),
        }
    }

    fn buckets(&self, op: Op) -> Vec<crate::pace::Bucket> {
        let of = |(rate, burst): (f64, f64)| (rate * self.share, (burst * self.share).max(1.0));
        let mut buckets = vec![("account", of(ACCOUNT))];
        match op {
            Op::Other => {}
            Op::Associate => buckets.push(("associate", of(ASSOCIATE))),
            Op::Disassociate => buckets.push(("disassociate", of(DISASSOCIATE))),
        }
        buckets
    }

    /// Wait for `account`'s tokens for one request of `op`.
    pub async fn wait(&self, account: &str, op: Op) {
        self.draw(&format!("route53#{account}"), &self.buckets(op))
            .await;
    }

    /// Wait for a token of Route 53 Resolver's rate in `account` and `region`: "5 requests per
    /// second per AWS account per Region" (the Route 53 quotas page, as archived; burst not
    /// documented, so one second's worth), 5% under, this stack's share of it.
    /// <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests-route-53-resolver>
    pub async fn resolver(&self, account: &str, region: &str) {
        let bucket = (RESOLVER.0 * self.share, (RESOLVER.1 * self.share).max(1.0));
        self.draw(
            &format!("resolver#{account}#{region}"),
            &[("account", bucket)],
        )
        .await;
    }

    async fn draw(&self, key: &str, buckets: &[crate::pace::Bucket]) {
        if let Some(shared) = &self.shared {
            match shared.wait(key, buckets).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, key,
                    "the shared rate could not be drawn on; this process paces itself alone"),
            }
        }
        let paces: Vec<std::sync::Arc<Pace>> = {
            let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
            buckets
                .iter()
                .map(|(name, bucket)| {
                    local
                        .entry((key.to_owned(), *name))
                        .or_insert_with(|| std::sync::Arc::new(Pace::new(*bucket)))
                        .clone()
                })
                .collect()
        };
        for pace in paces {
            pace.wait().await;
        }
    }
}

/// Codes Route 53 answers while another change to the same zone is in progress: tried again
/// after a pause, not reported. Create/DeleteVPCAssociationAuthorization document
/// `ConcurrentModification`; Associate/DisassociateVPC, `PriorRequestNotComplete`.
/// <https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateVPCAssociationAuthorization.html>,
/// <https://docs.aws.amazon.com/Route53/latest/APIReference/API_AssociateVPCWithHostedZone.html>
pub const BUSY_CODES: &[&str] = &["ConcurrentModification", "PriorRequestNotComplete"];
const BUSY_ATTEMPTS: u32 = 6;
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// Run `call` again while the zone is busy with another change (exponential backoff from 200 ms,
/// six attempts, about 6 s at most).
pub async fn patiently<T, F, Fut>(call: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e)
                if attempt + 1 < BUSY_ATTEMPTS
                    && e.code().is_some_and(|c| BUSY_CODES.contains(&c)) =>
            {
                tracing::info!(error = %e, attempt, "zone busy with another change; trying again");
                tokio::time::sleep(BUSY_PAUSE * 2u32.pow(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn bare_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

pub struct Route53Owner {
    client: aws_sdk_route53::Client,
    /// The hub's account, whose buckets its requests draw on.
    account: String,
    rates: std::sync::Arc<Route53Rates>,
    /// The catalogue last read, and when.
    kept: std::sync::Mutex<Option<(std::time::Instant, Vec<Zone>)>>,
}

impl Route53Owner {
    pub fn new(
        client: aws_sdk_route53::Client,
        account: String,
        rates: std::sync::Arc<Route53Rates>,
    ) -> Self {
        Route53Owner {
            client,
            account,
            rates,
            kept: Default::default(),
        }
    }

    async fn pace(&self, op: Op) {
        self.rates.wait(&self.account, op).await;
    }

    /// Every private zone, with its tags: `ListHostedZones` (every page), then
    /// `ListTagsForResources` ten zones a call.
    async fn read_catalogue(&self) -> Result<Vec<Zone>> {
        let mut zones = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.pace(Op::Other).await;
            let page = self
                .client
                .list_hosted_zones()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| Error::aws("route53:ListHostedZones", e))?;
            for z in page.hosted_zones() {
                if z.config().is_some_and(|c| c.private_zone()) {
                    zones.push(Zone {
                        id: bare_id(z.id()).to_owned(),
                        name: z.name().to_owned(),
                        tags: BTreeMap::new(),
                        vpcs: Default::default(),
                    });
                }
            }
            match page.next_marker() {
                Some(next) if page.is_truncated() && !next.is_empty() => {
                    marker = Some(next.to_owned())
                }
                _ => break,
            }
        }
        // Tags, ten zones per call (the API's limit).
        for chunk in zones.chunks_mut(10) {
            self.pace(Op::Other).await;
            let ids: Vec<String> = chunk.iter().map(|z| z.id.clone()).collect();
            let out = self
                .client
                .list_tags_for_resources()
                .resource_type(TagResourceType::Hostedzone)
                .set_resource_ids(Some(ids))
                .send()
                .await
                .map_err(|e| Error::aws("route53:ListTagsForResources", e))?;
            for set in out.resource_tag_sets() {
                if let Some(zone) = chunk
                    .iter_mut()
                    .find(|z| Some(z.id.as_str()) == set.resource_id().map(bare_id))
                {
                    zone.tags = set
                        .tags()
                        .iter()
                        .filter_map(|t: &Tag| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                        .collect();
                }
            }
        }
        Ok(zones)
    }
}

impl ZoneOwner for Route53Owner {
    async fn catalogue(&self, fresh: bool) -> Result<Vec<Zone>> {
        if !fresh
            && let Some((at, zones)) = self.kept.lock().ok().and_then(|k| k.clone())
            && at.elapsed() < crate::private_zones::ports::CATALOGUE_KEPT
        {
            return Ok(zones);
        }
        let zones = self.read_catalogue().await?;
        if let Ok(mut kept) = self.kept.lock() {
            *kept = Some((std::time::Instant::now(), zones.clone()));
        }
        Ok(zones)
    }

    async fn associate(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        let pace = || self.pace(Op::Associate);
        associate_with(&self.client, pace, zone_id, vpc_id, region).await
    }

    async fn authorize(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        patiently(|| async {
            self.pace(Op::Other).await;
            self.client
                .create_vpc_association_authorization()
                .hosted_zone_id(zone_id)
                .vpc(r53_vpc(vpc_id, region))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("route53:CreateVPCAssociationAuthorization", e))
        })
        .await
    }

    async fn deauthorize(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        let deleted = patiently(|| async {
            self.pace(Op::Other).await;
            self.client
                .delete_vpc_association_authorization()
                .hosted_zone_id(zone_id)
                .vpc(r53_vpc(vpc_id, region))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("route53:DeleteVPCAssociationAuthorization", e))
        })
        .await;
        match deleted {
            // Already gone (another run removed it): what was wanted.
            Err(e) if e.code() == Some("VPCAssociationAuthorizationNotFound") => Ok(()),
            other => other,
        }
    }

    async fn disassociate(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        patiently(|| async {
            self.pace(Op::Disassociate).await;
            self.client
                .disassociate_vpc_from_hosted_zone()
                .hosted_zone_id(zone_id)
                .vpc(r53_vpc(vpc_id, region))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("route53:DisassociateVPCFromHostedZone", e))
        })
        .await
    }

    async fn authorizations(&self, zone_id: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.pace(Op::Other).await;
            let page = self
                .client
                .list_vpc_association_authorizations()
                .hosted_zone_id(zone_id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Error::aws("route53:ListVPCAssociationAuthorizations", e))?;
            out.extend(page.vpcs().iter().filter_map(|v| {
                Some((v.vpc_id()?.to_owned(), v.vpc_region()?.as_str().to_owned()))
            }));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    async fn associated(&self, zone_id: &str) -> Result<BTreeSet<(String, String)>> {
        self.pace(Op::Other).await;
        let out = self
            .client
            .get_hosted_zone()
            .id(zone_id)
            .send()
            .await
            .map_err(|e| Error::aws("route53:GetHostedZone", e))?;
        Ok(out
            .vpcs()
            .iter()
            .filter_map(|v| Some((v.vpc_id()?.to_owned(), v.vpc_region()?.as_str().to_owned())))
            .collect())
    }

    async fn vpc_limit(&self, zone_id: &str) -> Result<(u64, u64)> {
        self.pace(Op::Other).await;
        let out = self
            .client
            .get_hosted_zone_limit()
            .hosted_zone_id(zone_id)
            .r#type(aws_sdk_route53::types::HostedZoneLimitType::MaxVpcsAssociatedByZone)
            .send()
            .await
            .map_err(|e| Error::aws("route53:GetHostedZoneLimit", e))?;
        let limit = out.limit().map_or(0, |l| l.value());
        Ok((out.count() as u64, limit as u64))
    }
}

/// `AssociateVPCWithHostedZone` with `client`: the hub's for its own VPCs, a spoke's as the VPC owner.
pub async fn associate_with<F: Future<Output = ()>>(
    client: &aws_sdk_route53::Client,
    pace: impl Fn() -> F,
    zone_id: &str,
    vpc_id: &str,
    region: &str,
) -> Result<()> {
    patiently(|| async {
        pace().await;
        client
            .associate_vpc_with_hosted_zone()
            .hosted_zone_id(zone_id)
            .vpc(r53_vpc(vpc_id, region))
            .comment("privatelink-autopilot")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("route53:AssociateVPCWithHostedZone", e))
    })
    .await
}

/// Reaches each spoke account through its role (the hub's own VPCs with the function's own
/// credentials).
pub struct AssumedRoleSpokes {
    accounts: AccountConfigs,
    retry: aws_smithy_types::retry::RetryConfig,
    /// Each spoke's Route 53 client, made once per account for the life of the execution
    /// environment.
    spokes: std::sync::Mutex<BTreeMap<String, aws_sdk_route53::Client>>,
    /// Each spoke's Route 53 rates.
    rates: std::sync::Arc<Route53Rates>,
}

impl AssumedRoleSpokes {
    pub fn new(
        accounts: AccountConfigs,
        retry: aws_smithy_types::retry::RetryConfig,
        rates: std::sync::Arc<Route53Rates>,
    ) -> Self {
        AssumedRoleSpokes {
            accounts,
            retry,
            spokes: Default::default(),
            rates,
        }
    }

    async fn spoke(&self, account: &str) -> aws_sdk_route53::Client {
        let known = |spokes: &std::sync::Mutex<BTreeMap<String, aws_sdk_route53::Client>>| {
            spokes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(account)
                .cloned()
        };
        if let Some(spoke) = known(&self.spokes) {
            return spoke;
        }
        let config = self.accounts.config(account).await;
        let spoke = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&config)
                .retry_config(self.retry.clone())
                .build(),
        );
        let mut spokes = self.spokes.lock().unwrap_or_else(|e| e.into_inner());
        spokes.entry(account.to_owned()).or_insert(spoke).clone()
    }
}

impl Spokes for AssumedRoleSpokes {
    async fn vpcs(&self, account: &str, region: &str, vpc_ids: &[String]) -> Result<Vec<Vpc>> {
        let ec2 = self.accounts.ec2(account, region).await;
        // Only the account's own VPCs: a VPC shared into it belongs to its owner, who alone may
        // associate it and whose tags count. By filter, so an id that no longer exists is absent
        // rather than failing the others.
        let mut request = ec2
            .describe_vpcs()
            .filters(crate::aws::ec2_filter("owner-id", [account]));
        if !vpc_ids.is_empty() {
            request = request.filters(crate::aws::ec2_filter("vpc-id", vpc_ids));
        }
        let mut pages = request.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ec2:DescribeVpcs", e))?;
            for v in page.vpcs() {
                let Some(vpc_id) = v.vpc_id() else { continue };
                if v.owner_id().is_some_and(|owner| owner != account) {
                    continue;
                }
                out.push(Vpc {
                    account: account.to_owned(),
                    region: region.to_owned(),
                    vpc_id: vpc_id.to_owned(),
                    tags: v
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    async fn associate(
        &self,
        account: &str,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> Result<()> {
        let route53 = self.spoke(account).await;
        let pace = || self.rates.wait(account, Op::Associate);
        associate_with(&route53, pace, zone_id, vpc_id, region).await
    }

    async fn rule_associations(
        &self,
        account: &str,
        region: &str,
        vpc_ids: &[String],
    ) -> Result<Vec<RuleAssociation>> {
        let client = self.resolver(account, region).await;
        if vpc_ids.is_empty() || vpc_ids.len() > FILTERED_READS {
            let all = self
                .associations_page(&client, account, region, None)
                .await?;
            return Ok(all
                .into_iter()
                .filter(|a| vpc_ids.is_empty() || vpc_ids.contains(&a.vpc_id))
                .collect());
        }
        let mut out = Vec::new();
        for vpc_id in vpc_ids {
            out.extend(
                self.associations_page(&client, account, region, Some(vpc_id))
                    .await?,
            );
        }
        Ok(out)
    }

    async fn associate_rule(
        &self,
        account: &str,
        region: &str,
        rule_id: &str,
        vpc_id: &str,
    ) -> Result<()> {
        let client = self.resolver(account, region).await;
        self.rates.resolver(account, region).await;
        client
            .associate_resolver_rule()
            .resolver_rule_id(rule_id)
            .vpc_id(vpc_id)
            .name("privatelink-autopilot")
            .customize()
            .config_override(once())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("route53resolver:AssociateResolverRule", e))
    }

    async fn disassociate_rule(
        &self,
        account: &str,
        region: &str,
        rule_id: &str,
        vpc_id: &str,
    ) -> Result<()> {
        let client = self.resolver(account, region).await;
        self.rates.resolver(account, region).await;
        client
            .disassociate_resolver_rule()
            .resolver_rule_id(rule_id)
            .vpc_id(vpc_id)
            .customize()
            .config_override(once())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("route53resolver:DisassociateResolverRule", e))
    }

    async fn inbound_vpcs(&self, account: &str, region: &str) -> Result<Vec<String>> {
        let client = self.resolver(account, region).await;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.rates.resolver(account, region).await;
            let page = client
                .list_resolver_endpoints()
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Error::aws("route53resolver:ListResolverEndpoints", e))?;
            out.extend(
                page.resolver_endpoints()
                    .iter()
                    .filter(|e| {
                        e.direction()
                            == Some(
                                &aws_sdk_route53resolver::types::ResolverEndpointDirection::Inbound,
                            )
                    })
                    .filter_map(|e| e.host_vpc_id().map(str::to_owned)),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Route 53 Resolver in `account` and `region`, as the account's role (or the hub itself).
impl AssumedRoleSpokes {
    async fn resolver(&self, account: &str, region: &str) -> aws_sdk_route53resolver::Client {
        let config = self.accounts.config(account).await;
        aws_sdk_route53resolver::Client::from_conf(
            aws_sdk_route53resolver::config::Builder::from(&config)
                .region(aws_config::Region::new(region.to_owned()))
                .retry_config(self.retry.clone())
                .build(),
        )
    }
}

/// A call that changes something, tried once (see [`Spokes::associate_rule`]).
fn once() -> aws_sdk_route53resolver::config::Builder {
    aws_sdk_route53resolver::config::Builder::default()
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
}

/// Associations a `ListResolverRuleAssociations` page holds at most.
/// <https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_ListResolverRuleAssociations.html>
pub const RULE_ASSOCIATIONS_PER_PAGE: i32 = 100;

/// Up to this many VPCs, their associations are read one filtered list each (one value per
/// filter: several are not documented); past it, the account's whole list is read.
const FILTERED_READS: usize = 3;

impl AssumedRoleSpokes {
    async fn associations_page(
        &self,
        client: &aws_sdk_route53resolver::Client,
        account: &str,
        region: &str,
        vpc_id: Option<&str>,
    ) -> Result<Vec<RuleAssociation>> {
        use aws_sdk_route53resolver::types::Filter;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.rates.resolver(account, region).await;
            let filter = vpc_id.map(|v| Filter::builder().name("VPCId").values(v).build());
            let page = client
                .list_resolver_rule_associations()
                .max_results(RULE_ASSOCIATIONS_PER_PAGE)
                .set_filters(filter.map(|f| vec![f]))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Error::aws("route53resolver:ListResolverRuleAssociations", e))?;
            out.extend(page.resolver_rule_associations().iter().filter_map(|a| {
                Some(RuleAssociation {
                    rule_id: a.resolver_rule_id()?.to_owned(),
                    vpc_id: a.vpc_id()?.to_owned(),
                    status: a
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    message: a.status_message().unwrap_or_default().to_owned(),
                })
            }));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(out),
            }
        }
    }
}
