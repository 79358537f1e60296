//! The estate as EC2 and ELBv2 describe it: the provider's services, NLBs, target groups and
//! targets with the function's credentials, the consumers' endpoints through their read role.
//!
//! Every describe follows its pages; calls that take a bounded number of ids are sent in batches
//! AWS accepts (`DescribeLoadBalancers`: 20 ARNs; EC2 filters: 200 values); the calls grow with
//! the resources — services, load balancers, target groups, VPCs, accounts — never with targets
//! or findings. A target's AZs are as the elbv2 API defines them: an instance's placement; an IP
//! target's registered AZ, `all` (every enabled AZ), or the subnet of the target group's VPC
//! that holds it; an ALB target's enabled AZs.
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html>,
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetDescription.html>,
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html> (`FilterLimitExceeded`)
//!
//! Production's rhythm:
//! - **Paced.** ELB throttles every `Describe*` of an account and region from one bucket (40 at
//!   once, 10 per second after) shared with every other client of the account; EC2's describes
//!   from another (100, 20 per second). The provider's reads take their tokens from buckets of
//!   their own at a share of those rates ([`Rates`]), and a throttled or failing read is tried
//!   again within that pacing.
//! - **Isolated.** A read that still fails leaves only the services it concerns unread
//!   (`Snapshot::unread_services`): their findings are kept as they are, the others are audited.
//! - **Kept.** What rarely changes — a load balancer's AZs and attributes, its target groups and
//!   theirs, where an instance runs — is kept between invocations of a warm function
//!   ([`Kept`]), each fact re-read after its own, slightly jittered, time (a slow rolling
//!   refresh); an event re-reads what it names. Target health is read every time.
//!   <https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html>,
//!   <https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>

use crate::accounts::AccountConfigs;
use crate::availability_zones::analysis::{
    CrossZone, LoadBalancer, NotAudited, Service, Snapshot, Target, TargetAzs, TargetGroup,
    TargetState,
};
use crate::availability_zones::ports::{Accounts, AuditScope, Estate};
use crate::aws::ec2_filter as filter;
use crate::error::{Error, Result};
use crate::ids::fnv1a;
use crate::pace::Pace;
use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// ARNs per `DescribeLoadBalancers` call (its documented maximum).
pub const LBS_PER_CALL: usize = 20;
/// `PageSize` of an unfiltered `DescribeLoadBalancers` / `DescribeTargetGroups` (the most ELB
/// gives in one page).
pub const PAGE: i32 = 400;
pub use crate::aws::VALUES_PER_FILTER;
/// ELB's `Describe*` bucket per account and region: 10 per second, 40 at once.
pub const ELB_DESCRIBE: (f64, f64) = (10.0, 40.0);
/// EC2's non-mutating actions per account and region: 20 per second, 100 at once.
pub const EC2_DESCRIBE: (f64, f64) = (20.0, 100.0);
/// Attempts of one read that is throttled or fails transiently, each after the SDK's own.
const READ_ATTEMPTS: u32 = 3;
const READ_PAUSE: Duration = Duration::from_millis(500);

/// The provider account's read rates: a share of ELB's and EC2's documented buckets.
#[derive(Debug)]
pub struct Rates {
    pub elb: Pace,
    pub ec2: Pace,
}

impl Rates {
    /// `share` (0 < share ≤ 1) of each documented rate and burst.
    pub fn share(share: f64) -> Self {
        let of = |(rate, burst): (f64, f64)| Pace::new((rate * share, (burst * share).max(1.0)));
        Rates {
            elb: of(ELB_DESCRIBE),
            ec2: of(EC2_DESCRIBE),
        }
    }
}

/// Facts that rarely change, each kept for about `ttl` after it was read (0.8–1.2 × `ttl`,
/// by its key, so that facts read together are not all read again together).
#[derive(Debug)]
pub struct Kept<V> {
    ttl: Duration,
    facts: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> Kept<V> {
    pub fn new(ttl: Duration) -> Self {
        Kept {
            ttl,
            facts: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let facts = self.facts.lock().ok()?;
        let (value, read) = facts.get(key)?;
        let spread = 0.8 + 0.4 * (fnv1a(key.as_bytes()) % 1000) as f64 / 1000.0;
        (read.elapsed() < self.ttl.mul_f64(spread)).then(|| value.clone())
    }

    pub fn put(&self, key: &str, value: V) {
        if let Ok(mut facts) = self.facts.lock() {
            facts.insert(key.to_owned(), (value, Instant::now()));
        }
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut facts) = self.facts.lock() {
            facts.remove(key);
        }
    }
}

/// What the estate keeps between invocations.
#[derive(Debug)]
pub struct Memory {
    /// Load balancer ARN → its enabled AZs (names).
    lbs: Kept<Vec<String>>,
    /// Load balancer ARN → `load_balancing.cross_zone.enabled`.
    lb_cross_zone: Kept<bool>,
    /// Load balancer ARN → its target groups.
    groups: Kept<Vec<GroupInfo>>,
    /// Target group ARN → its `load_balancing.cross_zone.enabled`.
    tg_cross_zone: Kept<CrossZone>,
    /// Instance id → its AZ (an instance never moves).
    placements: Kept<String>,
    /// Each account's AZ map, this one's and the consumers' (it never changes).
    pub(super) az_map: Kept<BTreeMap<String, String>>,
}

impl Memory {
    pub fn new(ttl: Duration) -> Self {
        Memory {
            lbs: Kept::new(ttl),
            lb_cross_zone: Kept::new(ttl),
            groups: Kept::new(ttl),
            tg_cross_zone: Kept::new(ttl),
            placements: Kept::new(ttl.saturating_mul(24)),
            az_map: Kept::new(ttl.saturating_mul(24)),
        }
    }

    /// Forget what is kept of these resources (load balancers, target groups): an event that
    /// names one is read again.
    pub fn forget(&self, arns: &BTreeSet<String>) {
        for arn in arns {
            self.lbs.forget(arn);
            self.lb_cross_zone.forget(arn);
            self.groups.forget(arn);
            self.tg_cross_zone.forget(arn);
        }
    }
}

/// The provider's account read with the function's credentials; consumers through their role.
pub struct AwsEstate<A = AccountConfigs> {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// The consumer accounts (and this one), through [`Accounts`].
    pub accounts: A,
    pub account: String,
    pub region: String,
    /// `None`: unpaced (tests).
    pub rates: Option<Rates>,
    pub memory: Memory,
}

/// Other accounts through a role of the same name in each ([`AccountConfigs`]).
impl Accounts for AccountConfigs {
    async fn ec2(&self, account: &str, region: &str) -> aws_sdk_ec2::Client {
        AccountConfigs::ec2(self, account, region).await
    }
}

pub(super) async fn az_map(ec2: &aws_sdk_ec2::Client) -> Result<BTreeMap<String, String>> {
    let zones = ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| Error::aws("ec2:DescribeAvailabilityZones", e))?;
    Ok(zones
        .availability_zones()
        .iter()
        .filter_map(|z| Some((z.zone_name()?.to_owned(), z.zone_id()?.to_owned())))
        .collect())
}

/// Subnets of these VPCs: (subnet id, VPC id, CIDR, AZ name).
pub(super) async fn subnets(
    ec2: &aws_sdk_ec2::Client,
    vpcs: &BTreeSet<String>,
) -> Result<Vec<(String, String, String, String)>> {
    let vpcs: Vec<&String> = vpcs.iter().collect();
    let mut out = Vec::new();
    for chunk in vpcs.chunks(VALUES_PER_FILTER) {
        let mut pages = ec2
            .describe_subnets()
            .filters(filter("vpc-id", chunk))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ec2:DescribeSubnets", e))?;
            for sn in page.subnets() {
                if let (Some(id), Some(vpc), Some(az)) =
                    (sn.subnet_id(), sn.vpc_id(), sn.availability_zone())
                {
                    let cidr = sn.cidr_block().unwrap_or_default();
                    out.push((id.into(), vpc.into(), cidr.into(), az.into()));
                }
            }
        }
    }
    Ok(out)
}

/// A target as `DescribeTargetHealth` gave it, before it is placed.
#[derive(Debug, Clone)]
struct Health {
    id: String,
    /// `AvailabilityZone` (IP targets only).
    az: Option<String>,
    state: TargetState,
}

/// A target group as `DescribeTargetGroups` gives it.
#[derive(Debug, Clone)]
struct GroupInfo {
    arn: String,
    lb_arns: Vec<String>,
    kind: Option<TargetTypeEnum>,
    vpc: Option<String>,
    /// Health check interval × healthy threshold count.
    settle_seconds: Option<u64>,
}

struct Group {
    info: GroupInfo,
    cross_zone: CrossZone,
    targets: Vec<Health>,
}

/// One endpoint service's provider side, as read.
struct Read {
    lbs: Vec<LoadBalancer>,
    groups: Vec<Group>,
}

/// Which pace a read takes its token from.
#[derive(Clone, Copy)]
enum Api {
    Elb,
    Ec2,
}

impl<A: Accounts + Sync> AwsEstate<A> {
    /// `call`, after a token of `api`'s pace, tried again within the pace while it is throttled
    /// or fails transiently (after the SDK's own retries).
    async fn read<T, F, Fut>(&self, api: Api, call: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            if let Some(rates) = &self.rates {
                match api {
                    Api::Elb => rates.elb.wait().await,
                    Api::Ec2 => rates.ec2.wait().await,
                }
            }
            match call().await {
                Err(e) if attempt + 1 < READ_ATTEMPTS && e.retryable() => {
                    tracing::info!(error = %e, attempt, "read throttled or failed; trying again");
                    tokio::time::sleep(READ_PAUSE * 2u32.pow(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The enabled AZs of these load balancers, 20 per call, every page; kept. A batch that
    /// cannot be read leaves its load balancers out, named in the second set.
    async fn lb_zones(
        &self,
        arns: &BTreeSet<String>,
    ) -> (BTreeMap<String, Vec<String>>, BTreeSet<String>) {
        let mut failed = BTreeSet::new();
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for arn in arns {
            match self.memory.lbs.get(arn) {
                Some(zones) => {
                    out.insert(arn.clone(), zones);
                }
                None => missing.push(arn.clone()),
            }
        }
        // Many unknown: every load balancer of the account in pages of 400 (a call or a few
        // for the whole estate, kept for the next stretches), instead of one call per 20.
        if missing.len() > LBS_PER_CALL {
            match self.all_lbs().await {
                Ok(all) => {
                    missing.retain(|arn| match all.get(arn) {
                        Some(zones) => {
                            out.insert(arn.clone(), zones.clone());
                            false
                        }
                        None => true,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "load balancers not listed; reading them by ARN")
                }
            }
        }
        for chunk in missing.chunks(LBS_PER_CALL) {
            if let Err(e) = self.lb_batch(chunk, &mut out).await {
                tracing::warn!(error = %e, "load balancers not read");
                failed.extend(chunk.iter().cloned());
            }
        }
        (out, failed)
    }

    /// Every load balancer of the account, unfiltered, `PAGE` a call; kept.
    async fn all_lbs(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let mut out = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .read(Api::Elb, || async {
                    self.elb
                        .describe_load_balancers()
                        .page_size(PAGE)
                        .set_marker(marker.clone())
                        .send()
                        .await
                        .map_err(|e| Error::aws("elasticloadbalancing:DescribeLoadBalancers", e))
                })
                .await?;
            for lb in page.load_balancers() {
                if let Some(arn) = lb.load_balancer_arn() {
                    self.memory.lbs.put(arn, zone_names(lb));
                    out.insert(arn.to_owned(), zone_names(lb));
                }
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every target group of the account, unfiltered, `PAGE` a call, kept by load balancer;
    /// `lbs` that none serves are kept as serving none.
    async fn all_groups(&self, lbs: &[&String]) -> Result<()> {
        let mut by_lb: BTreeMap<String, Vec<GroupInfo>> = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .read(Api::Elb, || async {
                    self.elb
                        .describe_target_groups()
                        .page_size(PAGE)
                        .set_marker(marker.clone())
                        .send()
                        .await
                        .map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetGroups", e))
                })
                .await?;
            for info in page.target_groups().iter().filter_map(group_info) {
                for lb in &info.lb_arns {
                    by_lb.entry(lb.clone()).or_default().push(info.clone());
                }
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        for lb in lbs {
            by_lb.entry((*lb).clone()).or_default();
        }
        for (lb, groups) in by_lb {
            self.memory.groups.put(&lb, groups);
        }
        Ok(())
    }

    async fn lb_batch(
        &self,
        chunk: &[String],
        out: &mut BTreeMap<String, Vec<String>>,
    ) -> Result<()> {
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .read(Api::Elb, || async {
                    self.elb
                        .describe_load_balancers()
                        .set_load_balancer_arns(Some(chunk.to_vec()))
                        .set_marker(marker.clone())
                        .send()
                        .await
                        .map_err(|e| Error::aws("elasticloadbalancing:DescribeLoadBalancers", e))
                })
                .await?;
            for lb in page.load_balancers() {
                if let Some(arn) = lb.load_balancer_arn() {
                    self.memory.lbs.put(arn, zone_names(lb));
                    out.insert(arn.to_owned(), zone_names(lb));
                }
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        Ok(())
    }

    async fn cross_zone_of_lb(&self, arn: &str) -> Result<bool> {
        if let Some(on) = self.memory.lb_cross_zone.get(arn) {
            return Ok(on);
        }
        let attrs = self
            .read(Api::Elb, || async {
                self.elb
                    .describe_load_balancer_attributes()
                    .load_balancer_arn(arn)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::aws("elasticloadbalancing:DescribeLoadBalancerAttributes", e)
                    })
            })
            .await?;
        let on = attrs.attributes().iter().any(|a| {
            a.key() == Some("load_balancing.cross_zone.enabled") && a.value() == Some("true")
        });
        self.memory.lb_cross_zone.put(arn, on);
        Ok(on)
    }

    /// The target groups of one load balancer, every page; kept.
    async fn groups_of(&self, lb_arn: &str) -> Result<Vec<GroupInfo>> {
        if let Some(groups) = self.memory.groups.get(lb_arn) {
            return Ok(groups);
        }
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .read(Api::Elb, || async {
                    self.elb
                        .describe_target_groups()
                        .load_balancer_arn(lb_arn)
                        .set_marker(marker.clone())
                        .send()
                        .await
                        .map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetGroups", e))
                })
                .await?;
            out.extend(page.target_groups().iter().filter_map(group_info));
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        self.memory.groups.put(lb_arn, out.clone());
        Ok(out)
    }

    async fn cross_zone_of_group(&self, arn: &str) -> Result<CrossZone> {
        if let Some(setting) = self.memory.tg_cross_zone.get(arn) {
            return Ok(setting);
        }
        let attrs = self
            .read(Api::Elb, || async {
                self.elb
                    .describe_target_group_attributes()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::aws("elasticloadbalancing:DescribeTargetGroupAttributes", e)
                    })
            })
            .await?;
        let setting = match attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("load_balancing.cross_zone.enabled"))
            .and_then(|a| a.value())
        {
            Some("true") => CrossZone::On,
            Some("false") => CrossZone::Off,
            _ => CrossZone::Inherit,
        };
        self.memory.tg_cross_zone.put(arn, setting);
        Ok(setting)
    }

    /// The targets of one group and their health: read every time.
    async fn health(&self, arn: &str) -> Result<Vec<Health>> {
        let health = self
            .read(Api::Elb, || async {
                self.elb
                    .describe_target_health()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetHealth", e))
            })
            .await?;
        Ok(health
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let t = d.target()?;
                Some(Health {
                    id: t.id()?.to_owned(),
                    az: t.availability_zone().map(str::to_owned),
                    state: d
                        .target_health()
                        .and_then(|h| h.state())
                        .map_or(TargetState::Unhealthy, |st| TargetState::parse(st.as_str())),
                })
            })
            .collect())
    }

    /// One service's NLBs and target groups, with what is kept and the health read now.
    async fn read_service(
        &self,
        service: &Service,
        zones: &BTreeMap<String, Vec<String>>,
        seen: &mut BTreeSet<String>,
    ) -> Result<Read> {
        let mut read = Read {
            lbs: Vec::new(),
            groups: Vec::new(),
        };
        for arn in &service.nlb_arns {
            // A load balancer that no longer exists is not listed: nothing of it to audit.
            let Some(az_names) = zones.get(arn) else {
                continue;
            };
            read.lbs.push(LoadBalancer {
                arn: arn.clone(),
                account: self.account.clone(),
                az_names: az_names.clone(),
                cross_zone: self.cross_zone_of_lb(arn).await?,
            });
            for info in self.groups_of(arn).await? {
                if !seen.insert(info.arn.clone()) {
                    continue;
                }
                read.groups.push(Group {
                    cross_zone: self.cross_zone_of_group(&info.arn).await?,
                    targets: self.health(&info.arn).await?,
                    info,
                });
            }
        }
        Ok(read)
    }

    /// Where each instance is (AZ name), 200 ids per call, every page; kept.
    async fn placements(&self, ids: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for id in ids {
            match self.memory.placements.get(id) {
                Some(az) => {
                    out.insert(id.clone(), az);
                }
                None => missing.push(id.clone()),
            }
        }
        for chunk in missing.chunks(VALUES_PER_FILTER) {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .read(Api::Ec2, || async {
                        self.ec2
                            .describe_instances()
                            .filters(filter("instance-id", chunk))
                            .set_next_token(token.clone())
                            .send()
                            .await
                            .map_err(|e| Error::aws("ec2:DescribeInstances", e))
                    })
                    .await?;
                for i in page.reservations().iter().flat_map(|r| r.instances()) {
                    let zone = i.placement().and_then(|p| p.availability_zone());
                    if let (Some(id), Some(zone)) = (i.instance_id(), zone) {
                        self.memory.placements.put(id, zone.to_owned());
                        out.insert(id.to_owned(), zone.to_owned());
                    }
                }
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Every target placed, with as few calls as the estate allows: one batched instance
    /// lookup, one subnet read per VPC batch, one ALB read per 20 ALBs. A lookup that fails
    /// leaves its targets unplaced (their groups undecided), not the audit failed.
    async fn place(&self, groups: Vec<Group>) -> Vec<TargetGroup> {
        let of_kind = |kind: TargetTypeEnum| {
            groups
                .iter()
                .filter(move |g| g.info.kind.as_ref() == Some(&kind))
                .flat_map(|g| g.targets.iter().map(move |t| (g, t)))
        };
        let unplaced = |what: &str, e: Error| {
            tracing::warn!(error = %e, "{what} not read: their targets are left unplaced");
        };
        let instances: BTreeSet<String> = of_kind(TargetTypeEnum::Instance)
            .map(|(_, t)| t.id.clone())
            .collect();
        let placements = if instances.is_empty() {
            BTreeMap::new()
        } else {
            self.placements(&instances).await.unwrap_or_else(|e| {
                unplaced("instances", e);
                BTreeMap::new()
            })
        };
        let vpcs: BTreeSet<String> = of_kind(TargetTypeEnum::Ip)
            .filter(|(_, t)| t.az.is_none())
            .filter_map(|(g, _)| g.info.vpc.clone())
            .collect();
        let subnets = if vpcs.is_empty() {
            Vec::new()
        } else {
            self.read(Api::Ec2, || subnets(&self.ec2, &vpcs))
                .await
                .unwrap_or_else(|e| {
                    unplaced("subnets", e);
                    Vec::new()
                })
        };
        let albs: BTreeSet<String> = of_kind(TargetTypeEnum::Alb)
            .map(|(_, t)| t.id.clone())
            .collect();
        let alb_azs: BTreeMap<String, Vec<String>> = if albs.is_empty() {
            BTreeMap::new()
        } else {
            self.lb_zones(&albs).await.0
        };
        groups
            .into_iter()
            .map(|g| {
                let targets = g
                    .targets
                    .iter()
                    .map(|t| {
                        let azs = match (&g.info.kind, &t.az) {
                            (Some(TargetTypeEnum::Ip), Some(az)) if az == "all" => TargetAzs::All,
                            (Some(TargetTypeEnum::Ip), Some(az)) => TargetAzs::In(vec![az.clone()]),
                            (Some(TargetTypeEnum::Ip), None) => {
                                locate_ip(&t.id, g.info.vpc.as_deref(), &subnets)
                            }
                            (Some(TargetTypeEnum::Instance), _) => placements
                                .get(&t.id)
                                .map_or(TargetAzs::Unknown, |az| TargetAzs::In(vec![az.clone()])),
                            (Some(TargetTypeEnum::Alb), _) => alb_azs
                                .get(&t.id)
                                .map_or(TargetAzs::Unknown, |azs| TargetAzs::In(azs.clone())),
                            _ => TargetAzs::Unknown,
                        };
                        if azs == TargetAzs::Unknown {
                            tracing::warn!(target = %t.id, target_group = %g.info.arn, "target not located");
                        }
                        Target {
                            id: t.id.clone(),
                            azs,
                            state: t.state,
                        }
                    })
                    .collect();
                TargetGroup {
                    arn: g.info.arn,
                    lb_arns: g.info.lb_arns,
                    cross_zone: g.cross_zone,
                    targets,
                    settle_seconds: g.info.settle_seconds,
                }
            })
            .collect()
    }

    /// The provider's NLB-backed endpoint services in `scope`, every page (and, in `not_audited`,
    /// the Gateway Load Balancer ones).
    async fn services(&self, scope: &AuditScope, s: &mut Snapshot) -> Result<()> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .read(Api::Ec2, || async {
                    self.ec2
                        .describe_vpc_endpoint_service_configurations()
                        .set_next_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| Error::aws("ec2:DescribeVpcEndpointServiceConfigurations", e))
                })
                .await?;
            for c in page.service_configurations() {
                let Some(id) = c.service_id().filter(|id| scope.covers(id)) else {
                    continue;
                };
                if c.network_load_balancer_arns().is_empty() {
                    if !c.gateway_load_balancer_arns().is_empty() {
                        s.not_audited.push(NotAudited {
                            resource: id.to_owned(),
                            reason: "a Gateway Load Balancer endpoint service: the AZ and cross-zone checks are for Network Load Balancers".into(),
                            service_id: None,
                            account: None,
                        });
                    }
                    continue;
                }
                s.services.push(Service {
                    id: id.to_owned(),
                    account: self.account.clone(),
                    nlb_arns: c.network_load_balancer_arns().to_vec(),
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// Every live connection's endpoint of these services, by owner account (endpoints in
    /// another region are noted as not audited).
    async fn connections(
        &self,
        services: &[&String],
        s: &mut Snapshot,
        by_account: &mut BTreeMap<String, Vec<String>>,
        service_of: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .read(Api::Ec2, || async {
                    self.ec2
                        .describe_vpc_endpoint_connections()
                        .filters(filter("service-id", services))
                        .filters(filter("vpc-endpoint-state", ["available"]))
                        .set_next_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| Error::aws("ec2:DescribeVpcEndpointConnections", e))
                })
                .await?;
            for c in page.vpc_endpoint_connections() {
                let (Some(id), Some(owner), Some(service)) =
                    (c.vpc_endpoint_id(), c.vpc_endpoint_owner(), c.service_id())
                else {
                    continue;
                };
                match c.vpc_endpoint_region().filter(|r| *r != self.region) {
                    Some(region) => s.not_audited.push(NotAudited {
                        resource: id.to_owned(),
                        reason: format!("an endpoint in {region} (cross-region PrivateLink): AZ coverage is a matter within one region"),
                        service_id: Some(service.to_owned()),
                        account: Some(owner.to_owned()),
                    }),
                    None => {
                        by_account.entry(owner.to_owned()).or_default().push(id.to_owned());
                        service_of.insert(id.to_owned(), service.to_owned());
                    }
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// The endpoint services behind these load balancers and target groups (an ELB event's
    /// resources): the target groups' load balancers in one call per 20, then the services
    /// fronted by any of those. What is kept of the named resources is forgotten, so the audit
    /// that follows reads them anew.
    async fn behind(&self, arns: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        self.memory.forget(arns);
        let mut lbs: BTreeSet<String> = arns
            .iter()
            .filter(|a| a.contains(":loadbalancer/"))
            .cloned()
            .collect();
        let groups: Vec<String> = arns
            .iter()
            .filter(|a| a.contains(":targetgroup/"))
            .cloned()
            .collect();
        for chunk in groups.chunks(LBS_PER_CALL) {
            let answer = self
                .read(Api::Elb, || async {
                    self.elb
                        .describe_target_groups()
                        .set_target_group_arns(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetGroups", e))
                })
                .await;
            match answer {
                Ok(page) => lbs.extend(
                    page.target_groups()
                        .iter()
                        .flat_map(|g| g.load_balancer_arns().iter().cloned()),
                ),
                // A group deleted since the event: nothing of it left to audit.
                Err(e) if e.code() == Some("TargetGroupNotFound") => {
                    tracing::info!(error = %e, "target group gone since the event");
                }
                Err(e) => return Err(e),
            }
        }
        let mut s = Snapshot::default();
        self.services(&AuditScope::All, &mut s).await?;
        Ok(s.services
            .into_iter()
            .filter(|v| v.nlb_arns.iter().any(|a| lbs.contains(a)))
            .map(|v| v.id)
            .collect())
    }
}

fn group_info(tg: &aws_sdk_elasticloadbalancingv2::types::TargetGroup) -> Option<GroupInfo> {
    let settle = match (
        tg.health_check_interval_seconds(),
        tg.healthy_threshold_count(),
    ) {
        (Some(interval), Some(threshold)) if interval > 0 && threshold > 0 => {
            Some(interval as u64 * threshold as u64)
        }
        _ => None,
    };
    Some(GroupInfo {
        arn: tg.target_group_arn()?.to_owned(),
        lb_arns: tg.load_balancer_arns().to_vec(),
        kind: tg.target_type().cloned(),
        vpc: tg.vpc_id().map(str::to_owned),
        settle_seconds: settle,
    })
}

fn zone_names(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> Vec<String> {
    lb.availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect()
}

/// An IP target in the subnet of its target group's VPC that holds it.
fn locate_ip(
    ip: &str,
    vpc: Option<&str>,
    subnets: &[(String, String, String, String)],
) -> TargetAzs {
    let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() else {
        return TargetAzs::Unknown;
    };
    subnets
        .iter()
        .find(|(_, v, cidr, _)| Some(v.as_str()) == vpc && cidr_contains(cidr, ip))
        .map_or(TargetAzs::Unknown, |(.., az)| {
            TargetAzs::In(vec![az.clone()])
        })
}

impl<A: Accounts + Sync> Estate for AwsEstate<A> {
    async fn service_ids(&self) -> Result<Vec<String>> {
        let mut s = Snapshot::default();
        self.services(&AuditScope::All, &mut s).await?;
        let mut ids: Vec<String> = s.services.into_iter().map(|v| v.id).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    async fn services_behind(&self, arns: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        self.behind(arns).await
    }

    /// The provider's connections from these endpoints, 200 ids per filter, every page.
    async fn services_of_endpoints(&self, ids: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let ids: Vec<&String> = ids.iter().collect();
        let mut out = BTreeSet::new();
        for chunk in ids.chunks(VALUES_PER_FILTER) {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .read(Api::Ec2, || async {
                        self.ec2
                            .describe_vpc_endpoint_connections()
                            .filters(filter("vpc-endpoint-id", chunk))
                            .set_next_token(token.clone())
                            .send()
                            .await
                            .map_err(|e| Error::aws("ec2:DescribeVpcEndpointConnections", e))
                    })
                    .await?;
                out.extend(
                    page.vpc_endpoint_connections()
                        .iter()
                        .filter_map(|c| c.service_id().map(str::to_owned)),
                );
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn snapshot(&self, scope: &AuditScope) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        let map = match self.memory.az_map.get(&self.account) {
            Some(map) => map,
            None => {
                let map = self.read(Api::Ec2, || az_map(&self.ec2)).await?;
                self.memory.az_map.put(&self.account, map.clone());
                map
            }
        };
        s.az_maps.insert(self.account.clone(), map);
        self.services(scope, &mut s).await?;

        // The load balancers' AZs in batches; a batch that fails leaves its services unread.
        let nlbs: BTreeSet<String> = s.services.iter().flat_map(|v| v.nlb_arns.clone()).collect();
        let (zones, failed) = self.lb_zones(&nlbs).await;
        // The target groups of more than one load balancer unknown: every group of the account
        // in pages of 400 rather than a call per load balancer (a failure here only leaves the
        // groups to be read per load balancer).
        let unknown: Vec<&String> = nlbs
            .iter()
            .filter(|lb| self.memory.groups.get(lb).is_none())
            .collect();
        if unknown.len() > 1 {
            if let Err(e) = self.all_groups(&unknown).await {
                tracing::warn!(error = %e, "target groups not listed; reading them by load balancer");
            }
        }
        let mut groups = Vec::new();
        let mut seen_lbs = BTreeSet::new();
        let mut seen_groups = BTreeSet::new();
        let mut read_ok = Vec::new();
        for service in std::mem::take(&mut s.services) {
            if service.nlb_arns.iter().any(|a| failed.contains(a)) {
                s.unread_services.insert(service.id);
                continue;
            }
            match self.read_service(&service, &zones, &mut seen_groups).await {
                Ok(read) => {
                    for lb in read.lbs {
                        if seen_lbs.insert(lb.arn.clone()) {
                            s.load_balancers.push(lb);
                        }
                    }
                    groups.extend(read.groups);
                    read_ok.push(service);
                }
                Err(e) => {
                    tracing::warn!(service = %service.id, error = %e, "service not read this run");
                    s.unread_services.insert(service.id);
                }
            }
        }
        s.services = read_ok;
        s.target_groups = self.place(groups).await;

        // Consumers: every live connection's endpoint, read in its owner's account.
        let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut service_of: BTreeMap<String, String> = BTreeMap::new();
        let services: Vec<String> = s.services.iter().map(|v| v.id.clone()).collect();
        for chunk in services.chunks(VALUES_PER_FILTER) {
            let chunk: Vec<&String> = chunk.iter().collect();
            if let Err(e) = self
                .connections(&chunk, &mut s, &mut by_account, &mut service_of)
                .await
            {
                // Without their consumers, these services cannot be judged whole.
                tracing::warn!(error = %e, "connections not read: their services are left unread");
                s.services.retain(|v| !chunk.contains(&&v.id));
                s.unread_services.extend(chunk.into_iter().cloned());
            }
        }
        for (account, ids) in by_account {
            match super::consumers::consumer(self, &account, &ids, &mut s, &service_of).await {
                Ok(()) => {
                    s.reached.insert(account);
                }
                Err(e) => {
                    tracing::warn!(%account, error = %e, "consumer account unreachable");
                    // Its endpoints' findings can be neither confirmed nor resolved this run.
                    for id in &ids {
                        s.not_audited.push(NotAudited {
                            resource: id.clone(),
                            reason: format!("its account {account} could not be read: {e}"),
                            service_id: service_of.get(id).cloned(),
                            account: Some(account.clone()),
                        });
                    }
                    s.unreachable.push((account, e.to_string()));
                    s.unread.extend(ids);
                }
            }
        }
        Ok(s)
    }
}

/// Whether an IPv4 CIDR block (`10.0.1.0/24`) holds `ip`.
fn cidr_contains(cidr: &str, ip: std::net::Ipv4Addr) -> bool {
    let Some((base, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(base), Ok(bits)) = (base.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(base) & mask == u32::from(ip) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
        assert!(cidr_contains("10.0.1.0/24", ip("10.0.1.77")));
        assert!(!cidr_contains("10.0.1.0/24", ip("10.0.2.1")));
        assert!(cidr_contains("0.0.0.0/0", ip("192.0.2.1")));
        assert!(!cidr_contains("10.0.0.0/33", ip("10.0.0.1")));
        assert!(!cidr_contains("garbage", ip("10.0.0.1")));
    }

    #[test]
    fn ip_targets_are_located_in_their_own_vpc_only() {
        let subnets = vec![
            (
                "subnet-a".to_owned(),
                "vpc-other".to_owned(),
                "10.0.1.0/24".to_owned(),
                "us-east-1b".to_owned(),
            ),
            (
                "subnet-b".to_owned(),
                "vpc-mine".to_owned(),
                "10.0.1.0/24".to_owned(),
                "us-east-1a".to_owned(),
            ),
        ];
        assert_eq!(
            locate_ip("10.0.1.9", Some("vpc-mine"), &subnets),
            TargetAzs::In(vec!["us-east-1a".into()])
        );
        assert_eq!(
            locate_ip("10.9.9.9", Some("vpc-mine"), &subnets),
            TargetAzs::Unknown
        );
        assert_eq!(
            locate_ip("not-an-ip", Some("vpc-mine"), &subnets),
            TargetAzs::Unknown
        );
    }
}
