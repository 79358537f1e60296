//! What the associator announces: its changes, findings and unreachable accounts as one digest
//! (a summary and parts when there are many).

use crate::notify::digest::{Brief, Digest, Item};
use crate::notify::{EventType, Fact, Notification, Severity};
use crate::private_zones::resolver::RuleOutcome;
use crate::private_zones::rules::Change;
use crate::private_zones::rules::Refused;
use crate::private_zones::run::{Gap, Outcome, Status, Unreachable};

fn verb(o: &Outcome) -> &'static str {
    match (&o.status, o.step.change) {
        (Status::Finding, Change::Deauthorize) => "authorization not removed",
        (Status::Finding, Change::Disassociate) => "not disassociated",
        (Status::Finding, Change::Associate) => "not associated",
        (Status::DryRun, Change::Associate) => "would associate",
        (Status::DryRun, Change::Disassociate) => "would disassociate",
        (Status::DryRun, Change::Deauthorize) => "would remove authorization",
        (Status::Done, Change::Associate) => "associated",
        (Status::Done, Change::Disassociate) => "disassociated",
        (Status::Done, Change::Deauthorize) => "authorization removed",
    }
}

fn rule_verb(o: &RuleOutcome) -> &'static str {
    match (&o.status, o.step.change) {
        (Status::Finding, Change::Disassociate) => "rule not disassociated",
        (Status::Finding, _) => "rule not associated",
        (Status::DryRun, Change::Disassociate) => "would disassociate rule",
        (Status::DryRun, _) => "would associate rule",
        (Status::Done, Change::Disassociate) => "rule disassociated",
        (Status::Done, _) => "rule associated",
    }
}

/// One change to a VPC (of a zone or a Resolver rule): `(key, verb, group)`, what changed, the
/// VPC, its account and region, and why.
fn change_item(
    (key, verb, group): (String, &str, String),
    what: String,
    [vpc, account, region]: [&String; 3],
    why: &str,
) -> Item {
    Item {
        key,
        verb: verb.into(),
        group,
        line: format!("*{verb}* {what} with VPC `{vpc}` in account `{account}`, {region}: {why}"),
        brief: Some(Brief {
            head: format!("*{verb}* {what} in account `{account}`, {region}: {why}"),
            member: format!("`{vpc}`"),
        }),
        resources: vec![vpc.clone()],
        record: None,
    }
}

/// What a run announces: what nobody announced before.
pub struct Fresh<'a> {
    pub outcomes: &'a [&'a Outcome],
    pub rules: &'a [&'a RuleOutcome],
    pub unreachable: &'a [&'a Unreachable],
    pub refused: &'a [&'a Refused],
    pub gaps: &'a [&'a Gap],
}

/// The messages announcing zone changes, Resolver rule changes, unreachable accounts, refused
/// zones and on-premises gaps, in order.
pub fn changes(fresh: Fresh<'_>, dry_run: bool) -> Vec<Notification> {
    let Fresh {
        outcomes,
        rules,
        unreachable,
        refused,
        gaps,
    } = fresh;
    let mut digest = Digest::new(
        EventType::PrivateZoneAssociations,
        "Private hosted zones",
        "zones",
        &["privatelink", "route53", "private-hosted-zone"],
        dry_run,
    );
    digest.thread_id = "private-zone-associations".into();
    for o in outcomes {
        digest.push(change_item(
            (o.key(), verb(o), o.step.zone_id.clone()),
            format!("`{}` (`{}`)", o.step.zone_name, o.step.zone_id),
            [&o.vpc_id, &o.account, &o.region],
            o.finding.as_ref().map_or(&o.step.reason, |f| &f.message),
        ));
    }
    for o in rules {
        digest.push(change_item(
            (o.key(), rule_verb(o), o.step.rule_id.clone()),
            format!("Resolver rule `{}`", o.step.rule_id),
            [&o.vpc_id, &o.account, &o.region],
            o.finding.as_ref().map_or(&o.step.reason, |f| &f.message),
        ));
    }
    for g in gaps {
        digest.push(Item {
            key: g.key(),
            verb: "not resolvable from on-premises".into(),
            group: g.vpc_id.clone(),
            line: format!(
                "*on-premises* inbound endpoint VPC `{}` in account `{}`, {}: {}",
                g.vpc_id, g.account, g.region, g.problem
            ),
            brief: None,
            resources: vec![g.vpc_id.clone()],
            record: None,
        });
    }
    for u in unreachable {
        digest.push(Item {
            key: u.key(),
            verb: "accounts unreachable".into(),
            group: format!("account {}", u.account),
            line: format!(
                "*unreachable* account `{}`, {}: {}",
                u.account, u.region, u.problem
            ),
            brief: None,
            resources: Vec::new(),
            record: None,
        });
    }
    for r in refused {
        digest.push(Item {
            key: r.key(),
            verb: "zones refused".into(),
            group: r.zone_id.clone(),
            line: format!(
                "*refused* `{}` (`{}`) for {}: {}",
                r.zone_name, r.zone_id, r.rule, r.reason
            ),
            brief: None,
            resources: vec![r.zone_id.clone()],
            record: None,
        });
    }
    let rule_findings = rules.iter().any(|o| o.status == Status::Finding);
    let findings = outcomes.iter().any(|o| o.status == Status::Finding)
        || rule_findings
        || !gaps.is_empty()
        || !unreachable.is_empty()
        || !refused.is_empty();
    if findings {
        digest.severity = Severity::Warning;
    }
    digest.step(findings, "Findings are not retried: ConflictingDomainExists means the VPC already has a zone of that name; LimitsExceeded, that the zone has as many VPCs as its quota allows (raise the quota or use a Route 53 Profile); TooManyVPCAssociationAuthorizations, that the zone has 100 authorizations standing (remove those no longer needed); NotAuthorizedException or AccessDenied, that the spoke role or authorization is missing.");
    digest.step(rule_findings, "Resolver rule findings are not retried: each says the AWS code and the fix (RSLVR-00802: another rule for the same domain is on the VPC; RSLVR-00804: the VPC hosts the inbound endpoint the rule forwards to; LimitExceededException: the VPC owner's 2,000 associations per region; ResourceNotFoundException: the rule is not shared with the account; FAILED: remove the failed association and the next reconcile associates again).");
    digest.step(!gaps.is_empty(), "On-premises resolves the estate's private names only through the inbound Resolver endpoints' VPCs: associate the missing zones with them (the findings above say why they are not), or correct on_premises in the zone rules.");
    digest.step(!refused.is_empty(), "Refused zones are not shared: a zone selected by tag must be named under the rule's domains. Add its domain to the rule if it is meant to be shared, or remove the tag.");
    digest.step(!unreachable.is_empty(), "Unreachable accounts were skipped: deploy spoke-template.yaml there (the role the hub assumes), or remove the account from the zone rules.");
    digest.step(
        dry_run,
        "Dry run: nothing was changed. Set DRY_RUN=false to apply.",
    );
    if let ([single], [], [], [], []) = (outcomes, unreachable, refused, rules, gaps) {
        digest.single_facts([
            (Fact::Account, single.account.clone()),
            (Fact::Vpc, single.vpc_id.clone()),
            (Fact::Region, single.region.clone()),
            (
                Fact::Zone,
                format!("{} ({})", single.step.zone_name, single.step.zone_id),
            ),
            (Fact::ZoneId, single.step.zone_id.clone()),
            (Fact::Decision, verb(single).to_owned()),
        ]);
    }
    digest.notifications()
}
