//! Private hosted zones across accounts on AWS: the adapters of the associator's ports (Route 53
//! in the hub; EC2 and Route 53 in each spoke, through an assumed role).

use crate::accounts::AccountConfigs;
use crate::error::{Error, Result};
use crate::pace::Pace;
use crate::private_zones::ports::{Spokes, ZoneOwner};
use crate::private_zones::rules::{Vpc, Zone};
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
/// and every other client of the account draw on the same buckets). Shared by every execution
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
        let buckets = self.buckets(op);
        if let Some(shared) = &self.shared {
            match shared.wait(&format!("route53#{account}"), &buckets).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, account,
                    "the shared Route 53 rate could not be drawn on; this process paces itself alone"),
            }
        }
        let paces: Vec<std::sync::Arc<Pace>> = {
            let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
            buckets
                .iter()
                .map(|(name, bucket)| {
                    local
                        .entry((account.to_owned(), *name))
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
}
