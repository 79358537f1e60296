//! Zone-sharing rules: which Route 53 private hosted zones go to which VPCs. [`plan`] is pure:
//! rules + a VPC + the zone catalogue → what to associate or disassociate, each with its reason.
//!
//! ```json
//! {
//!   "version": 1,
//!   "accounts": ["111111111111", "222222222222"],
//!   "regions": ["us-east-1"],
//!   "rules": [
//!     { "name": "shared services", "zones": ["Z0123456789ABCDEFGHIJ"] },
//!     { "name": "payments", "zone_tags": { "share": "payments" }, "domains": ["payments.internal"],
//!       "accounts": ["222222222222"], "vpc_tags": { "team": "payments" } }
//!   ],
//!   "resolver_rules": [
//!     { "name": "corporate", "region": "us-east-1", "rule_ids": ["rslvr-rr-0123456789abcdef0"] }
//!   ],
//!   "on_premises": { "inbound_vpcs": [], "discover": true },
//!   "opt_out": { "tag": "private-zones", "value": "off", "disassociate": false }
//! }
//! ```
//!
//! `resolver_rules` gives the hub's Route 53 Resolver rules (shared with the accounts through
//! AWS RAM) to VPCs as `rules` gives zones; [`rule_plan`] is its pure plan. `on_premises` names
//! the VPCs of the inbound Resolver endpoints (and, with `discover`, the reconcile finds the
//! hub's): each gets every managed zone, so the data centre resolves them.

use crate::documents::PolicyError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Validated rules; only [`Rules::parse`] makes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    version: u32,
    /// Spoke accounts whose VPCs (and events) are trusted. The hub's own account must be listed
    /// too if its VPCs are to be served.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub rules: Vec<ZoneRule>,
    /// Resolver rules and the VPCs that get them.
    #[serde(default)]
    pub resolver_rules: Vec<RuleSet>,
    /// The VPCs on-premises resolves the zones through.
    #[serde(default)]
    pub on_premises: Option<OnPremises>,
    #[serde(default)]
    pub opt_out: Option<OptOut>,
}

/// Route 53 Resolver rules of the hub (forwarding or system rules, shared with the spokes
/// through AWS RAM), associated by each VPC's owner.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    #[serde(default)]
    pub name: Option<String>,
    /// Rules by id (`rslvr-rr-…`), every one of `region`: a rule is regional.
    pub rule_ids: Vec<String>,
    pub region: String,
    /// Only VPCs in these accounts (default: every trusted account).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Only VPCs carrying every one of these tags.
    #[serde(default)]
    pub vpc_tags: BTreeMap<String, String>,
}

/// Where on-premises resolves the estate's names: the VPCs of the inbound Resolver endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OnPremises {
    /// VPCs hosting inbound endpoints, wherever they are (a trusted account, a covered region).
    #[serde(default)]
    pub inbound_vpcs: Vec<VpcRef>,
    /// Also the VPCs of the hub's own `INBOUND` endpoints in each covered region, found by the
    /// reconcile (`route53resolver:ListResolverEndpoints`).
    #[serde(default)]
    pub discover: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Ord, PartialOrd, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VpcRef {
    pub account: String,
    pub region: String,
    pub vpc_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneRule {
    #[serde(default)]
    pub name: Option<String>,
    /// Zones by id.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Zones carrying every one of these tags, and named at or under one of `domains`.
    #[serde(default)]
    pub zone_tags: BTreeMap<String, String>,
    /// The names zones selected by tag may have (required with `zone_tags`): whoever can tag a
    /// zone in the hub does not thereby choose what names the spokes resolve.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Only VPCs in these accounts (default: every trusted account).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Only VPCs in these regions (default: every configured region).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Only VPCs carrying every one of these tags.
    #[serde(default)]
    pub vpc_tags: BTreeMap<String, String>,
}

/// A VPC tag that takes a VPC out of every rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    pub tag: String,
    pub value: String,
    /// Also disassociate the zones the rules would give it (never a zone's last VPC).
    #[serde(default)]
    pub disassociate: bool,
}

impl Rules {
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        crate::documents::no_duplicate_keys(text)?;
        let rules: Rules =
            serde_json::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        let problems = rules.problems();
        if problems.is_empty() {
            Ok(rules)
        } else {
            Err(PolicyError::Invalid(problems))
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.version != 1 {
            p.push(format!("version: must be 1, not {}", self.version));
        }
        if self.accounts.is_empty() {
            p.push("accounts: must name at least one account".into());
        }
        let bad_account = |a: &String| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit());
        for (i, a) in self
            .accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| bad_account(a))
        {
            p.push(format!("accounts[{i}]: {a:?} is not a 12-digit account id"));
        }
        if self.regions.is_empty() {
            p.push("regions: must name at least one region".into());
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if rule.zones.is_empty() && rule.zone_tags.is_empty() {
                p.push(format!("{at}: name zones, zone_tags or both"));
            }
            if !rule.zone_tags.is_empty() && rule.domains.is_empty() {
                p.push(format!(
                    "{at}: zone_tags needs domains, the names the tagged zones may have (anyone who can tag a zone would otherwise choose what the VPCs resolve)"
                ));
            }
            for (j, d) in rule.domains.iter().enumerate() {
                if let Some(why) = unsharable(d) {
                    p.push(format!("{at}.domains[{j}]: {d:?} {why}"));
                }
            }
            for (j, z) in rule.zones.iter().enumerate() {
                if z.is_empty()
                    || !z
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    p.push(format!(
                        "{at}.zones[{j}]: {z:?} is not a hosted zone id (Z…)"
                    ));
                }
            }
            for (j, a) in rule.accounts.iter().enumerate() {
                if !self.accounts.contains(a) {
                    p.push(format!(
                        "{at}.accounts[{j}]: {a:?} is not one of the trusted accounts"
                    ));
                }
            }
            for (j, r) in rule.regions.iter().enumerate() {
                if !self.regions.contains(r) {
                    p.push(format!(
                        "{at}.regions[{j}]: {r:?} is not one of the configured regions"
                    ));
                }
            }
        }
        for (i, set) in self.resolver_rules.iter().enumerate() {
            let at = format!("resolver_rules[{i}]");
            if set.rule_ids.is_empty() {
                p.push(format!("{at}.rule_ids: must name at least one rule"));
            }
            for (j, r) in set.rule_ids.iter().enumerate() {
                if !crate::ids::is_id(r, "rslvr-rr-") {
                    p.push(format!(
                        "{at}.rule_ids[{j}]: {r:?} is not a Resolver rule id (rslvr-rr-…)"
                    ));
                }
            }
            if !self.regions.contains(&set.region) {
                p.push(format!(
                    "{at}.region: {:?} is not one of the configured regions",
                    set.region
                ));
            }
            for (j, a) in set.accounts.iter().enumerate() {
                if !self.accounts.contains(a) {
                    p.push(format!(
                        "{at}.accounts[{j}]: {a:?} is not one of the trusted accounts"
                    ));
                }
            }
        }
        for (i, v) in self
            .on_premises
            .iter()
            .flat_map(|o| o.inbound_vpcs.iter())
            .enumerate()
        {
            let at = format!("on_premises.inbound_vpcs[{i}]");
            if !self.accounts.contains(&v.account) {
                p.push(format!(
                    "{at}.account: {:?} is not one of the trusted accounts",
                    v.account
                ));
            }
            if !self.regions.contains(&v.region) {
                p.push(format!(
                    "{at}.region: {:?} is not one of the configured regions",
                    v.region
                ));
            }
            if !crate::ids::is_id(&v.vpc_id, "vpc-") {
                p.push(format!("{at}.vpc_id: {:?} is not a VPC id", v.vpc_id));
            }
        }
        if let Some(o) = &self.opt_out
            && o.tag.trim().is_empty()
        {
            p.push("opt_out.tag: must not be empty".into());
        }
        p
    }

    pub fn trusts_account(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a == account)
    }

    pub fn covers_region(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }
}

/// A VPC, as its owner's account describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vpc {
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    pub tags: BTreeMap<String, String>,
}

/// A private hosted zone of the hub, with the VPCs it is associated with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// (VPC id, region) pairs.
    pub vpcs: BTreeSet<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Associate,
    Disassociate,
    /// Remove an authorization left behind (the pair is associated, or not wanted).
    Deauthorize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub zone_id: String,
    pub zone_name: String,
    pub change: Change,
    pub reason: String,
}

/// Domains under which AWS's own service names live: a rule may name one of their service names
/// (`ssm.us-east-1.amazonaws.com`, for a shared interface endpoint), never the whole domain.
const AWS_DOMAINS: &[&str] = &[
    "amazonaws.com",
    "amazonaws.com.cn",
    "api.aws",
    "aws",
    "amazon.com",
];

/// A name without its trailing dot, lowercased.
fn bare(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Why a domain cannot be a rule's `domains` entry, if it cannot.
fn unsharable(domain: &str) -> Option<&'static str> {
    let d = bare(domain);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if d.is_empty() || d.len() > 253 || !d.split('.').all(label_ok) {
        Some("is not a domain name")
    } else if !d.contains('.') || AWS_DOMAINS.contains(&d.as_str()) {
        Some(
            "would let a tagged zone shadow every public or AWS name under it: name the zones' own domains",
        )
    } else {
        None
    }
}

/// Whether `name` is `domain` or a name under it.
fn under(name: &str, domain: &str) -> bool {
    let (name, domain) = (bare(name), bare(domain));
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// A zone a rule's tags select but its domains do not allow: refused, and said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub zone_id: String,
    pub zone_name: String,
    pub rule: String,
    pub reason: String,
}

#[cfg(feature = "private-zones")]
impl Refused {
    pub(crate) fn key(&self) -> String {
        format!("zone-refused:{}:{}", self.zone_id, self.rule)
    }
}

/// Pure: zones carrying a rule's `zone_tags` whose names lie outside its `domains`.
pub fn refused(rules: &Rules, zones: &[Zone]) -> Vec<Refused> {
    let mut out = Vec::new();
    for (i, rule) in rules.rules.iter().enumerate() {
        if rule.zone_tags.is_empty() {
            continue;
        }
        for z in zones {
            if has_tags(&z.tags, &rule.zone_tags) && !rule.domains.iter().any(|d| under(&z.name, d))
            {
                out.push(Refused {
                    zone_id: z.id.clone(),
                    zone_name: z.name.clone(),
                    rule: label(i, rule),
                    reason: format!(
                        "{} carries the rule's zone tags but is not under its domains ({})",
                        z.name,
                        rule.domains.join(", ")
                    ),
                });
            }
        }
    }
    out
}

fn has_tags(have: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

fn label(i: usize, rule: &ZoneRule) -> String {
    rule.name.as_ref().map_or_else(
        || format!("rule {}", i + 1),
        |n| format!("rule {} ({n})", i + 1),
    )
}

/// Zones a rule selects from the catalogue: by id, always; by tag, only under its domains.
fn selects<'a>(rule: &'a ZoneRule, zones: &'a [Zone]) -> impl Iterator<Item = &'a Zone> {
    zones.iter().filter(|z| {
        rule.zones.contains(&z.id)
            || (!rule.zone_tags.is_empty()
                && has_tags(&z.tags, &rule.zone_tags)
                && rule.domains.iter().any(|d| under(&z.name, d)))
    })
}

/// The zones some rule selects: those whose authorizations the associator looks after.
pub fn managed<'a>(rules: &'a Rules, zones: &'a [Zone]) -> Vec<&'a Zone> {
    zones
        .iter()
        .filter(|z| {
            rules
                .rules
                .iter()
                .any(|r| selects(r, std::slice::from_ref(*z)).next().is_some())
        })
        .collect()
}

/// What to do with an authorization found on `zone` for a VPC: finish the association the rules
/// want, or remove it. `vpc` is the VPC as read from its account (`None`: not found there);
/// `complete_knowledge` says whether every trusted VPC was read (a reconcile), so that a VPC not
/// found is truly not one the rules serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// Associate it (the rules want it), then remove the authorization.
    Complete(Step),
    /// Remove the authorization, for this reason.
    Remove(Step),
    /// Not enough known this run: leave it to the reconcile.
    Leave,
}

pub fn leftover(
    rules: &Rules,
    zones: &[Zone],
    zone: &Zone,
    pair: &(String, String),
    vpc: Option<&Vpc>,
    complete_knowledge: bool,
) -> Leftover {
    let remove = |reason: String| {
        Leftover::Remove(Step {
            zone_id: zone.id.clone(),
            zone_name: zone.name.clone(),
            change: Change::Deauthorize,
            reason,
        })
    };
    if zone.vpcs.contains(pair) {
        return remove("the VPC is associated; its authorization was left behind".into());
    }
    match vpc {
        Some(v) => match plan(rules, v, zones)
            .into_iter()
            .find(|s| s.zone_id == zone.id && s.change == Change::Associate)
        {
            Some(step) => Leftover::Complete(step),
            None => remove("the rules do not give this zone to the VPC".into()),
        },
        None if complete_knowledge => {
            remove("no VPC of a trusted account in a covered region has this id".into())
        }
        None => Leftover::Leave,
    }
}

/// The rules that apply to a VPC (its account, region and tags), with their index; none for a
/// VPC of an untrusted account or an uncovered region.
fn applying<'a>(rules: &'a Rules, vpc: &'a Vpc) -> impl Iterator<Item = (usize, &'a ZoneRule)> {
    let served = served(rules, vpc);
    rules.rules.iter().enumerate().filter(move |(_, rule)| {
        served
            && (rule.accounts.is_empty() || rule.accounts.contains(&vpc.account))
            && (rule.regions.is_empty() || rule.regions.contains(&vpc.region))
            && has_tags(&vpc.tags, &rule.vpc_tags)
    })
}

fn served(rules: &Rules, vpc: &Vpc) -> bool {
    rules.trusts_account(&vpc.account) && rules.covers_region(&vpc.region)
}

/// Pure: whether the VPC hosts one of the estate's inbound Resolver endpoints (named, or found
/// and added by the run): it gets every managed zone.
pub fn is_inbound(rules: &Rules, vpc: &Vpc) -> bool {
    served(rules, vpc)
        && rules.on_premises.as_ref().is_some_and(|o| {
            o.inbound_vpcs.iter().any(|v| {
                v.vpc_id == vpc.vpc_id && v.account == vpc.account && v.region == vpc.region
            })
        })
}

/// Pure: whether any zone rule applies to the VPC (whatever zones it selects), or it hosts an
/// inbound endpoint. A run about VPCs none applies to has nothing to read in Route 53.
pub fn applies(rules: &Rules, vpc: &Vpc) -> bool {
    applying(rules, vpc).next().is_some() || is_inbound(rules, vpc)
}

/// Zones the rules give this VPC, ignoring opt-out, with the first rule that gives each.
fn wanted<'a>(
    rules: &'a Rules,
    vpc: &'a Vpc,
    zones: &'a [Zone],
) -> BTreeMap<&'a str, (&'a Zone, String)> {
    let mut wanted: BTreeMap<&str, (&Zone, String)> = BTreeMap::new();
    for (i, rule) in applying(rules, vpc) {
        for zone in selects(rule, zones) {
            wanted
                .entry(zone.id.as_str())
                .or_insert_with(|| (zone, label(i, rule)));
        }
    }
    if is_inbound(rules, vpc) {
        for zone in managed(rules, zones) {
            wanted.entry(zone.id.as_str()).or_insert_with(|| {
                (
                    zone,
                    "on_premises (the VPC hosts an inbound Resolver endpoint)".into(),
                )
            });
        }
    }
    wanted
}

/// Pure: the ids of the zones the rules give this VPC: the only zones whose VPCs a run about
/// it needs to read.
pub fn wanted_ids(rules: &Rules, vpc: &Vpc, zones: &[Zone]) -> BTreeSet<String> {
    wanted(rules, vpc, zones)
        .into_keys()
        .map(str::to_owned)
        .collect()
}

/// What to change for one VPC. Pairs already associated are no-ops and produce no step.
pub fn plan(rules: &Rules, vpc: &Vpc, zones: &[Zone]) -> Vec<Step> {
    let key = (vpc.vpc_id.clone(), vpc.region.clone());
    let wanted = wanted(rules, vpc, zones);
    let opted_out = opted_out(rules, vpc);
    let mut steps = Vec::new();
    for (zone, rule) in wanted.into_values() {
        let associated = zone.vpcs.contains(&key);
        match opted_out {
            None if !associated => steps.push(Step {
                zone_id: zone.id.clone(),
                zone_name: zone.name.clone(),
                change: Change::Associate,
                reason: format!("{rule} gives {} to this VPC", zone.name),
            }),
            Some(o) if o.disassociate && associated && zone.vpcs.len() > 1 => steps.push(Step {
                zone_id: zone.id.clone(),
                zone_name: zone.name.clone(),
                change: Change::Disassociate,
                reason: format!("the VPC opted out with tag {}={}", o.tag, o.value),
            }),
            _ => {}
        }
    }
    steps
}

/// A Resolver rule association of a VPC, as its owner's account lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleAssociation {
    pub rule_id: String,
    pub vpc_id: String,
    /// `CREATING`, `COMPLETE`, `FAILED`, `DELETING`, `OVERRIDDEN`.
    pub status: String,
    pub message: String,
}

/// One change to a VPC's Resolver rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStep {
    pub rule_id: String,
    pub change: Change,
    pub reason: String,
}

/// The rule sets that apply to a VPC (its account, region and tags), opt-out aside.
fn rule_sets<'a>(rules: &'a Rules, vpc: &'a Vpc) -> impl Iterator<Item = (usize, &'a RuleSet)> {
    let served = served(rules, vpc);
    rules
        .resolver_rules
        .iter()
        .enumerate()
        .filter(move |(_, set)| {
            served
                && set.region == vpc.region
                && (set.accounts.is_empty() || set.accounts.contains(&vpc.account))
                && has_tags(&vpc.tags, &set.vpc_tags)
        })
}

/// Pure: the Resolver rules the document gives this VPC (opt-out aside), with the first set that
/// gives each.
pub fn wanted_rules(rules: &Rules, vpc: &Vpc) -> BTreeMap<String, String> {
    let mut wanted = BTreeMap::new();
    for (i, set) in rule_sets(rules, vpc) {
        let label = set.name.as_ref().map_or_else(
            || format!("resolver rule set {}", i + 1),
            |n| format!("resolver rule set {} ({n})", i + 1),
        );
        for id in &set.rule_ids {
            wanted.entry(id.clone()).or_insert_with(|| label.clone());
        }
    }
    wanted
}

fn opted_out<'a>(rules: &'a Rules, vpc: &Vpc) -> Option<&'a OptOut> {
    rules
        .opt_out
        .as_ref()
        .filter(|o| vpc.tags.get(&o.tag) == Some(&o.value))
}

/// Pure: what to change in one VPC's Resolver rules, given its associations. A wanted rule
/// without an association is associated; one that is `CREATING` or `COMPLETE` is in place; a
/// `FAILED` one is left for [`failed_rules`] to report (never associated again blindly). An
/// opted-out VPC gets nothing, and loses the document's rules only with `disassociate`: a rule
/// the document does not give it is never touched.
pub fn rule_plan(rules: &Rules, vpc: &Vpc, associations: &[RuleAssociation]) -> Vec<RuleStep> {
    let has = |rule: &str| {
        associations
            .iter()
            .find(|a| a.rule_id == rule && a.vpc_id == vpc.vpc_id)
    };
    let mut steps = Vec::new();
    for (rule_id, set) in wanted_rules(rules, vpc) {
        let found = has(&rule_id);
        match opted_out(rules, vpc) {
            None if found.is_none() => steps.push(RuleStep {
                reason: format!("{set} gives {rule_id} to this VPC"),
                rule_id,
                change: Change::Associate,
            }),
            Some(o) if o.disassociate && found.is_some_and(|a| a.status != "DELETING") => steps
                .push(RuleStep {
                    rule_id,
                    change: Change::Disassociate,
                    reason: format!("the VPC opted out with tag {}={}", o.tag, o.value),
                }),
            _ => {}
        }
    }
    steps
}

/// Pure: the VPC's associations of rules the document gives it that ended `FAILED`.
pub fn failed_rules<'a>(
    rules: &Rules,
    vpc: &Vpc,
    associations: &'a [RuleAssociation],
) -> Vec<&'a RuleAssociation> {
    if opted_out(rules, vpc).is_some() {
        return Vec::new();
    }
    let wanted = wanted_rules(rules, vpc);
    associations
        .iter()
        .filter(|a| a.vpc_id == vpc.vpc_id && a.status == "FAILED")
        .filter(|a| wanted.contains_key(&a.rule_id))
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_leftover_authorization_is_finished_where_wanted_and_removed_otherwise() {
        let rules = Rules::parse(
            r#"{"version": 1, "accounts": ["111111111111"], "regions": ["us-east-1"], "rules": [{"zones": ["Z1"]}]}"#,
        )
        .unwrap();
        let pair = |v: &str| (v.to_owned(), "us-east-1".to_owned());
        let zone = Zone {
            id: "Z1".into(),
            name: "internal.".into(),
            tags: BTreeMap::new(),
            vpcs: [pair("vpc-in")].into(),
        };
        let zones = [zone.clone()];
        let vpc = |id: &str, account: &str| Vpc {
            account: account.into(),
            region: "us-east-1".into(),
            vpc_id: id.into(),
            tags: BTreeMap::new(),
        };
        let is = |l: Leftover, change| match l {
            Leftover::Complete(s) | Leftover::Remove(s) => s.change == change,
            Leftover::Leave => false,
        };
        let done = leftover(&rules, &zones, &zone, &pair("vpc-in"), None, false);
        assert!(is(done, Change::Deauthorize), "associated: removed");
        let wanted = vpc("vpc-new", "111111111111");
        let half = leftover(
            &rules,
            &zones,
            &zone,
            &pair("vpc-new"),
            Some(&wanted),
            false,
        );
        assert!(matches!(half, Leftover::Complete(_)));
        let stranger = vpc("vpc-x", "999999999999");
        let unwanted = leftover(
            &rules,
            &zones,
            &zone,
            &pair("vpc-x"),
            Some(&stranger),
            false,
        );
        assert!(is(unwanted, Change::Deauthorize));
        assert_eq!(
            leftover(&rules, &zones, &zone, &pair("vpc-?"), None, false),
            Leftover::Leave,
            "an event run does not know every VPC"
        );
        assert!(is(
            leftover(&rules, &zones, &zone, &pair("vpc-?"), None, true),
            Change::Deauthorize
        ));
        assert_eq!(managed(&rules, &zones).len(), 1);
    }

    use super::*;

    fn rules(extra: &str) -> Rules {
        Rules::parse(&format!(
            r#"{{"version": 1, "accounts": ["111111111111", "222222222222"], "regions": ["us-east-1"],
                "rules": [{{"name": "shared", "zones": ["ZSHARED"]}},
                          {{"zone_tags": {{"share": "payments"}}, "domains": ["zpay.internal"], "accounts": ["222222222222"], "vpc_tags": {{"team": "payments"}}}}]
                {extra}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn zones_selected_by_tag_must_lie_under_the_rules_domains_and_aws_names_are_never_a_domain() {
        let doc = |domains: &str| {
            format!(
                r#"{{"version": 1, "accounts": ["111111111111"], "regions": ["us-east-1"],
                     "rules": [{{"zone_tags": {{"share": "yes"}}{domains}}}]}}"#
            )
        };
        let err = Rules::parse(&doc("")).unwrap_err().to_string();
        assert!(err.contains("rules[0]: zone_tags needs domains"), "{err}");
        for bad in [
            "amazonaws.com",
            "AMAZONAWS.COM.",
            "com",
            "api.aws",
            "a..b",
            "x y.internal",
        ] {
            let err = Rules::parse(&doc(&format!(r#", "domains": ["{bad}"]"#)))
                .unwrap_err()
                .to_string();
            assert!(err.contains("rules[0].domains[0]"), "{bad}: {err}");
        }
        let rules = Rules::parse(&doc(
            r#", "domains": ["internal.example", "ssm.us-east-1.amazonaws.com"]"#,
        ))
        .unwrap();
        let names = [
            "internal.example.",
            "orders.internal.example.",
            "ssm.us-east-1.amazonaws.com.",
            "amazonaws.com.",
            "sts.us-east-1.amazonaws.com.",
            "github.com.",
            "evilinternal.example.",
        ];
        let zones: Vec<Zone> = names
            .iter()
            .enumerate()
            .map(|(i, name)| Zone {
                id: format!("Z{i}"),
                name: (*name).into(),
                tags: [("share".to_owned(), "yes".to_owned())].into(),
                vpcs: BTreeSet::new(),
            })
            .collect();
        let vpc = Vpc {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            vpc_id: "vpc-1".into(),
            tags: BTreeMap::new(),
        };
        let given: Vec<String> = plan(&rules, &vpc, &zones)
            .into_iter()
            .map(|s| s.zone_name)
            .collect();
        assert_eq!(given, names[..3]);
        let refused: Vec<String> = refused(&rules, &zones)
            .into_iter()
            .map(|r| r.zone_name)
            .collect();
        assert_eq!(
            refused,
            [
                "amazonaws.com.",
                "sts.us-east-1.amazonaws.com.",
                "github.com.",
                "evilinternal.example."
            ]
        );
    }

    fn zone(id: &str, tags: &[(&str, &str)], vpcs: &[&str]) -> Zone {
        Zone {
            id: id.into(),
            name: format!("{}.internal.", id.to_lowercase()),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            vpcs: vpcs
                .iter()
                .map(|v| (v.to_string(), "us-east-1".to_string()))
                .collect(),
        }
    }

    fn vpc(account: &str, tags: &[(&str, &str)]) -> Vpc {
        Vpc {
            account: account.into(),
            region: "us-east-1".into(),
            vpc_id: "vpc-1".into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn catalogue() -> Vec<Zone> {
        vec![
            zone("ZSHARED", &[], &["vpc-hub"]),
            zone("ZPAY", &[("share", "payments")], &["vpc-hub"]),
            zone("ZOTHER", &[], &["vpc-hub"]),
        ]
    }

    fn ids(steps: &[Step]) -> Vec<(&str, Change)> {
        steps
            .iter()
            .map(|s| (s.zone_id.as_str(), s.change))
            .collect()
    }

    #[test]
    fn zones_follow_account_and_vpc_tags() {
        let r = rules("");
        assert_eq!(
            ids(&plan(
                &r,
                &vpc("111111111111", &[("team", "payments")]),
                &catalogue()
            )),
            [("ZSHARED", Change::Associate)]
        );
        assert_eq!(
            ids(&plan(
                &r,
                &vpc("222222222222", &[("team", "payments")]),
                &catalogue()
            )),
            [("ZPAY", Change::Associate), ("ZSHARED", Change::Associate)]
        );
        let step = &plan(&r, &vpc("111111111111", &[]), &catalogue())[0];
        assert_eq!(
            step.reason,
            "rule 1 (shared) gives zshared.internal. to this VPC"
        );
    }

    #[test]
    fn associated_pairs_and_strangers_get_nothing() {
        let r = rules("");
        let mut zones = catalogue();
        zones[0].vpcs.insert(("vpc-1".into(), "us-east-1".into()));
        assert!(plan(&r, &vpc("111111111111", &[]), &zones).is_empty());
        assert!(plan(&r, &vpc("999999999999", &[]), &catalogue()).is_empty());
        let mut elsewhere = vpc("111111111111", &[]);
        elsewhere.region = "eu-west-1".into();
        assert!(plan(&r, &elsewhere, &catalogue()).is_empty());
    }

    #[test]
    fn opt_out_disassociates_only_when_asked_and_never_the_last_vpc() {
        let keep = rules(r#", "opt_out": {"tag": "private-zones", "value": "off"}"#);
        let drop =
            rules(r#", "opt_out": {"tag": "private-zones", "value": "off", "disassociate": true}"#);
        let out = vpc("111111111111", &[("private-zones", "off")]);
        assert!(plan(&keep, &out, &catalogue()).is_empty());
        let mut zones = catalogue();
        zones[0].vpcs.insert(("vpc-1".into(), "us-east-1".into()));
        assert!(plan(&keep, &out, &zones).is_empty());
        assert_eq!(
            ids(&plan(&drop, &out, &zones)),
            [("ZSHARED", Change::Disassociate)]
        );
        zones[0]
            .vpcs
            .remove(&("vpc-hub".into(), "us-east-1".into()));
        assert!(
            plan(&drop, &out, &zones).is_empty(),
            "the zone's last VPC stays"
        );
    }

    #[test]
    fn validation_names_each_problem() {
        let err = Rules::parse(
            r#"{"version": 1, "accounts": ["1"], "regions": [], "rules": [{"zones": ["z-bad"], "accounts": ["333333333333"]}, {}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            PolicyError::Invalid(vec![
                "accounts[0]: \"1\" is not a 12-digit account id".into(),
                "regions: must name at least one region".into(),
                "rules[0].zones[0]: \"z-bad\" is not a hosted zone id (Z…)".into(),
                "rules[0].accounts[0]: \"333333333333\" is not one of the trusted accounts".into(),
                "rules[1]: name zones, zone_tags or both".into(),
            ])
        );
    }
}
