//! The AZ coverage picture: for each endpoint service, the AZ IDs its NLBs serve (enabled or not,
//! healthy and registered targets per target group, cross-zone as it takes effect) against the
//! AZ IDs each consumer endpoint is in. Built from an audit's own [`Snapshot`] and findings, so it
//! costs no AWS call and says what the findings say: a cell a finding is about names it.
//!
//! Rows are AZ **IDs** (names differ per account), the union of the AZs the service's NLBs are
//! enabled in and those its consumers use; columns are consumer endpoints. [`text`] draws it for a
//! terminal and for a Slack code block; the operator CLI draws it as HTML too.

pub mod text;

use crate::availability_zones::analysis::{
    AzFinding, Check, NotAudited, Snapshot, TargetGroup, effective_cross_zone, ids, serves,
    undecided_group,
};
use crate::notify::{Fact, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The whole picture: every audited service, and what is outside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Problems first (most first), then by service id.
    pub services: Vec<ServiceCoverage>,
    /// Services not drawn, and why: a Gateway Load Balancer service, one whose reads failed.
    pub not_audited: Vec<NotAudited>,
    /// Consumer accounts that could not be read: their endpoints are columns not audited.
    pub unreachable: Vec<Unreachable>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreachable {
    pub account: String,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCoverage {
    pub service_id: String,
    /// The provider account.
    pub account: String,
    pub load_balancers: Vec<String>,
    /// The NLBs' target groups, in the order of each row's `targets`.
    pub target_groups: Vec<GroupSummary>,
    /// One row per AZ ID, in AZ ID order.
    pub azs: Vec<ProviderAz>,
    /// One column per consumer endpoint: those with a problem first.
    pub consumers: Vec<Consumer>,
    /// Every finding about this service, the cells' and rows' links among them.
    pub findings: Vec<FindingRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub arn: String,
    /// Cross-zone load balancing as it takes effect (the group's own setting, or its NLB's).
    pub cross_zone: bool,
    /// A healthy target nobody could place: no AZ verdict on this group.
    pub undecided: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderAz {
    pub az_id: String,
    /// An NLB of the service is enabled in this AZ.
    pub enabled: bool,
    /// Per target group (as `target_groups`): its targets that take traffic from this AZ.
    pub targets: Vec<GroupTargets>,
    pub state: AzState,
    /// Findings about this AZ of the service (a blackhole).
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GroupTargets {
    /// `None`: undecided (a healthy target of unknown place).
    pub healthy: Option<usize>,
    pub total: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AzState {
    /// Enabled, and traffic there reaches a healthy target.
    Served,
    /// Enabled, no healthy target there while cross-zone is off: its traffic is dropped.
    Blackhole,
    /// No NLB of the service is enabled there.
    NotServed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consumer {
    pub account: String,
    /// Unknown when the endpoint could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub endpoint_id: String,
    /// One per row of `azs`.
    pub cells: Vec<Cell>,
    /// Why this endpoint is not audited (another region, its account not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_audited: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub state: CellState,
    /// The findings this cell shows (by fingerprint, in the service's `findings`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    /// The endpoint is in this AZ and the service serves it.
    Served,
    /// The endpoint is in an AZ the service does not serve.
    Unserved,
    /// The endpoint is in an AZ the service serves with no healthy target, cross-zone off.
    Blackhole,
    /// The consumer's VPC uses this AZ, but the endpoint has no interface there.
    Uncovered,
    /// The endpoint was not audited (see the consumer's `not_audited`).
    NotAudited,
    /// Neither the endpoint nor its VPC is in this AZ.
    Absent,
}

impl CellState {
    /// Traffic dropped or crossing AZs because of this cell.
    pub fn problem(self) -> bool {
        matches!(
            self,
            CellState::Unserved | CellState::Blackhole | CellState::Uncovered
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRef {
    pub fingerprint: String,
    pub check: Check,
    pub severity: Severity,
    pub title: String,
    pub resource: String,
}

impl ServiceCoverage {
    /// Findings of warning or critical severity: what sorts a service first.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .count()
    }
}

impl ProviderAz {
    /// `healthy/registered` per target group (`?` healthy when undecided), `-` with none.
    pub fn targets_text(&self) -> String {
        if self.targets.is_empty() {
            return "-".into();
        }
        self.targets
            .iter()
            .map(|t| match t.healthy {
                Some(h) => format!("{h}/{}", t.total),
                None => format!("?/{}", t.total),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl ServiceCoverage {
    /// Cross-zone as it takes effect, per target group: `off`, `on/off`, `-` with none.
    pub fn cross_zone_text(&self) -> String {
        if self.target_groups.is_empty() {
            return "-".into();
        }
        self.target_groups
            .iter()
            .map(|g| if g.cross_zone { "on" } else { "off" })
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl Consumer {
    pub fn problem(&self) -> bool {
        self.cells.iter().any(|c| c.state.problem())
    }
}

/// What to show of a large estate.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these services (none: all).
    pub services: BTreeSet<String>,
    /// Only services of this provider account and consumers in these accounts (none: all).
    pub accounts: BTreeSet<String>,
    /// Only services with a problem, and of those only the consumers with one.
    pub problems_only: bool,
}

impl Coverage {
    /// The services and consumers the filter keeps, in the same order.
    pub fn filtered(&self, filter: &Filter) -> Coverage {
        let services = self
            .services
            .iter()
            .filter(|s| filter.services.is_empty() || filter.services.contains(&s.service_id))
            .filter_map(|s| {
                let mut s = s.clone();
                if !filter.accounts.is_empty() && !filter.accounts.contains(&s.account) {
                    s.consumers.retain(|c| filter.accounts.contains(&c.account));
                    if s.consumers.is_empty() {
                        return None;
                    }
                }
                if filter.problems_only {
                    if s.problems() == 0 && !s.consumers.iter().any(Consumer::problem) {
                        return None;
                    }
                    s.consumers.retain(Consumer::problem);
                }
                Some(s)
            })
            .collect();
        Coverage {
            services,
            not_audited: self
                .not_audited
                .iter()
                .filter(|n| filter.services.is_empty() || filter.services.contains(&n.resource))
                .cloned()
                .collect(),
            unreachable: self
                .unreachable
                .iter()
                .filter(|u| filter.accounts.is_empty() || filter.accounts.contains(&u.account))
                .cloned()
                .collect(),
        }
    }

    pub fn service(&self, id: &str) -> Option<&ServiceCoverage> {
        self.services.iter().find(|s| s.service_id == id)
    }
}

/// Pure: the picture of a snapshot and the findings the audit made of it.
pub fn build(s: &Snapshot, findings: &[AzFinding]) -> Coverage {
    let mut services: Vec<ServiceCoverage> = s
        .services
        .iter()
        .map(|service| one_service(s, service, findings))
        .collect();
    services.sort_by(|a, b| {
        b.problems()
            .cmp(&a.problems())
            .then_with(|| {
                let bad = |s: &ServiceCoverage| s.consumers.iter().filter(|c| c.problem()).count();
                bad(b).cmp(&bad(a))
            })
            .then_with(|| a.service_id.cmp(&b.service_id))
    });
    let mut not_audited: Vec<NotAudited> = s
        .not_audited
        .iter()
        .filter(|n| n.account.is_none())
        .cloned()
        .collect();
    not_audited.extend(s.unread_services.iter().map(|id| NotAudited {
        resource: id.clone(),
        reason: "its reads failed this run (throttled past the retries, or refused)".into(),
        service_id: Some(id.clone()),
        account: None,
    }));
    Coverage {
        services,
        not_audited,
        unreachable: s
            .unreachable
            .iter()
            .map(|(account, problem)| Unreachable {
                account: account.clone(),
                problem: problem.clone(),
            })
            .collect(),
    }
}

fn one_service(
    s: &Snapshot,
    service: &crate::availability_zones::analysis::Service,
    findings: &[AzFinding],
) -> ServiceCoverage {
    let lbs: Vec<_> = s
        .load_balancers
        .iter()
        .filter(|lb| service.nlb_arns.contains(&lb.arn))
        .collect();
    let served: BTreeSet<String> = lbs
        .iter()
        .flat_map(|lb| ids(s, &lb.account, &lb.az_names))
        .collect();
    let groups: Vec<(&TargetGroup, bool, &str)> = s
        .target_groups
        .iter()
        .filter_map(|tg| {
            let lb = lbs.iter().find(|lb| tg.lb_arns.contains(&lb.arn))?;
            Some((tg, effective_cross_zone(tg, lb), lb.account.as_str()))
        })
        .collect();
    let own: Vec<&AzFinding> = findings
        .iter()
        .filter(|f| f.service_id == service.id)
        .collect();
    let endpoints: Vec<_> = s
        .endpoints
        .iter()
        .filter(|e| e.service_id == service.id)
        .collect();
    let mut rows: BTreeSet<String> = served.clone();
    for e in &endpoints {
        rows.extend(ids(s, &e.account, &e.az_names));
        rows.extend(ids(s, &e.account, &e.vpc_az_names));
    }
    // A blackhole is what the analysis says it is (the group fails open, or is undecided: none).
    let blackholes: BTreeMap<&str, Vec<String>> = own
        .iter()
        .filter(|f| f.check == Check::Blackhole)
        .fold(BTreeMap::new(), |mut acc, f| {
            if let Some(az) = f.evidence.get(Fact::AzId) {
                acc.entry(az).or_default().push(f.fingerprint.clone());
            }
            acc
        });
    let azs: Vec<ProviderAz> = rows
        .iter()
        .map(|az| {
            let targets = groups
                .iter()
                .map(|(tg, _, account)| {
                    let here: Vec<_> = tg
                        .targets
                        .iter()
                        .filter(|t| serves(s, account, t, az))
                        .collect();
                    GroupTargets {
                        healthy: (!undecided_group(tg))
                            .then(|| here.iter().filter(|t| t.healthy()).count()),
                        total: here.len(),
                    }
                })
                .collect();
            let hole = blackholes.get(az.as_str()).cloned().unwrap_or_default();
            ProviderAz {
                az_id: az.clone(),
                enabled: served.contains(az),
                targets,
                state: if !served.contains(az) {
                    AzState::NotServed
                } else if hole.is_empty() {
                    AzState::Served
                } else {
                    AzState::Blackhole
                },
                findings: hole,
            }
        })
        .collect();
    let coverage_finding = |endpoint: &str| -> Vec<String> {
        own.iter()
            .filter(|f| f.check == Check::ConsumerCoverage && f.resource == endpoint)
            .map(|f| f.fingerprint.clone())
            .collect()
    };
    let mut consumers: Vec<Consumer> = endpoints
        .iter()
        .map(|e| {
            let here = ids(s, &e.account, &e.az_names);
            let vpc = ids(s, &e.account, &e.vpc_az_names);
            let linked = coverage_finding(&e.id);
            let cells = azs
                .iter()
                .map(|row| {
                    let (state, findings) = if here.contains(&row.az_id) {
                        match row.state {
                            AzState::NotServed => (CellState::Unserved, linked.clone()),
                            AzState::Blackhole => (CellState::Blackhole, row.findings.clone()),
                            AzState::Served => (CellState::Served, vec![]),
                        }
                    } else if vpc.contains(&row.az_id) {
                        (CellState::Uncovered, linked.clone())
                    } else {
                        (CellState::Absent, vec![])
                    };
                    Cell { state, findings }
                })
                .collect();
            Consumer {
                account: e.account.clone(),
                vpc_id: Some(e.vpc_id.clone()),
                endpoint_id: e.id.clone(),
                cells,
                not_audited: None,
            }
        })
        .collect();
    consumers.extend(
        s.not_audited
            .iter()
            .filter(|n| n.service_id.as_deref() == Some(service.id.as_str()))
            .filter_map(|n| {
                Some(Consumer {
                    account: n.account.clone()?,
                    vpc_id: None,
                    endpoint_id: n.resource.clone(),
                    cells: azs
                        .iter()
                        .map(|_| Cell {
                            state: CellState::NotAudited,
                            findings: vec![],
                        })
                        .collect(),
                    not_audited: Some(n.reason.clone()),
                })
            }),
    );
    consumers.sort_by(|a, b| {
        b.problem()
            .cmp(&a.problem())
            .then_with(|| a.not_audited.is_some().cmp(&b.not_audited.is_some()))
            .then_with(|| a.account.cmp(&b.account))
            .then_with(|| a.vpc_id.cmp(&b.vpc_id))
            .then_with(|| a.endpoint_id.cmp(&b.endpoint_id))
    });
    let mut refs: Vec<FindingRef> = own
        .iter()
        .map(|f| FindingRef {
            fingerprint: f.fingerprint.clone(),
            check: f.check,
            severity: f.severity,
            title: f.title.clone(),
            resource: f.resource.clone(),
        })
        .collect();
    // Worst first; a consumer's finding in its column's order, so the list reads as the grid.
    let column = |f: &FindingRef| consumers.iter().position(|c| c.endpoint_id == f.resource);
    refs.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| column(a).cmp(&column(b)))
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    ServiceCoverage {
        service_id: service.id.clone(),
        account: service.account.clone(),
        load_balancers: lbs.iter().map(|lb| lb.arn.clone()).collect(),
        target_groups: groups
            .iter()
            .map(|(tg, cross_zone, _)| GroupSummary {
                arn: tg.arn.clone(),
                cross_zone: *cross_zone,
                undecided: undecided_group(tg),
            })
            .collect(),
        azs,
        consumers,
        findings: refs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability_zones::analysis::{
        CrossZone, Endpoint, LoadBalancer, Service, Target, TargetAzs, TargetState, analyse,
    };

    const P: &str = "123456789012";
    const C: &str = "111111111111";

    fn az_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, i)| (n.to_string(), i.to_string()))
            .collect()
    }

    fn target(id: &str, az: &str, state: TargetState) -> Target {
        Target {
            id: id.into(),
            azs: TargetAzs::In(vec![az.into()]),
            state,
        }
    }

    /// A service on one NLB in us-east-1a and 1b (use1-az1, az2 for the provider), one target
    /// per AZ, the one in 1b unhealthy; a consumer whose names map elsewhere.
    pub(crate) fn estate() -> Snapshot {
        let mut s = Snapshot::default();
        s.az_maps.insert(
            P.into(),
            az_map(&[
                ("us-east-1a", "use1-az1"),
                ("us-east-1b", "use1-az2"),
                ("us-east-1c", "use1-az4"),
            ]),
        );
        s.az_maps.insert(
            C.into(),
            az_map(&[
                ("us-east-1a", "use1-az2"),
                ("us-east-1b", "use1-az4"),
                ("us-east-1c", "use1-az1"),
            ]),
        );
        s.services.push(Service {
            id: "vpce-svc-1".into(),
            account: P.into(),
            nlb_arns: vec!["nlb-1".into()],
        });
        s.load_balancers.push(LoadBalancer {
            arn: "nlb-1".into(),
            account: P.into(),
            az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
            cross_zone: false,
        });
        s.target_groups.push(TargetGroup {
            arn: "tg-1".into(),
            lb_arns: vec!["nlb-1".into()],
            cross_zone: CrossZone::Inherit,
            targets: vec![
                target("i-a", "us-east-1a", TargetState::Healthy),
                target("i-b", "us-east-1b", TargetState::Unhealthy),
                target("i-c", "us-east-1a", TargetState::Healthy),
            ],
            settle_seconds: None,
        });
        // In use1-az2 (served, blackholed) and use1-az4 (not served); its VPC also uses use1-az1.
        s.endpoints.push(Endpoint {
            id: "vpce-1".into(),
            account: C.into(),
            vpc_id: "vpc-1".into(),
            service_id: "vpce-svc-1".into(),
            az_names: vec!["us-east-1a".into(), "us-east-1b".into()],
            vpc_az_names: vec![
                "us-east-1a".into(),
                "us-east-1b".into(),
                "us-east-1c".into(),
            ],
        });
        // A healthy consumer: only use1-az1.
        s.endpoints.push(Endpoint {
            id: "vpce-2".into(),
            account: "222222222222".into(),
            vpc_id: "vpc-2".into(),
            service_id: "vpce-svc-1".into(),
            az_names: vec!["us-east-1a".into()],
            vpc_az_names: vec!["us-east-1a".into()],
        });
        s.az_maps
            .insert("222222222222".into(), az_map(&[("us-east-1a", "use1-az1")]));
        s.not_audited.push(NotAudited {
            resource: "vpce-far".into(),
            reason: "an endpoint in eu-west-1".into(),
            service_id: Some("vpce-svc-1".into()),
            account: Some("333333333333".into()),
        });
        s
    }

    fn states(c: &Consumer) -> Vec<CellState> {
        c.cells.iter().map(|c| c.state).collect()
    }

    #[test]
    fn rows_are_az_ids_and_cells_say_what_the_findings_say() {
        let s = estate();
        let findings = analyse(&s);
        let cov = build(&s, &findings);
        let [svc] = cov.services.as_slice() else {
            panic!("{cov:?}")
        };
        let rows: Vec<(&str, bool, AzState)> = svc
            .azs
            .iter()
            .map(|r| (r.az_id.as_str(), r.enabled, r.state))
            .collect();
        assert_eq!(
            rows,
            [
                ("use1-az1", true, AzState::Served),
                ("use1-az2", true, AzState::Blackhole),
                ("use1-az4", false, AzState::NotServed),
            ]
        );
        let targets: Vec<_> = svc.azs.iter().map(|r| r.targets[0]).collect();
        assert_eq!(
            targets,
            [
                GroupTargets {
                    healthy: Some(2),
                    total: 2
                },
                GroupTargets {
                    healthy: Some(0),
                    total: 1
                },
                GroupTargets {
                    healthy: Some(0),
                    total: 0
                },
            ]
        );
        assert!(!svc.target_groups[0].cross_zone, "inherited from the NLB");
        // The problem consumer first, then the healthy one, then the one not audited.
        let order: Vec<&str> = svc
            .consumers
            .iter()
            .map(|c| c.endpoint_id.as_str())
            .collect();
        assert_eq!(order, ["vpce-1", "vpce-2", "vpce-far"]);
        assert_eq!(
            states(&svc.consumers[0]),
            [
                CellState::Uncovered,
                CellState::Blackhole,
                CellState::Unserved
            ]
        );
        assert_eq!(
            states(&svc.consumers[1]),
            [CellState::Served, CellState::Absent, CellState::Absent]
        );
        assert_eq!(svc.consumers[2].cells[0].state, CellState::NotAudited);
        assert_eq!(
            svc.consumers[2].not_audited.as_deref(),
            Some("an endpoint in eu-west-1")
        );
        // Every problem cell links to a finding the service lists.
        let listed: BTreeSet<&str> = svc
            .findings
            .iter()
            .map(|f| f.fingerprint.as_str())
            .collect();
        for cell in svc.consumers.iter().flat_map(|c| &c.cells) {
            assert_eq!(cell.state.problem(), !cell.findings.is_empty(), "{cell:?}");
            assert!(cell.findings.iter().all(|f| listed.contains(f.as_str())));
        }
        let hole = &svc.consumers[0].cells[1].findings;
        assert!(
            hole[0].starts_with("blackhole:nlb-1:tg-1:use1-az2"),
            "{hole:?}"
        );
        assert!(svc.consumers[0].cells[2].findings[0].starts_with("consumer-coverage:vpce-1"));
    }

    #[test]
    fn a_group_of_unknown_place_is_undecided_not_a_blackhole() {
        let mut s = estate();
        s.target_groups[0].targets.push(Target {
            id: "10.9.9.9".into(),
            azs: TargetAzs::Unknown,
            state: TargetState::Healthy,
        });
        let cov = build(&s, &analyse(&s));
        let svc = &cov.services[0];
        assert!(svc.target_groups[0].undecided);
        assert!(svc.azs.iter().all(|r| r.targets[0].healthy.is_none()));
        assert_eq!(svc.azs[1].state, AzState::Served);
    }

    #[test]
    fn filters_keep_services_accounts_and_problems() {
        let mut s = estate();
        s.services.push(Service {
            id: "vpce-svc-0-fine".into(),
            account: P.into(),
            nlb_arns: vec![],
        });
        let cov = build(&s, &analyse(&s));
        let ids: Vec<&str> = cov.services.iter().map(|s| s.service_id.as_str()).collect();
        assert_eq!(
            ids,
            ["vpce-svc-1", "vpce-svc-0-fine"],
            "problems first, whatever the ids"
        );
        let only = cov.filtered(&Filter {
            problems_only: true,
            ..Filter::default()
        });
        assert_eq!(only.services.len(), 1);
        assert_eq!(
            only.services[0].consumers.len(),
            1,
            "only vpce-1 has a problem"
        );
        let account = cov.filtered(&Filter {
            accounts: BTreeSet::from(["222222222222".to_owned()]),
            ..Filter::default()
        });
        let [svc] = account.services.as_slice() else {
            panic!("{account:?}")
        };
        assert_eq!(svc.consumers.len(), 1);
        assert_eq!(svc.consumers[0].endpoint_id, "vpce-2");
        let named = cov.filtered(&Filter {
            services: BTreeSet::from(["vpce-svc-0-fine".to_owned()]),
            ..Filter::default()
        });
        assert_eq!(named.services.len(), 1);
        assert!(named.services[0].consumers.is_empty());
    }
}
