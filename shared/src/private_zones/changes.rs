//! Making one change (authorize → associate → remove the authorization, or disassociate), and
//! finishing or removing the authorizations earlier runs left on the managed zones.

use crate::error::{Error, Result};
use crate::private_zones::ports::{Spokes, ZoneOwner};
use crate::private_zones::rules::{Change, Leftover, Rules, Step, Vpc, Zone, leftover, managed};
use crate::private_zones::run::{Report, Status, finding_of, outcome, settle};
use std::collections::BTreeMap;

/// What the leftover pass adds to: the report, the errors, and this run's own authorizations
/// not yet removed.
pub(super) struct Leftovers<'a> {
    pub(super) report: &'a mut Report,
    pub(super) errors: &'a mut Vec<Error>,
    pub(super) unremoved: &'a mut BTreeMap<(String, String), Error>,
}

/// What a change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Applied {
    Done,
    /// Another run made this very change first.
    AlreadyDone,
}

/// The changes a run makes, through the zone owner (the hub) and the spokes.
pub(super) struct Changes<'a, O, S> {
    pub(super) owner: &'a O,
    pub(super) spokes: &'a S,
    pub(super) hub_account: &'a str,
    pub(super) dry_run: bool,
}

impl<O: ZoneOwner + Sync, S: Spokes + Sync> Changes<'_, O, S> {
    /// Authorizations left on the managed zones — by a run that died between authorizing and
    /// cleaning up, or whose delete failed — finished (associated, where the rules want it)
    /// and removed.
    pub(super) async fn leftovers(
        &self,
        rules: &Rules,
        zones: &mut [Zone],
        scope: &std::collections::BTreeSet<String>,
        vpcs: &[Vpc],
        reconcile: bool,
        pass: &mut Leftovers<'_>,
    ) {
        let Leftovers {
            report,
            errors,
            unremoved,
        } = pass;
        // The zones in the run's scope: every managed zone for the reconcile, the event's own
        // otherwise.
        let managed: Vec<Zone> = managed(rules, zones)
            .into_iter()
            .filter(|z| scope.contains(&z.id))
            .cloned()
            .collect();
        for zone in &managed {
            let pairs = match self.owner.authorizations(&zone.id).await {
                Ok(pairs) => pairs,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for pair in pairs {
                let vpc = vpcs
                    .iter()
                    .find(|v| v.vpc_id == pair.0 && v.region == pair.1);
                let current = zones
                    .iter()
                    .find(|z| z.id == zone.id)
                    .unwrap_or(zone)
                    .clone();
                let found = leftover(rules, zones, &current, &pair, vpc, reconcile);
                if self.dry_run {
                    // What the run would do with it: the association (unless the plan already
                    // makes it) and the removal.
                    let (owner, step) = match found {
                        Leftover::Leave => continue,
                        Leftover::Complete(step) => match vpc {
                            Some(v)
                                if !report.outcomes.iter().any(|o| {
                                    o.vpc_id == v.vpc_id && o.step.zone_id == step.zone_id
                                }) =>
                            {
                                (v.clone(), step)
                            }
                            _ => continue,
                        },
                        Leftover::Remove(step) => (
                            Vpc {
                                account: vpc
                                    .map_or_else(|| "unknown".to_owned(), |v| v.account.clone()),
                                region: pair.1.clone(),
                                vpc_id: pair.0.clone(),
                                tags: Default::default(),
                            },
                            step,
                        ),
                    };
                    report
                        .outcomes
                        .push(outcome(&owner, step, Status::DryRun, None));
                    continue;
                }
                match found {
                    Leftover::Leave => {}
                    Leftover::Complete(step) => {
                        let Some(vpc) = vpc else { continue };
                        let associated = self
                            .spokes
                            .associate(&vpc.account, &zone.id, &vpc.vpc_id, &vpc.region)
                            .await;
                        let applied = self.confirm(associated, &zone.id, vpc).await;
                        if let Err(e) = self
                            .owner
                            .deauthorize(&zone.id, &vpc.vpc_id, &vpc.region)
                            .await
                        {
                            errors.push(e);
                        }
                        settle(report, zones, errors, vpc, step, applied);
                    }
                    Leftover::Remove(step) => {
                        let own = (zone.id.clone(), pair.0.clone());
                        if unremoved.contains_key(&own) {
                            // This run's own authorization, whose first delete failed: tried
                            // again here, as part of the same change (no outcome of its own).
                            match self.owner.deauthorize(&zone.id, &pair.0, &pair.1).await {
                                Ok(()) => {
                                    unremoved.remove(&own);
                                }
                                Err(e) if finding_of(&e).is_some() => {
                                    unremoved.remove(&own);
                                    let owner = vpc.cloned().unwrap_or_else(|| Vpc {
                                        account: "unknown".into(),
                                        region: pair.1.clone(),
                                        vpc_id: pair.0.clone(),
                                        tags: Default::default(),
                                    });
                                    settle(report, zones, errors, &owner, step, Err(e));
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "authorization still not removed")
                                }
                            }
                            continue;
                        }
                        let owner = Vpc {
                            account: vpc
                                .map_or_else(|| "unknown".to_owned(), |v| v.account.clone()),
                            region: pair.1.clone(),
                            vpc_id: pair.0.clone(),
                            tags: Default::default(),
                        };
                        let removed = self
                            .owner
                            .deauthorize(&zone.id, &pair.0, &pair.1)
                            .await
                            .map(|()| Applied::Done);
                        settle(report, zones, errors, &owner, step, removed);
                    }
                }
            }
        }
    }

    /// A `ConflictingDomainExists` for the very pair being associated means another run
    /// associated it first: done, not a finding.
    pub(super) async fn confirm(
        &self,
        associated: Result<()>,
        zone_id: &str,
        vpc: &Vpc,
    ) -> Result<Applied> {
        match associated {
            Ok(()) => Ok(Applied::Done),
            Err(e) if e.code() == Some("ConflictingDomainExists") => {
                let pair = (vpc.vpc_id.clone(), vpc.region.clone());
                match self.owner.associated(zone_id).await {
                    Ok(now) if now.contains(&pair) => Ok(Applied::AlreadyDone),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Make one change. The second value is a clean-up that failed after the change was made
    /// (an authorization not removed): the change stands and is announced, the run fails at the
    /// end, and the next run removes the authorization.
    pub(super) async fn apply(&self, vpc: &Vpc, step: &Step) -> (Result<Applied>, Option<Error>) {
        let (zone, id, region) = (
            step.zone_id.as_str(),
            vpc.vpc_id.as_str(),
            vpc.region.as_str(),
        );
        match step.change {
            Change::Disassociate => {
                let result = match self.owner.disassociate(zone, id, region).await {
                    Ok(()) => Ok(Applied::Done),
                    Err(e) if e.code() == Some("VPCAssociationNotFound") => {
                        Ok(Applied::AlreadyDone)
                    }
                    Err(e) => Err(e),
                };
                (result, None)
            }
            Change::Deauthorize => (
                self.owner
                    .deauthorize(zone, id, region)
                    .await
                    .map(|()| Applied::Done),
                None,
            ),
            Change::Associate if vpc.account == self.hub_account => {
                let associated = self.owner.associate(zone, id, region).await;
                (self.confirm(associated, zone, vpc).await, None)
            }
            Change::Associate => {
                if let Err(e) = self.owner.authorize(zone, id, region).await {
                    return (Err(e), None);
                }
                let associated = self.spokes.associate(&vpc.account, zone, id, region).await;
                let applied = self.confirm(associated, zone, vpc).await;
                // The authorization has done its job (or failed to): remove it either way.
                let cleanup = match self.owner.deauthorize(zone, id, region).await {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::warn!(zone_id = zone, vpc_id = id, error = %e, "authorization not removed; the next run removes it");
                        Some(e)
                    }
                };
                (applied, cleanup)
            }
        }
    }
}
