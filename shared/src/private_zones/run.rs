//! The private hosted zone engine: for each VPC in scope, plan against the rules, then associate
//! (authorize → associate as the VPC owner → remove the authorization, across accounts) or
//! disassociate, one change at a time; beside them, the VPCs' Resolver rules (`resolver`); then
//! check that the inbound endpoints' VPCs hold every managed zone (`gaps`); announce what is new;
//! report.
//!
//! Route 53 throttles hard, per account (AssociateVPCWithHostedZone: 5 per second), so changes
//! run one at a time, every request first takes its tokens from buckets every invocation shares
//! (`route53::Route53Rates`), and the Route 53 clients retry a throttle others caused up to ten
//! times with exponential backoff and full jitter.

use crate::announce;
use crate::documents::PolicyError;
use crate::error::{Error, Result};
use crate::events::Answer;
use crate::events::now_secs;
use crate::ids::fnv1a;
use crate::ledger::Ledger;
use crate::notify::Publisher;
use crate::private_zones::changes::{Applied, Changes, Leftovers};
use crate::private_zones::events::{Scope, Target, admit};
use crate::private_zones::notifications;
use crate::private_zones::ports::{Journal, Spokes, ZoneOwner};
use crate::private_zones::resolver::{self, RuleIntent, RuleOutcome};
use crate::private_zones::rules::{
    Change, Refused, Rules, Step, Vpc, VpcRef, Zone, applies, managed, plan, refused, wanted_ids,
};
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
    "LastVPCAssociation",
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

/// Association authorizations a zone may have at once: the Route 53 quotas page lists 100
/// (<https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html>, as archived;
/// the live page is unverified, so the stricter figure is the one relied on).
pub const AUTHORIZATIONS_PER_ZONE: u64 = 100;

/// Pure: what a quota finding says — the quota, how full (`(count, limit)` read from Route 53
/// for the zone's VPCs), and the fix. `None` for a finding that is not about a quota.
pub fn quota_advice(code: &str, vpcs: Option<(u64, u64)>) -> Option<String> {
    let fix_vpcs = "MAX_VPCS_ASSOCIATED_BY_ZONE is adjustable: request an increase in Service Quotas (Route 53, us-east-1), or reach these VPCs through a Route 53 Profile";
    match code {
        "LimitsExceeded" => Some(match vpcs {
            Some((count, limit)) => format!(
                "LimitsExceeded: the zone has {count} VPCs of the {limit} its quota allows; {fix_vpcs}"
            ),
            None => format!(
                "LimitsExceeded: the zone has as many VPCs as its quota allows (GetHostedZoneLimit could not be read); {fix_vpcs}"
            ),
        }),
        "TooManyVPCAssociationAuthorizations" => Some(format!(
            "TooManyVPCAssociationAuthorizations: the zone has the {AUTHORIZATIONS_PER_ZONE} association authorizations Route 53 allows at once; authorizations other tools left stand until removed: list them (ListVPCAssociationAuthorizations), delete those no longer needed (DeleteVPCAssociationAuthorization), and the next reconcile associates this VPC"
        )),
        _ => None,
    }
}

/// Retries for Route 53: ten attempts, exponential backoff with full jitter from 200 ms (capped
/// at 20 s by the SDK). Adaptive mode was not chosen: under a sustained storm its client-side rate
/// limit falls to one call every two seconds, which a Lambda timeout cannot afford.
pub fn route53_retry() -> aws_smithy_types::retry::RetryConfig {
    aws_smithy_types::retry::RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(std::time::Duration::from_millis(200))
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

/// Pure: the part of an outcome's announce-once key its status makes.
pub(crate) fn status_key(status: &Status, finding: Option<&Finding>) -> String {
    match (status, finding) {
        (Status::Finding, Some(f)) => format!("finding:{}", f.code),
        (Status::DryRun, _) => "dry-run".into(),
        _ => "live".into(),
    }
}

impl Outcome {
    pub(crate) fn key(&self) -> String {
        let status = status_key(&self.status, self.finding.as_ref());
        let change = match self.step.change {
            Change::Associate => "associate",
            Change::Disassociate => "disassociate",
            Change::Deauthorize => "deauthorize",
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
    pub(crate) fn key(&self) -> String {
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
    /// Zones a rule's tags select outside its domains: not shared.
    pub refused: Vec<Refused>,
    /// Resolver rule changes, and findings about them.
    pub rule_outcomes: Vec<RuleOutcome>,
    /// Inbound endpoint VPCs missing a managed zone: names on-premises cannot resolve.
    pub on_premises: Vec<Gap>,
    pub announced: usize,
}

impl Report {
    /// The run's metrics: VPCs checked, zone and Resolver rule changes by outcome (done, dry run,
    /// finding), accounts unreachable, zones refused, on-premises gaps, announcements.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        let mut m = crate::metrics::Metrics::new("associator")
            .count("VpcsChecked", self.vpcs_checked)
            .count("ZoneChanges", self.outcomes.len())
            .count("RuleChanges", self.rule_outcomes.len())
            .count("AccountsUnreachable", self.unreachable.len())
            .count("ZonesRefused", self.refused.len())
            .count("OnPremisesGaps", self.on_premises.len())
            .count("Announced", self.announced);
        for (status, name) in [
            (Status::Done, "done"),
            (Status::DryRun, "dry-run"),
            (Status::Finding, "finding"),
        ] {
            let zones = self.outcomes.iter().filter(|o| o.status == status).count();
            let rules = self
                .rule_outcomes
                .iter()
                .filter(|o| o.status == status)
                .count();
            if zones > 0 {
                m = m.by_outcome("ZoneChanges", name, zones);
            }
            if rules > 0 {
                m = m.by_outcome("RuleChanges", name, rules);
            }
        }
        m
    }
}

/// A managed zone an inbound endpoint's VPC lacks (or that VPC, not found): on-premises cannot
/// resolve the zone's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    pub problem: String,
}

impl Gap {
    pub(crate) fn key(&self) -> String {
        format!(
            "on-premises:{}:{}:{}",
            self.region,
            self.vpc_id,
            self.zone_id.as_deref().unwrap_or("vpc")
        )
    }
}

/// Pure: the managed zones each inbound endpoint VPC lacks after the run (and, for the
/// reconcile, the inbound VPCs not found in their account), left out where the account could
/// not be read.
pub fn gaps(
    rules: &Rules,
    vpcs: &[Vpc],
    zones: &[Zone],
    reconcile: bool,
    unreachable: &[Unreachable],
) -> Vec<Gap> {
    let Some(on_premises) = &rules.on_premises else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &on_premises.inbound_vpcs {
        if !rules.trusts_account(&r.account) || !rules.covers_region(&r.region) {
            continue;
        }
        let gap = |zone_id: Option<String>, problem: String| Gap {
            account: r.account.clone(),
            region: r.region.clone(),
            vpc_id: r.vpc_id.clone(),
            zone_id,
            problem,
        };
        let pair = (r.vpc_id.clone(), r.region.clone());
        match vpcs
            .iter()
            .find(|v| v.vpc_id == r.vpc_id && v.account == r.account && v.region == r.region)
        {
            Some(_) => {
                for z in managed(rules, zones)
                    .into_iter()
                    .filter(|z| !z.vpcs.contains(&pair))
                {
                    out.push(gap(
                        Some(z.id.clone()),
                        format!(
                            "{} is not associated with this inbound endpoint VPC: on-premises cannot resolve its names",
                            z.name
                        ),
                    ));
                }
            }
            None if reconcile
                && !unreachable
                    .iter()
                    .any(|u| u.account == r.account && u.region == r.region) =>
            {
                out.push(gap(
                    None,
                    "no VPC of the account has this id: on-premises resolves none of the managed zones through it".into(),
                ));
            }
            None => {}
        }
    }
    out
}

pub struct Associator<O, S, L, J, P> {
    pub owner: O,
    pub spokes: S,
    pub ledger: L,
    pub journal: J,
    pub publisher: P,
    pub hub_account: String,
    pub dry_run: bool,
    /// VPCs this execution environment found nothing to change for, lately.
    pub recent: Recent,
}

/// How long a VPC found in order stays so for events about it: a burst of events about one VPC
/// (a tool applying tags one call at a time) costs one run's reads. The reconcile is never
/// coalesced.
pub const COALESCE_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// What runs found nothing to change for: a fingerprint of the VPC as read (account, region,
/// id, tags) and the rules, with when.
#[derive(Default)]
pub struct Recent(std::sync::Mutex<BTreeMap<u64, std::time::Instant>>);

impl Recent {
    fn key(rules: &Rules, vpc: &Vpc) -> u64 {
        fnv1a(format!("{rules:?}|{vpc:?}").as_bytes())
    }

    /// Whether every one of these VPCs, as read now, was found in order under these rules
    /// within the window.
    fn all_settled(&self, rules: &Rules, vpcs: &[Vpc]) -> bool {
        let Ok(mut recent) = self.0.lock() else {
            return false;
        };
        recent.retain(|_, at| at.elapsed() < COALESCE_WINDOW);
        !vpcs.is_empty()
            && vpcs
                .iter()
                .all(|v| recent.contains_key(&Self::key(rules, v)))
    }

    fn settled(&self, rules: &Rules, vpcs: impl Iterator<Item = Vpc>) {
        if let Ok(mut recent) = self.0.lock() {
            for v in vpcs {
                recent.insert(Self::key(rules, &v), std::time::Instant::now());
            }
        }
    }
}

impl<O, S, L, J, P> Associator<O, S, L, J, P>
where
    O: ZoneOwner + Sync,
    S: Spokes + Sync,
    L: Ledger + Sync,
    J: Journal + Sync,
    P: Publisher + Sync,
{
    fn changes(&self) -> Changes<'_, O, S> {
        Changes {
            owner: &self.owner,
            spokes: &self.spokes,
            hub_account: &self.hub_account,
            dry_run: self.dry_run,
        }
    }

    /// Run once: admit → read the VPCs → write the plan ahead → apply it → finish what runs
    /// that died left → announce. Unusable rules associate nothing: they are announced (once
    /// per distinct problem) and returned as the error.
    pub async fn run(
        &self,
        rules: std::result::Result<Rules, PolicyError>,
        target: Target,
    ) -> Result<Answer<Report>> {
        let mut rules = announce::usable(
            &self.ledger,
            &self.publisher,
            "zone rules",
            "no zone is associated",
            rules,
        )
        .await?;
        let reconcile = target == Target::Reconcile;
        let scopes = match admit(&rules, target) {
            Ok(scopes) => scopes,
            Err(triage) => return triage.answer(),
        };
        let mut report = Report {
            dry_run: self.dry_run,
            ..Report::default()
        };
        if reconcile {
            self.discover_inbound(&mut rules, &mut report).await;
        }
        let vpcs = self.read_vpcs(&scopes, reconcile, &mut report).await?;
        if !reconcile && vpcs.is_empty() && report.unreachable.is_empty() {
            let ids: Vec<&str> = scopes
                .iter()
                .flat_map(|(_, _, ids)| ids)
                .map(String::as_str)
                .collect();
            return Ok(Answer::ignored(format!(
                "{} is not a VPC of the sending account (gone, or shared into it)",
                crate::ids::few(&ids)
            )));
        }
        report.vpcs_checked = vpcs.len();
        if !reconcile && !self.dry_run && self.recent.all_settled(&rules, &vpcs) {
            tracing::info!(
                vpcs = vpcs.len(),
                "found in order under these rules within the last minute: coalesced"
            );
            return Ok(Answer::Ran(report));
        }
        // Work in proportion to what the event names: no rule applies to its VPCs, nothing is
        // read in Route 53 (the reconcile finishes what runs that died left).
        let mut zones = if reconcile || vpcs.iter().any(|v| applies(&rules, v)) {
            self.owner.catalogue(reconcile).await?
        } else {
            tracing::info!(vpcs = vpcs.len(), "no zone rule applies to these VPCs");
            vec![]
        };
        report.refused = refused(&rules, &zones);
        for r in &report.refused {
            tracing::warn!(zone_id = %r.zone_id, rule = %r.rule, reason = %r.reason, "zone refused");
        }
        let abandoned = if self.dry_run || (zones.is_empty() && rules.resolver_rules.is_empty()) {
            Vec::new()
        } else {
            let before = now_secs().saturating_sub(JOURNAL_AGE_SECS);
            self.journal.abandoned(before).await?
        };
        // The zones whose VPCs this run reads: those it may change (every managed zone for the
        // reconcile; for an event, those the rules give its VPCs), and those of changes runs
        // that died wrote down.
        let scope: BTreeSet<String> = if reconcile {
            managed(&rules, &zones)
                .into_iter()
                .map(|z| z.id.clone())
                .collect()
        } else {
            vpcs.iter()
                .flat_map(|v| wanted_ids(&rules, v, &zones))
                .collect()
        };
        let read: BTreeSet<String> = scope
            .iter()
            .cloned()
            .chain(abandoned.iter().flat_map(|(_, body)| journal_zones(body)))
            .collect();
        for zone in zones.iter_mut().filter(|z| read.contains(&z.id)) {
            zone.vpcs = self.owner.associated(&zone.id).await?;
        }
        // Resolver rules: the associations of the VPCs the document gives rules to, and of those
        // runs that died wrote down, read in their owners' accounts.
        let dead_rules: Vec<RuleIntent> = abandoned
            .iter()
            .flat_map(|(_, body)| journal_rules(body))
            .collect();
        let mut wanted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for v in vpcs.iter().filter(|v| resolver::concerns(&rules, v)) {
            wanted
                .entry((v.account.clone(), v.region.clone()))
                .or_default()
                .insert(v.vpc_id.clone());
        }
        for i in &dead_rules {
            wanted
                .entry((i.account.clone(), i.region.clone()))
                .or_default()
                .insert(i.vpc_id.clone());
        }
        let (associations, unread) = resolver::read(&self.spokes, &wanted, reconcile).await;
        for (account, region, e) in unread {
            if e.retryable() && !reconcile {
                return Err(e);
            }
            tracing::warn!(%account, %region, error = %e, "Resolver rule associations unreadable");
            report.unreachable.push(Unreachable {
                account,
                region,
                code: format!("resolver:{}", e.code().unwrap_or(e.kind())),
                problem: format!("Route 53 Resolver: {e}"),
            });
        }
        let rule_plans = resolver::plans(&rules, &vpcs, &associations);
        report.rule_outcomes = resolver::failures(&rules, &vpcs, &associations);
        let (page, journals) = self
            .write_ahead(
                &rules,
                (&vpcs, &zones),
                &rule_plans,
                (abandoned, &associations),
                &mut report,
            )
            .await?;
        let mut errors: Vec<Error> = Vec::new();
        // Authorizations this run could not remove right after using them, by (zone, VPC).
        let mut unremoved: BTreeMap<(String, String), Error> = BTreeMap::new();
        let mut pass = Leftovers {
            report: &mut report,
            errors: &mut errors,
            unremoved: &mut unremoved,
        };
        // Zones (paced by Route 53's rates in the hub and the spokes) and Resolver rules (paced
        // by each spoke's Resolver rate) side by side: neither waits on the other's rate.
        let ((), (rule_outcomes, rule_errors)) = tokio::join!(
            self.apply_plans(&rules, &vpcs, &mut zones, &mut pass),
            resolver::apply(&self.spokes, &rule_plans, self.dry_run),
        );
        pass.report.rule_outcomes.extend(rule_outcomes);
        pass.errors.extend(rule_errors);
        self.changes()
            .leftovers(&rules, &mut zones, &scope, &vpcs, reconcile, &mut pass)
            .await;
        // What could not be removed even on a second try: the run fails, and its retry or the
        // next reconcile removes it.
        errors.extend(unremoved.into_values());
        if !self.dry_run {
            report.on_premises = gaps(&rules, &vpcs, &zones, reconcile, &report.unreachable);
            for g in &report.on_premises {
                tracing::warn!(vpc_id = %g.vpc_id, zone_id = ?g.zone_id, problem = %g.problem, "on-premises gap");
            }
        }
        self.explain_quotas(&mut report).await;
        self.announce(&mut report, &page, &journals).await?;
        self.journal.close(&journals).await?;
        if errors.is_empty() && !self.dry_run {
            let changed: BTreeSet<&str> = report
                .outcomes
                .iter()
                .map(|o| o.vpc_id.as_str())
                .chain(report.rule_outcomes.iter().map(|o| o.vpc_id.as_str()))
                .collect();
            self.recent.settled(
                &rules,
                vpcs.iter()
                    .filter(|v| !changed.contains(v.vpc_id.as_str()))
                    .cloned(),
            );
        }
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(Answer::Ran(report)),
        }
    }

    /// With `on_premises.discover`, the VPCs of the hub's inbound Resolver endpoints in each
    /// covered region join the named ones. A region that cannot be read is reported.
    async fn discover_inbound(&self, rules: &mut Rules, report: &mut Report) {
        let Some(on_premises) = rules.on_premises.as_mut().filter(|o| o.discover) else {
            return;
        };
        for region in &rules.regions {
            match self.spokes.inbound_vpcs(&self.hub_account, region).await {
                Ok(found) => {
                    for vpc_id in found {
                        let r = VpcRef {
                            account: self.hub_account.clone(),
                            region: region.clone(),
                            vpc_id,
                        };
                        if !on_premises.inbound_vpcs.contains(&r) {
                            tracing::info!(vpc_id = %r.vpc_id, %region, "inbound Resolver endpoint VPC found");
                            on_premises.inbound_vpcs.push(r);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(%region, error = %e, "inbound Resolver endpoints unreadable");
                    report.unreachable.push(Unreachable {
                        account: self.hub_account.clone(),
                        region: region.clone(),
                        code: format!("inbound:{}", e.code().unwrap_or(e.kind())),
                        problem: format!("Route 53 Resolver endpoints: {e}"),
                    });
                }
            }
        }
    }

    /// The VPCs of each scope, with their tags. An account that cannot be read is reported
    /// unreachable and the others go on; for an event's own VPCs a passing fault is returned,
    /// so Lambda retries the event.
    async fn read_vpcs(
        &self,
        scopes: &[Scope],
        reconcile: bool,
        report: &mut Report,
    ) -> Result<Vec<Vpc>> {
        let mut vpcs: Vec<Vpc> = Vec::new();
        for (account, region, ids) in scopes {
            match self.spokes.vpcs(account, region, ids).await {
                Ok(found) => {
                    for id in ids
                        .iter()
                        .filter(|id| !found.iter().any(|v| &v.vpc_id == *id))
                    {
                        tracing::info!(%account, vpc_id = %id, "not a VPC of this account (gone, or shared into it): left alone");
                    }
                    vpcs.extend(found);
                }
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
        Ok(vpcs)
    }

    /// What runs that died (or could not announce) changed, recovered into the report to
    /// announce now; then this run's own plan written ahead, before it changes anything.
    /// Returns this run's page and every journal the run closes once it has announced.
    async fn write_ahead(
        &self,
        rules: &Rules,
        (vpcs, zones): (&[Vpc], &[Zone]),
        rule_plans: &[resolver::Plan<'_>],
        (abandoned, associations): (Vec<(String, String)>, &resolver::Associations),
        report: &mut Report,
    ) -> Result<(Page, Vec<String>)> {
        let mut journals: Vec<String> = Vec::new();
        let mut page = Page::new(vpcs);
        if self.dry_run {
            return Ok((page, journals));
        }
        for (run, body) in abandoned {
            report.outcomes.extend(recovered(&body, zones));
            let rules_written = journal_rules(&body);
            report
                .rule_outcomes
                .extend(resolver::recovered(&rules_written, associations));
            // A rule change in an account this run could not read stays written down, for a
            // run that can (the ledger keeps what this one announced from going out twice).
            if rules_written
                .iter()
                .all(|i| associations.contains_key(&(i.account.clone(), i.region.clone())))
            {
                journals.push(run);
            } else {
                tracing::warn!(%run, "a journal's Resolver rule changes could not be read back: kept for the next run");
            }
        }
        let intents: Vec<Written> = vpcs
            .iter()
            .flat_map(|vpc| {
                plan(rules, vpc, zones)
                    .into_iter()
                    .map(|step| Written::Zone(Intent::of(vpc, step)))
            })
            .chain(rule_plans.iter().flat_map(|(vpc, steps)| {
                steps.iter().map(|step| {
                    Written::Rule(RuleIntent {
                        account: vpc.account.clone(),
                        region: vpc.region.clone(),
                        vpc_id: vpc.vpc_id.clone(),
                        rule: step.clone(),
                    })
                })
            }))
            .collect();
        if !intents.is_empty() {
            page.body = serde_json::to_string(&intents)
                .map_err(|e| Error::encoding("the associator's journal", e))?;
            self.journal.open(&page.run, &page.body, now_secs()).await?;
            journals.push(page.run.clone());
        }
        Ok((page, journals))
    }

    /// Each VPC's plan carried out, each change on its own: one failure does not stop the
    /// others.
    async fn apply_plans(
        &self,
        rules: &Rules,
        vpcs: &[Vpc],
        zones: &mut [Zone],
        pass: &mut Leftovers<'_>,
    ) {
        for vpc in vpcs {
            for step in plan(rules, vpc, zones) {
                tracing::info!(account = %vpc.account, vpc_id = %vpc.vpc_id, zone_id = %step.zone_id,
                    change = ?step.change, reason = %step.reason, dry_run = self.dry_run, "planned");
                if self.dry_run {
                    pass.report
                        .outcomes
                        .push(outcome(vpc, step, Status::DryRun, None));
                    continue;
                }
                let (applied, cleanup) = self.changes().apply(vpc, &step).await;
                if let Some(e) = cleanup {
                    pass.unremoved
                        .insert((step.zone_id.clone(), vpc.vpc_id.clone()), e);
                }
                settle(pass.report, zones, pass.errors, vpc, step, applied);
            }
        }
    }

    /// Findings that hit a Route 53 quota say which, how full, and the fix; a zone's VPC quota is
    /// read once per zone (it is adjustable).
    async fn explain_quotas(&self, report: &mut Report) {
        let mut limits: BTreeMap<String, Option<(u64, u64)>> = BTreeMap::new();
        for o in &mut report.outcomes {
            let Some(finding) = o.finding.as_mut() else {
                continue;
            };
            let limit = if finding.code == "LimitsExceeded" {
                let zone = &o.step.zone_id;
                if !limits.contains_key(zone) {
                    let read = self.owner.vpc_limit(zone).await;
                    if let Err(e) = &read {
                        tracing::warn!(zone_id = %zone, error = %e, "the zone's VPC quota could not be read");
                    }
                    limits.insert(zone.clone(), read.ok());
                }
                limits[zone]
            } else {
                None
            };
            if let Some(advice) = quota_advice(&finding.code, limit) {
                finding.message = advice;
            }
        }
    }

    /// Announced once: of runs racing on the same outcome, one claims and announces it. If the
    /// announcement fails, the claims are released and this run's page is marked given up, so
    /// the retry announces from it without waiting for the run to count as dead.
    async fn announce(&self, report: &mut Report, page: &Page, journals: &[String]) -> Result<()> {
        let keys: Vec<String> = report
            .outcomes
            .iter()
            .map(Outcome::key)
            .chain(report.unreachable.iter().map(Unreachable::key))
            .chain(report.refused.iter().map(Refused::key))
            .chain(report.rule_outcomes.iter().map(RuleOutcome::key))
            .chain(report.on_premises.iter().map(Gap::key))
            .collect();
        let fresh: BTreeSet<String> = self.ledger.claim(&keys).await?.into_iter().collect();
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
        let shadowing: Vec<&Refused> = report
            .refused
            .iter()
            .filter(|r| fresh.contains(&r.key()))
            .collect();
        let rules_changed: Vec<&RuleOutcome> = report
            .rule_outcomes
            .iter()
            .filter(|o| fresh.contains(&o.key()))
            .collect();
        let gaps: Vec<&Gap> = report
            .on_premises
            .iter()
            .filter(|g| fresh.contains(&g.key()))
            .collect();
        let messages = notifications::changes(
            notifications::Fresh {
                outcomes: &new,
                rules: &rules_changed,
                unreachable: &lost,
                refused: &shadowing,
                gaps: &gaps,
            },
            self.dry_run,
        );
        if let Err(e) = self.publisher.publish_all(&messages).await {
            let claimed: Vec<String> = fresh.into_iter().collect();
            if let Err(release) = self.ledger.release(&claimed).await {
                tracing::error!(error = %release, "claims not released: these outcomes may go unannounced");
            }
            if journals.contains(&page.run)
                && let Err(mark) = self.journal.open(&page.run, &page.body, 0).await
            {
                tracing::error!(error = %mark, "journal not marked: the next reconcile after the run's timeout announces");
            }
            return Err(e);
        }
        report.announced =
            new.len() + lost.len() + shadowing.len() + rules_changed.len() + gaps.len();
        Ok(())
    }
}

/// How long after its start a run's journal counts as abandoned: past the function's timeout
/// (300 s in the template), so a live run's is never taken for a dead one's.
pub const JOURNAL_AGE_SECS: u64 = 360;

/// One change a run is about to make, as its journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Intent {
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    pub step: Step,
}

impl Intent {
    fn of(vpc: &Vpc, step: Step) -> Intent {
        Intent {
            account: vpc.account.clone(),
            region: vpc.region.clone(),
            vpc_id: vpc.vpc_id.clone(),
            step,
        }
    }
}

/// This run's page of the journal: its id, and what it wrote ahead.
struct Page {
    run: String,
    body: String,
}

impl Page {
    fn new(vpcs: &[Vpc]) -> Page {
        let started = crate::events::since_epoch().as_nanos();
        let ids: Vec<&str> = vpcs.iter().map(|v| v.vpc_id.as_str()).collect();
        Page {
            run: format!("{started:x}-{:016x}", fnv1a(ids.join(",").as_bytes())),
            body: "[]".into(),
        }
    }
}

/// Record one planned change's result: an outcome, a finding, or an error for the end.
pub(super) fn settle(
    report: &mut Report,
    zones: &mut [Zone],
    errors: &mut Vec<Error>,
    vpc: &Vpc,
    step: Step,
    applied: Result<Applied>,
) {
    match applied {
        Ok(Applied::Done) => {
            record(zones, vpc, &step);
            report.outcomes.push(outcome(vpc, step, Status::Done, None));
        }
        Ok(Applied::AlreadyDone) => {
            // Another run made the same change and announces it.
            tracing::info!(vpc_id = %vpc.vpc_id, zone_id = %step.zone_id, "already done by another run");
            record(zones, vpc, &step);
        }
        Err(e) => match finding_of(&e) {
            Some(finding) => {
                tracing::warn!(vpc_id = %vpc.vpc_id, zone_id = %step.zone_id, error = %e, "finding");
                report
                    .outcomes
                    .push(outcome(vpc, step, Status::Finding, Some(finding)));
            }
            None => {
                tracing::error!(vpc_id = %vpc.vpc_id, zone_id = %step.zone_id, error = %e, "not applied");
                errors.push(e);
            }
        },
    }
}

/// One change as a journal keeps it: to a zone, or to a VPC's Resolver rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Written {
    Zone(Intent),
    Rule(RuleIntent),
}

/// Pure: what a journal holds (nothing, said in the log, if it cannot be read).
fn journal(body: &str) -> Vec<Written> {
    serde_json::from_str(body).unwrap_or_else(|e| {
        tracing::error!(error = %e, "unreadable journal skipped");
        Vec::new()
    })
}

fn journal_intents(body: &str) -> impl Iterator<Item = Intent> {
    journal(body).into_iter().filter_map(|w| match w {
        Written::Zone(i) => Some(i),
        Written::Rule(_) => None,
    })
}

/// Pure: the Resolver rule changes a journal holds.
fn journal_rules(body: &str) -> Vec<RuleIntent> {
    journal(body)
        .into_iter()
        .filter_map(|w| match w {
            Written::Rule(i) => Some(i),
            Written::Zone(_) => None,
        })
        .collect()
}

/// Pure: the zones a journal's changes are about.
fn journal_zones(body: &str) -> BTreeSet<String> {
    journal_intents(body).map(|i| i.step.zone_id).collect()
}

/// Pure: of what a run wrote ahead, the changes the zones show were made, as outcomes to
/// announce (the ledger's claim keeps one announced twice from going out again).
pub fn recovered(body: &str, zones: &[Zone]) -> Vec<Outcome> {
    journal_intents(body)
        .filter(|i| {
            let pair = (i.vpc_id.clone(), i.region.clone());
            let zone = zones.iter().find(|z| z.id == i.step.zone_id);
            match i.step.change {
                Change::Associate => zone.is_some_and(|z| z.vpcs.contains(&pair)),
                Change::Disassociate => zone.is_some_and(|z| !z.vpcs.contains(&pair)),
                Change::Deauthorize => false,
            }
        })
        .map(|i| Outcome {
            account: i.account,
            region: i.region,
            vpc_id: i.vpc_id,
            step: i.step,
            status: Status::Done,
            finding: None,
        })
        .collect()
}

pub(super) fn outcome(vpc: &Vpc, step: Step, status: Status, finding: Option<Finding>) -> Outcome {
    Outcome {
        account: vpc.account.clone(),
        region: vpc.region.clone(),
        vpc_id: vpc.vpc_id.clone(),
        step,
        status,
        finding,
    }
}

/// Keep the in-memory catalogue true after a change (the last-VPC rule reads it).
fn record(zones: &mut [Zone], vpc: &Vpc, step: &Step) {
    if let Some(zone) = zones.iter_mut().find(|z| z.id == step.zone_id) {
        let pair = (vpc.vpc_id.clone(), vpc.region.clone());
        match step.change {
            Change::Associate => zone.vpcs.insert(pair),
            Change::Disassociate => zone.vpcs.remove(&pair),
            Change::Deauthorize => false,
        };
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

    /// The associator end to end, on in-memory ports.
    mod engine {
        use super::*;
        use crate::fakes::{MemoryLedger, MemoryPublisher};
        use crate::private_zones::fakes::{FakeRoute53, MemoryJournal};
        use std::collections::BTreeMap;

        const HUB: &str = "111111111111";
        const SPOKE: &str = "222222222222";
        const ZONE: &str = "Z0HUB";

        fn rules() -> Rules {
            Rules::parse(&format!(
                r#"{{"version": 1, "accounts": ["{HUB}", "{SPOKE}"], "regions": ["us-east-1"], "rules": [{{"zones": ["{ZONE}"]}}]}}"#
            ))
            .unwrap()
        }

        fn estate() -> FakeRoute53 {
            let zone = Zone {
                id: ZONE.into(),
                name: "internal.example.".into(),
                tags: BTreeMap::new(),
                vpcs: [("vpc-0hub".to_owned(), "us-east-1".to_owned())].into(),
            };
            let vpc = |account: &str, id: &str| Vpc {
                account: account.into(),
                region: "us-east-1".into(),
                vpc_id: id.into(),
                tags: BTreeMap::new(),
            };
            FakeRoute53::new(
                vec![zone],
                vec![
                    vpc(HUB, "vpc-0hub"),
                    vpc(HUB, "vpc-0new"),
                    vpc(SPOKE, "vpc-0spoke"),
                ],
            )
        }

        type Fake =
            Associator<FakeRoute53, FakeRoute53, MemoryLedger, MemoryJournal, MemoryPublisher>;

        /// A reconcile that ran (and did not fail).
        async fn reconciled(a: &Fake) -> Report {
            a.run(Ok(rules()), Target::Reconcile)
                .await
                .unwrap()
                .ran()
                .unwrap()
        }

        fn associator(r53: &FakeRoute53, dry_run: bool) -> Fake {
            Associator {
                owner: r53.clone(),
                spokes: r53.clone(),
                ledger: MemoryLedger::default(),
                journal: MemoryJournal::default(),
                publisher: MemoryPublisher::default(),
                hub_account: HUB.into(),
                dry_run,
                recent: Recent::default(),
            }
        }

        #[tokio::test]
        async fn the_hub_associates_directly_and_a_spoke_through_an_authorization_it_then_removes()
        {
            let r53 = estate();
            let a = associator(&r53, false);
            let report = reconciled(&a).await;
            assert_eq!(report.outcomes.len(), 2);
            assert_eq!(
                r53.state().calls,
                [
                    "associate Z0HUB vpc-0new",
                    "authorize Z0HUB vpc-0spoke",
                    "spoke-associate Z0HUB vpc-0spoke",
                    "deauthorize Z0HUB vpc-0spoke",
                ]
            );
            assert!(r53.state().authorizations.is_empty());
            assert_eq!(a.publisher.titles(), ["Private hosted zones: 2 associated"]);
            // Everything is associated: the next reconcile changes and announces nothing.
            let again = reconciled(&a).await;
            assert!(again.outcomes.is_empty());
            assert_eq!(r53.state().calls.len(), 4);
            assert_eq!(a.publisher.titles().len(), 1);
        }

        #[tokio::test]
        async fn a_refusal_that_is_a_fact_is_a_finding_announced_once() {
            let r53 = estate();
            r53.state()
                .refuse
                .insert("spoke-associate", "ConflictingDomainExists");
            let a = associator(&r53, false);
            for _ in 0..2 {
                let report = reconciled(&a).await;
                let finding = report
                    .outcomes
                    .iter()
                    .find(|o| o.vpc_id == "vpc-0spoke")
                    .unwrap();
                assert_eq!(finding.status, Status::Finding);
            }
            // The authorization is removed even though the associate failed.
            assert!(r53.state().authorizations.is_empty());
            let titles = a.publisher.titles();
            assert_eq!(
                titles,
                ["Private hosted zones: 1 associated, 1 not associated"]
            );
        }

        #[tokio::test]
        async fn a_zone_at_its_vpc_quota_is_a_finding_that_gives_the_quota_read_from_route53() {
            let r53 = estate();
            r53.state().vpc_limit = 400;
            r53.state()
                .refuse
                .insert("spoke-associate", "LimitsExceeded");
            let a = associator(&r53, false);
            let report = reconciled(&a).await;
            let finding = report
                .outcomes
                .iter()
                .find_map(|o| o.finding.clone())
                .unwrap();
            assert!(
                finding.message.contains("VPCs of the 400 its quota allows"),
                "{}",
                finding.message
            );
            // Tried once: a quota is not retried.
            let tries = r53
                .state()
                .calls
                .iter()
                .filter(|c| c.starts_with("spoke-associate"))
                .count();
            assert_eq!(tries, 1);
        }

        #[tokio::test]
        async fn an_event_from_an_untrusted_account_changes_nothing() {
            let r53 = estate();
            let a = associator(&r53, false);
            let target = Target::Vpcs {
                account: "999999999999".into(),
                region: "us-east-1".into(),
                vpc_ids: vec!["vpc-0spoke".into()],
            };
            let answer = a.run(Ok(rules()), target).await.unwrap();
            assert!(
                matches!(answer, Answer::Ignored { ignored } if ignored.contains("do not trust"))
            );
            assert!(r53.state().calls.is_empty());
        }

        #[tokio::test]
        async fn an_event_reads_only_the_zones_its_vpc_can_get_and_nothing_when_no_rule_applies() {
            let r53 = estate();
            // A second zone no rule gives anyone: never read for an event.
            r53.state().zones.push(Zone {
                id: "Z0OTHER".into(),
                name: "other.example.".into(),
                tags: BTreeMap::new(),
                vpcs: [("vpc-0hub".to_owned(), "us-east-1".to_owned())].into(),
            });
            let only_tagged = Rules::parse(&format!(
                r#"{{"version": 1, "accounts": ["{HUB}", "{SPOKE}"], "regions": ["us-east-1"],
                     "rules": [{{"zones": ["{ZONE}"], "vpc_tags": {{"team": "payments"}}}}]}}"#
            ))
            .unwrap();
            let a = associator(&r53, false);
            let event = || Target::Vpcs {
                account: SPOKE.into(),
                region: "us-east-1".into(),
                vpc_ids: vec!["vpc-0spoke".into()],
            };
            // No rule applies to the untagged VPC: nothing read in the hub's Route 53.
            a.run(Ok(only_tagged), event()).await.unwrap();
            assert!(r53.state().reads.is_empty(), "{:?}", r53.state().reads);
            // The rules give it one zone: that zone's VPCs and authorizations only.
            a.run(Ok(rules()), event()).await.unwrap();
            assert_eq!(
                r53.state().reads,
                [
                    "catalogue",
                    &format!("associated {ZONE}"),
                    &format!("authorizations {ZONE}")
                ]
            );
            assert!(
                r53.state().zones[0]
                    .vpcs
                    .contains(&("vpc-0spoke".to_owned(), "us-east-1".to_owned()))
            );
            // The same event again finds it in order; a third within the minute is coalesced.
            a.run(Ok(rules()), event()).await.unwrap();
            let reads = r53.state().reads.len();
            a.run(Ok(rules()), event()).await.unwrap();
            assert_eq!(r53.state().reads.len(), reads, "coalesced");
            // Never the reconcile.
            reconciled(&a).await;
            assert!(r53.state().reads.len() > reads);
        }

        #[tokio::test]
        async fn a_dry_run_calls_nothing_that_changes() {
            let r53 = estate();
            let a = associator(&r53, true);
            a.run(Ok(rules()), Target::Reconcile).await.unwrap();
            assert!(r53.state().calls.is_empty());
            assert_eq!(
                a.publisher.titles(),
                ["[dry run] Private hosted zones: 2 would associate"]
            );
        }

        #[tokio::test]
        async fn an_authorization_a_dead_run_left_is_removed_or_finished_by_the_next_reconcile() {
            let r53 = estate();
            {
                let mut state = r53.state();
                // Associated, with its authorization left behind...
                state.zones[0]
                    .vpcs
                    .insert(("vpc-0spoke".into(), "us-east-1".into()));
                state
                    .authorizations
                    .insert((ZONE.into(), "vpc-0spoke".into()));
                // ...and one for a VPC the run never got to associate.
                state.vpcs.push(Vpc {
                    account: SPOKE.into(),
                    region: "us-east-1".into(),
                    vpc_id: "vpc-0half".into(),
                    tags: BTreeMap::new(),
                });
                state
                    .authorizations
                    .insert((ZONE.into(), "vpc-0half".into()));
            }
            let a = associator(&r53, false);
            let report = reconciled(&a).await;
            assert!(r53.state().authorizations.is_empty(), "nothing left behind");
            assert!(
                r53.state().zones[0]
                    .vpcs
                    .contains(&("vpc-0half".to_owned(), "us-east-1".to_owned()))
            );
            let verbs: Vec<(&str, Change)> = report
                .outcomes
                .iter()
                .map(|o| (o.vpc_id.as_str(), o.step.change))
                .collect();
            assert!(
                verbs.contains(&("vpc-0spoke", Change::Deauthorize)),
                "{verbs:?}"
            );
            assert!(
                verbs.contains(&("vpc-0half", Change::Associate)),
                "{verbs:?}"
            );
            assert!(
                a.publisher.titles()[0].contains("1 authorization removed"),
                "{:?}",
                a.publisher.titles()
            );
        }

        #[tokio::test]
        async fn a_delete_that_keeps_failing_after_the_associate_is_announced_and_finished_next_run()
         {
            let r53 = estate();
            r53.state().refuse.insert("deauthorize", "InternalError");
            let a = associator(&r53, false);
            let err = a.run(Ok(rules()), Target::Reconcile).await.unwrap_err();
            assert_eq!(
                err.code(),
                Some("InternalError"),
                "the run fails so Lambda retries"
            );
            assert!(
                r53.state().zones[0]
                    .vpcs
                    .contains(&("vpc-0spoke".to_owned(), "us-east-1".to_owned()))
            );
            assert_eq!(
                a.publisher.titles(),
                ["Private hosted zones: 2 associated"],
                "announced anyway"
            );
            r53.state().refuse.clear();
            let next = reconciled(&a).await;
            assert!(r53.state().authorizations.is_empty());
            assert_eq!(next.outcomes.len(), 1);
            assert_eq!(next.outcomes[0].step.change, Change::Deauthorize);
        }

        #[tokio::test]
        async fn one_refused_pair_does_not_stop_the_others() {
            let r53 = estate();
            r53.state().refuse.insert("associate", "InternalError");
            let a = associator(&r53, false);
            assert!(a.run(Ok(rules()), Target::Reconcile).await.is_err());
            // The hub's own VPC failed; the spoke's went ahead.
            assert!(
                r53.state().zones[0]
                    .vpcs
                    .contains(&("vpc-0spoke".to_owned(), "us-east-1".to_owned()))
            );
            assert_eq!(a.publisher.titles(), ["Private hosted zones: 1 associated"]);
        }

        /// A run that changed zones and could not announce them (SNS refused, or it died before
        /// it could) left its journal: the next run announces what the zones show, once.
        #[tokio::test]
        async fn changes_a_run_could_not_announce_are_announced_by_the_next_exactly_once() {
            let r53 = estate();
            let a = associator(&r53, false);
            a.publisher.fault.set("AuthorizationError");
            assert!(a.run(Ok(rules()), Target::Reconcile).await.is_err());
            assert_eq!(r53.state().zones[0].vpcs.len(), 3, "changed");
            assert!(a.publisher.titles().is_empty(), "not announced");
            assert_eq!(
                a.journal.journals.lock().unwrap().len(),
                1,
                "written ahead, kept"
            );
            let next = reconciled(&a).await;
            assert_eq!(next.announced, 2);
            assert_eq!(a.publisher.titles(), ["Private hosted zones: 2 associated"]);
            assert!(a.journal.journals.lock().unwrap().is_empty());
            a.run(Ok(rules()), Target::Reconcile).await.unwrap();
            assert_eq!(a.publisher.titles().len(), 1, "exactly once");
        }

        #[tokio::test]
        async fn a_live_runs_journal_is_left_alone_and_a_dead_ones_only_claims_what_happened() {
            let r53 = estate();
            let a = associator(&r53, false);
            let intent = |vpc: &str| Intent {
                account: SPOKE.into(),
                region: "us-east-1".into(),
                vpc_id: vpc.into(),
                step: Step {
                    zone_id: ZONE.into(),
                    zone_name: "internal.example.".into(),
                    change: Change::Associate,
                    reason: "r".into(),
                },
            };
            // A dead run planned two; one was made (the hub's VPC is associated), one was not.
            let body = serde_json::to_string(&[intent("vpc-0hub"), intent("vpc-0never")]).unwrap();
            a.journal
                .journals
                .lock()
                .unwrap()
                .insert("dead".into(), (body.clone(), 1));
            a.journal
                .journals
                .lock()
                .unwrap()
                .insert("live".into(), (body, now_secs()));
            let report = reconciled(&a).await;
            let recovered: Vec<&str> = report
                .outcomes
                .iter()
                .filter(|o| o.step.reason == "r")
                .map(|o| o.vpc_id.as_str())
                .collect();
            assert_eq!(recovered, ["vpc-0hub"]);
            let left: Vec<String> = a.journal.journals.lock().unwrap().keys().cloned().collect();
            assert_eq!(left, ["live"]);
        }
    }
}
