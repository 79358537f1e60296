//! The connection policy: who may connect to which endpoint service, and what happens to
//! everyone else. [`decide`] is pure: policy + pending connections → one decision each, with
//! its reason. Nothing here talks to AWS.
//!
//! ```json
//! {
//!   "version": 1,
//!   "services": {
//!     "vpce-svc-0123456789abcdef0": {
//!       "description": "payments API",
//!       "allow": [
//!         { "name": "payments prod", "accounts": ["111111111111"], "vpcs": ["vpc-0a1b2c3d"],
//!           "tags": { "team": "payments" } }
//!       ],
//!       "otherwise": "reject"
//!     }
//!   }
//! }
//! ```

pub use crate::documents::PolicyError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A validated policy. Only [`Policy::parse`] makes one, so every instance has passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    services: BTreeMap<String, ServicePolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u32,
    services: BTreeMap<String, ServicePolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePolicy {
    #[serde(default)]
    pub description: Option<String>,
    pub allow: Vec<Rule>,
    pub otherwise: Fallback,
}

/// One way in: every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub name: Option<String>,
    pub accounts: Vec<String>,
    /// When given, the consumer's VPC must be one of these.
    #[serde(default)]
    pub vpcs: Vec<String>,
    /// When given, the endpoint must carry every one of these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// What happens to a connection no rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    Reject,
    /// Leave it pending for a human, and say so.
    Hold,
}

impl Policy {
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        crate::documents::no_duplicate_keys(text)?;
        let doc: Document =
            serde_json::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        let problems = validate(&doc);
        if problems.is_empty() {
            Ok(Policy {
                services: doc.services,
            })
        } else {
            Err(PolicyError::Invalid(problems))
        }
    }

    /// The endpoint services this policy manages; connections to any other service are not ours.
    pub fn service_ids(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    pub fn service(&self, service_id: &str) -> Option<&ServicePolicy> {
        self.services.get(service_id)
    }

    /// Whether any rule names this account: events from other accounts are not trusted.
    pub fn trusts_account(&self, account: &str) -> bool {
        self.services
            .values()
            .flat_map(|s| &s.allow)
            .any(|r| r.accounts.iter().any(|a| a == account))
    }
}

fn validate(doc: &Document) -> Vec<String> {
    let mut problems = Vec::new();
    if doc.version != 1 {
        problems.push(format!("version: must be 1, not {}", doc.version));
    }
    if doc.services.is_empty() {
        problems.push("services: must name at least one endpoint service".into());
    }
    for (id, service) in &doc.services {
        let at = format!("services.{id}");
        if !is_id(id, "vpce-svc-") {
            problems.push(format!(
                "{at}: {id:?} is not an endpoint service id (vpce-svc-…)"
            ));
        }
        for (i, rule) in service.allow.iter().enumerate() {
            let at = format!("{at}.allow[{i}]");
            if rule.accounts.is_empty() {
                problems.push(format!("{at}.accounts: must name at least one account"));
            }
            for (j, account) in rule.accounts.iter().enumerate() {
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    problems.push(format!(
                        "{at}.accounts[{j}]: {account:?} is not a 12-digit account id"
                    ));
                }
            }
            for (j, vpc) in rule.vpcs.iter().enumerate() {
                if !is_id(vpc, "vpc-") {
                    problems.push(format!("{at}.vpcs[{j}]: {vpc:?} is not a VPC id (vpc-…)"));
                }
            }
            if rule.tags.keys().any(|k| k.trim().is_empty()) {
                problems.push(format!("{at}.tags: tag keys must not be empty"));
            }
        }
    }
    problems
}

fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// A connection request to one of our endpoint services, as the provider sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub service_id: String,
    pub endpoint_id: String,
    /// The consumer account that owns the endpoint.
    pub owner: String,
    pub state: String,
    /// The consumer's VPC. The provider's API does not return it: it is known only from the
    /// consumer's `CreateVpcEndpoint` event.
    pub vpc_id: Option<String>,
    /// The consumer endpoint's tags. The provider's API does not return them either (its
    /// `Tags` are the connection's own): they are known only from the consumer's events.
    pub tags: Tags,
}

/// What is known of a consumer endpoint's tags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "known", content = "tags", rename_all = "lowercase")]
pub enum Tags {
    /// No event has said anything yet.
    #[default]
    Unknown,
    /// Some tags, from `CreateTags`/`DeleteTags` events: others may exist.
    Partial(BTreeMap<String, String>),
    /// Every tag: the `CreateVpcEndpoint` event's tag specification, and the changes since.
    Complete(BTreeMap<String, String>),
}

impl Tags {
    /// Whether the endpoint carries `key=value`: `None` while that cannot be known.
    fn has(&self, key: &str, value: &str) -> Option<bool> {
        match self {
            Tags::Complete(tags) => Some(tags.get(key).is_some_and(|v| v == value)),
            Tags::Partial(tags) => tags.get(key).map(|v| v == value),
            Tags::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Accept,
    Reject,
    Hold,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Hold => "hold",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub connection: Connection,
    pub action: Action,
    pub reason: String,
}

/// Decide every pending connection of a managed service. Connections to services the policy
/// does not name get no decision: they are not ours to touch.
pub fn decide(policy: &Policy, pending: &[Connection]) -> Vec<Decision> {
    pending
        .iter()
        .filter_map(|c| {
            let service = policy.service(&c.service_id)?;
            let (action, reason) = decide_one(service, c);
            Some(Decision {
                connection: c.clone(),
                action,
                reason,
            })
        })
        .collect()
}

enum Match {
    Yes,
    No(String),
    /// The rule might match once the consumer's events tell this fact (the VPC, the tags).
    Needs(&'static str),
}

fn rule_label(i: usize, rule: &Rule) -> String {
    match &rule.name {
        Some(name) => format!("rule {} ({name})", i + 1),
        None => format!("rule {}", i + 1),
    }
}

fn check(rule: &Rule, c: &Connection) -> Match {
    if !rule.accounts.contains(&c.owner) {
        return Match::No(format!("account {} is not listed", c.owner));
    }
    let mut needs = None;
    for (key, value) in &rule.tags {
        match c.tags.has(key, value) {
            Some(true) => {}
            Some(false) => return Match::No(format!("the endpoint lacks tag {key}={value}")),
            None => needs = Some("tags"),
        }
    }
    if !rule.vpcs.is_empty() {
        match &c.vpc_id {
            None => return Match::Needs("VPC"),
            Some(vpc) if !rule.vpcs.contains(vpc) => {
                return Match::No(format!("VPC {vpc} is not one of {}", rule.vpcs.join(", ")));
            }
            Some(_) => {}
        }
    }
    needs.map_or(Match::Yes, Match::Needs)
}

/// Whether a rule might allow the connection once facts only its consumer knows (the VPC, the
/// tags) are known: what is worth reading from the consumer's own API.
pub fn waits_for_facts(policy: &Policy, c: &Connection) -> bool {
    policy.service(&c.service_id).is_some_and(|s| {
        s.allow
            .iter()
            .any(|r| matches!(check(r, c), Match::Needs(_)))
    })
}

fn decide_one(service: &ServicePolicy, c: &Connection) -> (Action, String) {
    let mut needs = None;
    let mut near_miss = None;
    for (i, rule) in service.allow.iter().enumerate() {
        match check(rule, c) {
            Match::Yes => {
                let mut why = format!("account {}", c.owner);
                if let Some(vpc) = c.vpc_id.as_deref().filter(|_| !rule.vpcs.is_empty()) {
                    why.push_str(&format!(", VPC {vpc}"));
                }
                if !rule.tags.is_empty() {
                    let tags: Vec<String> =
                        rule.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    why.push_str(&format!(", tags {}", tags.join(" ")));
                }
                return (
                    Action::Accept,
                    format!("{why} allowed by {}", rule_label(i, rule)),
                );
            }
            Match::Needs(fact) => needs = needs.or(Some((i, fact))),
            Match::No(why) if rule.accounts.contains(&c.owner) => {
                near_miss = near_miss.or(Some(format!("{}: {why}", rule_label(i, rule))));
            }
            Match::No(_) => {}
        }
    }
    if let Some((i, fact)) = needs {
        // Fail closed but don't punish: the facts arrive with the consumer's events.
        let (condition, unknown, events) = match fact {
            "VPC" => (
                "from certain VPCs",
                "VPC is",
                "it comes with the consumer's CreateVpcEndpoint event",
            ),
            _ => (
                "for endpoints with certain tags",
                "tags are",
                "they come with the consumer's CreateVpcEndpoint or CreateTags events",
            ),
        };
        return (
            Action::Hold,
            format!(
                "{} allows account {} only {condition}, and the endpoint's {unknown} not known yet ({events})",
                rule_label(i, &service.allow[i]),
                c.owner
            ),
        );
    }
    let why = near_miss.unwrap_or_else(|| {
        format!(
            "account {} is not allowed to connect to {}",
            c.owner, c.service_id
        )
    });
    match service.otherwise {
        Fallback::Reject => (Action::Reject, why),
        Fallback::Hold => (Action::Hold, format!("{why}; held for review")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "vpce-svc-0123456789abcdef0";

    fn policy(otherwise: &str) -> Policy {
        Policy::parse(&format!(
            r#"{{"version": 1, "services": {{"{SVC}": {{"allow": [
                {{"name": "shared", "accounts": ["111111111111"]}},
                {{"accounts": ["222222222222"], "vpcs": ["vpc-0aa"]}},
                {{"accounts": ["333333333333"], "tags": {{"team": "payments"}}}}
            ], "otherwise": "{otherwise}"}}}}}}"#
        ))
        .unwrap()
    }

    fn conn(owner: &str, vpc: Option<&str>, tags: &[(&str, &str)]) -> Connection {
        Connection {
            service_id: SVC.into(),
            endpoint_id: format!("vpce-{owner}"),
            owner: owner.into(),
            state: "pendingAcceptance".into(),
            vpc_id: vpc.map(Into::into),
            tags: Tags::Complete(
                tags.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    fn one(p: &Policy, c: Connection) -> (Action, String) {
        let d = decide(p, &[c]).pop().unwrap();
        (d.action, d.reason)
    }

    #[test]
    fn listed_account_is_accepted_with_the_rule_named() {
        assert_eq!(
            one(&policy("reject"), conn("111111111111", None, &[])),
            (
                Action::Accept,
                "account 111111111111 allowed by rule 1 (shared)".into()
            )
        );
    }

    #[test]
    fn stranger_gets_the_fallback() {
        let why = "account 999999999999 is not allowed to connect to vpce-svc-0123456789abcdef0";
        assert_eq!(
            one(&policy("reject"), conn("999999999999", None, &[])),
            (Action::Reject, why.into())
        );
        assert_eq!(
            one(&policy("hold"), conn("999999999999", None, &[])),
            (Action::Hold, format!("{why}; held for review"))
        );
    }

    #[test]
    fn vpc_rule_needs_the_vpc() {
        let p = policy("reject");
        assert_eq!(
            one(&p, conn("222222222222", Some("vpc-0aa"), &[])).0,
            Action::Accept
        );
        let (action, why) = one(&p, conn("222222222222", Some("vpc-0bb"), &[]));
        assert_eq!(action, Action::Reject);
        assert_eq!(why, "rule 2: VPC vpc-0bb is not one of vpc-0aa");
        // Unknown VPC: never accepted, never rejected for lack of information.
        let (action, why) = one(&p, conn("222222222222", None, &[]));
        assert_eq!(action, Action::Hold);
        assert!(why.contains("not known yet"), "{why}");
    }

    #[test]
    fn tag_rule_needs_every_tag() {
        let p = policy("reject");
        assert_eq!(
            one(&p, conn("333333333333", None, &[("team", "payments")])).0,
            Action::Accept
        );
        let (action, why) = one(&p, conn("333333333333", None, &[("team", "search")]));
        assert_eq!(
            (action, why.as_str()),
            (
                Action::Reject,
                "rule 3: the endpoint lacks tag team=payments"
            )
        );
    }

    #[test]
    fn a_tag_rule_holds_until_the_tags_are_known_and_never_rejects_for_lack_of_them() {
        let p = policy("reject");
        let mut c = conn("333333333333", None, &[]);
        c.tags = Tags::Unknown;
        let (action, why) = one(&p, c.clone());
        assert_eq!(action, Action::Hold);
        assert!(why.contains("tags are not known yet"), "{why}");
        // Some tags known, the one that matters not among them: still unknown.
        c.tags = Tags::Partial([("env".to_owned(), "prod".to_owned())].into());
        assert_eq!(one(&p, c.clone()).0, Action::Hold);
        c.tags = Tags::Partial([("team".to_owned(), "payments".to_owned())].into());
        assert_eq!(one(&p, c.clone()).0, Action::Accept);
        c.tags = Tags::Partial([("team".to_owned(), "search".to_owned())].into());
        assert_eq!(one(&p, c).0, Action::Reject);
    }

    #[test]
    fn unmanaged_services_get_no_decision() {
        let mut c = conn("111111111111", None, &[]);
        c.service_id = "vpce-svc-0fff".into();
        assert!(decide(&policy("reject"), &[c]).is_empty());
    }

    #[test]
    fn validation_lists_every_problem_with_its_place() {
        let err = Policy::parse(
            r#"{"version": 2, "services": {"svc-1": {"allow": [{"accounts": ["1234", "111111111111"], "vpcs": ["subnet-1"]}, {"accounts": []}], "otherwise": "hold"}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            PolicyError::Invalid(vec![
                "version: must be 1, not 2".into(),
                "services.svc-1: \"svc-1\" is not an endpoint service id (vpce-svc-…)".into(),
                "services.svc-1.allow[0].accounts[0]: \"1234\" is not a 12-digit account id".into(),
                "services.svc-1.allow[0].vpcs[0]: \"subnet-1\" is not a VPC id (vpc-…)".into(),
                "services.svc-1.allow[1].accounts: must name at least one account".into(),
            ])
        );
    }

    #[test]
    fn syntax_and_unknown_fields_are_rejected() {
        let err = Policy::parse(r#"{"version": 1, "services": {}, "extra": true}"#).unwrap_err();
        assert!(
            matches!(&err, PolicyError::Syntax(m) if m.contains("unknown field `extra`")),
            "{err}"
        );
        let err = Policy::parse(&format!(
            r#"{{"version": 1, "services": {{"{SVC}": {{"allow": [], "otherwise": "accept"}}}}}}"#
        ))
        .unwrap_err();
        assert!(
            matches!(&err, PolicyError::Syntax(m) if m.contains("unknown variant `accept`")),
            "{err}"
        );
        assert!(matches!(
            Policy::parse("").unwrap_err(),
            PolicyError::Syntax(_)
        ));
    }

    #[test]
    fn trust_follows_the_accounts_named() {
        let p = policy("reject");
        assert!(p.trusts_account("222222222222"));
        assert!(!p.trusts_account("999999999999"));
    }
}
