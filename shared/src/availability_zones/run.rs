//! The availability-zone audit: collect a snapshot of the estate, [`analyse`] it, and compare
//! with the findings remembered as open, so a notification goes out when a finding opens or
//! resolves and a run that finds the same open finding stays quiet.

use crate::availability_zones::analysis::{AzFinding, NotAudited, analyse, undecided};
use crate::availability_zones::notifications;
use crate::availability_zones::ports::{AuditScope, Estate, FindingsStore, OpenFinding};
use crate::error::Result;
use crate::notify::Publisher;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AuditReport {
    pub opened: Vec<AzFinding>,
    pub resolved: Vec<OpenFinding>,
    /// Open before and still open: not announced again.
    pub still_open: usize,
    /// Open before, and its evidence could not be read or judged this run: kept open, quiet.
    pub undecided: usize,
    /// Deliberately not audited, with the reason.
    pub not_audited: Vec<NotAudited>,
}

pub struct Auditor<E, F, P> {
    pub estate: E,
    pub findings: F,
    pub publisher: P,
}

/// What an audit found, before anything is announced or remembered.
pub struct Assessment {
    /// Every finding this audit makes, new or already open.
    pub current: Vec<AzFinding>,
    /// The findings open in the findings table before it.
    pub known: Vec<OpenFinding>,
    /// What a run would open, resolve and leave.
    pub report: AuditReport,
}

impl<E: Estate + Sync, F: FindingsStore + Sync, P: Publisher + Sync> Auditor<E, F, P> {
    /// The audit, read-only: the estate analysed and compared with the open findings.
    pub async fn assess(&self, scope: &AuditScope) -> Result<Assessment> {
        let snapshot = self.estate.snapshot(scope).await?;
        let current: Vec<AzFinding> = analyse(&snapshot)
            .into_iter()
            .filter(|f| f.service_id == "*" || scope.covers(&f.service_id))
            .collect();
        let known = self.findings.open().await?;
        let mut report = reconcile(scope, current.clone(), &known, &undecided(&snapshot));
        report.not_audited = snapshot.not_audited;
        Ok(Assessment {
            current,
            known,
            report,
        })
    }

    pub async fn run(&self, scope: AuditScope) -> Result<AuditReport> {
        let report = self.assess(&scope).await?.report;
        for f in &report.opened {
            tracing::warn!(fingerprint = %f.fingerprint, severity = f.severity.as_str(), title = %f.title, "finding opened");
        }
        for k in &report.resolved {
            tracing::info!(fingerprint = %k.fingerprint, title = %k.title, "finding resolved");
        }
        // One notification per finding, threaded by finding, so a chat client can put the
        // resolution under the message that opened it. Each is remembered (or forgotten) right
        // after it is published: a failure part-way leaves the rest for the next run.
        for f in &report.opened {
            self.publisher.publish(&notifications::opened(f)).await?;
            self.findings.remember(f).await?;
        }
        for k in &report.resolved {
            self.publisher.publish(&notifications::resolved(k)).await?;
            self.findings.forget(&k.fingerprint).await?;
        }
        Ok(report)
    }
}

/// Pure: what this run's findings mean against those remembered as open. A finding not open
/// before opens; one open before and found again stays open, quietly; one open before and not
/// found resolves, but only if this run looked at it (its service was in scope; account-wide
/// findings only on a full run) and could judge it (its resource is not `undecided`: unknown is
/// not resolved).
pub fn reconcile(
    scope: &AuditScope,
    current: Vec<AzFinding>,
    known: &[OpenFinding],
    undecided: &BTreeSet<String>,
) -> AuditReport {
    let known_prints: BTreeSet<&str> = known.iter().map(|k| k.fingerprint.as_str()).collect();
    let current_prints: BTreeSet<&str> = current.iter().map(|f| f.fingerprint.as_str()).collect();
    let looked_at = |k: &OpenFinding| match scope {
        AuditScope::All => true,
        AuditScope::Services(_) => k.service_id != "*" && scope.covers(&k.service_id),
    };
    let gone = |k: &&OpenFinding| looked_at(k) && !current_prints.contains(k.fingerprint.as_str());
    let undecided_count = known
        .iter()
        .filter(gone)
        .filter(|k| undecided.contains(&k.resource))
        .count();
    let resolved: Vec<OpenFinding> = known
        .iter()
        .filter(gone)
        .filter(|k| !undecided.contains(&k.resource))
        .cloned()
        .collect();
    let total = current.len();
    let opened: Vec<AzFinding> = current
        .into_iter()
        .filter(|f| !known_prints.contains(f.fingerprint.as_str()))
        .collect();
    AuditReport {
        still_open: total - opened.len(),
        opened,
        resolved,
        undecided: undecided_count,
        not_audited: Vec::new(),
    }
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
            evidence: BTreeMap::new(),
            fix: String::new(),
        }
    }

    fn open(service: &str, print: &str) -> OpenFinding {
        OpenFinding {
            fingerprint: print.into(),
            service_id: service.into(),
            severity: Severity::Critical,
            title: print.into(),
            resource: "nlb".into(),
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
            open("*", "account"),
        ];
        let scope = AuditScope::Services(["svc-a".to_owned()].into());
        let r = reconcile(&scope, vec![], &known, &BTreeSet::new());
        assert_eq!(prints(&r.resolved, |k| &k.fingerprint), ["a1"]);
        let all = reconcile(&AuditScope::All, vec![], &known, &BTreeSet::new());
        assert_eq!(all.resolved.len(), 3);
    }

    /// A finding whose evidence could not be read (its consumer account unreachable, its target
    /// group undecided) is not resolved: it stays open and quiet.
    #[test]
    fn unknown_is_not_resolved() {
        let mut unread = open("svc-a", "a1");
        unread.resource = "vpce-unread".into();
        let known = [unread, open("svc-a", "a2")];
        let undecided = BTreeSet::from(["vpce-unread".to_owned()]);
        let r = reconcile(&AuditScope::All, vec![], &known, &undecided);
        assert_eq!(prints(&r.resolved, |k| &k.fingerprint), ["a2"]);
        assert_eq!((r.undecided, r.still_open), (1, 0));
    }

    /// The audit end to end, on in-memory ports.
    mod engine {
        use super::*;
        use crate::availability_zones::analysis::{
            CrossZone, LoadBalancer, Service, Snapshot, Target, TargetAzs, TargetGroup,
        };
        use crate::fakes::{FakeEstate, MemoryFindings, MemoryPublisher};

        const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/o/1";

        /// An NLB in two AZs, cross-zone off, with one target per AZ.
        fn estate(healthy_in_b: bool) -> Snapshot {
            let target = |id: &str, az: &str, healthy| Target {
                id: id.into(),
                azs: TargetAzs::In(vec![az.into()]),
                healthy,
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

        #[tokio::test]
        async fn a_finding_not_remembered_is_announced_again_by_the_next_run() {
            let auditor = Auditor {
                estate: FakeEstate::default(),
                findings: MemoryFindings::default(),
                publisher: MemoryPublisher::default(),
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
