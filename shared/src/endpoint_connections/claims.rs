//! What consumers' events say about their endpoints: the VPC and the tags, which the provider's
//! API does not show. Believed only for a connection the sending account owns, and remembered
//! when they arrive before the connection is visible or while it is held for want of them.

use crate::endpoint_connections::policy::{Connection, Tags};
use crate::error::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How an event changes what is known of an endpoint's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    /// `CreateVpcEndpoint`: its tag specification is every tag the endpoint has.
    Set(BTreeMap<String, String>),
    /// `CreateTags` on the endpoint.
    Add(BTreeMap<String, String>),
    /// `DeleteTags` on the endpoint: these keys.
    Remove(Vec<String>),
}

/// One consumer event's word about one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub endpoint_id: String,
    /// The endpoint service, when the event names it (`CreateVpcEndpoint` does, tag events
    /// do not).
    pub service_id: Option<String>,
    /// The event's envelope account: the sender.
    pub account: String,
    pub vpc_id: Option<String>,
    pub tags: TagChange,
}

/// What is known of one endpoint from its account's events, as remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    pub endpoint_id: String,
    /// The account whose events said it.
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub tags: Tags,
}

/// Pure: what is known after `claim`, given what was known. A claim from another account than
/// the one remembered starts afresh (only the owner's word counts, and the owner is checked
/// against the connection before use).
pub fn merge(known: Option<Known>, claim: &Claim) -> Known {
    let mut known = match known {
        Some(k) if k.account == claim.account => k,
        _ => Known {
            endpoint_id: claim.endpoint_id.clone(),
            account: claim.account.clone(),
            service_id: None,
            vpc_id: None,
            tags: Tags::Unknown,
        },
    };
    if claim.service_id.is_some() {
        known.service_id.clone_from(&claim.service_id);
    }
    if claim.vpc_id.is_some() {
        known.vpc_id.clone_from(&claim.vpc_id);
    }
    known.tags = match (std::mem::take(&mut known.tags), &claim.tags) {
        // Tags added before the creation event was seen are kept: they were set after it.
        (Tags::Partial(later) | Tags::Complete(later), TagChange::Set(created)) => {
            let mut all = created.clone();
            all.extend(later);
            Tags::Complete(all)
        }
        (Tags::Unknown, TagChange::Set(created)) => Tags::Complete(created.clone()),
        (Tags::Complete(mut tags), TagChange::Add(added)) => {
            tags.extend(added.clone());
            Tags::Complete(tags)
        }
        (Tags::Partial(mut tags), TagChange::Add(added)) => {
            tags.extend(added.clone());
            Tags::Partial(tags)
        }
        (Tags::Unknown, TagChange::Add(added)) => Tags::Partial(added.clone()),
        (Tags::Complete(mut tags), TagChange::Remove(keys)) => {
            keys.iter().for_each(|k| {
                tags.remove(k);
            });
            Tags::Complete(tags)
        }
        (Tags::Partial(mut tags), TagChange::Remove(keys)) => {
            keys.iter().for_each(|k| {
                tags.remove(k);
            });
            Tags::Partial(tags)
        }
        (Tags::Unknown, TagChange::Remove(_)) => Tags::Unknown,
    };
    known
}

/// Pure: give the connection what its owner's events said. Facts from another account than the
/// connection's owner are not used; `Err` says whose they were.
pub fn inform(connection: &mut Connection, known: &Known) -> Result<(), Invalid> {
    if known.account != connection.owner {
        return Err(Invalid(format!(
            "account {} does not own {}",
            known.account, connection.endpoint_id
        )));
    }
    if known.vpc_id.is_some() {
        connection.vpc_id.clone_from(&known.vpc_id);
    }
    if known.tags != Tags::Unknown {
        connection.tags = known.tags.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn claim(account: &str, change: TagChange) -> Claim {
        Claim {
            endpoint_id: "vpce-1".into(),
            service_id: None,
            account: account.into(),
            vpc_id: None,
            tags: change,
        }
    }

    #[test]
    fn creation_tells_every_tag_and_later_events_keep_it_complete() {
        let created = Claim {
            service_id: Some("vpce-svc-1".into()),
            vpc_id: Some("vpc-1".into()),
            ..claim("111111111111", TagChange::Set(tags(&[("team", "a")])))
        };
        let k = merge(None, &created);
        assert_eq!(k.tags, Tags::Complete(tags(&[("team", "a")])));
        assert_eq!(
            (k.vpc_id.as_deref(), k.service_id.as_deref()),
            (Some("vpc-1"), Some("vpce-svc-1"))
        );
        let k = merge(
            Some(k),
            &claim("111111111111", TagChange::Add(tags(&[("env", "prod")]))),
        );
        let k = merge(
            Some(k),
            &claim("111111111111", TagChange::Remove(vec!["team".into()])),
        );
        assert_eq!(k.tags, Tags::Complete(tags(&[("env", "prod")])));
        assert_eq!(k.vpc_id.as_deref(), Some("vpc-1"), "kept across tag events");
    }

    #[test]
    fn tag_events_alone_know_only_part_and_a_late_creation_completes_it() {
        let k = merge(
            None,
            &claim("111111111111", TagChange::Add(tags(&[("team", "a")]))),
        );
        assert_eq!(k.tags, Tags::Partial(tags(&[("team", "a")])));
        let k = merge(
            Some(k),
            &claim("111111111111", TagChange::Set(tags(&[("env", "x")]))),
        );
        assert_eq!(k.tags, Tags::Complete(tags(&[("env", "x"), ("team", "a")])));
        assert_eq!(
            merge(None, &claim("1", TagChange::Remove(vec!["a".into()]))).tags,
            Tags::Unknown
        );
    }

    #[test]
    fn another_accounts_word_starts_afresh_and_is_never_given_to_a_connection_it_does_not_own() {
        let mine = merge(
            None,
            &claim("111111111111", TagChange::Add(tags(&[("team", "a")]))),
        );
        let theirs = merge(
            Some(mine),
            &claim("222222222222", TagChange::Add(tags(&[("x", "y")]))),
        );
        assert_eq!(theirs.account, "222222222222");
        assert_eq!(theirs.tags, Tags::Partial(tags(&[("x", "y")])));
        let mut c = Connection {
            service_id: "vpce-svc-1".into(),
            endpoint_id: "vpce-1".into(),
            owner: "111111111111".into(),
            state: "pendingAcceptance".into(),
            vpc_id: None,
            tags: Tags::Unknown,
        };
        assert_eq!(
            inform(&mut c, &theirs).unwrap_err().0,
            "account 222222222222 does not own vpce-1"
        );
        assert_eq!(c.tags, Tags::Unknown);
    }
}
