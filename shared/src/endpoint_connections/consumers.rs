//! The acceptor's use of what consumers' events said: merged with what was remembered, used to
//! decide held connections again, kept while it may still matter, forgotten once decided. And,
//! for a connection no event described, what its consumer's own API says, read through the
//! consumer's read role: events are the fast path, the read the guarantee.

use crate::endpoint_connections::claims::{Claim, Known, inform, merge};
use crate::endpoint_connections::policy::{
    Action, Connection, Decision, Policy, decide, waits_for_facts,
};
use crate::endpoint_connections::ports::{ClaimKey, ConsumerEndpoints, Memory};
use crate::endpoint_connections::run::{Outcome, Status};
use crate::error::Result;
use std::collections::{BTreeMap, BTreeSet};

/// The claims of this event merged with what was remembered of their endpoints.
pub(super) async fn merged(
    memory: &impl Memory,
    claims: &[Claim],
) -> Result<BTreeMap<String, Known>> {
    if claims.is_empty() {
        return Ok(BTreeMap::new());
    }
    let keys: Vec<ClaimKey> = claims
        .iter()
        .map(|c| (c.account.clone(), c.endpoint_id.clone()))
        .collect();
    let mut known = memory.recall(&keys).await?;
    for claim in claims {
        let merged = merge(known.remove(&claim.endpoint_id), claim);
        known.insert(claim.endpoint_id.clone(), merged);
    }
    Ok(known)
}

/// Held connections decided again with what earlier events said of them (a sweep, or a
/// notification, runs without the consumer's event): only what the connection's owner said.
/// Returns whose claims were remembered.
pub(super) async fn remembered_for_held(
    memory: &impl Memory,
    decisions: &mut [Decision],
    policy: &Policy,
    known: &BTreeMap<String, Known>,
) -> Result<BTreeSet<ClaimKey>> {
    let held: Vec<ClaimKey> = decisions
        .iter()
        .filter(|d| d.action == Action::Hold && !known.contains_key(&d.connection.endpoint_id))
        .map(|d| (d.connection.owner.clone(), d.connection.endpoint_id.clone()))
        .collect();
    if held.is_empty() {
        return Ok(BTreeSet::new());
    }
    let remembered = memory.recall(&held).await?;
    for d in decisions.iter_mut() {
        let Some(k) = remembered.get(&d.connection.endpoint_id) else {
            continue;
        };
        let mut c = d.connection.clone();
        match inform(&mut c, k) {
            Ok(()) => {
                if let Some(again) = decide(policy, &[c]).pop() {
                    *d = again;
                }
            }
            Err(why) => tracing::warn!(reason = %why, "remembered claim not used"),
        }
    }
    Ok(remembered
        .into_values()
        .map(|k| (k.account, k.endpoint_id))
        .collect())
}

/// Held connections that wait for facts only their consumer knows (a rule on the VPC or the tags
/// might allow them, and no event said them), read from each consumer account's own API and
/// decided again. Believed only for an endpoint the account owns, of the connection's service.
/// A consumer that cannot be read keeps its connections held, the reason saying why (announced
/// once, as every hold is). Returns how many connections were read.
pub(super) async fn read_for_held(
    consumers: &impl ConsumerEndpoints,
    decisions: &mut [Decision],
    policy: &Policy,
) -> usize {
    let mut waiting: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in decisions.iter() {
        if d.action == Action::Hold && waits_for_facts(policy, &d.connection) {
            let c = &d.connection;
            waiting
                .entry(c.owner.clone())
                .or_default()
                .push(c.endpoint_id.clone());
        }
    }
    let mut read = 0;
    for (account, ids) in waiting {
        let found = consumers.endpoints(&account, &ids).await.map(|found| {
            found
                .into_iter()
                .map(|k| (k.endpoint_id.clone(), k))
                .collect::<BTreeMap<String, Known>>()
        });
        if let Err(e) = &found {
            tracing::warn!(%account, error = %e, held = ids.len(), "the consumer's endpoints could not be read: its connections stay held");
        }
        let asked: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        for d in decisions.iter_mut().filter(|d| {
            d.connection.owner == account && asked.contains(d.connection.endpoint_id.as_str())
        }) {
            let c = &d.connection;
            let own = found.as_ref().map(|found| {
                found
                    .get(c.endpoint_id.as_str())
                    .filter(|k| k.service_id.as_deref() == Some(c.service_id.as_str()))
            });
            match own {
                Ok(Some(known)) => {
                    let mut c = c.clone();
                    if inform(&mut c, known).is_ok()
                        && let Some(again) = decide(policy, &[c]).pop()
                    {
                        read += 1;
                        *d = again;
                    }
                }
                Ok(None) => d.reason.push_str(&format!(
                    "; account {account}'s read role shows no endpoint {} of its own to this service",
                    c.endpoint_id
                )),
                Err(e) => d.reason.push_str(&format!(
                    "; its consumer's read role in account {account} could not be used ({}): deploy spoke-template.yaml there with AcceptorRoleArn",
                    e.code().unwrap_or(e.kind())
                )),
            }
        }
    }
    read
}

/// Keep what this event's claims said where the connection is not decided (not visible yet,
/// or held); forget what was remembered of connections now decided.
pub(super) async fn settle_claims(
    memory: &impl Memory,
    dry_run: bool,
    outcomes: &[Outcome],
    pending: &[Connection],
    known: BTreeMap<String, Known>,
    remembered: BTreeSet<ClaimKey>,
) -> Result<usize> {
    if dry_run {
        return Ok(0);
    }
    let decided: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| o.status == Status::Applied)
        .map(|o| o.decision.connection.endpoint_id.as_str())
        .collect();
    let visible: BTreeSet<&str> = pending.iter().map(|c| c.endpoint_id.as_str()).collect();
    // Only what is stored: what was remembered, and what this event's claims said.
    let forget: Vec<ClaimKey> = remembered
        .into_iter()
        .chain(
            known
                .values()
                .map(|k| (k.account.clone(), k.endpoint_id.clone())),
        )
        .filter(|(_, e)| decided.contains(e.as_str()))
        .collect();
    let keep: Vec<Known> = known
        .into_values()
        .filter(|k| !decided.contains(k.endpoint_id.as_str()))
        .inspect(|k| {
            if !visible.contains(k.endpoint_id.as_str()) {
                tracing::info!(endpoint_id = %k.endpoint_id, "no pending connection yet: kept for the next sweep");
            }
        })
        .collect();
    if !keep.is_empty() {
        memory.keep(&keep).await?;
    }
    if !forget.is_empty() {
        memory.forget(&forget).await?;
    }
    Ok(keep.len())
}
