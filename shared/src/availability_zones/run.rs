//! The availability-zone audit: collect a snapshot of the estate, [`analyse`] it, and compare
//! with the findings remembered as open, so a notification goes out when a finding opens or
//! resolves and a run that finds the same open finding stays quiet. A finding caused only by
//! targets in transition (a deploy, a scaling step) is remembered as pending and opens only when
//! a later observation, at least its grace later, still finds it.

use crate::availability_zones::analysis::{
    ACCOUNT_WIDE, AzFinding, NotAudited, analyse, undecided,
};
use crate::availability_zones::coverage::{self, Coverage, text};
use crate::availability_zones::notifications;
use crate::availability_zones::ports::{
    AuditScope, Estate, FindingsStore, OpenFinding, Pass, PassStore,
};
use crate::error::Result;
use crate::notify::Publisher;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// Services per stretch of the scheduled pass: each stretch is audited, announced and recorded
/// before the next, so an invocation stopped part-way loses at most one stretch's work.
pub const STRETCH: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AuditReport {
    pub opened: Vec<AzFinding>,
    pub resolved: Vec<OpenFinding>,
    /// Open before and still open: not announced again.
    pub still_open: usize,
    /// Seen for the first time, caused only by targets in transition: remembered as pending,
    /// not announced.
    pub pending: Vec<AzFinding>,
    /// Pending before and still within their grace: quiet.
    pub still_pending: usize,
    /// Pending before and gone (the deploy settled): forgotten, never announced.
    pub settled: Vec<OpenFinding>,
    /// Open before, and its evidence could not be read or judged this run: kept open, quiet.
    pub undecided: usize,
    /// Endpoint services whose reads failed this run (throttled past the retries, refused):
    /// their findings are neither opened nor resolved; the next run tries again.
    pub unread_services: Vec<String>,
    /// Deliberately not audited, with the reason.
    pub not_audited: Vec<NotAudited>,
    /// A scheduled invocation's share of the pass through the estate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<PassReport>,
}

impl AuditReport {
    /// The run's metrics: findings opened by severity, resolved and still open, pending on
    /// targets in transition, services whose reads failed (undecided) and audited.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        let mut m = crate::metrics::Metrics::new("auditor")
            .count("FindingsOpened", self.opened.len())
            .count("FindingsResolved", self.resolved.len())
            .count("FindingsStillOpen", self.still_open)
            .count("FindingsPending", self.pending.len() + self.still_pending)
            .count("ServicesUndecided", self.unread_services.len());
        if let Some(pass) = &self.pass {
            m = m.count("ServicesAudited", pass.audited);
        }
        use crate::notify::Severity;
        for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
            let n = self
                .opened
                .iter()
                .filter(|f| f.severity == severity)
                .count();
            if n > 0 {
                m = m.by_outcome("FindingsOpened", severity.as_str(), n);
            }
        }
        m
    }

    /// This report and a later stretch's, as one.
    fn absorb(&mut self, other: AuditReport) {
        self.opened.extend(other.opened);
        self.resolved.extend(other.resolved);
        self.still_open += other.still_open;
        self.pending.extend(other.pending);
        self.still_pending += other.still_pending;
        self.settled.extend(other.settled);
        self.undecided += other.undecided;
        self.unread_services.extend(other.unread_services);
        self.not_audited.extend(other.not_audited);
    }
}

/// What a scheduled invocation did of the pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PassReport {
    /// When the pass it worked on began (seconds since the epoch).
    pub started: u64,
    /// The services it audited.
    pub audited: usize,
    /// The last service audited in the pass so far.
    pub after: Option<String>,
    /// Every service of the pass audited.
    pub complete: bool,
    /// The pass outlasted its period: the estate needs more time than the period gives at this
    /// rate share.
    pub behind: bool,
    /// Why it audited nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
}

/// A scheduled invocation's bounds.
#[derive(Debug, Clone)]
pub struct Tick {
    /// Who claims the pass (the invocation's request id).
    pub holder: String,
    /// Every service is audited once per `period` seconds (`AUDIT_PERIOD_MINUTES`).
    pub period: u64,
    /// How long the invocation may spend starting stretches.
    pub budget: Duration,
    /// How long its claim on the pass lasts: past the invocation's own deadline, so a claim
    /// never ends while its holder still works, and no longer, so a dead holder's claim passes.
    pub lease: Duration,
}

pub struct Auditor<E, F, P> {
    pub estate: E,
    pub findings: F,
    pub publisher: P,
    /// `FINDING_GRACE_SECONDS`: the grace of every finding caused by targets in transition,
    /// instead of its target group's settle time.
    pub grace: Option<u64>,
}

/// What an audit found, before anything is announced or remembered.
pub struct Assessment {
    /// Every finding this audit makes, new or already open.
    pub current: Vec<AzFinding>,
    /// The findings open in the findings table before it.
    pub known: Vec<OpenFinding>,
    /// What a run would open, resolve and leave.
    pub report: AuditReport,
    /// The audited services' AZ coverage, drawn from the same snapshot and findings.
    pub coverage: Coverage,
}

impl<E: Estate + Sync, F: FindingsStore + Sync, P: Publisher + Sync> Auditor<E, F, P> {
    /// The audit, read-only: the estate analysed and compared with the open findings.
    pub async fn assess(&self, scope: &AuditScope) -> Result<Assessment> {
        let resolved;
        let scope = match scope {
            AuditScope::Resources(arns) => {
                let services = self.estate.services_behind(arns).await?;
                tracing::info!(
                    ?arns,
                    ?services,
                    "the event's resources front these services"
                );
                resolved = AuditScope::Services(services);
                &resolved
            }
            AuditScope::Endpoints(ids) => {
                let services = self.estate.services_of_endpoints(ids).await?;
                tracing::info!(
                    ?ids,
                    ?services,
                    "the event's endpoints connect to these services"
                );
                resolved = AuditScope::Services(services);
                &resolved
            }
            other => other,
        };
        let snapshot = self.estate.snapshot(scope).await?;
        let current: Vec<AzFinding> = analyse(&snapshot)
            .into_iter()
            .filter(|f| f.service_id == ACCOUNT_WIDE || scope.covers(&f.service_id))
            .map(|mut f| {
                if f.grace_seconds.is_some() && self.grace.is_some() {
                    f.grace_seconds = self.grace;
                }
                f
            })
            .collect();
        let known = self.findings.open().await?;
        let mut report = reconcile(
            scope,
            current.clone(),
            &known,
            &undecided(&snapshot),
            &snapshot.reached,
            crate::events::now_secs(),
        );
        let coverage = coverage::build(&snapshot, &current);
        report.not_audited = snapshot.not_audited;
        report.unread_services = snapshot.unread_services.into_iter().collect();
        Ok(Assessment {
            current,
            known,
            report,
            coverage,
        })
    }

    pub async fn run(&self, scope: AuditScope) -> Result<AuditReport> {
        let Assessment {
            report, coverage, ..
        } = self.assess(&scope).await?;
        for f in &report.opened {
            tracing::warn!(fingerprint = %f.fingerprint, severity = f.severity.as_str(), title = %f.title, "finding opened");
        }
        for k in &report.resolved {
            tracing::info!(fingerprint = %k.fingerprint, title = %k.title, "finding resolved");
        }
        for f in &report.pending {
            tracing::info!(fingerprint = %f.fingerprint, grace_seconds = ?f.grace_seconds, title = %f.title, "finding pending: targets in transition");
        }
        for service in &report.unread_services {
            tracing::warn!(%service, "service not read this run: its findings are kept as they are");
        }
        // One notification per finding, threaded by finding, so a chat client can put the
        // resolution under the message that opened it; published as many to a call as SNS
        // takes. Each call's findings are remembered (or forgotten) right after it: a failure
        // part-way leaves the rest for the next run.
        for chunk in report.opened.chunks(crate::notify::MESSAGES_PER_BATCH) {
            let messages: Vec<_> = chunk
                .iter()
                .map(|f| {
                    let matrix = coverage
                        .service(&f.service_id)
                        .map(|s| text::compact(s, notifications::MATRIX_CHARACTERS));
                    notifications::opened(f, matrix)
                })
                .collect();
            self.publisher.publish_all(&messages).await?;
            for f in chunk {
                self.findings.remember(f, None).await?;
            }
        }
        for chunk in report.resolved.chunks(crate::notify::MESSAGES_PER_BATCH) {
            let messages: Vec<_> = chunk.iter().map(notifications::resolved).collect();
            self.publisher.publish_all(&messages).await?;
            for k in chunk {
                self.findings.forget(&k.fingerprint).await?;
            }
        }
        // Nothing announced for these: a pending finding lost here is seen again next run.
        let now = crate::events::now_secs();
        for f in &report.pending {
            self.findings.remember(f, Some(now)).await?;
        }
        for k in &report.settled {
            self.findings.forget(&k.fingerprint).await?;
        }
        Ok(report)
    }
}

impl<E, F, P> Auditor<E, F, P>
where
    E: Estate + Sync,
    F: FindingsStore + PassStore + Sync,
    P: Publisher + Sync,
{
    /// A scheduled invocation: the pass through the estate taken up where the last invocation
    /// left it, stretch after stretch of [`STRETCH`] services (in service id order) while the
    /// budget allows, each audited, announced and recorded before the next. A complete pass is
    /// followed by the next once its period is over; one still running past its period goes on
    /// (nothing is skipped) and says it is behind. One invocation works on the pass at a time.
    pub async fn tick(&self, tick: &Tick) -> Result<AuditReport> {
        let now = crate::events::now_secs();
        let Some(pass) = self
            .findings
            .claim(&tick.holder, now, now + tick.lease.as_secs())
            .await?
        else {
            return Ok(idle(
                Pass::default(),
                "another invocation is working on the pass",
            ));
        };
        let outcome = self.stretches(tick, pass, now).await;
        if let Err(e) = self.findings.release(&tick.holder).await {
            // The lease ends on its own; the next invocation waits for it at most that long.
            tracing::warn!(error = %e, "the pass's claim not released");
        }
        outcome
    }

    async fn stretches(&self, tick: &Tick, mut pass: Pass, now: u64) -> Result<AuditReport> {
        let began = Instant::now();
        if pass.complete {
            let next = pass.started.saturating_add(tick.period);
            if now < next {
                let why = format!("this period's pass is complete; the next begins at {next}");
                return Ok(idle(pass, &why));
            }
            pass = Pass {
                started: now,
                after: None,
                complete: false,
            };
        }
        let behind = now > pass.started.saturating_add(tick.period);
        if behind {
            tracing::warn!(
                started = pass.started,
                period = tick.period,
                "the pass outlasts its period: the estate needs a longer AUDIT_PERIOD_MINUTES or a larger AUDIT_RATE_SHARE"
            );
        }
        let ids = self.estate.service_ids().await?;
        let rest: Vec<&String> = ids
            .iter()
            .filter(|id| pass.after.as_ref().is_none_or(|a| *id > a))
            .collect();
        // Nothing left: one last, empty stretch still closes the pass (and resolves the
        // findings of services deleted since).
        let stretches: Vec<&[&String]> = if rest.is_empty() {
            vec![&[]]
        } else {
            rest.chunks(STRETCH).collect()
        };
        let mut report = AuditReport::default();
        let mut audited = 0;
        let mut longest = Duration::ZERO;
        for (i, stretch) in stretches.iter().enumerate() {
            let last = i + 1 == stretches.len();
            let started = Instant::now();
            let scope = AuditScope::Range {
                after: pass.after.clone(),
                through: if last {
                    None
                } else {
                    stretch.last().map(|id| (*id).clone())
                },
            };
            report.absorb(self.run(scope).await?);
            audited += stretch.len();
            if let Some(id) = stretch.last() {
                pass.after = Some((*id).clone());
            }
            pass.complete = last;
            let now = crate::events::now_secs();
            self.findings
                .advance(&tick.holder, &pass, now + tick.lease.as_secs())
                .await?;
            longest = longest.max(started.elapsed());
            if began.elapsed() + longest.mul_f64(1.5) > tick.budget {
                break;
            }
        }
        tracing::info!(
            started = pass.started,
            audited,
            after = pass.after.as_deref().unwrap_or_default(),
            complete = pass.complete,
            "pass"
        );
        report.pass = Some(PassReport {
            started: pass.started,
            audited,
            after: pass.after,
            complete: pass.complete,
            behind,
            idle: None,
        });
        Ok(report)
    }
}

fn idle(pass: Pass, why: &str) -> AuditReport {
    tracing::info!(reason = why, "nothing to audit in this invocation");
    AuditReport {
        pass: Some(PassReport {
            started: pass.started,
            after: pass.after,
            complete: pass.complete,
            idle: Some(why.to_owned()),
            ..PassReport::default()
        }),
        ..AuditReport::default()
    }
}

/// Pure: what this run's findings (seen at `now`) mean against those remembered. A finding not
/// known before opens, or, caused only by targets in transition, becomes pending; a pending one
/// opens once it is still found its grace after it was first seen (or is no longer caused by
/// targets in transition), and is forgotten, unannounced, when it is gone; one open before and
/// found again stays open, quietly; one open before and not found resolves, but only if this
/// run looked at it (its service was in scope; an account-wide finding on a full run, or when
/// its account was `reached`) and could judge it (its resource is not `undecided`: unknown is
/// not resolved).
pub fn reconcile(
    scope: &AuditScope,
    current: Vec<AzFinding>,
    known: &[OpenFinding],
    undecided: &BTreeSet<String>,
    reached: &BTreeSet<String>,
    now: u64,
) -> AuditReport {
    let known_by_print: BTreeMap<&str, &OpenFinding> =
        known.iter().map(|k| (k.fingerprint.as_str(), k)).collect();
    let current_prints: BTreeSet<&str> = current.iter().map(|f| f.fingerprint.as_str()).collect();
    let looked_at = |k: &OpenFinding| match scope {
        AuditScope::All => true,
        _ if k.service_id == ACCOUNT_WIDE => reached.contains(&k.resource),
        _ => scope.covers(&k.service_id),
    };
    let gone = |k: &&OpenFinding| looked_at(k) && !current_prints.contains(k.fingerprint.as_str());
    let mut report = AuditReport::default();
    for k in known.iter().filter(gone) {
        if undecided.contains(&k.resource) || undecided.contains(&k.service_id) {
            report.undecided += 1;
        } else if k.pending_since.is_some() {
            report.settled.push(k.clone());
        } else {
            report.resolved.push(k.clone());
        }
    }
    for f in current {
        match known_by_print.get(f.fingerprint.as_str()) {
            Some(k) => match (k.pending_since, f.grace_seconds) {
                (None, _) => report.still_open += 1,
                (Some(since), Some(grace)) if now < since.saturating_add(grace) => {
                    report.still_pending += 1
                }
                (Some(_), _) => report.opened.push(f),
            },
            None if f.grace_seconds.is_some() => report.pending.push(f),
            None => report.opened.push(f),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability_zones::analysis::Check;
    use crate::notify::{Lifecycle, Severity};
    use std::collections::BTreeMap;

    fn finding(service: &str, print: &str) -> AzFinding {
        AzFinding {
            fingerprint: print.into(),
            check: Check::Blackhole,
            severity: Severity::Critical,
            service_id: service.into(),
            resource: "nlb".into(),
            title: print.into(),
            evidence: crate::notify::Facts::default(),
            fix: String::new(),
            grace_seconds: None,
        }
    }

    fn open(service: &str, print: &str) -> OpenFinding {
        OpenFinding {
            fingerprint: print.into(),
            service_id: service.into(),
            severity: Severity::Critical,
            title: print.into(),
            resource: "nlb".into(),
            pending_since: None,
        }
    }

    fn prints<T>(items: &[T], f: impl Fn(&T) -> &str) -> Vec<String> {
        items.iter().map(|i| f(i).to_owned()).collect()
    }

    #[test]
    fn new_findings_open_known_ones_stay_quiet_and_missing_ones_resolve() {
        let known = [open("svc-a", "a1"), open("svc-a", "a2")];
        let r = reconcile(
            &AuditScope::All,
            vec![finding("svc-a", "a1"), finding("svc-b", "b1")],
            &known,
            &BTreeSet::new(),
            &BTreeSet::new(),
            0,
        );
        assert_eq!(prints(&r.opened, |f| &f.fingerprint), ["b1"]);
        assert_eq!(prints(&r.resolved, |k| &k.fingerprint), ["a2"]);
        assert_eq!(r.still_open, 1);
    }

    #[test]
    fn a_service_scoped_run_resolves_only_what_it_looked_at() {
        let known = [
            open("svc-a", "a1"),
            open("svc-b", "b1"),
            open(ACCOUNT_WIDE, "account"),
        ];
        let scope = AuditScope::Services(["svc-a".to_owned()].into());
        let r = reconcile(
            &scope,
            vec![],
            &known,
            &BTreeSet::new(),
            &BTreeSet::new(),
            0,
        );
        assert_eq!(prints(&r.resolved, |k| &k.fingerprint), ["a1"]);
        let all = reconcile(
            &AuditScope::All,
            vec![],
            &known,
            &BTreeSet::new(),
            &BTreeSet::new(),
            0,
        );
        assert_eq!(all.resolved.len(), 3);
    }

    /// A stretch of the pass looks at the services whose ids fall in it — a deleted service's
    /// among them — and at the account-wide findings of the consumer accounts it read.
    #[test]
    fn a_stretch_resolves_what_falls_in_it_and_what_it_read() {
        let account = |id: &str| OpenFinding {
            resource: id.into(),
            ..open(ACCOUNT_WIDE, &format!("unreachable:{id}"))
        };
        let known = [
            open("svc-a", "a1"),
            open("svc-g", "g1"),
            open("svc-m", "m1"),
            open("svc-z", "z1"),
            account("111111111111"),
            account("222222222222"),
        ];
        let scope = AuditScope::Range {
            after: Some("svc-a".into()),
            through: Some("svc-m".into()),
        };
        let reached = BTreeSet::from(["111111111111".to_owned()]);
        let r = reconcile(&scope, vec![], &known, &BTreeSet::new(), &reached, 0);
        assert_eq!(
            prints(&r.resolved, |k| &k.fingerprint),
            ["g1", "m1", "unreachable:111111111111"]
        );
        let last = AuditScope::Range {
            after: Some("svc-m".into()),
            through: None,
        };
        let r = reconcile(&last, vec![], &known, &BTreeSet::new(), &BTreeSet::new(), 0);
        assert_eq!(prints(&r.resolved, |k| &k.fingerprint), ["z1"]);
    }

    /// A finding whose evidence could not be read (its consumer account unreachable, its target
    /// group undecided) is not resolved: it stays open and quiet.
    #[test]
    fn unknown_is_not_resolved() {
        let mut unread = open("svc-a", "a1");
        unread.resource = "vpce-unread".into();
        let known = [unread, open("svc-a", "a2")];
        let undecided = BTreeSet::from(["vpce-unread".to_owned()]);
        let r = reconcile(
            &AuditScope::All,
            vec![],
            &known,
            &undecided,
            &BTreeSet::new(),
            0,
        );
        assert_eq!(prints(&r.resolved, |k| &k.fingerprint), ["a2"]);
        assert_eq!((r.undecided, r.still_open), (1, 0));
    }

    fn transient(service: &str, print: &str, grace: u64) -> AzFinding {
        AzFinding {
            grace_seconds: Some(grace),
            ..finding(service, print)
        }
    }

    /// A deploy: seen at 1,000 with a grace of 150 s, the finding is pending, not opened; still
    /// there at 1,100 it stays pending; still there at 1,150 it opens. One that is gone by the
    /// next look settles unannounced; one no longer caused by targets in transition opens at once.
    #[test]
    fn a_finding_caused_by_targets_in_transition_opens_only_after_its_grace() {
        let none = BTreeSet::new();
        let first = reconcile(
            &AuditScope::All,
            vec![transient("s", "t", 150)],
            &[],
            &none,
            &BTreeSet::new(),
            1_000,
        );
        assert_eq!(prints(&first.pending, |f| &f.fingerprint), ["t"]);
        assert!(first.opened.is_empty());
        let pending = [OpenFinding {
            pending_since: Some(1_000),
            ..open("s", "t")
        }];
        let early = reconcile(
            &AuditScope::All,
            vec![transient("s", "t", 150)],
            &pending,
            &none,
            &BTreeSet::new(),
            1_100,
        );
        assert_eq!(
            (early.opened.len(), early.still_pending, early.pending.len()),
            (0, 1, 0)
        );
        let late = reconcile(
            &AuditScope::All,
            vec![transient("s", "t", 150)],
            &pending,
            &none,
            &BTreeSet::new(),
            1_150,
        );
        assert_eq!(prints(&late.opened, |f| &f.fingerprint), ["t"]);
        let settled = reconcile(
            &AuditScope::All,
            vec![],
            &pending,
            &none,
            &BTreeSet::new(),
            1_100,
        );
        assert_eq!(prints(&settled.settled, |k| &k.fingerprint), ["t"]);
        assert!(
            settled.resolved.is_empty(),
            "never announced, so nothing to resolve"
        );
        let stuck = reconcile(
            &AuditScope::All,
            vec![finding("s", "t")],
            &pending,
            &none,
            &BTreeSet::new(),
            1_001,
        );
        assert_eq!(prints(&stuck.opened, |f| &f.fingerprint), ["t"]);
        // An open finding now seen with targets in transition stays open, quietly.
        let open_now = reconcile(
            &AuditScope::All,
            vec![transient("s", "a1", 150)],
            &[open("s", "a1")],
            &none,
            &BTreeSet::new(),
            5,
        );
        assert_eq!((open_now.still_open, open_now.opened.len()), (1, 0));
    }

    /// A service whose reads failed: its findings, open or pending, are kept as they are.
    #[test]
    fn an_unread_service_keeps_its_findings() {
        let known = [open("svc-a", "a1"), open("svc-b", "b1")];
        let unread = BTreeSet::from(["svc-a".to_owned()]);
        let r = reconcile(
            &AuditScope::All,
            vec![],
            &known,
            &unread,
            &BTreeSet::new(),
            0,
        );
        assert_eq!(prints(&r.resolved, |k| &k.fingerprint), ["b1"]);
        assert_eq!(r.undecided, 1);
    }

    /// The audit end to end, on in-memory ports.
    mod engine {
        use super::*;
        use crate::availability_zones::analysis::{
            CrossZone, LoadBalancer, Service, Snapshot, Target, TargetAzs, TargetGroup, TargetState,
        };
        use crate::availability_zones::fakes::{FakeEstate, MemoryFindings};
        use crate::fakes::MemoryPublisher;

        const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/o/1";

        /// An NLB in two AZs, cross-zone off, with one target per AZ.
        fn estate(healthy_in_b: bool) -> Snapshot {
            let target = |id: &str, az: &str, healthy| Target {
                id: id.into(),
                azs: TargetAzs::In(vec![az.into()]),
                state: if healthy {
                    TargetState::Healthy
                } else {
                    TargetState::Unhealthy
                },
            };
            let names = |pairs: &[(&str, &str)]| {
                pairs
                    .iter()
                    .map(|(n, i)| (n.to_string(), i.to_string()))
                    .collect()
            };
            Snapshot {
                az_maps: BTreeMap::from([(
                    "123456789012".to_owned(),
                    names(&[("us-east-1a", "use1-az1"), ("us-east-1b", "use1-az2")]),
                )]),
                services: vec![Service {
                    id: "vpce-svc-1".into(),
                    account: "123456789012".into(),
                    nlb_arns: vec![LB.into()],
                }],
                load_balancers: vec![LoadBalancer {
                    arn: LB.into(),
                    account: "123456789012".into(),
                    az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
                    cross_zone: false,
                }],
                target_groups: vec![TargetGroup {
                    arn: "tg".into(),
                    lb_arns: vec![LB.into()],
                    cross_zone: CrossZone::Inherit,
                    targets: vec![
                        target("i-a", "us-east-1a", true),
                        target("i-b", "us-east-1b", healthy_in_b),
                    ],
                    settle_seconds: None,
                }],
                ..Snapshot::default()
            }
        }

        #[tokio::test]
        async fn a_finding_opens_once_stays_quiet_and_resolves_in_its_thread() {
            let auditor = Auditor {
                estate: FakeEstate::default(),
                findings: MemoryFindings::default(),
                publisher: MemoryPublisher::default(),
                grace: None,
            };
            *auditor.estate.snapshot.lock().unwrap() = estate(false);
            let opened = auditor.run(AuditScope::All).await.unwrap();
            assert_eq!(opened.opened.len(), 1);
            assert_eq!(opened.opened[0].check, Check::Blackhole);
            assert_eq!(auditor.findings.open.lock().unwrap().len(), 1);

            let quiet = auditor.run(AuditScope::All).await.unwrap();
            assert_eq!((quiet.opened.len(), quiet.still_open), (0, 1));

            *auditor.estate.snapshot.lock().unwrap() = estate(true);
            let resolved = auditor.run(AuditScope::All).await.unwrap();
            assert_eq!(resolved.resolved.len(), 1);
            assert!(auditor.findings.open.lock().unwrap().is_empty());

            let published = auditor.publisher.published.lock().unwrap();
            assert_eq!(
                published.len(),
                2,
                "opened and resolved, nothing in between"
            );
            assert_eq!(published[0].lifecycle(), Some(Lifecycle::Opened));
            assert_eq!(published[0].severity, Severity::Critical);
            assert!(matches!(
                published[1].lifecycle(),
                Some(Lifecycle::Resolved { .. })
            ));
            assert_eq!(published[0].thread_id, published[1].thread_id);
        }

        /// 110 services in stretches of 50, one invocation's budget for one stretch: three
        /// invocations cover the estate, each service once, the finding of the last one is
        /// announced once; then nothing until the period is over; a stretch that fails is
        /// done again by the next invocation; another invocation's claim is respected.
        #[tokio::test]
        async fn the_pass_goes_on_where_the_last_invocation_stopped() {
            let auditor = Auditor {
                estate: FakeEstate::default(),
                findings: MemoryFindings::default(),
                publisher: MemoryPublisher::default(),
                grace: None,
            };
            let mut s = estate(false);
            for n in 0..109 {
                s.services.push(Service {
                    id: format!("vpce-svc-0{n:03}"),
                    account: "123456789012".into(),
                    nlb_arns: vec![],
                });
            }
            *auditor.estate.snapshot.lock().unwrap() = s;
            let tick = |holder: &str, period| Tick {
                holder: holder.into(),
                period,
                budget: Duration::ZERO,
                lease: Duration::from_secs(60),
            };
            let pass = |r: &AuditReport| r.pass.clone().unwrap();

            let first = auditor.tick(&tick("a", 300)).await.unwrap();
            assert_eq!(
                (pass(&first).audited, pass(&first).after.as_deref()),
                (50, Some("vpce-svc-0049"))
            );
            assert!(!pass(&first).complete && first.opened.is_empty());
            let second = auditor.tick(&tick("b", 300)).await.unwrap();
            assert_eq!(
                (pass(&second).audited, pass(&second).after.as_deref()),
                (50, Some("vpce-svc-0099"))
            );
            assert_eq!(pass(&second).started, pass(&first).started);

            // The last stretch fails after announcing: the pass stays where it was.
            auditor.findings.fault.set("InternalServerError");
            assert!(auditor.tick(&tick("c", 300)).await.is_err());
            assert_eq!(
                auditor
                    .findings
                    .pass
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap()
                    .after
                    .as_deref(),
                Some("vpce-svc-0099")
            );
            let third = auditor.tick(&tick("d", 300)).await.unwrap();
            assert_eq!((pass(&third).audited, pass(&third).complete), (10, true));
            assert_eq!(third.opened.len(), 1);
            assert_eq!(third.opened[0].service_id, "vpce-svc-1");
            assert!(auditor.findings.lease.lock().unwrap().is_none(), "released");

            let done = auditor.tick(&tick("e", 300)).await.unwrap();
            assert!(pass(&done).idle.unwrap().contains("pass is complete"));
            assert_eq!(pass(&done).audited, 0);

            *auditor.findings.lease.lock().unwrap() = Some(("other".into(), u64::MAX));
            let busy = auditor.tick(&tick("f", 0)).await.unwrap();
            assert!(pass(&busy).idle.unwrap().contains("another invocation"));

            // The period over: a new pass from the start.
            *auditor.findings.lease.lock().unwrap() = None;
            let next = auditor.tick(&tick("g", 0)).await.unwrap();
            assert_eq!(
                (pass(&next).audited, pass(&next).after.as_deref()),
                (50, Some("vpce-svc-0049"))
            );
            assert!(pass(&next).started >= pass(&first).started);
            // Announced at least once: before the failed write, and again by the stretch redone.
            assert_eq!(auditor.publisher.titles().len(), 2);
        }

        #[tokio::test]
        async fn a_finding_not_remembered_is_announced_again_by_the_next_run() {
            let auditor = Auditor {
                estate: FakeEstate::default(),
                findings: MemoryFindings::default(),
                publisher: MemoryPublisher::default(),
                grace: None,
            };
            *auditor.estate.snapshot.lock().unwrap() = estate(false);
            auditor.findings.fault.set("InternalServerError");
            assert!(auditor.run(AuditScope::All).await.is_err());
            auditor.run(AuditScope::All).await.unwrap();
            // At least once: published before it was remembered, so published again.
            assert_eq!(auditor.publisher.titles().len(), 2);
            assert_eq!(auditor.findings.open.lock().unwrap().len(), 1);
        }
    }
}
