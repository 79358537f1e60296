//! Route 53 Resolver rules in the associator's runs: each VPC's rule associations read in its
//! owner's account (the only one that sees them), planned against the rules document
//! ([`rule_plan`]), changed one at a time, every outcome announced with the zones'.
//!
//! An associate's answer can be lost after it took effect (a timeout, a fault, a throttle on
//! the way back), and Resolver then refuses the same association as "[RSLVR-00802] Cannot
//! associate rules with same domain name with same VPC": so an associate is tried once, and a
//! lost answer or that refusal is settled by reading the VPC's associations before anything is
//! tried again. The rule there means done; another rule there is a conflict, reported.

use crate::error::{Error, Result};
use crate::private_zones::changes::Applied;
use crate::private_zones::ports::Spokes;
use crate::private_zones::rules::{
    Change, RuleAssociation, RuleStep, Rules, Vpc, failed_rules, rule_plan, wanted_rules,
};
use crate::private_zones::run::{Finding, Status, status_key};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One change to a VPC's Resolver rules, or a finding about one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    #[serde(flatten)]
    pub step: RuleStep,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
}

impl RuleOutcome {
    pub(crate) fn key(&self) -> String {
        let status = status_key(&self.status, self.finding.as_ref());
        let change = match self.step.change {
            Change::Disassociate => "disassociate",
            _ => "associate",
        };
        format!(
            "rule:{}:{}:{}:{change}:{status}",
            self.step.rule_id, self.region, self.vpc_id
        )
    }

    fn of(vpc: &Vpc, step: RuleStep, status: Status, finding: Option<Finding>) -> Self {
        RuleOutcome {
            account: vpc.account.clone(),
            region: vpc.region.clone(),
            vpc_id: vpc.vpc_id.clone(),
            step,
            status,
            finding,
        }
    }
}

/// One VPC's planned rule changes.
pub type Plan<'a> = (&'a Vpc, Vec<RuleStep>);

/// The associations read, by (account, region); an account missing here could not be read.
pub type Associations = BTreeMap<(String, String), Vec<RuleAssociation>>;

/// Pure: whether a VPC's Resolver rules need reading this run (the document gives it some).
pub fn concerns(rules: &Rules, vpc: &Vpc) -> bool {
    !wanted_rules(rules, vpc).is_empty()
}

/// Pure: what a refused rule change means, as a finding with its fix; `None` for what is not a
/// fact about the estate (a fault, a throttle past our pacing: the run fails and is retried).
pub fn finding_of(err: &Error, account: &str) -> Option<Finding> {
    let code = err.code()?;
    let text = err.to_string();
    let (code, fix) = if text.contains("RSLVR-00802") {
        (
            "RSLVR-00802",
            "another rule for the same domain name is associated with this VPC, and answers for it: disassociate that rule if this one should answer, or keep the VPC out of this rule set (accounts, vpc_tags)",
        )
    } else if text.contains("RSLVR-00804") {
        (
            "RSLVR-00804",
            "the VPC hosts the inbound endpoint the rule forwards to (queries would loop back): keep the VPC out of this rule set (accounts, vpc_tags)",
        )
    } else {
        match code {
            "LimitExceededException" => (
                code,
                "the VPC's owner has as many rule associations in this region as its quota allows (2,000 by default, counted per account): request an increase in Service Quotas (Route 53 Resolver), or remove associations no longer needed",
            ),
            "ResourceNotFoundException" => (
                code,
                "the rule is not shared with this account (or not in this region): add the account to the rule's AWS RAM resource share in the hub",
            ),
            "AccessDeniedException" => (
                code,
                "the account's role may not manage Resolver rule associations: update spoke-template.yaml there",
            ),
            "InvalidParameterException" | "InvalidRequestException" => {
                (code, "Resolver refused the request as written")
            }
            _ => return None,
        }
    };
    Some(Finding {
        code: code.to_owned(),
        message: format!("{code} in account {account}: {fix} ({text})"),
    })
}

/// Attempts at an associate whose answer was lost and which the VPC's associations show was not
/// made.
const ATTEMPTS: u32 = 4;
const PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// Read the associations of the VPCs the document gives rules to (and of those a dead run wrote
/// down), per account and region: the whole list for the reconcile, the VPCs' own otherwise. An
/// account that cannot be read is left out, with its error.
pub async fn read<S: Spokes + Sync>(
    spokes: &S,
    wanted: &BTreeMap<(String, String), BTreeSet<String>>,
    reconcile: bool,
) -> (Associations, Vec<(String, String, Error)>) {
    let mut read = Associations::new();
    let mut failed = Vec::new();
    for ((account, region), vpcs) in wanted {
        let ids: Vec<String> = if reconcile {
            Vec::new()
        } else {
            vpcs.iter().cloned().collect()
        };
        match spokes.rule_associations(account, region, &ids).await {
            Ok(found) => {
                read.insert((account.clone(), region.clone()), found);
            }
            Err(e) => failed.push((account.clone(), region.clone(), e)),
        }
    }
    (read, failed)
}

/// The plans of the VPCs whose associations were read.
pub fn plans<'a>(rules: &Rules, vpcs: &'a [Vpc], read: &Associations) -> Vec<Plan<'a>> {
    vpcs.iter()
        .filter_map(|v| {
            let known = read.get(&(v.account.clone(), v.region.clone()))?;
            Some((v, rule_plan(rules, v, known)))
        })
        .filter(|(_, steps)| !steps.is_empty())
        .collect()
}

/// Pure: associations of wanted rules that ended `FAILED`, as findings (never associated again
/// blindly: the failed association stands until someone removes it).
pub fn failures(rules: &Rules, vpcs: &[Vpc], read: &Associations) -> Vec<RuleOutcome> {
    let mut out = Vec::new();
    for v in vpcs {
        let Some(known) = read.get(&(v.account.clone(), v.region.clone())) else {
            continue;
        };
        for a in failed_rules(rules, v, known) {
            out.push(RuleOutcome::of(
                v,
                RuleStep {
                    rule_id: a.rule_id.clone(),
                    change: Change::Associate,
                    reason: "the association ended FAILED".into(),
                },
                Status::Finding,
                Some(Finding {
                    code: "FAILED".into(),
                    message: format!(
                        "FAILED in account {}: {}; Resolver does not retry it: remove the failed association (DisassociateResolverRule) and the next reconcile associates the rule again",
                        v.account,
                        if a.message.is_empty() { "no reason given" } else { &a.message }
                    ),
                }),
            ));
        }
    }
    out
}

/// Carry out the plans, each change on its own: outcomes, and the errors that should fail the
/// run (so Lambda runs it again). Each account and region has its own Resolver rate, so their
/// changes go side by side, one at a time within each.
pub async fn apply<S: Spokes + Sync>(
    spokes: &S,
    plans: &[Plan<'_>],
    dry_run: bool,
) -> (Vec<RuleOutcome>, Vec<Error>) {
    let mut groups: BTreeMap<(&str, &str), Vec<&Plan<'_>>> = BTreeMap::new();
    for plan in plans {
        groups
            .entry((plan.0.account.as_str(), plan.0.region.as_str()))
            .or_default()
            .push(plan);
    }
    let done = join_all(
        groups
            .into_values()
            .map(|group| apply_in_turn(spokes, group, dry_run))
            .collect(),
    )
    .await;
    let mut outcomes = Vec::new();
    let mut errors = Vec::new();
    for (o, e) in done {
        outcomes.extend(o);
        errors.extend(e);
    }
    (outcomes, errors)
}

/// Every future polled until each is done; their outputs in order.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, out) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = slot
                && let std::task::Poll::Ready(value) = f.as_mut().poll(cx)
            {
                *out = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// One account and region's changes, one at a time.
async fn apply_in_turn<S: Spokes + Sync>(
    spokes: &S,
    plans: Vec<&Plan<'_>>,
    dry_run: bool,
) -> (Vec<RuleOutcome>, Vec<Error>) {
    let mut outcomes = Vec::new();
    let mut errors = Vec::new();
    for (vpc, steps) in plans {
        for step in steps {
            tracing::info!(account = %vpc.account, vpc_id = %vpc.vpc_id, rule_id = %step.rule_id,
                change = ?step.change, reason = %step.reason, dry_run, "planned");
            if dry_run {
                outcomes.push(RuleOutcome::of(vpc, step.clone(), Status::DryRun, None));
                continue;
            }
            let applied = match step.change {
                Change::Disassociate => disassociate(spokes, vpc, &step.rule_id).await,
                _ => associate(spokes, vpc, &step.rule_id).await,
            };
            match applied {
                Ok(Applied::Done) => {
                    outcomes.push(RuleOutcome::of(vpc, step.clone(), Status::Done, None))
                }
                Ok(Applied::AlreadyDone) => {
                    tracing::info!(vpc_id = %vpc.vpc_id, rule_id = %step.rule_id, "already done by another run");
                }
                Err(e) => match finding_of(&e, &vpc.account) {
                    Some(finding) => {
                        tracing::warn!(vpc_id = %vpc.vpc_id, rule_id = %step.rule_id, error = %e, "finding");
                        outcomes.push(RuleOutcome::of(
                            vpc,
                            step.clone(),
                            Status::Finding,
                            Some(finding),
                        ));
                    }
                    None => {
                        tracing::error!(vpc_id = %vpc.vpc_id, rule_id = %step.rule_id, error = %e, "not applied");
                        errors.push(e);
                    }
                },
            }
        }
    }
    (outcomes, errors)
}

/// Whether the VPC has the rule associated (or being associated), as its owner lists it now.
async fn present<S: Spokes + Sync>(spokes: &S, vpc: &Vpc, rule_id: &str) -> Result<bool> {
    let now = spokes
        .rule_associations(&vpc.account, &vpc.region, std::slice::from_ref(&vpc.vpc_id))
        .await?;
    Ok(now
        .iter()
        .any(|a| a.rule_id == rule_id && a.vpc_id == vpc.vpc_id && a.status != "FAILED"))
}

/// Associate, settling an ambiguous answer by reading before trying again.
async fn associate<S: Spokes + Sync>(spokes: &S, vpc: &Vpc, rule_id: &str) -> Result<Applied> {
    let mut attempt = 0;
    loop {
        let err = match spokes
            .associate_rule(&vpc.account, &vpc.region, rule_id, &vpc.vpc_id)
            .await
        {
            Ok(()) => return Ok(Applied::Done),
            Err(e) => e,
        };
        let ambiguous = err.retryable();
        let exists = err.code() == Some("ResourceExistsException")
            || err.to_string().contains("RSLVR-00802");
        if !ambiguous && !exists {
            return Err(err);
        }
        if present(spokes, vpc, rule_id).await? {
            // The rule is there: an earlier attempt took effect (its answer lost), or another run
            // made it; either way, announced once under the same key.
            tracing::info!(vpc_id = %vpc.vpc_id, rule_id, error = %err, "the association is there: done");
            return Ok(Applied::Done);
        }
        attempt += 1;
        if exists || attempt >= ATTEMPTS {
            return Err(err);
        }
        tracing::info!(vpc_id = %vpc.vpc_id, rule_id, error = %err, attempt, "not associated; trying again");
        tokio::time::sleep(PAUSE * 2u32.pow(attempt - 1)).await;
    }
}

async fn disassociate<S: Spokes + Sync>(spokes: &S, vpc: &Vpc, rule_id: &str) -> Result<Applied> {
    let mut attempt = 0;
    loop {
        match spokes
            .disassociate_rule(&vpc.account, &vpc.region, rule_id, &vpc.vpc_id)
            .await
        {
            Ok(()) => return Ok(Applied::Done),
            // Gone already: another run removed it.
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                return Ok(Applied::AlreadyDone);
            }
            Err(e) if e.retryable() && attempt + 1 < ATTEMPTS => {
                if !present(spokes, vpc, rule_id).await? {
                    return Ok(Applied::Done);
                }
                attempt += 1;
                tokio::time::sleep(PAUSE * 2u32.pow(attempt - 1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One rule change a run is about to make, as its journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RuleIntent {
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    pub rule: RuleStep,
}

/// Pure: of the rule changes a run wrote ahead, those the associations read show were made.
pub fn recovered(intents: &[RuleIntent], read: &Associations) -> Vec<RuleOutcome> {
    intents
        .iter()
        .filter(|i| {
            let Some(known) = read.get(&(i.account.clone(), i.region.clone())) else {
                return false;
            };
            let there = known.iter().any(|a| {
                a.vpc_id == i.vpc_id && a.rule_id == i.rule.rule_id && a.status != "FAILED"
            });
            match i.rule.change {
                Change::Disassociate => !there,
                _ => there,
            }
        })
        .map(|i| RuleOutcome {
            account: i.account.clone(),
            region: i.region.clone(),
            vpc_id: i.vpc_id.clone(),
            step: i.rule.clone(),
            status: Status::Done,
            finding: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Answer;
    use crate::fakes::{MemoryLedger, MemoryPublisher};
    use crate::private_zones::events::Target;
    use crate::private_zones::fakes::{FakeRoute53, MemoryJournal};
    use crate::private_zones::rules::Zone;
    use crate::private_zones::run::{Associator, Recent, Report};

    const HUB: &str = "111111111111";
    const SPOKE: &str = "222222222222";
    const RULE: &str = "rslvr-rr-0000000000000000a";
    const OTHER: &str = "rslvr-rr-0000000000000000b";

    fn rules(extra: &str) -> Rules {
        Rules::parse(&format!(
            r#"{{"version": 1, "accounts": ["{HUB}", "{SPOKE}"], "regions": ["us-east-1"],
                 "rules": [{{"zones": ["Z0HUB"]}}],
                 "resolver_rules": [{{"name": "corporate", "region": "us-east-1", "rule_ids": ["{RULE}"], "accounts": ["{SPOKE}"]}}]
                 {extra}}}"#
        ))
        .unwrap()
    }

    fn vpc(account: &str, id: &str, tags: &[(&str, &str)]) -> Vpc {
        Vpc {
            account: account.into(),
            region: "us-east-1".into(),
            vpc_id: id.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn estate() -> FakeRoute53 {
        let zone = Zone {
            id: "Z0HUB".into(),
            name: "internal.example.".into(),
            tags: BTreeMap::new(),
            vpcs: [("vpc-0hub".to_owned(), "us-east-1".to_owned())].into(),
        };
        let r53 = FakeRoute53::new(
            vec![zone],
            vec![vpc(HUB, "vpc-0hub", &[]), vpc(SPOKE, "vpc-0spoke", &[])],
        );
        {
            let mut s = r53.state();
            s.rule_domains.insert(RULE.into(), "corp.example.".into());
            s.rule_domains.insert(OTHER.into(), "corp.example.".into());
        }
        r53
    }

    type Fake = Associator<FakeRoute53, FakeRoute53, MemoryLedger, MemoryJournal, MemoryPublisher>;

    fn associator(r53: &FakeRoute53) -> Fake {
        Associator {
            owner: r53.clone(),
            spokes: r53.clone(),
            ledger: MemoryLedger::default(),
            journal: MemoryJournal::default(),
            publisher: MemoryPublisher::default(),
            hub_account: HUB.into(),
            dry_run: false,
            recent: Recent::default(),
        }
    }

    async fn run(a: &Fake, rules: Rules, target: Target) -> Report {
        match a.run(Ok(rules), target).await.unwrap() {
            Answer::Ran(report) => report,
            other => panic!("{other:?}"),
        }
    }

    fn created() -> Target {
        Target::Vpcs {
            account: SPOKE.into(),
            region: "us-east-1".into(),
            vpc_ids: vec!["vpc-0spoke".into()],
        }
    }

    fn mutating(r53: &FakeRoute53) -> Vec<String> {
        r53.state().calls.clone()
    }

    #[tokio::test(start_paused = true)]
    async fn accounts_are_worked_side_by_side_and_their_outputs_kept_in_order() {
        let started = tokio::time::Instant::now();
        let out = join_all(
            [3u64, 1, 2]
                .into_iter()
                .map(|s| async move {
                    tokio::time::sleep(std::time::Duration::from_secs(s)).await;
                    s
                })
                .collect(),
        )
        .await;
        assert_eq!(out, [3, 1, 2]);
        assert_eq!(
            started.elapsed(),
            std::time::Duration::from_secs(3),
            "not 6"
        );
    }

    #[test]
    fn the_document_names_rules_by_id_in_a_configured_region_for_trusted_accounts() {
        let err = Rules::parse(&format!(
            r#"{{"version": 1, "accounts": ["{HUB}"], "regions": ["us-east-1"], "rules": [],
                 "resolver_rules": [{{"region": "eu-west-1", "rule_ids": ["rr-1"], "accounts": ["{SPOKE}"]}}, {{"region": "us-east-1", "rule_ids": []}}],
                 "on_premises": {{"inbound_vpcs": [{{"account": "{SPOKE}", "region": "us-east-1", "vpc_id": "vpc-x"}}]}}}}"#
        ))
        .unwrap_err()
        .to_string();
        for expected in [
            "resolver_rules[0].rule_ids[0]: \"rr-1\" is not a Resolver rule id",
            "resolver_rules[0].region: \"eu-west-1\" is not one of the configured regions",
            "resolver_rules[0].accounts[0]: \"222222222222\" is not one of the trusted accounts",
            "resolver_rules[1].rule_ids: must name at least one rule",
            "on_premises.inbound_vpcs[0].account: \"222222222222\" is not one of the trusted accounts",
            "on_premises.inbound_vpcs[0].vpc_id: \"vpc-x\" is not a VPC id",
        ] {
            assert!(err.contains(expected), "{expected}\n{err}");
        }
    }

    #[test]
    fn the_plan_associates_what_is_missing_and_disassociates_only_managed_rules_when_asked() {
        let r = rules("");
        let spoke = vpc(SPOKE, "vpc-0spoke", &[]);
        let assoc = |rule: &str, status: &str| RuleAssociation {
            rule_id: rule.into(),
            vpc_id: "vpc-0spoke".into(),
            status: status.into(),
            message: String::new(),
        };
        let steps = rule_plan(&r, &spoke, &[]);
        assert_eq!(steps.len(), 1);
        assert_eq!(
            (steps[0].rule_id.as_str(), steps[0].change),
            (RULE, Change::Associate)
        );
        assert!(rule_plan(&r, &spoke, &[assoc(RULE, "CREATING")]).is_empty());
        assert!(
            rule_plan(&r, &spoke, &[assoc(RULE, "FAILED")]).is_empty(),
            "never again blindly"
        );
        assert_eq!(failed_rules(&r, &spoke, &[assoc(RULE, "FAILED")]).len(), 1);
        assert!(
            rule_plan(&r, &vpc(HUB, "vpc-0hub", &[]), &[]).is_empty(),
            "not the set's account"
        );
        let keep = rules(r#", "opt_out": {"tag": "private-zones", "value": "off"}"#);
        let drop =
            rules(r#", "opt_out": {"tag": "private-zones", "value": "off", "disassociate": true}"#);
        let out = vpc(SPOKE, "vpc-0spoke", &[("private-zones", "off")]);
        let both = [assoc(RULE, "COMPLETE"), assoc(OTHER, "COMPLETE")];
        assert!(rule_plan(&keep, &out, &both).is_empty());
        let dropped = rule_plan(&drop, &out, &both);
        assert_eq!(
            dropped.len(),
            1,
            "the rule the document does not manage stays"
        );
        assert_eq!(
            (dropped[0].rule_id.as_str(), dropped[0].change),
            (RULE, Change::Disassociate)
        );
    }

    #[tokio::test]
    async fn a_new_spoke_vpc_gets_its_zones_and_its_rules_in_one_run_and_a_second_run_changes_nothing()
     {
        let r53 = estate();
        let a = associator(&r53);
        let report = run(&a, rules(""), created()).await;
        assert_eq!(report.outcomes.len(), 1);
        assert_eq!(report.rule_outcomes.len(), 1);
        assert_eq!(report.rule_outcomes[0].status, Status::Done);
        assert!(mutating(&r53).contains(&format!("associate-rule {RULE} vpc-0spoke")));
        assert_eq!(
            a.publisher.titles(),
            ["Private hosted zones: 1 associated, 1 rule associated"]
        );
        let calls = mutating(&r53).len();
        let again = run(&a, rules(""), Target::Reconcile).await;
        assert!(again.rule_outcomes.is_empty() && again.outcomes.is_empty());
        assert_eq!(mutating(&r53).len(), calls, "no mutating call");
    }

    #[tokio::test]
    async fn an_associate_whose_answer_was_lost_is_read_before_it_is_tried_again() {
        let r53 = estate();
        r53.state().lose = 1;
        let a = associator(&r53);
        let report = run(&a, rules(""), created()).await;
        assert_eq!(report.rule_outcomes[0].status, Status::Done);
        let tries = mutating(&r53)
            .iter()
            .filter(|c| c.starts_with("associate-rule"))
            .count();
        assert_eq!(tries, 1, "the association was there: not tried again");
    }

    #[tokio::test]
    async fn another_rule_for_the_domain_is_a_conflict_reported_once_and_a_failed_association_a_finding()
     {
        let r53 = estate();
        r53.state().rule_associations.push((
            SPOKE.into(),
            "us-east-1".into(),
            RuleAssociation {
                rule_id: OTHER.into(),
                vpc_id: "vpc-0spoke".into(),
                status: "COMPLETE".into(),
                message: String::new(),
            },
        ));
        let a = associator(&r53);
        for _ in 0..2 {
            let report = run(&a, rules(""), Target::Reconcile).await;
            let finding = report.rule_outcomes[0].finding.clone().unwrap();
            assert_eq!(finding.code, "RSLVR-00802");
            assert!(finding.message.contains(OTHER), "{}", finding.message);
        }
        assert_eq!(a.publisher.titles().len(), 1, "announced once");
        // A failed association of a managed rule: reported, never associated again.
        {
            let mut s = r53.state();
            s.rule_associations.clear();
            s.rule_associations.push((
                SPOKE.into(),
                "us-east-1".into(),
                RuleAssociation {
                    rule_id: RULE.into(),
                    vpc_id: "vpc-0spoke".into(),
                    status: "FAILED".into(),
                    message: "[RSLVR-01901] no".into(),
                },
            ));
        }
        let calls = mutating(&r53).len();
        let report = run(&a, rules(""), Target::Reconcile).await;
        assert_eq!(
            report.rule_outcomes[0].finding.as_ref().unwrap().code,
            "FAILED"
        );
        assert_eq!(mutating(&r53).len(), calls);
    }

    #[tokio::test]
    async fn inbound_endpoint_vpcs_get_every_managed_zone_and_a_missing_one_is_reported() {
        let r53 = estate();
        {
            let mut s = r53.state();
            s.zones.push(Zone {
                id: "Z0SECOND".into(),
                name: "second.example.".into(),
                tags: BTreeMap::new(),
                vpcs: [("vpc-0hub".to_owned(), "us-east-1".to_owned())].into(),
            });
            s.vpcs.push(vpc(HUB, "vpc-0feed0bb", &[]));
            s.inbound
                .push((HUB.into(), "us-east-1".into(), "vpc-0feed0bb".into()));
        }
        let doc = r#", "on_premises": {"discover": true}"#;
        let two = |extra: &str| {
            Rules::parse(&format!(
                r#"{{"version": 1, "accounts": ["{HUB}", "{SPOKE}"], "regions": ["us-east-1"],
                     "rules": [{{"zones": ["Z0HUB"]}}, {{"zones": ["Z0SECOND"], "vpc_tags": {{"team": "x"}}}}]{extra}}}"#
            ))
            .unwrap()
        };
        let a = associator(&r53);
        run(&a, two(doc), Target::Reconcile).await;
        let zones = r53.state().zones.clone();
        let inbound = ("vpc-0feed0bb".to_owned(), "us-east-1".to_owned());
        assert!(zones.iter().all(|z| z.vpcs.contains(&inbound)), "{zones:?}");
        assert!(
            !zones[1]
                .vpcs
                .contains(&("vpc-0spoke".to_owned(), "us-east-1".to_owned()))
        );
        // A named inbound VPC that the zone will not take: the gap is reported.
        let r53 = estate();
        r53.state().vpcs.push(vpc(HUB, "vpc-0feed0bb", &[]));
        r53.state()
            .refuse
            .insert("associate", "ConflictingDomainExists");
        let a = associator(&r53);
        let named = format!(
            r#", "on_premises": {{"inbound_vpcs": [{{"account": "{HUB}", "region": "us-east-1", "vpc_id": "vpc-0feed0bb"}}, {{"account": "{HUB}", "region": "us-east-1", "vpc_id": "vpc-0aaaaaaa"}}]}}"#
        );
        let report = run(&a, two(&named), Target::Reconcile).await;
        let gaps: Vec<(&str, Option<&str>)> = report
            .on_premises
            .iter()
            .map(|g| (g.vpc_id.as_str(), g.zone_id.as_deref()))
            .collect();
        assert_eq!(
            gaps,
            [("vpc-0feed0bb", Some("Z0HUB")), ("vpc-0aaaaaaa", None)]
        );
    }

    #[tokio::test]
    async fn rule_changes_a_dead_run_made_are_announced_by_the_next() {
        let r53 = estate();
        let a = associator(&r53);
        a.publisher.fault.set("AuthorizationError");
        assert!(a.run(Ok(rules("")), created()).await.is_err());
        assert_eq!(
            r53.state().rule_associations.len(),
            1,
            "changed, not announced"
        );
        // The journal is marked given up: the next run announces what the spoke shows.
        let next = run(&a, rules(""), Target::Reconcile).await;
        assert!(
            next.rule_outcomes
                .iter()
                .any(|o| o.step.rule_id == RULE && o.status == Status::Done)
        );
        assert_eq!(
            a.publisher.titles(),
            ["Private hosted zones: 1 associated, 1 rule associated"]
        );
    }
}
