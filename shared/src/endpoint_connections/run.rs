//! The endpoint-connection engine: read what is pending, decide against the policy, apply the
//! decisions (one Accept and one Reject call per service), announce what is new, and report.
//! Functions and the operator CLI run this same engine; it reaches AWS only through the ports.

use crate::announce;
use crate::endpoint_connections::ec2::ConnectionApi;
use crate::endpoint_connections::policy::{
    Action, Connection, Decision, Policy, PolicyError, decide,
};
use crate::error::{Error, ItemFailure, Result};
use crate::ledger::Ledger;
use crate::notify::{Notification, Publisher, Severity, fnv1a};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What an invocation asks to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every service the policy manages (schedule, or a notification without a service id).
    All,
    /// These services (a connection notification naming them).
    Services(BTreeSet<String>),
    /// One endpoint, as reported by the consumer's `CreateVpcEndpoint` event.
    Endpoint(Claim),
}

/// What a consumer's event says about its endpoint. Believed only when the policy trusts the
/// sending account and that account owns the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub service_id: String,
    pub endpoint_id: String,
    pub vpc_id: Option<String>,
    /// The event's envelope account: the sender.
    pub account: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted or rejected in AWS.
    Applied,
    /// Left pending on purpose.
    Held,
    /// Dry run: decided, not applied.
    DryRun,
    /// AWS reported the item as unsuccessful.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    #[serde(flatten)]
    pub decision: Decision,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<ItemFailure>,
}

impl Outcome {
    /// What makes two outcomes "the same decision" for announcing purposes.
    fn ledger_key(&self) -> String {
        let c = &self.decision.connection;
        let status = match (&self.status, &self.failure) {
            (Status::Failed, Some(f)) => format!("failed:{}", f.code),
            (Status::DryRun, _) => "dry-run".into(),
            _ => "live".into(),
        };
        format!(
            "connection:{}:{}:{}:{}",
            c.service_id, c.endpoint_id, self.decision.action, status
        )
    }
}

/// The invocation's result, returned to the caller as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Report {
    pub dry_run: bool,
    pub outcomes: Vec<Outcome>,
    /// How many outcomes were announced (the others had been announced before).
    pub announced: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

pub struct Acceptor<C, L, P> {
    pub connections: C,
    pub ledger: L,
    pub publisher: P,
    pub dry_run: bool,
}

impl<C: ConnectionApi + Sync, L: Ledger + Sync, P: Publisher + Sync> Acceptor<C, L, P> {
    /// Run once. A policy that failed to load accepts nothing: it is announced (once per distinct
    /// problem) and returned as the error.
    pub async fn run(
        &self,
        policy: std::result::Result<Policy, PolicyError>,
        scope: Scope,
    ) -> Result<Report> {
        let policy = announce::usable(
            &self.ledger,
            &self.publisher,
            "connection policy",
            "nothing is accepted",
            policy,
        )
        .await?;
        let mut report = Report {
            dry_run: self.dry_run,
            ..Report::default()
        };

        let (services, claim): (Vec<String>, Option<Claim>) = match scope {
            Scope::All => (policy.service_ids().map(str::to_owned).collect(), None),
            Scope::Services(ids) => {
                let (managed, other): (Vec<_>, Vec<_>) =
                    ids.into_iter().partition(|id| policy.service(id).is_some());
                if !other.is_empty() {
                    tracing::info!(services = ?other, "not managed by the policy; left alone");
                }
                if managed.is_empty() {
                    report.ignored = Some(format!("no managed service among {}", other.join(", ")));
                    return Ok(report);
                }
                (managed, None)
            }
            Scope::Endpoint(claim) => {
                if !policy.trusts_account(&claim.account) {
                    tracing::warn!(account = %claim.account, endpoint_id = %claim.endpoint_id,
                        "event from an account the policy does not name; ignored");
                    report.ignored = Some(format!(
                        "event from account {}, which the policy does not trust",
                        claim.account
                    ));
                    return Ok(report);
                }
                if policy.service(&claim.service_id).is_none() {
                    report.ignored =
                        Some(format!("{} is not managed by the policy", claim.service_id));
                    return Ok(report);
                }
                (vec![claim.service_id.clone()], Some(claim))
            }
        };

        let mut pending: Vec<Connection> = Vec::new();
        for service_id in &services {
            let endpoint_id = claim.as_ref().map(|c| c.endpoint_id.as_str());
            pending.extend(self.connections.pending(service_id, endpoint_id).await?);
        }
        if let Some(claim) = &claim {
            for c in pending
                .iter_mut()
                .filter(|c| c.endpoint_id == claim.endpoint_id)
            {
                if c.owner != claim.account {
                    tracing::warn!(account = %claim.account, owner = %c.owner, endpoint_id = %c.endpoint_id,
                        "event account does not own the endpoint; ignored");
                    report.ignored = Some(format!(
                        "account {} does not own {}",
                        claim.account, c.endpoint_id
                    ));
                    return Ok(report);
                }
                c.vpc_id.clone_from(&claim.vpc_id);
            }
        }

        let decisions = decide(&policy, &pending);
        for d in &decisions {
            let c = &d.connection;
            tracing::info!(service_id = %c.service_id, endpoint_id = %c.endpoint_id, account = %c.owner,
                vpc_id = c.vpc_id.as_deref().unwrap_or("unknown"), decision = %d.action, reason = %d.reason,
                dry_run = self.dry_run, "decided");
        }
        report.outcomes = self.apply(decisions).await?;

        let keys: Vec<String> = report.outcomes.iter().map(Outcome::ledger_key).collect();
        let fresh: BTreeSet<String> = self.ledger.unseen(&keys).await?.into_iter().collect();
        let to_announce: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| fresh.contains(&o.ledger_key()))
            .collect();
        if !to_announce.is_empty() {
            self.publisher
                .publish(&decisions_notification(&to_announce, self.dry_run))
                .await?;
            let announced: Vec<String> = to_announce.iter().map(|o| o.ledger_key()).collect();
            self.ledger.remember(&announced).await?;
        }
        report.announced = to_announce.len();

        let failures: Vec<ItemFailure> = report
            .outcomes
            .iter()
            .filter_map(|o| o.failure.clone())
            .collect();
        if failures.is_empty() {
            Ok(report)
        } else {
            Err(Error::Unapplied(failures))
        }
    }

    async fn apply(&self, decisions: Vec<Decision>) -> Result<Vec<Outcome>> {
        let mut failures: BTreeMap<String, ItemFailure> = BTreeMap::new();
        if !self.dry_run {
            let mut by_service: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
            for d in &decisions {
                let entry = by_service
                    .entry(d.connection.service_id.as_str())
                    .or_default();
                match d.action {
                    Action::Accept => entry.0.push(d.connection.endpoint_id.clone()),
                    Action::Reject => entry.1.push(d.connection.endpoint_id.clone()),
                    Action::Hold => {}
                }
            }
            for (service_id, (accept, reject)) in by_service {
                if !accept.is_empty() {
                    for f in self.connections.accept(service_id, &accept).await? {
                        failures.insert(f.resource_id.clone(), f);
                    }
                }
                if !reject.is_empty() {
                    for f in self.connections.reject(service_id, &reject).await? {
                        failures.insert(f.resource_id.clone(), f);
                    }
                }
            }
        }
        Ok(decisions
            .into_iter()
            .map(|decision| {
                let failure = failures.remove(&decision.connection.endpoint_id);
                let status = match (&failure, decision.action, self.dry_run) {
                    (Some(_), _, _) => Status::Failed,
                    (None, Action::Hold, _) => Status::Held,
                    (None, _, true) => Status::DryRun,
                    (None, _, false) => Status::Applied,
                };
                if let Some(f) = &failure {
                    tracing::error!(endpoint_id = %f.resource_id, code = %f.code, message = %f.message, "not applied");
                }
                Outcome { decision, status, failure }
            })
            .collect())
    }
}

/// FNV-1a: a stable, dependency-free fingerprint for ledger keys and notification ids.
fn verb(o: &Outcome) -> &'static str {
    match (o.status, o.decision.action) {
        (Status::Failed, Action::Accept) => "accept failed",
        (Status::Failed, _) => "reject failed",
        (Status::DryRun, Action::Accept) => "would accept",
        (Status::DryRun, _) => "would reject",
        (_, Action::Accept) => "accepted",
        (_, Action::Reject) => "rejected",
        (_, Action::Hold) => "held",
    }
}

fn decisions_notification(outcomes: &[&Outcome], dry_run: bool) -> Notification {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes {
        *counts.entry(verb(o)).or_default() += 1;
    }
    let tally = counts
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let services: BTreeSet<&str> = outcomes
        .iter()
        .map(|o| o.decision.connection.service_id.as_str())
        .collect();
    let lines: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let c = &o.decision.connection;
            let vpc = c
                .vpc_id
                .as_deref()
                .map(|v| format!(", VPC `{v}`"))
                .unwrap_or_default();
            let failure = o
                .failure
                .as_ref()
                .map(|f| format!(" — AWS said {}: {}", f.code, f.message))
                .unwrap_or_default();
            format!(
                "• *{}* `{}` from account `{}`{vpc} to `{}`: {}{failure}",
                verb(o),
                c.endpoint_id,
                c.owner,
                c.service_id,
                o.decision.reason
            )
        })
        .collect();
    let any = |s: Status| outcomes.iter().any(|o| o.status == s);
    let severity = if any(Status::Failed) || any(Status::Held) {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut next_steps = Vec::new();
    if any(Status::Held) {
        next_steps.push("Held connections wait for a human: add the consumer to the policy, or accept/reject them with `aws ec2 accept-vpc-endpoint-connections` / `reject-vpc-endpoint-connections`.".into());
    }
    if outcomes
        .iter()
        .any(|o| o.decision.action == Action::Reject && o.status == Status::Applied)
    {
        next_steps.push("If a rejection is wrong, add the consumer to the policy and ask them to create the endpoint again.".into());
    }
    if any(Status::Failed) {
        next_steps.push("Some decisions were not applied; the invocation fails and is retried. Check the function's logs.".into());
    }
    if dry_run {
        next_steps
            .push("Dry run: nothing was changed. Set DRY_RUN=false to apply decisions.".into());
    }
    let decisions_json = serde_json::to_string(
        &outcomes
            .iter()
            .map(|o| {
                let c = &o.decision.connection;
                serde_json::json!({"decision": verb(o), "account": c.owner, "vpc": c.vpc_id, "endpoint": c.endpoint_id,
                                   "service": c.service_id, "reason": o.decision.reason})
            })
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    let mut context = BTreeMap::from([
        ("decisions".to_owned(), decisions_json),
        ("dry_run".to_owned(), dry_run.to_string()),
    ]);
    if let [single] = outcomes {
        let c = &single.decision.connection;
        context.extend([
            ("account".to_owned(), c.owner.clone()),
            (
                "vpc".to_owned(),
                c.vpc_id.clone().unwrap_or_else(|| "unknown".into()),
            ),
            ("endpoint".to_owned(), c.endpoint_id.clone()),
            ("service".to_owned(), c.service_id.clone()),
            ("decision".to_owned(), verb(single).to_owned()),
            ("reason".to_owned(), single.decision.reason.clone()),
        ]);
    }
    let keys: Vec<String> = outcomes.iter().map(|o| o.ledger_key()).collect();
    let prefix = if dry_run { "[dry run] " } else { "" };
    Notification {
        id: format!("connections-{:016x}", fnv1a(keys.join("\n").as_bytes())),
        event_type: "EndpointConnectionDecisions".into(),
        severity,
        title: format!("{prefix}PrivateLink connections: {tally}"),
        description: lines.join("\n"),
        next_steps,
        keywords: vec!["privatelink".into(), "endpoint-connection".into()],
        thread_id: Some(match services.iter().next() {
            Some(only) if services.len() == 1 => (*only).to_owned(),
            _ => "privatelink-connections".to_owned(),
        }),
        summary: format!("{prefix}{tally}"),
        related_resources: services
            .iter()
            .map(|s| s.to_string())
            .chain(
                outcomes
                    .iter()
                    .map(|o| o.decision.connection.endpoint_id.clone()),
            )
            .collect(),
        context,
    }
}
