//! Availability-zone and cross-zone analysis: a pure function over a [`Snapshot`] of endpoint
//! services, their NLBs and target groups, consumer endpoints and the AZ name↔ID map of every
//! account, returning [`AzFinding`]s with a stable fingerprint, a severity, evidence and a fix.
//!
//! AZ **names** map to different physical zones in each account, so every comparison here is by
//! AZ **ID**: names are translated with the owning account's map first.

use crate::notify::{Fact, Facts, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the APIs report, names as each account sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// account → (AZ name → AZ ID).
    pub az_maps: BTreeMap<String, BTreeMap<String, String>>,
    pub services: Vec<Service>,
    pub load_balancers: Vec<LoadBalancer>,
    pub target_groups: Vec<TargetGroup>,
    pub endpoints: Vec<Endpoint>,
    /// Consumer accounts that could not be read (account, problem).
    pub unreachable: Vec<(String, String)>,
    /// Consumer accounts read whole this run: an account-wide finding about one of them
    /// (`unreachable`) can be judged by any audit that read it.
    pub reached: BTreeSet<String>,
    /// Resources whose evidence could not be read this run (the endpoints of an unreachable
    /// account): their open findings stay open, unannounced.
    pub unread: BTreeSet<String>,
    /// Endpoint services whose own reads failed (throttled past the retries, refused): left out
    /// of `services`, their findings neither confirmed nor resolved.
    pub unread_services: BTreeSet<String>,
    /// What is deliberately not audited, and why (a Gateway Load Balancer service, an endpoint
    /// in another region).
    pub not_audited: Vec<NotAudited>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAudited {
    pub resource: String,
    pub reason: String,
    /// The service a consumer endpoint not audited connects to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// The account of a consumer endpoint not audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub account: String,
    pub nlb_arns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub arn: String,
    pub account: String,
    /// Enabled AZs (names, in the owner's account).
    pub az_names: Vec<String>,
    /// `load_balancing.cross_zone.enabled`.
    pub cross_zone: bool,
}

/// A target group's `load_balancing.cross_zone.enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossZone {
    On,
    Off,
    /// `use_load_balancer_configuration`.
    Inherit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub arn: String,
    pub lb_arns: Vec<String>,
    pub cross_zone: CrossZone,
    pub targets: Vec<Target>,
    /// How long a new target takes to turn healthy: the health check interval × the healthy
    /// threshold count, when `DescribeTargetGroups` gave both.
    pub settle_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    /// Where the target takes traffic from, as the elbv2 API defines it.
    pub azs: TargetAzs,
    /// As the NLB's health check sees it.
    pub state: TargetState,
}

impl Target {
    pub fn healthy(&self) -> bool {
        self.state == TargetState::Healthy
    }
}

/// A target's health state, as `DescribeTargetHealth` reports it (`TargetHealthStateEnum`).
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Healthy,
    /// Registered, health checks not yet passed (`Elb.RegistrationInProgress`, or the first
    /// checks still running).
    Initial,
    /// Being deregistered (`draining`, `unhealthy.draining`): no new connections for the
    /// deregistration delay.
    Draining,
    Unhealthy,
    /// Not used by a load balancer, or in an AZ the load balancer does not serve.
    Unused,
    /// Health checks disabled.
    Unavailable,
}

impl TargetState {
    /// ELB's name for the state; an unknown one counts as unhealthy (it takes no traffic as far
    /// as anyone can tell).
    pub fn parse(state: &str) -> Self {
        match state {
            "healthy" => TargetState::Healthy,
            "initial" => TargetState::Initial,
            "draining" | "unhealthy.draining" => TargetState::Draining,
            "unused" => TargetState::Unused,
            "unavailable" => TargetState::Unavailable,
            _ => TargetState::Unhealthy,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Healthy => "healthy",
            TargetState::Initial => "initial",
            TargetState::Draining => "draining",
            TargetState::Unhealthy => "unhealthy",
            TargetState::Unused => "unused",
            TargetState::Unavailable => "unavailable",
        }
    }

    /// On its way in or out: a deploy or a scaling step, expected to settle by itself.
    pub fn in_transition(self) -> bool {
        matches!(self, TargetState::Initial | TargetState::Draining)
    }
}

/// How long a finding caused by targets in transition must hold before it pages, when the
/// target group does not say how long its targets take to settle: 5 minutes (NLB's default
/// deregistration delay, 300 s; its default health check, 30 s × 5, settles in 150 s).
pub const DEFAULT_GRACE_SECONDS: u64 = 300;

/// The AZs a target serves (names, in the NLB owner's account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetAzs {
    /// An instance (its placement), an IP in a subnet of the target group's VPC, or an ALB
    /// (every AZ it is enabled in).
    In(Vec<String>),
    /// An IP target registered with `AvailabilityZone=all` (outside the VPC): traffic from
    /// every enabled AZ.
    All,
    /// Could not be located: the AZ checks of its target group are left undecided.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub account: String,
    pub vpc_id: String,
    pub service_id: String,
    /// AZs of the endpoint's subnets (names, in the consumer's account).
    pub az_names: Vec<String>,
    /// AZs where the consumer VPC has subnets (names, in the consumer's account).
    pub vpc_az_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Blackhole,
    Skew,
    NoAzRedundancy,
    ConsumerCoverage,
    CrossZoneOn,
    Unreachable,
    /// Every target of a group unhealthy: the NLB fails open.
    FailOpen,
}

impl Check {
    /// The name the run's report uses (serde's snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Blackhole => "blackhole",
            Check::Skew => "skew",
            Check::NoAzRedundancy => "no_az_redundancy",
            Check::ConsumerCoverage => "consumer_coverage",
            Check::CrossZoneOn => "cross_zone_on",
            Check::Unreachable => "unreachable",
            Check::FailOpen => "fail_open",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AzFinding {
    /// Stable across runs while the same problem persists: what the findings table is keyed on.
    pub fingerprint: String,
    pub check: Check,
    pub severity: Severity,
    /// The endpoint service the finding is about ([`ACCOUNT_WIDE`] for a finding about a
    /// whole consumer account): an audit of some services opens and resolves only their findings.
    pub service_id: String,
    pub resource: String,
    pub title: String,
    pub evidence: Facts,
    pub fix: String,
    /// Set when the finding is caused only by targets in transition (`initial`, `draining`): it
    /// pages only if it still holds this many seconds after it was first seen. `None`: at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<u64>,
}

/// AZ names → IDs with `account`'s map; a name the map lacks stays visible as `?name`.
pub(crate) fn ids(s: &Snapshot, account: &str, names: &[String]) -> BTreeSet<String> {
    let map = s.az_maps.get(account);
    names
        .iter()
        .map(|n| {
            map.and_then(|m| m.get(n))
                .cloned()
                .unwrap_or_else(|| format!("?{n}"))
        })
        .collect()
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

pub(crate) fn effective_cross_zone(tg: &TargetGroup, lb: &LoadBalancer) -> bool {
    match tg.cross_zone {
        CrossZone::On => true,
        CrossZone::Off => false,
        CrossZone::Inherit => lb.cross_zone,
    }
}

/// A healthy target nobody could place may serve any AZ: no verdict either way on its group.
pub(crate) fn undecided_group(tg: &TargetGroup) -> bool {
    tg.targets
        .iter()
        .any(|t| t.healthy() && t.azs == TargetAzs::Unknown)
}

/// Whether `target` serves AZ ID `az` of a load balancer owned by `account`.
pub(crate) fn serves(s: &Snapshot, account: &str, target: &Target, az: &str) -> bool {
    match &target.azs {
        TargetAzs::All => true,
        TargetAzs::In(names) => ids(s, account, names).contains(az),
        TargetAzs::Unknown => false,
    }
}

/// The grace of a condition: `Some` when targets in transition may be all that causes it.
fn grace(tg: &TargetGroup, transient: bool) -> Option<u64> {
    transient.then(|| tg.settle_seconds.unwrap_or(DEFAULT_GRACE_SECONDS))
}

/// Pure: the resources this snapshot cannot judge — what could not be read, and target groups
/// with a healthy target of unknown place. Their open findings are neither confirmed nor
/// resolved.
pub fn undecided(s: &Snapshot) -> BTreeSet<String> {
    s.target_groups
        .iter()
        .filter(|tg| undecided_group(tg))
        .map(|tg| tg.arn.clone())
        .chain(s.unread.iter().cloned())
        .chain(s.unread_services.iter().cloned())
        .collect()
}

/// The service id of a finding about a whole consumer account (one that could not be read), as
/// the findings table keeps it: it is no service's, and any audit that reads the account may
/// resolve it.
pub const ACCOUNT_WIDE: &str = "*";

/// Pure: every finding of the snapshot, ordered by fingerprint. Each check is one function
/// below; a target group whose healthy targets' places are unknown is not judged.
pub fn analyse(s: &Snapshot) -> Vec<AzFinding> {
    let mut out = Vec::new();
    let fronted: BTreeSet<&str> = s
        .services
        .iter()
        .flat_map(|v| v.nlb_arns.iter().map(String::as_str))
        .collect();
    for lb in s
        .load_balancers
        .iter()
        .filter(|lb| fronted.contains(lb.arn.as_str()))
    {
        let service_id = s
            .services
            .iter()
            .find(|v| v.nlb_arns.contains(&lb.arn))
            .map_or("", |v| v.id.as_str());
        let lb_azs = ids(s, &lb.account, &lb.az_names);
        out.extend(no_az_redundancy(lb, service_id, &lb_azs));
        for tg in s
            .target_groups
            .iter()
            .filter(|tg| tg.lb_arns.contains(&lb.arn) && !undecided_group(tg))
        {
            let g = Group::of(s, lb, tg, service_id, &lb_azs);
            out.extend(fail_open(&g));
            if effective_cross_zone(tg, lb) {
                out.push(cross_zone_on(&g));
            } else if !g.fails_open {
                // A group that fails open has every AZ "empty"; its finding says what happens.
                let blackholes = blackholes(&g);
                if blackholes.is_empty() {
                    out.extend(skew(&g));
                }
                out.extend(blackholes);
            }
        }
    }
    out.extend(s.endpoints.iter().filter_map(|e| consumer_coverage(s, e)));
    out.extend(
        s.unreachable
            .iter()
            .map(|(account, problem)| unreachable(account, problem)),
    );
    out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    out
}

/// One target group behind one NLB, as the checks of a group see it.
struct Group<'a> {
    s: &'a Snapshot,
    lb: &'a LoadBalancer,
    tg: &'a TargetGroup,
    service_id: &'a str,
    /// Healthy targets per AZ ID the NLB is enabled in.
    healthy: BTreeMap<String, usize>,
    /// The same, as `use1-az1=2, use1-az2=0`.
    per_az: String,
    /// No registered target healthy and some unhealthy: NLB sends traffic to all of them.
    /// Targets that take none (`unused`, `initial`, `draining`) do not make a group fail open.
    /// <https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html>
    fails_open: bool,
}

impl<'a> Group<'a> {
    fn of(
        s: &'a Snapshot,
        lb: &'a LoadBalancer,
        tg: &'a TargetGroup,
        service_id: &'a str,
        lb_azs: &BTreeSet<String>,
    ) -> Self {
        let healthy: BTreeMap<String, usize> = lb_azs
            .iter()
            .map(|az| {
                let n = tg
                    .targets
                    .iter()
                    .filter(|t| t.healthy() && serves(s, &lb.account, t, az))
                    .count();
                (az.clone(), n)
            })
            .collect();
        let per_az = healthy
            .iter()
            .map(|(az, n)| format!("{az}={n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let fails_open = !tg.targets.iter().any(Target::healthy)
            && tg.targets.iter().any(|t| t.state == TargetState::Unhealthy);
        Group {
            s,
            lb,
            tg,
            service_id,
            healthy,
            per_az,
            fails_open,
        }
    }

    /// Whether a target (in `az`, when given) is in transition: what it causes may pass.
    fn moving(&self, az: Option<&str>) -> bool {
        self.tg.targets.iter().any(|t| {
            t.state.in_transition() && az.is_none_or(|az| serves(self.s, &self.lb.account, t, az))
        })
    }

    /// A finding about this group.
    fn finding(&self, check: Check, severity: Severity, fingerprint: String) -> AzFinding {
        AzFinding {
            fingerprint,
            check,
            severity,
            service_id: self.service_id.to_owned(),
            resource: self.tg.arn.clone(),
            title: String::new(),
            evidence: Facts::default(),
            fix: String::new(),
            grace_seconds: None,
        }
    }
}

/// An NLB enabled in one AZ only: the service goes down with that AZ.
fn no_az_redundancy(
    lb: &LoadBalancer,
    service_id: &str,
    lb_azs: &BTreeSet<String>,
) -> Option<AzFinding> {
    (lb_azs.len() < 2).then(|| AzFinding {
        fingerprint: format!("no-az-redundancy:{}", lb.arn),
        check: Check::NoAzRedundancy,
        severity: Severity::Warning,
        service_id: service_id.to_owned(),
        resource: lb.arn.clone(),
        title: format!("NLB behind an endpoint service runs in one AZ only ({})", join(lb_azs)),
        evidence: Facts::from_iter([(Fact::AzIds, join(lb_azs))]),
        fix: "Enable a second subnet in another AZ on the NLB (SetSubnets) and register targets there.".into(),
        grace_seconds: None,
    })
}

/// No target of the group healthy: the NLB fails open, to the unhealthy ones.
fn fail_open(g: &Group) -> Option<AzFinding> {
    if !g.fails_open {
        return None;
    }
    let states =
        g.tg.targets
            .iter()
            .map(|t| format!("{}={}", t.id, t.state.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
    Some(AzFinding {
        title: format!("No target of the group is healthy ({} registered): the NLB fails open and sends traffic to the unhealthy ones", g.tg.targets.len()),
        evidence: Facts::from_iter([(Fact::TargetStates, states)]),
        fix: "Find why the health checks fail (the targets, their security groups, the health check settings); until then the service answers from unhealthy targets.".into(),
        grace_seconds: grace(g.tg, g.moving(None)),
        ..g.finding(Check::FailOpen, Severity::Critical, format!("fail-open:{}:{}", g.lb.arn, g.tg.arn))
    })
}

/// Cross-zone load balancing on: nothing is dropped, but traffic crosses AZs (and is charged).
fn cross_zone_on(g: &Group) -> AzFinding {
    AzFinding {
        title: "Cross-zone load balancing is on: traffic crosses AZs, and inter-AZ data transfer is charged".into(),
        evidence: Facts::from_iter([(Fact::HealthyPerAz, g.per_az.clone())]),
        fix: "Nothing to fix; turn it off only with healthy targets in every enabled AZ.".into(),
        ..g.finding(Check::CrossZoneOn, Severity::Info, format!("cross-zone-on:{}", g.tg.arn))
    }
}

/// Each enabled AZ with no healthy target while cross-zone is off: its traffic is dropped.
fn blackholes(g: &Group) -> Vec<AzFinding> {
    g.healthy
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(az, _)| AzFinding {
            title: format!("No healthy target in {az} while cross-zone load balancing is off: traffic to that AZ is dropped"),
            evidence: Facts::from_iter([(Fact::AzId, az.clone()), (Fact::HealthyPerAz, g.per_az.clone())]),
            fix: format!("Register healthy targets in {az}, or turn cross-zone load balancing on for this target group."),
            grace_seconds: grace(g.tg, g.moving(Some(az.as_str()))),
            ..g.finding(Check::Blackhole, Severity::Critical, format!("blackhole:{}:{}:{az}", g.lb.arn, g.tg.arn))
        })
        .collect()
}

/// Healthy targets twice as many in one AZ as in another, cross-zone off: the AZs with fewer
/// take the same share of traffic.
fn skew(g: &Group) -> Option<AzFinding> {
    let min = g.healthy.values().min().copied().unwrap_or(0);
    let max = g.healthy.values().max().copied().unwrap_or(0);
    (max >= 2 * min && max > min).then(|| AzFinding {
        title: format!(
            "Healthy targets are unevenly spread with cross-zone off ({})",
            g.per_az
        ),
        evidence: Facts::from_iter([(Fact::HealthyPerAz, g.per_az.clone())]),
        fix: "Balance targets across AZs, or turn cross-zone load balancing on.".into(),
        grace_seconds: grace(g.tg, g.moving(None)),
        ..g.finding(
            Check::Skew,
            Severity::Warning,
            format!("skew:{}:{}", g.lb.arn, g.tg.arn),
        )
    })
}

/// A consumer endpoint missing an AZ its VPC uses, or in an AZ the service does not serve.
fn consumer_coverage(s: &Snapshot, e: &Endpoint) -> Option<AzFinding> {
    let service = s.services.iter().find(|v| v.id == e.service_id)?;
    let served: BTreeSet<String> = s
        .load_balancers
        .iter()
        .filter(|lb| service.nlb_arns.contains(&lb.arn))
        .flat_map(|lb| ids(s, &lb.account, &lb.az_names))
        .collect();
    let endpoint_azs = ids(s, &e.account, &e.az_names);
    let vpc_azs = ids(s, &e.account, &e.vpc_az_names);
    let uncovered: BTreeSet<String> = vpc_azs.difference(&endpoint_azs).cloned().collect();
    let unserved: BTreeSet<String> = endpoint_azs
        .union(&vpc_azs)
        .filter(|az| !served.contains(*az))
        .cloned()
        .collect();
    let mut problems = Vec::new();
    if !uncovered.is_empty() {
        problems.push(format!(
            "the VPC has subnets in {} but the endpoint has no interface there",
            join(&uncovered)
        ));
    }
    if !unserved.is_empty() {
        problems.push(format!("the service does not serve {}", join(&unserved)));
    }
    (!problems.is_empty()).then(|| AzFinding {
        fingerprint: format!("consumer-coverage:{}:{}:{}", e.id, join(&uncovered), join(&unserved)),
        check: Check::ConsumerCoverage,
        severity: Severity::Warning,
        service_id: e.service_id.clone(),
        resource: e.id.clone(),
        title: format!("Endpoint {} in account {}: {}; traffic crosses AZs and fails with that AZ", e.id, e.account, problems.join("; ")),
        evidence: Facts::from_iter([
            (Fact::ConsumerAzIds, join(&vpc_azs)),
            (Fact::EndpointAzIds, join(&endpoint_azs)),
            (Fact::ServiceAzIds, join(&served)),
        ]),
        fix: "Add endpoint subnets in every AZ ID the VPC uses, and serve those AZ IDs from the provider's NLB.".into(),
        grace_seconds: None,
    })
}

/// A consumer account that could not be read: its endpoints were not checked.
fn unreachable(account: &str, problem: &str) -> AzFinding {
    AzFinding {
        fingerprint: format!("unreachable:{account}"),
        check: Check::Unreachable,
        severity: Severity::Warning,
        service_id: ACCOUNT_WIDE.into(),
        resource: account.to_owned(),
        title: format!(
            "Consumer account {account} could not be read; its endpoints were not checked"
        ),
        evidence: Facts::from_iter([(Fact::Problem, problem.to_owned())]),
        fix: "Deploy the read role in that account (spoke-template.yaml), or stop listing it."
            .into(),
        grace_seconds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDER: &str = "123456789012";
    const CONSUMER: &str = "111111111111";
    const LB: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/orders/1";
    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/orders/1";

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, i)| (n.to_string(), i.to_string()))
            .collect()
    }

    /// Provider: a → use1-az1, b → use1-az2. Consumer: the names swapped.
    fn snapshot(cross: CrossZone, targets: &[(&str, bool)]) -> Snapshot {
        Snapshot {
            az_maps: BTreeMap::from([
                (
                    PROVIDER.into(),
                    map(&[
                        ("us-east-1a", "use1-az1"),
                        ("us-east-1b", "use1-az2"),
                        ("us-east-1c", "use1-az3"),
                    ]),
                ),
                (
                    CONSUMER.into(),
                    map(&[
                        ("us-east-1a", "use1-az2"),
                        ("us-east-1b", "use1-az1"),
                        ("us-east-1c", "use1-az4"),
                    ]),
                ),
            ]),
            services: vec![Service {
                id: "vpce-svc-1".into(),
                account: PROVIDER.into(),
                nlb_arns: vec![LB.into()],
            }],
            load_balancers: vec![LoadBalancer {
                arn: LB.into(),
                account: PROVIDER.into(),
                az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
                cross_zone: false,
            }],
            target_groups: vec![TargetGroup {
                arn: TG.into(),
                lb_arns: vec![LB.into()],
                cross_zone: cross,
                targets: targets
                    .iter()
                    .enumerate()
                    .map(|(i, (az, healthy))| Target {
                        id: format!("i-{i}"),
                        azs: TargetAzs::In(vec![az.to_string()]),
                        state: if *healthy {
                            TargetState::Healthy
                        } else {
                            TargetState::Unhealthy
                        },
                    })
                    .collect(),
                settle_seconds: Some(150),
            }],
            endpoints: vec![],
            unreachable: vec![],
            reached: BTreeSet::new(),
            unread: BTreeSet::new(),
            unread_services: BTreeSet::new(),
            not_audited: vec![],
        }
    }

    fn checks(s: &Snapshot) -> Vec<(Check, Severity)> {
        analyse(s).iter().map(|f| (f.check, f.severity)).collect()
    }

    #[test]
    fn an_az_without_healthy_targets_and_cross_zone_off_is_a_blackhole() {
        let s = snapshot(
            CrossZone::Inherit,
            &[("us-east-1a", true), ("us-east-1b", false)],
        );
        let findings = analyse(&s);
        assert_eq!(checks(&s), [(Check::Blackhole, Severity::Critical)]);
        assert_eq!(findings[0].evidence.get(Fact::AzId).unwrap(), "use1-az2");
        assert_eq!(
            findings[0].evidence.get(Fact::HealthyPerAz).unwrap(),
            "use1-az1=1, use1-az2=0"
        );
        assert_eq!(
            findings[0].fingerprint,
            format!("blackhole:{LB}:{TG}:use1-az2")
        );
    }

    fn placed(azs: TargetAzs, healthy: bool) -> Target {
        Target {
            id: "t".into(),
            azs,
            state: if healthy {
                TargetState::Healthy
            } else {
                TargetState::Unhealthy
            },
        }
    }

    /// An NLB in front of an ALB enabled in both AZs, and an IP target outside the VPC: both
    /// serve every AZ, so no blackhole (the false critical page this guards against).
    #[test]
    fn alb_targets_and_all_zone_ip_targets_serve_every_az_they_cover() {
        let mut s = snapshot(CrossZone::Off, &[]);
        s.target_groups[0].targets = vec![placed(
            TargetAzs::In(vec!["us-east-1a".into(), "us-east-1b".into()]),
            true,
        )];
        assert!(
            checks(&s).iter().all(|(c, _)| *c != Check::Blackhole),
            "{:?}",
            checks(&s)
        );
        s.target_groups[0].targets = vec![placed(TargetAzs::All, true)];
        assert!(checks(&s).iter().all(|(c, _)| *c != Check::Blackhole));
        // An ALB enabled in one AZ only serves that one.
        s.target_groups[0].targets = vec![placed(TargetAzs::In(vec!["us-east-1a".into()]), true)];
        assert_eq!(checks(&s), [(Check::Blackhole, Severity::Critical)]);
    }

    #[test]
    fn a_healthy_target_of_unknown_place_leaves_its_group_undecided() {
        let mut s = snapshot(CrossZone::Off, &[("us-east-1a", true)]);
        s.target_groups[0]
            .targets
            .push(placed(TargetAzs::Unknown, true));
        assert!(checks(&s).iter().all(|(c, _)| *c != Check::Blackhole));
        assert_eq!(undecided(&s), BTreeSet::from([TG.to_owned()]));
        // An unhealthy one of unknown place changes nothing: it serves no AZ either way.
        s.target_groups[0].targets[1].state = TargetState::Unhealthy;
        assert_eq!(checks(&s), [(Check::Blackhole, Severity::Critical)]);
        assert!(undecided(&s).is_empty());
    }

    #[test]
    fn the_target_group_setting_overrides_the_load_balancer() {
        let mut s = snapshot(CrossZone::On, &[("us-east-1a", true)]);
        assert_eq!(checks(&s), [(Check::CrossZoneOn, Severity::Info)]);
        s.target_groups[0].cross_zone = CrossZone::Inherit;
        s.load_balancers[0].cross_zone = true;
        assert_eq!(checks(&s), [(Check::CrossZoneOn, Severity::Info)]);
        s.target_groups[0].cross_zone = CrossZone::Off;
        assert_eq!(
            checks(&s),
            [(Check::Blackhole, Severity::Critical)],
            "off on the target group wins"
        );
    }

    #[test]
    fn uneven_healthy_targets_are_skew_with_the_numbers() {
        let s = snapshot(
            CrossZone::Off,
            &[
                ("us-east-1a", true),
                ("us-east-1a", true),
                ("us-east-1a", true),
                ("us-east-1b", true),
            ],
        );
        let f = analyse(&s);
        assert_eq!(checks(&s), [(Check::Skew, Severity::Warning)]);
        assert_eq!(
            f[0].evidence.get(Fact::HealthyPerAz).unwrap(),
            "use1-az1=3, use1-az2=1"
        );
        let even = snapshot(
            CrossZone::Off,
            &[
                ("us-east-1a", true),
                ("us-east-1b", true),
                ("us-east-1b", false),
            ],
        );
        assert!(analyse(&even).is_empty());
    }

    #[test]
    fn a_single_az_nlb_has_no_redundancy() {
        let mut s = snapshot(CrossZone::Off, &[("us-east-1a", true)]);
        s.load_balancers[0].az_names.truncate(1);
        assert_eq!(checks(&s), [(Check::NoAzRedundancy, Severity::Warning)]);
    }

    #[test]
    fn consumer_coverage_compares_az_ids_not_names() {
        let mut s = snapshot(
            CrossZone::Off,
            &[("us-east-1a", true), ("us-east-1b", true)],
        );
        // The consumer's "us-east-1a" and "us-east-1b" are the provider's b and a: same AZ IDs,
        // fully served, though a name comparison would also say so by luck...
        let endpoint = |names: &[&str], vpc: &[&str]| Endpoint {
            id: "vpce-1".into(),
            account: CONSUMER.into(),
            vpc_id: "vpc-1".into(),
            service_id: "vpce-svc-1".into(),
            az_names: names.iter().map(|n| n.to_string()).collect(),
            vpc_az_names: vpc.iter().map(|n| n.to_string()).collect(),
        };
        s.endpoints = vec![endpoint(
            &["us-east-1a", "us-east-1b"],
            &["us-east-1a", "us-east-1b"],
        )];
        assert!(analyse(&s).is_empty());
        // ...but the consumer's "us-east-1c" is use1-az4, which the provider does not serve, while
        // the provider's own "us-east-1c" exists: comparing names would find nothing wrong.
        s.endpoints = vec![endpoint(
            &["us-east-1a", "us-east-1c"],
            &["us-east-1a", "us-east-1b", "us-east-1c"],
        )];
        let f = analyse(&s);
        assert_eq!(checks(&s), [(Check::ConsumerCoverage, Severity::Warning)]);
        assert_eq!(
            f[0].title,
            "Endpoint vpce-1 in account 111111111111: the VPC has subnets in use1-az1 but the endpoint has no interface there; the service does not serve use1-az4; traffic crosses AZs and fails with that AZ"
        );
        assert_eq!(
            f[0].evidence.get(Fact::ServiceAzIds).unwrap(),
            "use1-az1, use1-az2"
        );
    }

    fn in_state(s: &mut Snapshot, states: &[TargetState]) {
        for (t, state) in s.target_groups[0].targets.iter_mut().zip(states) {
            t.state = *state;
        }
    }

    /// A rolling replacement in AZ b: the old target draining, the new one initial. The AZ has
    /// no healthy target for a while, which is a blackhole only if it lasts: the finding carries
    /// the group's settle time as its grace. An AZ that is simply empty pages at once.
    #[test]
    fn a_blackhole_made_only_by_targets_in_transition_waits_for_its_grace() {
        use TargetState::{Draining, Healthy, Initial};
        let mut s = snapshot(
            CrossZone::Off,
            &[
                ("us-east-1a", true),
                ("us-east-1b", true),
                ("us-east-1b", true),
            ],
        );
        in_state(&mut s, &[Healthy, Draining, Initial]);
        let f = analyse(&s);
        assert_eq!(checks(&s), [(Check::Blackhole, Severity::Critical)]);
        assert_eq!(
            f[0].grace_seconds,
            Some(150),
            "the group's interval × threshold"
        );
        s.target_groups[0].settle_seconds = None;
        assert_eq!(analyse(&s)[0].grace_seconds, Some(DEFAULT_GRACE_SECONDS));
        // The draining target gone, the new one never registered: nothing in transition.
        s.target_groups[0].targets.truncate(1);
        assert_eq!(analyse(&s)[0].grace_seconds, None);
        // A target in transition in the *other* AZ does not excuse this one.
        let mut s = snapshot(
            CrossZone::Off,
            &[
                ("us-east-1a", true),
                ("us-east-1a", true),
                ("us-east-1b", false),
            ],
        );
        in_state(&mut s, &[Healthy, Initial, TargetState::Unhealthy]);
        assert_eq!(analyse(&s)[0].grace_seconds, None);
    }

    #[test]
    fn every_target_unhealthy_fails_open_and_is_its_own_finding() {
        let s = snapshot(
            CrossZone::Off,
            &[("us-east-1a", false), ("us-east-1b", false)],
        );
        let f = analyse(&s);
        assert_eq!(
            checks(&s),
            [(Check::FailOpen, Severity::Critical)],
            "no per-AZ blackholes"
        );
        assert_eq!(f[0].fingerprint, format!("fail-open:{LB}:{TG}"));
        assert_eq!(
            f[0].evidence.get(Fact::TargetStates).unwrap(),
            "i-0=unhealthy, i-1=unhealthy"
        );
        assert!(f[0].title.contains("fails open"), "{}", f[0].title);
        assert_eq!(f[0].grace_seconds, None);
        // One unhealthy and one new target still initial: fail-open, with grace.
        let mut s = s;
        in_state(&mut s, &[TargetState::Unhealthy, TargetState::Initial]);
        assert_eq!(checks(&s), [(Check::FailOpen, Severity::Critical)]);
        assert_eq!(analyse(&s)[0].grace_seconds, Some(150));
        // Every target initial (a new service's first deploy) or stopped (`unused`): nothing to
        // fail open to, so each AZ is a blackhole (the first with grace).
        in_state(&mut s, &[TargetState::Initial, TargetState::Initial]);
        let f = analyse(&s);
        assert_eq!(checks(&s), [(Check::Blackhole, Severity::Critical); 2]);
        assert!(f.iter().all(|f| f.grace_seconds == Some(150)));
        in_state(&mut s, &[TargetState::Unused, TargetState::Unused]);
        assert_eq!(checks(&s), [(Check::Blackhole, Severity::Critical); 2]);
        assert!(analyse(&s).iter().all(|f| f.grace_seconds.is_none()));
    }

    #[test]
    fn target_states_are_read_as_elb_names_them() {
        for (name, state) in [
            ("healthy", TargetState::Healthy),
            ("initial", TargetState::Initial),
            ("draining", TargetState::Draining),
            ("unhealthy.draining", TargetState::Draining),
            ("unused", TargetState::Unused),
            ("unavailable", TargetState::Unavailable),
            ("unhealthy", TargetState::Unhealthy),
            ("something-new", TargetState::Unhealthy),
        ] {
            assert_eq!(TargetState::parse(name), state, "{name}");
        }
        assert!(TargetState::Initial.in_transition() && TargetState::Draining.in_transition());
        assert!(!TargetState::Unhealthy.in_transition() && !TargetState::Unused.in_transition());
    }

    #[test]
    fn unreachable_consumers_are_findings() {
        let mut s = snapshot(
            CrossZone::Off,
            &[("us-east-1a", true), ("us-east-1b", true)],
        );
        s.unreachable.push((CONSUMER.into(), "AccessDenied".into()));
        assert_eq!(checks(&s), [(Check::Unreachable, Severity::Warning)]);
    }
}
