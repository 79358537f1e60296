//! The endpoint-connection engine: read what is pending, decide against the policy, apply the
//! decisions (one Accept and one Reject call per service), announce what is new, and report.
//! Functions and the operator CLI run this same engine; it reaches AWS only through the ports.

use crate::announce;
use crate::endpoint_connections::ec2::ConnectionApi;
use crate::endpoint_connections::notifications;
use crate::endpoint_connections::policy::{
    Action, Connection, Decision, Policy, PolicyError, decide,
};
use crate::error::{Error, ItemFailure, Result};
use crate::events::Answer;
use crate::ledger::Ledger;
use crate::notify::Publisher;
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
}

/// The invocation's result, returned to the caller as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Report {
    pub dry_run: bool,
    pub outcomes: Vec<Outcome>,
    /// How many outcomes were announced (the others had been announced before).
    pub announced: usize,
}

/// Pure: which services a run reads, and the consumer's claim it may use; or why the event is
/// ignored. Services the policy does not manage are left alone; a claim is believed only from an
/// account the policy trusts, about a service it manages.
pub fn admit(
    policy: &Policy,
    scope: Scope,
) -> std::result::Result<(Vec<String>, Option<Claim>), String> {
    match scope {
        Scope::All => Ok((policy.service_ids().map(str::to_owned).collect(), None)),
        Scope::Services(ids) => {
            let (managed, other): (Vec<_>, Vec<_>) =
                ids.into_iter().partition(|id| policy.service(id).is_some());
            if !other.is_empty() {
                tracing::info!(services = ?other, "not managed by the policy; left alone");
            }
            if managed.is_empty() {
                return Err(format!("no managed service among {}", other.join(", ")));
            }
            Ok((managed, None))
        }
        Scope::Endpoint(claim) => {
            if !policy.trusts_account(&claim.account) {
                return Err(format!(
                    "event from account {}, which the policy does not trust",
                    claim.account
                ));
            }
            if policy.service(&claim.service_id).is_none() {
                return Err(format!("{} is not managed by the policy", claim.service_id));
            }
            Ok((vec![claim.service_id.clone()], Some(claim)))
        }
    }
}

/// Pure: the claim's VPC given to its connection, if the claim's account owns it; otherwise
/// why the event is ignored (an account speaking for another's endpoint).
pub fn apply_claim(claim: &Claim, pending: &mut [Connection]) -> std::result::Result<(), String> {
    for c in pending
        .iter_mut()
        .filter(|c| c.endpoint_id == claim.endpoint_id)
    {
        if c.owner != claim.account {
            return Err(format!(
                "account {} does not own {}",
                claim.account, c.endpoint_id
            ));
        }
        c.vpc_id.clone_from(&claim.vpc_id);
    }
    Ok(())
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
    ) -> Result<Answer<Report>> {
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

        let (services, claim) = match admit(&policy, scope) {
            Ok(admitted) => admitted,
            Err(why) => return Ok(Answer::ignored(why)),
        };
        let mut pending: Vec<Connection> = Vec::new();
        for service_id in &services {
            let endpoint_id = claim.as_ref().map(|c| c.endpoint_id.as_str());
            pending.extend(self.connections.pending(service_id, endpoint_id).await?);
        }
        if let Some(claim) = &claim
            && let Err(why) = apply_claim(claim, &mut pending)
        {
            return Ok(Answer::ignored(why));
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
            for message in notifications::decisions(&to_announce, self.dry_run) {
                self.publisher.publish(&message).await?;
            }
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
            Ok(Answer::Ran(report))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::parse(
            r#"{"version": 1, "services": {"vpce-svc-0a": {"allow": [{"name": "orders", "accounts": ["111111111111"]}], "otherwise": "reject"}}}"#,
        )
        .unwrap()
    }

    fn claim(account: &str, service: &str) -> Claim {
        Claim {
            service_id: service.into(),
            endpoint_id: "vpce-0e1".into(),
            vpc_id: Some("vpc-0c".into()),
            account: account.into(),
        }
    }

    fn pending(owner: &str) -> Vec<Connection> {
        vec![Connection {
            service_id: "vpce-svc-0a".into(),
            endpoint_id: "vpce-0e1".into(),
            owner: owner.into(),
            state: "pendingAcceptance".into(),
            vpc_id: None,
            tags: Default::default(),
        }]
    }

    #[test]
    fn only_managed_services_and_trusted_claims_are_admitted() {
        let p = policy();
        assert_eq!(admit(&p, Scope::All).unwrap().0, ["vpce-svc-0a"]);
        let some = Scope::Services(["vpce-svc-0a".to_owned(), "vpce-svc-0b".to_owned()].into());
        assert_eq!(
            admit(&p, some).unwrap(),
            (vec!["vpce-svc-0a".to_owned()], None)
        );
        let none = Scope::Services(["vpce-svc-0b".to_owned()].into());
        assert_eq!(
            admit(&p, none).unwrap_err(),
            "no managed service among vpce-svc-0b"
        );

        let trusted = claim("111111111111", "vpce-svc-0a");
        assert_eq!(
            admit(&p, Scope::Endpoint(trusted.clone())).unwrap(),
            (vec!["vpce-svc-0a".to_owned()], Some(trusted))
        );
        assert_eq!(
            admit(&p, Scope::Endpoint(claim("999999999999", "vpce-svc-0a"))).unwrap_err(),
            "event from account 999999999999, which the policy does not trust"
        );
        assert_eq!(
            admit(&p, Scope::Endpoint(claim("111111111111", "vpce-svc-0b"))).unwrap_err(),
            "vpce-svc-0b is not managed by the policy"
        );
    }

    #[test]
    fn a_claim_brings_its_vpc_only_for_an_endpoint_its_account_owns() {
        let mut owned = pending("111111111111");
        apply_claim(&claim("111111111111", "vpce-svc-0a"), &mut owned).unwrap();
        assert_eq!(owned[0].vpc_id.as_deref(), Some("vpc-0c"));

        let mut other = pending("222222222222");
        assert_eq!(
            apply_claim(&claim("111111111111", "vpce-svc-0a"), &mut other).unwrap_err(),
            "account 111111111111 does not own vpce-0e1"
        );
        assert_eq!(other[0].vpc_id, None);
    }

    /// The engine end to end, on in-memory ports.
    mod engine {
        use super::*;
        use crate::fakes::{FakeConnections, MemoryLedger, MemoryPublisher};

        type Fake = Acceptor<FakeConnections, MemoryLedger, MemoryPublisher>;

        fn acceptor(connections: FakeConnections, dry_run: bool) -> Fake {
            Acceptor {
                connections,
                ledger: MemoryLedger::default(),
                publisher: MemoryPublisher::default(),
                dry_run,
            }
        }

        fn connection(endpoint: &str, owner: &str) -> Connection {
            Connection {
                endpoint_id: endpoint.into(),
                ..pending(owner).remove(0)
            }
        }

        fn estate() -> FakeConnections {
            FakeConnections::with([
                connection("vpce-0e1", "111111111111"),
                connection("vpce-0e2", "999999999999"),
            ])
        }

        #[tokio::test]
        async fn a_sweep_applies_the_policy_and_announces_each_decision_once() {
            let a = acceptor(estate(), false);
            let report = a
                .run(Ok(policy()), Scope::All)
                .await
                .unwrap()
                .ran()
                .unwrap();
            assert_eq!(report.announced, 2);
            assert_eq!(a.connections.state("vpce-0e1"), "available");
            assert_eq!(a.connections.state("vpce-0e2"), "rejected");
            assert_eq!(
                a.publisher.titles(),
                ["PrivateLink connections: 1 accepted, 1 rejected"]
            );
            // Nothing is pending any more: the replay decides and announces nothing.
            let again = a
                .run(Ok(policy()), Scope::All)
                .await
                .unwrap()
                .ran()
                .unwrap();
            assert_eq!((again.outcomes.len(), again.announced), (0, 0));
            assert_eq!(a.publisher.titles().len(), 1);
        }

        #[tokio::test]
        async fn a_dry_run_changes_nothing_and_is_announced_once() {
            let a = acceptor(estate(), true);
            for _ in 0..2 {
                a.run(Ok(policy()), Scope::All).await.unwrap();
            }
            assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
            assert!(a.connections.calls.lock().unwrap().is_empty());
            assert_eq!(
                a.publisher.titles(),
                ["[dry run] PrivateLink connections: 1 would accept, 1 would reject"]
            );
        }

        #[tokio::test]
        async fn a_refused_item_is_announced_and_fails_the_run() {
            let mut connections = estate();
            connections
                .refused
                .insert("vpce-0e1".into(), "InvalidParameter".into());
            let a = acceptor(connections, false);
            let err = a.run(Ok(policy()), Scope::All).await.unwrap_err();
            assert!(matches!(&err, Error::Unapplied(f) if f[0].resource_id == "vpce-0e1"));
            assert_eq!(a.connections.state("vpce-0e2"), "rejected");
            assert_eq!(
                a.publisher.titles(),
                ["PrivateLink connections: 1 accept failed, 1 rejected"]
            );
        }

        #[tokio::test]
        async fn an_untrusted_claim_is_ignored_without_a_call_or_a_message() {
            let a = acceptor(estate(), false);
            let answer = a
                .run(
                    Ok(policy()),
                    Scope::Endpoint(claim("999999999999", "vpce-svc-0a")),
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
                let broken = Policy::parse("{");
                assert!(a.run(broken, Scope::All).await.is_err());
            }
            assert_eq!(a.connections.state("vpce-0e1"), "pendingAcceptance");
            let titles = a.publisher.titles();
            assert_eq!(titles.len(), 1, "{titles:?}");
            assert!(titles[0].contains("nothing is accepted"), "{titles:?}");
        }
    }
}
