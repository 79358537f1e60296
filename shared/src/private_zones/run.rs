//! The private hosted zone engine: for each VPC in scope, plan against the rules, then associate
//! (authorize → associate as the VPC owner → remove the authorization, across accounts) or
//! disassociate, one change at a time; announce what is new; report.
//!
//! Route 53 throttles hard (AssociateVPCWithHostedZone: 5 per second per account), so changes
//! run one at a time, the Route 53 clients retry throttled calls up to ten times with exponential
//! backoff and full jitter, and the function's reserved concurrency bounds how many invocations
//! do this at once.

use crate::announce;
use crate::documents::PolicyError;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::notify::{Notification, Publisher, Severity, fact, fnv1a};
use crate::private_zones::route53::{Spokes, ZoneOwner};
use crate::private_zones::rules::{Change, Rules, Step, Vpc, Zone, plan};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Route 53 errors that are facts about the estate, not passing faults: reported as findings,
/// never retried.
pub const FINDING_CODES: &[&str] = &[
    "ConflictingDomainExists",
    "LimitsExceeded",
    "NotAuthorizedException",
    "InvalidVPCId",
    "NoSuchHostedZone",
    "PublicZoneVPCAssociation",
    "TooManyVPCAssociationAuthorizations",
    "AccessDenied",
];

/// Pure: what a failed change means. A fact about the estate (a code in [`FINDING_CODES`]) is a
/// finding, announced and never retried; anything else (throttling past the SDK's retries, a
/// fault, an unknown refusal) stops the run, so Lambda runs it again.
pub fn finding_of(err: &Error) -> Option<Finding> {
    let code = err.code().filter(|c| FINDING_CODES.contains(c))?;
    Some(Finding {
        code: code.to_owned(),
        message: err.to_string(),
    })
}

/// Retries for Route 53: ten attempts, exponential backoff with full jitter from 200 ms (capped
/// at 20 s by the SDK). Adaptive mode was not chosen: under a sustained storm its client-side rate
/// limit falls to one call every two seconds, which a Lambda timeout cannot afford.
pub fn route53_retry() -> aws_smithy_types::retry::RetryConfig {
    aws_smithy_types::retry::RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(std::time::Duration::from_millis(200))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// VPCs named by an event (`CreateVpc`, `CreateTags`, `DeleteTags`) in one account and region.
    Vpcs {
        account: String,
        region: String,
        vpc_ids: Vec<String>,
    },
    /// Every VPC of every trusted account in every configured region.
    Reconcile,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Done,
    DryRun,
    /// AWS refused for a reason a retry cannot fix.
    Finding,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    #[serde(flatten)]
    pub step: Step,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
}

/// Why AWS refused, for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: String,
    pub message: String,
}

impl Outcome {
    fn key(&self) -> String {
        let status = match (&self.status, &self.finding) {
            (Status::Finding, Some(f)) => format!("finding:{}", f.code),
            (Status::DryRun, _) => "dry-run".into(),
            _ => "live".into(),
        };
        let change = match self.step.change {
            Change::Associate => "associate",
            Change::Disassociate => "disassociate",
        };
        format!(
            "zone:{}:{}:{}:{change}:{status}",
            self.step.zone_id, self.region, self.vpc_id
        )
    }
}

/// An account and region the run could not read: a finding, not a failed run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreachable {
    pub account: String,
    pub region: String,
    pub problem: String,
    #[serde(skip)]
    code: String,
}

impl Unreachable {
    fn key(&self) -> String {
        format!("unreachable:{}:{}:{}", self.account, self.region, self.code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Report {
    pub dry_run: bool,
    pub vpcs_checked: usize,
    pub outcomes: Vec<Outcome>,
    /// Accounts or regions that could not be read (a missing spoke role, say).
    pub unreachable: Vec<Unreachable>,
    pub announced: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

pub struct Associator<O, S, L, P> {
    pub owner: O,
    pub spokes: S,
    pub ledger: L,
    pub publisher: P,
    pub hub_account: String,
    pub dry_run: bool,
}

impl<O: ZoneOwner + Sync, S: Spokes + Sync, L: Ledger + Sync, P: Publisher + Sync>
    Associator<O, S, L, P>
{
    pub async fn run(
        &self,
        rules: std::result::Result<Rules, PolicyError>,
        target: Target,
    ) -> Result<Report> {
        let rules = announce::usable(
            &self.ledger,
            &self.publisher,
            "zone rules",
            "no zone is associated",
            rules,
        )
        .await?;
        let mut report = Report {
            dry_run: self.dry_run,
            ..Report::default()
        };
        let reconcile = target == Target::Reconcile;
        let scopes: Vec<(String, String, Vec<String>)> = match target {
            Target::Vpcs {
                account,
                region,
                vpc_ids,
            } => {
                if !rules.trusts_account(&account) {
                    tracing::warn!(%account, "event from an account the rules do not trust; ignored");
                    report.ignored = Some(format!(
                        "event from account {account}, which the rules do not trust"
                    ));
                    return Ok(report);
                }
                if !rules.covers_region(&region) {
                    report.ignored = Some(format!("region {region} is not covered by the rules"));
                    return Ok(report);
                }
                vec![(account, region, vpc_ids)]
            }
            Target::Reconcile => rules
                .accounts
                .iter()
                .flat_map(|a| {
                    rules
                        .regions
                        .iter()
                        .map(move |r| (a.clone(), r.clone(), vec![]))
                })
                .collect(),
        };

        let mut vpcs: Vec<Vpc> = Vec::new();
        for (account, region, ids) in &scopes {
            match self.spokes.vpcs(account, region, ids).await {
                Ok(found) => vpcs.extend(found),
                Err(e) if e.code() == Some("InvalidVpcID.NotFound") => {
                    report.ignored =
                        Some(format!("{} no longer exists in {account}", ids.join(", ")));
                }
                // An event's VPC is worth a retry; one account must not stop a reconcile.
                Err(e) if e.retryable() && !reconcile => return Err(e),
                Err(e) => {
                    tracing::warn!(%account, %region, error = %e, "account unreachable");
                    report.unreachable.push(Unreachable {
                        account: account.clone(),
                        region: region.clone(),
                        code: e.code().unwrap_or(e.kind()).to_owned(),
                        problem: e.to_string(),
                    });
                }
            }
        }
        report.vpcs_checked = vpcs.len();

        let mut zones = if vpcs.is_empty() {
            vec![]
        } else {
            self.owner.catalogue().await?
        };
        let mut hard_error = None;
        'vpcs: for vpc in &vpcs {
            for step in plan(&rules, vpc, &zones) {
                tracing::info!(account = %vpc.account, vpc_id = %vpc.vpc_id, zone_id = %step.zone_id,
                    change = ?step.change, reason = %step.reason, dry_run = self.dry_run, "planned");
                let result = if self.dry_run {
                    Ok(())
                } else {
                    self.apply(vpc, &step).await
                };
                let (status, finding) = match result {
                    Ok(()) if self.dry_run => (Status::DryRun, None),
                    Ok(()) => {
                        record(&mut zones, vpc, &step);
                        (Status::Done, None)
                    }
                    Err(e) => match finding_of(&e) {
                        Some(finding) => {
                            tracing::warn!(vpc_id = %vpc.vpc_id, zone_id = %step.zone_id, error = %e, "finding");
                            (Status::Finding, Some(finding))
                        }
                        None => {
                            hard_error = Some(e);
                            break 'vpcs;
                        }
                    },
                };
                report.outcomes.push(Outcome {
                    account: vpc.account.clone(),
                    region: vpc.region.clone(),
                    vpc_id: vpc.vpc_id.clone(),
                    step,
                    status,
                    finding,
                });
            }
        }

        let keys: Vec<String> = report
            .outcomes
            .iter()
            .map(Outcome::key)
            .chain(report.unreachable.iter().map(Unreachable::key))
            .collect();
        let fresh: BTreeSet<String> = self.ledger.unseen(&keys).await?.into_iter().collect();
        let new: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| fresh.contains(&o.key()))
            .collect();
        let lost: Vec<&Unreachable> = report
            .unreachable
            .iter()
            .filter(|u| fresh.contains(&u.key()))
            .collect();
        if !new.is_empty() || !lost.is_empty() {
            self.publisher
                .publish(&notification(&new, &lost, self.dry_run))
                .await?;
            let announced = new
                .iter()
                .map(|o| o.key())
                .chain(lost.iter().map(|u| u.key()));
            self.ledger.remember(&announced.collect::<Vec<_>>()).await?;
        }
        report.announced = new.len() + lost.len();
        match hard_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    async fn apply(&self, vpc: &Vpc, step: &Step) -> Result<()> {
        let (zone, id, region) = (
            step.zone_id.as_str(),
            vpc.vpc_id.as_str(),
            vpc.region.as_str(),
        );
        match step.change {
            Change::Disassociate => self.owner.disassociate(zone, id, region).await,
            Change::Associate if vpc.account == self.hub_account => {
                self.owner.associate(zone, id, region).await
            }
            Change::Associate => {
                self.owner.authorize(zone, id, region).await?;
                let associated = self.spokes.associate(&vpc.account, zone, id, region).await;
                // The authorization has done its job (or failed to): remove it either way.
                let cleaned = self.owner.deauthorize(zone, id, region).await;
                associated.and(cleaned)
            }
        }
    }
}

/// Keep the in-memory catalogue true after a change (the last-VPC rule reads it).
fn record(zones: &mut [Zone], vpc: &Vpc, step: &Step) {
    if let Some(zone) = zones.iter_mut().find(|z| z.id == step.zone_id) {
        let pair = (vpc.vpc_id.clone(), vpc.region.clone());
        match step.change {
            Change::Associate => zone.vpcs.insert(pair),
            Change::Disassociate => zone.vpcs.remove(&pair),
        };
    }
}

fn verb(o: &Outcome) -> &'static str {
    match (&o.status, o.step.change) {
        (Status::Finding, _) => "not associated",
        (Status::DryRun, Change::Associate) => "would associate",
        (Status::DryRun, Change::Disassociate) => "would disassociate",
        (Status::Done, Change::Associate) => "associated",
        (Status::Done, Change::Disassociate) => "disassociated",
    }
}

fn notification(
    outcomes: &[&Outcome],
    unreachable: &[&Unreachable],
    dry_run: bool,
) -> Notification {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes {
        *counts.entry(verb(o)).or_default() += 1;
    }
    if !unreachable.is_empty() {
        counts.insert("accounts unreachable", unreachable.len());
    }
    let tally = counts
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let findings = outcomes.iter().any(|o| o.status == Status::Finding) || !unreachable.is_empty();
    let lines: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let why = o
                .finding
                .as_ref()
                .map_or(o.step.reason.as_str(), |f| f.message.as_str());
            format!(
                "• *{}* `{}` (`{}`) with VPC `{}` in account `{}`, {}: {why}",
                verb(o),
                o.step.zone_name,
                o.step.zone_id,
                o.vpc_id,
                o.account,
                o.region
            )
        })
        .collect();
    let lines: Vec<String> = lines
        .into_iter()
        .chain(unreachable.iter().map(|u| {
            format!(
                "• *unreachable* account `{}`, {}: {}",
                u.account, u.region, u.problem
            )
        }))
        .collect();
    let mut next_steps = Vec::new();
    if findings {
        next_steps.push("Findings are not retried: ConflictingDomainExists means the VPC already has a zone of that name; LimitsExceeded, that the zone has 300 VPCs (consider Route 53 Profiles); NotAuthorizedException or AccessDenied, that the spoke role or authorization is missing.".into());
    }
    if !unreachable.is_empty() {
        next_steps.push("Unreachable accounts were skipped: deploy spoke-template.yaml there (the role the hub assumes), or remove the account from the zone rules.".into());
    }
    if dry_run {
        next_steps.push("Dry run: nothing was changed. Set DRY_RUN=false to apply.".into());
    }
    let prefix = if dry_run { "[dry run] " } else { "" };
    let mut context = BTreeMap::from([Notification::dry_run_fact(dry_run)]);
    if let [single] = outcomes {
        context.extend([
            ("account".to_owned(), single.account.clone()),
            ("vpc".to_owned(), single.vpc_id.clone()),
            ("region".to_owned(), single.region.clone()),
            (
                "zone".to_owned(),
                format!("{} ({})", single.step.zone_name, single.step.zone_id),
            ),
            (fact::ZONE_ID.to_owned(), single.step.zone_id.clone()),
            ("decision".to_owned(), verb(single).to_owned()),
        ]);
    }
    Notification {
        id: format!(
            "zones-{:016x}",
            fnv1a(
                outcomes
                    .iter()
                    .map(|o| o.key())
                    .collect::<Vec<_>>()
                    .join("\n")
                    .as_bytes()
            )
        ),
        event_type: "PrivateZoneAssociations".into(),
        severity: if findings {
            Severity::Warning
        } else {
            Severity::Info
        },
        title: format!("{prefix}Private hosted zones: {tally}"),
        description: lines.join("\n"),
        next_steps,
        keywords: vec![
            "privatelink".into(),
            "route53".into(),
            "private-hosted-zone".into(),
        ],
        thread_id: Some("private-zone-associations".into()),
        summary: format!("{prefix}{tally}"),
        related_resources: outcomes
            .iter()
            .flat_map(|o| [o.step.zone_id.clone(), o.vpc_id.clone()])
            .collect(),
        context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(code: &str) -> Error {
        Error::Aws {
            operation: "route53:AssociateVPCWithHostedZone",
            code: Some(code.into()),
            message: format!("{code}: the message"),
            retryable: code == "Throttling",
            source: Box::new(std::io::Error::other(code.to_owned())),
        }
    }

    #[test]
    fn facts_about_the_estate_are_findings_and_the_rest_stops_the_run() {
        for code in FINDING_CODES {
            let f = finding_of(&aws(code)).unwrap();
            assert_eq!(f.code, *code);
            assert!(f.message.contains("the message"), "{}", f.message);
        }
        for code in [
            "Throttling",
            "PriorRequestNotComplete",
            "InternalError",
            "SomethingNew",
        ] {
            assert_eq!(finding_of(&aws(code)), None, "{code}");
        }
        assert_eq!(finding_of(&Error::Config("x".into())), None);
    }
}
