//! The endpoint-connection engine: finish what an earlier run left, read what is pending, decide
//! against the policy, write the decisions down, apply them (service by service, one Accept and
//! one Reject call per 100 connections), announce them, and report.
//!
//! Every change applied is announced at least once and nothing is announced that did not
//! happen: decisions are written to the outbox before they are applied, and a run that fails
//! after applying leaves them for the next run, which checks each connection's state before
//! announcing it. One service's failure does not stop the others; the run fails at the end, so
//! Lambda retries it. Functions and tools run this same engine; it reaches AWS only through the
//! ports.

use crate::announce;
use crate::endpoint_connections::claims::{Claim, Known, inform};
use crate::endpoint_connections::consumers;

use crate::endpoint_connections::events::{Scope, admit};
use crate::endpoint_connections::notifications;
use crate::endpoint_connections::policy::{
    Action, Connection, Decision, Policy, PolicyError, Tags, decide,
};
use crate::endpoint_connections::ports::{
    ConnectionApi, ConsumerEndpoints, Entries, Entry, Memory,
};
use crate::error::{Error, Invalid, ItemFailure, Result};
use crate::events::Answer;
use crate::ledger::Ledger;
use crate::notify::Publisher;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted or rejected in AWS.
    Applied,
    /// Left pending on purpose.
    Held,
    /// Dry run: decided, not applied.
    DryRun,
    /// AWS reported the item as unsuccessful, or refused the call.
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
    pub(crate) fn ledger_key(&self) -> String {
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

    /// Outcomes that can come again (a held connection stays pending, a dry run changes
    /// nothing, a failure is retried) are announced once per memory period; an applied one
    /// cannot come again: the connection has left `pendingAcceptance`.
    fn recurs(&self) -> bool {
        self.status != Status::Applied
    }
}

/// The invocation's result, returned to the caller as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Report {
    pub dry_run: bool,
    pub outcomes: Vec<Outcome>,
    /// Of the outcomes, how many an earlier run applied and this one announced.
    pub recovered: usize,
    /// How many outcomes were announced (the others had been announced before).
    pub announced: usize,
    /// What consumers' events said, kept for connections not visible yet or held.
    pub claims_kept: usize,
}

impl Report {
    /// The run's metrics: decisions by action, connections held, items AWS refused, announcements.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        let count = |f: &dyn Fn(&Outcome) -> bool| self.outcomes.iter().filter(|o| f(o)).count();
        let mut m = crate::metrics::Metrics::new("acceptor")
            .count("Decisions", self.outcomes.len())
            .count(
                "ConnectionsHeld",
                count(&|o| o.decision.action == Action::Hold),
            )
            .count("DecisionsFailed", count(&|o| o.status == Status::Failed))
            .count("Announced", self.announced);
        for action in [Action::Accept, Action::Reject, Action::Hold] {
            let n = count(&|o| o.decision.action == action);
            if n > 0 {
                m = m.by_outcome("Decisions", action.to_string(), n);
            }
        }
        m
    }
}

/// What a run read and decided.
struct Read {
    pending: Vec<Connection>,
    /// What consumers' events said, by endpoint id.
    known: BTreeMap<String, Known>,
    decisions: Vec<Decision>,
    /// Whose remembered claims were used for held connections.
    remembered: BTreeSet<crate::endpoint_connections::ports::ClaimKey>,
}

/// A run's claim on the right to apply: who, the generation it began with, and whether it took it.
struct Lock {
    holder: String,
    seen: u64,
    taken: AtomicBool,
}

/// Who holds the acceptor's lock: this process, at this instant.
fn lock_holder() -> String {
    let nanos = crate::events::since_epoch().as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// Pure: of what an earlier run wrote down, the decisions that did happen (the connection is in
/// the state the decision leads to), as outcomes to announce. A connection still pending was
/// not changed (it is decided again); one in another state was changed by someone else.
pub fn recover(
    service_id: &str,
    entries: &[Entry],
    states: &BTreeMap<String, String>,
) -> Vec<Outcome> {
    entries
        .iter()
        .filter_map(|e| {
            let state = states.get(&e.endpoint_id).map(String::as_str);
            let happened = match e.action {
                Action::Accept => matches!(state, Some("pending" | "available")),
                Action::Reject => state == Some("rejected"),
                Action::Hold => false,
            };
            if !happened {
                tracing::info!(endpoint_id = %e.endpoint_id, decision = %e.action, state = state.unwrap_or("gone"),
                    "written down, not applied: not announced");
                return None;
            }
            Some(Outcome {
                decision: Decision {
                    connection: Connection {
                        service_id: service_id.to_owned(),
                        endpoint_id: e.endpoint_id.clone(),
                        owner: e.owner.clone(),
                        state: state.unwrap_or_default().to_owned(),
                        vpc_id: e.vpc_id.clone(),
                        tags: Tags::Unknown,
                    },
                    action: e.action,
                    reason: e.reason.clone(),
                },
                status: Status::Applied,
                failure: None,
            })
        })
        .collect()
}

/// A decision as the outbox keeps it.
fn entry(d: &Decision) -> Entry {
    let c = &d.connection;
    Entry {
        endpoint_id: c.endpoint_id.clone(),
        owner: c.owner.clone(),
        vpc_id: c.vpc_id.clone(),
        action: d.action,
        reason: d.reason.clone(),
    }
}

pub struct Acceptor<C, L, M, P, R> {
    pub connections: C,
    pub ledger: L,
    pub memory: M,
    pub publisher: P,
    /// The consumers' own word on their endpoints, for connections no event described.
    pub consumers: R,
    pub dry_run: bool,
}

impl<C, L, M, P, R> Acceptor<C, L, M, P, R>
where
    C: ConnectionApi + Sync,
    L: Ledger + Sync,
    M: Memory + Sync,
    P: Publisher + Sync,
    R: ConsumerEndpoints + Sync,
{
    /// Run once. A policy that failed to load accepts nothing: it is announced (once per distinct
    /// problem) and returned as the error.
    pub async fn run(
        &self,
        policy: std::result::Result<Policy, PolicyError>,
        scope: Scope,
    ) -> Result<Answer<Report>> {
        let policy = announce::usable(
            &self.ledger,
            &self.publisher,
            "connection policy",
            "nothing is accepted",
            policy,
        )
        .await?;
        let (services, claims) = match admit(&policy, scope) {
            Ok(admitted) => admitted,
            Err(triage) => return triage.answer(),
        };
        if self.dry_run {
            return self.decide_and_apply(&policy, services, claims, None).await;
        }
        // One writer of the outbox at a time (the function's runs, the CLI's `--apply`), taken
        // only by a run that has something to write, and only if nobody applied since it began.
        let lock = Lock {
            holder: lock_holder(),
            seen: self.memory.generation().await?,
            taken: AtomicBool::new(false),
        };
        let result = self
            .decide_and_apply(&policy, services, claims, Some(&lock))
            .await;
        if lock.taken.load(Ordering::SeqCst)
            && let Err(e) = self.memory.unlock(&lock.holder).await
        {
            tracing::warn!(error = %e, "the lock was not given back; it lapses after its lease");
        }
        result
    }

    /// Everything after admission: recover, read and decide, write ahead and apply, announce,
    /// settle the claims. A service that cannot be read does not stop the others: the run
    /// fails at the end, so Lambda retries it.
    async fn decide_and_apply(
        &self,
        policy: &Policy,
        services: Vec<String>,
        claims: Vec<Claim>,
        lock: Option<&Lock>,
    ) -> Result<Answer<Report>> {
        let mut errors: Vec<Error> = Vec::new();
        let (left, recovered) = self.recover_left(&services, &mut errors).await?;
        let read = match self.read(policy, &services, &claims, &mut errors).await? {
            Ok(read) => read,
            Err(why) => return Ok(Answer::ignored(why.0)),
        };
        let (outcomes, written) = self
            .write_ahead_and_apply(&left, &recovered, read.decisions, lock)
            .await?;
        let mut report = Report {
            dry_run: self.dry_run,
            recovered: recovered.len(),
            outcomes: recovered.into_iter().chain(outcomes).collect(),
            ..Report::default()
        };
        report.announced = self.announce(&report.outcomes).await?;
        if !written.is_empty() {
            self.memory
                .clear(&written.into_iter().collect::<Vec<_>>())
                .await?;
        }
        report.claims_kept = consumers::settle_claims(
            &self.memory,
            self.dry_run,
            &report.outcomes,
            &read.pending,
            read.known,
            read.remembered,
        )
        .await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        let failures: Vec<ItemFailure> = report
            .outcomes
            .iter()
            .filter_map(|o| o.failure.clone())
            .collect();
        if failures.is_empty() {
            Ok(Answer::Ran(report))
        } else {
            Err(Error::Unapplied(failures))
        }
    }

    /// What runs that did not finish wrote down for these services, and of it what the
    /// connections show did happen, to announce now.
    async fn recover_left(
        &self,
        services: &[String],
        errors: &mut Vec<Error>,
    ) -> Result<(Entries, Vec<Outcome>)> {
        if self.dry_run {
            return Ok((Entries::new(), Vec::new()));
        }
        let left = self.memory.left(services).await?;
        let mut recovered: Vec<Outcome> = Vec::new();
        for (service_id, entries) in &left {
            let ids: Vec<String> = entries.iter().map(|e| e.endpoint_id.clone()).collect();
            match self.connections.states(service_id, &ids).await {
                Ok(states) => recovered.extend(recover(service_id, entries, &states)),
                Err(e) => errors.push(e),
            }
        }
        Ok((left, recovered))
    }

    /// What is pending, with what the consumers' events said (now and remembered), decided.
    /// `Err` (inner): the event's own claim is about a connection its account does not own.
    async fn read(
        &self,
        policy: &Policy,
        services: &[String],
        claims: &[Claim],
        errors: &mut Vec<Error>,
    ) -> Result<std::result::Result<Read, Invalid>> {
        let claimed: Vec<String> = claims.iter().map(|c| c.endpoint_id.clone()).collect();
        let mut pending: Vec<Connection> = Vec::new();
        for service_id in services {
            match self.connections.pending(service_id, &claimed).await {
                Ok(found) => pending.extend(found),
                Err(e) => errors.push(e),
            }
        }
        let known = consumers::merged(&self.memory, claims).await?;
        for c in pending.iter_mut() {
            if let Some(k) = known.get(&c.endpoint_id)
                && let Err(why) = inform(c, k)
            {
                if !claims.is_empty() {
                    return Ok(Err(why));
                }
                tracing::warn!(reason = %why, "remembered claim not used");
            }
        }
        let mut decisions = decide(policy, &pending);
        let remembered =
            consumers::remembered_for_held(&self.memory, &mut decisions, policy, &known).await?;
        let read = consumers::read_for_held(&self.consumers, &mut decisions, policy).await;
        if read > 0 {
            tracing::info!(
                connections = read,
                "decided from the consumers' own endpoints (no event described them)"
            );
        }
        for d in &decisions {
            let c = &d.connection;
            tracing::info!(service_id = %c.service_id, endpoint_id = %c.endpoint_id, account = %c.owner,
                vpc_id = c.vpc_id.as_deref().unwrap_or("unknown"), decision = %d.action, reason = %d.reason,
                dry_run = self.dry_run, "decided");
        }
        Ok(Ok(Read {
            pending,
            known,
            decisions,
            remembered,
        }))
    }

    /// The decisions (and what is recovered) written down, then applied, service by service.
    /// Returns the outcomes and the services whose outbox items are to be cleared once
    /// announced. Taking the lock comes first, and only for a run with something to write.
    async fn write_ahead_and_apply(
        &self,
        left: &Entries,
        recovered: &[Outcome],
        decisions: Vec<Decision>,
        lock: Option<&Lock>,
    ) -> Result<(Vec<Outcome>, BTreeSet<String>)> {
        let mut written: BTreeSet<String> = left.keys().cloned().collect();
        if self.dry_run {
            return Ok((self.outcomes(decisions, BTreeMap::new()), written));
        }
        let mut entries: Entries = BTreeMap::new();
        let applied = recovered
            .iter()
            .map(|o| &o.decision)
            .chain(decisions.iter().filter(|d| d.action != Action::Hold));
        for d in applied {
            entries
                .entry(d.connection.service_id.clone())
                .or_default()
                .push(entry(d));
        }
        if let Some(lock) = lock.filter(|_| !entries.is_empty() || !left.is_empty()) {
            if !self.memory.lock(&lock.holder, lock.seen).await? {
                return Err(Error::Busy(
                    "another run is applying connection decisions, or applied some while this one was deciding; nothing was changed".into(),
                ));
            }
            lock.taken.store(true, Ordering::SeqCst);
        }
        self.memory.write_ahead(&entries).await?;
        written.extend(entries.into_keys());
        let failures = self.apply(&decisions).await;
        Ok((self.outcomes(decisions, failures), written))
    }

    /// Announces what was applied, and what recurs (held, failed) unless it was announced
    /// before; returns how many outcomes were announced.
    async fn announce(&self, outcomes: &[Outcome]) -> Result<usize> {
        let recurring: Vec<String> = outcomes
            .iter()
            .filter(|o| o.recurs())
            .map(Outcome::ledger_key)
            .collect();
        let fresh: BTreeSet<String> = self.ledger.unseen(&recurring).await?.into_iter().collect();
        let to_announce: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| !o.recurs() || fresh.contains(&o.ledger_key()))
            .collect();
        self.publisher
            .publish_all(&notifications::decisions(&to_announce, self.dry_run))
            .await?;
        self.ledger
            .remember(&fresh.into_iter().collect::<Vec<_>>())
            .await?;
        Ok(to_announce.len())
    }

    /// Accept and reject, service by service; one service's refusal does not stop the others.
    /// Returns what was not applied, by endpoint id.
    async fn apply(&self, decisions: &[Decision]) -> BTreeMap<String, ItemFailure> {
        let mut by_service: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for d in decisions {
            let entry = by_service
                .entry(d.connection.service_id.as_str())
                .or_default();
            match d.action {
                Action::Accept => entry.0.push(d.connection.endpoint_id.clone()),
                Action::Reject => entry.1.push(d.connection.endpoint_id.clone()),
                Action::Hold => {}
            }
        }
        let mut failures = BTreeMap::new();
        for (service_id, (accept, reject)) in by_service {
            let refused = |ids: &[String], e: Error| {
                ids.iter()
                    .map(|id| ItemFailure {
                        resource_id: id.clone(),
                        code: e.code().unwrap_or(e.kind()).to_owned(),
                        message: e.to_string(),
                    })
                    .collect::<Vec<_>>()
            };
            if !accept.is_empty() {
                let result = self.connections.accept(service_id, &accept).await;
                for f in result.unwrap_or_else(|e| refused(&accept, e)) {
                    failures.insert(f.resource_id.clone(), f);
                }
            }
            if !reject.is_empty() {
                let result = self.connections.reject(service_id, &reject).await;
                for f in result.unwrap_or_else(|e| refused(&reject, e)) {
                    failures.insert(f.resource_id.clone(), f);
                }
            }
        }
        failures
    }

    fn outcomes(
        &self,
        decisions: Vec<Decision>,
        mut failures: BTreeMap<String, ItemFailure>,
    ) -> Vec<Outcome> {
        decisions
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
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint_connections::claims::TagChange;
    use crate::endpoint_connections::events::tests::{claim, policy};

    fn connection(service: &str, endpoint: &str, owner: &str) -> Connection {
        Connection {
            service_id: service.into(),
            endpoint_id: endpoint.into(),
            owner: owner.into(),
            state: "pendingAcceptance".into(),
            vpc_id: None,
            tags: Tags::Unknown,
        }
    }

    #[test]
    fn recovery_announces_only_what_the_connection_shows_happened() {
        let entry = |id: &str, action| Entry {
            endpoint_id: id.into(),
            owner: "111111111111".into(),
            vpc_id: None,
            action,
            reason: "r".into(),
        };
        let entries = [
            entry("vpce-1", Action::Accept),
            entry("vpce-2", Action::Accept),
            entry("vpce-3", Action::Reject),
            entry("vpce-4", Action::Accept),
            entry("vpce-5", Action::Reject),
        ];
        let states: BTreeMap<String, String> = [
            ("vpce-1", "pending"),
            ("vpce-2", "available"),
            ("vpce-3", "rejected"),
            ("vpce-4", "pendingAcceptance"),
            ("vpce-5", "available"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let recovered = recover("vpce-svc-0a", &entries, &states);
        let ids: Vec<&str> = recovered
            .iter()
            .map(|o| o.decision.connection.endpoint_id.as_str())
            .collect();
        assert_eq!(ids, ["vpce-1", "vpce-2", "vpce-3"]);
        assert!(recovered.iter().all(|o| o.status == Status::Applied));
    }

    /// The engine end to end, on in-memory ports.
    mod engine {
        use super::*;
        use crate::endpoint_connections::fakes::{
            FakeConnections, FakeConsumers, MemoryOfConnections,
        };
        use crate::fakes::{MemoryLedger, MemoryPublisher};

        type Fake = Acceptor<
            FakeConnections,
            MemoryLedger,
            MemoryOfConnections,
            MemoryPublisher,
            FakeConsumers,
        >;

        fn acceptor(connections: FakeConnections, dry_run: bool) -> Fake {
            Acceptor {
                connections,
                ledger: MemoryLedger::default(),
                memory: MemoryOfConnections::default(),
                publisher: MemoryPublisher::default(),
                consumers: FakeConsumers::default(),
                dry_run,
            }
        }

        fn estate() -> FakeConnections {
            FakeConnections::with([
                connection("vpce-svc-0a", "vpce-0e1", "111111111111"),
                connection("vpce-svc-0a", "vpce-0e2", "999999999999"),
            ])
        }

        async fn ran(a: &Fake, scope: Scope) -> Report {
            a.run(Ok(policy()), scope).await.unwrap().ran().unwrap()
        }

        #[tokio::test]
        async fn a_sweep_applies_the_policy_and_announces_each_decision_once() {
            let a = acceptor(estate(), false);
            let report = ran(&a, Scope::All).await;
            assert_eq!(report.announced, 2);
            assert_eq!(a.connections.state("vpce-0e1"), "pending");
            assert_eq!(a.connections.state("vpce-0e2"), "rejected");
            assert_eq!(
                a.publisher.titles(),
                ["PrivateLink connections: 1 accepted, 1 rejected"]
            );
            // Applied decisions cannot recur: nothing of them is kept.
            assert!(a.ledger.keys.lock().unwrap().is_empty());
            assert!(a.memory.outbox.lock().unwrap().is_empty());
            // Nothing is pending any more: the replay decides and announces nothing.
            let again = ran(&a, Scope::All).await;
            assert_eq!((again.outcomes.len(), again.announced), (0, 0));
            assert_eq!(a.publisher.titles().len(), 1);
        }

        #[tokio::test]
        async fn a_run_that_finds_another_applying_changes_nothing() {
            let a = acceptor(estate(), false);
            *a.memory.locked.lock().unwrap() = Some("another run".into());
            let err = a.run(Ok(policy()), Scope::All).await.unwrap_err();
            assert!(matches!(err, Error::Busy(_)) && err.retryable(), "{err}");
            assert!(a.connections.calls.lock().unwrap().is_empty());
            assert!(a.publisher.titles().is_empty());
            // Its own lock is given back when it is done, one generation on.
            *a.memory.locked.lock().unwrap() = None;
            ran(&a, Scope::All).await;
            assert_eq!(*a.memory.locked.lock().unwrap(), None);
            assert_eq!(*a.memory.generation.lock().unwrap(), 1);
            // A run with nothing to apply takes no lock: nothing is written.
            ran(&a, Scope::All).await;
            assert_eq!(*a.memory.generation.lock().unwrap(), 1);
        }

        #[tokio::test]
        async fn a_dry_run_changes_nothing_and_is_announced_once() {
            let a = acceptor(estate(), true);
            for _ in 0..2 {
                a.run(Ok(policy()), Scope::All).await.unwrap();
            }
            assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
            assert!(a.connections.calls.lock().unwrap().is_empty());
            assert!(a.memory.outbox.lock().unwrap().is_empty());
            assert_eq!(
                a.publisher.titles(),
                ["[dry run] PrivateLink connections: 1 would accept, 1 would reject"]
            );
        }

        #[tokio::test]
        async fn a_refused_item_is_announced_once_and_fails_the_run() {
            let mut connections = estate();
            connections
                .refused
                .insert("vpce-0e1".into(), "InvalidParameter".into());
            let a = acceptor(connections, false);
            for _ in 0..2 {
                let err = a.run(Ok(policy()), Scope::All).await.unwrap_err();
                assert!(matches!(&err, Error::Unapplied(f) if f[0].resource_id == "vpce-0e1"));
            }
            assert_eq!(a.connections.state("vpce-0e2"), "rejected");
            assert_eq!(
                a.publisher.titles(),
                ["PrivateLink connections: 1 accept failed, 1 rejected"]
            );
        }

        #[tokio::test]
        async fn one_service_refused_does_not_stop_the_others_and_the_run_fails_at_the_end() {
            let mut connections = FakeConnections::with([
                connection("vpce-svc-0a", "vpce-0e1", "111111111111"),
                connection("vpce-svc-0b", "vpce-0e3", "999999999999"),
            ]);
            connections
                .refused_services
                .insert("vpce-svc-0a".into(), "UnauthorizedOperation");
            let a = acceptor(connections, false);
            let err = a.run(Ok(policy()), Scope::All).await.unwrap_err();
            assert!(
                matches!(&err, Error::Unapplied(f) if f[0].code == "UnauthorizedOperation"),
                "{err}"
            );
            assert_eq!(
                a.connections.state("vpce-0e3"),
                "rejected",
                "the later service still decided"
            );
            assert_eq!(
                a.publisher.titles(),
                ["PrivateLink connections: 1 accept failed, 1 rejected"]
            );
        }

        #[tokio::test]
        async fn a_run_that_applied_and_could_not_announce_is_announced_by_the_next_exactly_once() {
            let a = acceptor(estate(), false);
            a.publisher.fault.set("InternalError");
            assert!(a.run(Ok(policy()), Scope::All).await.is_err());
            assert_eq!(a.connections.state("vpce-0e1"), "pending", "applied");
            assert!(a.publisher.titles().is_empty(), "not announced");
            assert_eq!(
                a.memory.outbox.lock().unwrap()["vpce-svc-0a"].len(),
                2,
                "written down"
            );

            let next = ran(&a, Scope::All).await;
            assert_eq!((next.recovered, next.announced), (2, 2));
            assert_eq!(
                a.publisher.titles(),
                ["PrivateLink connections: 1 accepted, 1 rejected"]
            );
            assert!(a.memory.outbox.lock().unwrap().is_empty());
            ran(&a, Scope::All).await;
            assert_eq!(a.publisher.titles().len(), 1, "exactly once");
        }

        #[tokio::test]
        async fn nothing_is_applied_unless_it_was_written_down_first() {
            let a = acceptor(estate(), false);
            a.memory.fault.set("ProvisionedThroughputExceededException");
            assert!(a.run(Ok(policy()), Scope::All).await.is_err());
            assert!(a.connections.calls.lock().unwrap().is_empty());
            assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
        }

        #[tokio::test]
        async fn a_decision_someone_else_undid_is_not_announced() {
            let a = acceptor(estate(), false);
            a.publisher.fault.set("InternalError");
            assert!(a.run(Ok(policy()), Scope::All).await.is_err());
            // A human rejected the connection we accepted before the next run.
            a.connections
                .connections
                .lock()
                .unwrap()
                .get_mut("vpce-0e1")
                .unwrap()
                .state = "rejected".into();
            let next = ran(&a, Scope::All).await;
            assert_eq!(next.recovered, 1);
            assert_eq!(
                a.publisher.titles(),
                ["PrivateLink connections: 1 rejected"]
            );
        }

        fn tagged_estate() -> FakeConnections {
            FakeConnections::with([connection("vpce-svc-0b", "vpce-0e1", "333333333333")])
        }

        fn tags_event(tags: &[(&str, &str)]) -> Scope {
            Scope::Claims(vec![Claim {
                endpoint_id: "vpce-0e1".into(),
                service_id: None,
                account: "333333333333".into(),
                vpc_id: None,
                tags: TagChange::Add(
                    tags.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }])
        }

        #[tokio::test]
        async fn a_tag_rule_holds_until_the_consumers_event_brings_the_tags_then_accepts() {
            let a = acceptor(tagged_estate(), false);
            let held = ran(&a, Scope::All).await;
            assert_eq!(held.outcomes[0].status, Status::Held);
            assert_eq!(
                a.connections.state("vpce-0e1"),
                "pendingAcceptance",
                "never rejected for want of tags"
            );
            let accepted = ran(&a, tags_event(&[("team", "orders")])).await;
            assert_eq!(accepted.outcomes[0].status, Status::Applied);
            assert_eq!(a.connections.state("vpce-0e1"), "pending");
            assert!(
                a.memory.claims.lock().unwrap().is_empty(),
                "forgotten once decided"
            );
        }

        fn own_endpoint(account: &str, service: &str, tags: &[(&str, &str)]) -> Known {
            Known {
                endpoint_id: "vpce-0e1".into(),
                account: account.into(),
                service_id: Some(service.into()),
                vpc_id: Some("vpc-0c".into()),
                tags: Tags::Complete(
                    tags.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }
        }

        #[tokio::test]
        async fn a_sweep_reads_a_held_connection_from_its_consumer_when_no_event_came() {
            let mut a = acceptor(tagged_estate(), false);
            a.consumers.endpoints.insert(
                "333333333333".into(),
                vec![own_endpoint(
                    "333333333333",
                    "vpce-svc-0b",
                    &[("team", "orders")],
                )],
            );
            let report = ran(&a, Scope::All).await;
            assert_eq!(report.outcomes[0].decision.action, Action::Accept);
            assert_eq!(a.connections.state("vpce-0e1"), "pending");
            assert_eq!(*a.consumers.reads.lock().unwrap(), ["333333333333"]);
            // A connection that waits for nothing is never read: only the held one was.
            let b = acceptor(estate(), false);
            ran(&b, Scope::All).await;
            assert!(b.consumers.reads.lock().unwrap().is_empty());
        }

        #[tokio::test]
        async fn a_consumers_word_counts_only_for_its_own_endpoint_of_that_service() {
            for (owner, service) in [
                ("333333333333", "vpce-svc-0a"), // another service's endpoint of that id
                ("444444444444", "vpce-svc-0b"), // not the connection's owner's
            ] {
                let mut a = acceptor(tagged_estate(), false);
                a.consumers.endpoints.insert(
                    "333333333333".into(),
                    vec![own_endpoint(owner, service, &[("team", "orders")])],
                );
                let report = ran(&a, Scope::All).await;
                assert_eq!(report.outcomes[0].status, Status::Held, "{owner} {service}");
                assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
            }
        }

        #[tokio::test]
        async fn a_consumer_that_cannot_be_read_stays_held_announced_once_with_the_reason() {
            let mut a = acceptor(tagged_estate(), false);
            a.consumers
                .unreadable
                .insert("333333333333".into(), "AccessDenied");
            for _ in 0..2 {
                let report = ran(&a, Scope::All).await;
                assert_eq!(report.outcomes[0].status, Status::Held);
                assert!(
                    report.outcomes[0].decision.reason.contains(
                        "read role in account 333333333333 could not be used (AccessDenied)"
                    ),
                    "{}",
                    report.outcomes[0].decision.reason
                );
            }
            assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
            assert_eq!(a.publisher.titles().len(), 1, "announced once");
        }

        #[tokio::test]
        async fn a_claim_before_the_connection_is_visible_is_acted_on_by_the_next_sweep() {
            let a = acceptor(FakeConnections::default(), false);
            let early = ran(&a, tags_event(&[("team", "orders")])).await;
            assert_eq!((early.outcomes.len(), early.claims_kept), (0, 1));
            // The connection request shows up; the sweep finds what the event said.
            a.connections.connections.lock().unwrap().insert(
                "vpce-0e1".into(),
                connection("vpce-svc-0b", "vpce-0e1", "333333333333"),
            );
            let sweep = ran(&a, Scope::All).await;
            assert_eq!(sweep.outcomes[0].decision.action, Action::Accept);
            assert_eq!(a.connections.state("vpce-0e1"), "pending");
        }

        #[tokio::test]
        async fn another_accounts_claim_before_the_connection_shows_never_replaces_the_owners() {
            let a = acceptor(FakeConnections::default(), false);
            // The owner's word comes first, then another trusted account's about the same id.
            ran(&a, tags_event(&[("team", "orders")])).await;
            let mut other = tags_event(&[("team", "payments")]);
            if let Scope::Claims(claims) = &mut other {
                claims[0].account = "111111111111".into();
                claims[0].tags = TagChange::Set(Default::default());
            }
            ran(&a, other).await;
            assert_eq!(
                a.memory.claims.lock().unwrap().len(),
                2,
                "each account's word apart"
            );
            a.connections.connections.lock().unwrap().insert(
                "vpce-0e1".into(),
                connection("vpce-svc-0b", "vpce-0e1", "333333333333"),
            );
            let sweep = ran(&a, Scope::All).await;
            assert_eq!(sweep.outcomes[0].decision.action, Action::Accept);
            assert_eq!(a.connections.state("vpce-0e1"), "pending");
        }

        #[tokio::test]
        async fn another_accounts_word_about_an_endpoint_is_ignored() {
            let a = acceptor(tagged_estate(), false);
            let mut event = tags_event(&[("team", "orders")]);
            if let Scope::Claims(claims) = &mut event {
                claims[0].account = "111111111111".into();
            }
            let answer = a.run(Ok(policy()), event).await.unwrap();
            assert!(
                matches!(answer, Answer::Ignored { ignored } if ignored.contains("does not own"))
            );
            assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
        }

        #[tokio::test]
        async fn an_untrusted_claim_is_ignored_without_a_call_or_a_message() {
            let a = acceptor(estate(), false);
            let answer = a
                .run(
                    Ok(policy()),
                    Scope::Claims(vec![claim("999999999999", Some("vpce-svc-0a"))]),
                )
                .await
                .unwrap();
            assert!(
                matches!(answer, Answer::Ignored { ignored } if ignored.contains("does not trust"))
            );
            assert!(a.connections.calls.lock().unwrap().is_empty());
            assert!(a.publisher.titles().is_empty());
        }

        #[tokio::test]
        async fn a_broken_policy_accepts_nothing_and_is_announced_once() {
            let a = acceptor(estate(), false);
            for _ in 0..2 {
                assert!(a.run(Policy::parse("{"), Scope::All).await.is_err());
            }
            assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
            let titles = a.publisher.titles();
            assert_eq!(titles.len(), 1, "{titles:?}");
            assert!(titles[0].contains("nothing is accepted"), "{titles:?}");
        }

        #[tokio::test]
        async fn a_thousand_decisions_are_announced_in_bounded_messages() {
            let connections = FakeConnections::with((0..1000).map(|n| {
                let owner = if n % 2 == 0 {
                    "111111111111"
                } else {
                    "999999999999"
                };
                connection("vpce-svc-0a", &format!("vpce-{n:017x}"), owner)
            }));
            let a = acceptor(connections, false);
            let report = ran(&a, Scope::All).await;
            assert_eq!(report.announced, 1000);
            let published = a.publisher.published.lock().unwrap();
            assert!(published.len() > 1);
            for n in published.iter() {
                assert!(n.to_chatbot().to_string().len() < 256 * 1024);
            }
            let all: String = published.iter().map(|n| n.description.as_str()).collect();
            for n in 0..1000 {
                assert!(all.contains(&format!("vpce-{n:017x}")), "{n}");
            }
        }
    }
}
