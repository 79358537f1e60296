//! The parsers that see outside input, as fuzz targets: each takes any bytes, must not panic, and
//! checks what must hold of what it accepts. `fuzz/` runs them under libFuzzer (`make fuzz`); the
//! tests below run them on every sample in `events/`, so `make test` exercises them too.

use crate::availability_zones::events::{Job, job_of};
use crate::endpoint_connections::events::{Scope, admit, scope_of};
use crate::endpoint_connections::policy::{Connection, Policy, Tags, decide};
use crate::events::{Incoming, classify};
use crate::notify::Notification;
use crate::private_zones::events::{Target, target_of};
use crate::private_zones::rules::{Rules, Vpc, Zone, plan};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// An event as Lambda hands it over: the envelope (EventBridge, CloudTrail in EventBridge, SNS,
/// schedule), the CloudTrail normaliser and the SNS body extraction.
pub fn envelope(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match classify(event) {
        Ok(Incoming::CloudTrail(e)) => {
            let _ = e.handled(&[("aws.ec2", "CreateVpc"), ("aws.ec2", "CreateVpcEndpoint")]);
            for part in [&e.record.request, &e.record.response] {
                let _ = crate::ids::find_ids(&part.to_string(), "vpce-svc-");
            }
        }
        Ok(Incoming::Sns(notices)) => {
            for n in notices {
                chatbot(n.message.as_bytes());
            }
        }
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// The account a CloudTrail event in its EventBridge envelope comes from, as the decoders see it.
fn sender(event: &Value) -> Option<String> {
    match classify(event.clone()) {
        Ok(Incoming::CloudTrail(e)) => Some(e.account),
        _ => None,
    }
}

/// The accounts an admission is tried with: the event's own, and one that is not.
fn trust_cases(sender: &Option<String>) -> Vec<String> {
    let other = "000000000000".to_owned();
    match sender {
        Some(account) if *account != other => vec![account.clone(), other],
        _ => vec![other],
    }
}

/// The acceptor's decoder and admission: a consumer's event speaks only for its own account and
/// of endpoints; what is admitted comes from a trusted account about a managed service.
pub fn connection_events(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let sender = sender(&event);
    let Ok(scope) = scope_of(event) else {
        return;
    };
    if let Scope::Claims(claims) = &scope {
        assert!(!claims.is_empty());
        for c in claims {
            assert_eq!(
                Some(&c.account),
                sender.as_ref(),
                "a claim speaks for its sender"
            );
            assert!(c.endpoint_id.starts_with("vpce-") && !c.endpoint_id.starts_with("vpce-svc-"));
        }
    }
    for trusted in trust_cases(&sender) {
        let document = format!(
            r#"{{"version": 1, "services": {{"vpce-svc-0123456789abcdef0": {{"allow": [{{"name": "a", "accounts": ["{trusted}"]}}], "otherwise": "reject"}}}}}}"#
        );
        let Ok(policy) = Policy::parse(&document) else {
            continue;
        };
        if let Ok((services, claims)) = admit(&policy, scope.clone()) {
            assert!(services.iter().all(|s| policy.service(s).is_some()));
            assert!(claims.iter().all(|c| c.account == trusted));
        }
    }
}

/// The associator's decoder and admission: an event's VPCs are VPC ids of its sender, admitted
/// only when the rules trust the sender.
pub fn zone_events(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let sender = sender(&event);
    let Ok(target) = target_of(event) else {
        return;
    };
    if let Target::Vpcs {
        account, vpc_ids, ..
    } = &target
    {
        assert_eq!(Some(account), sender.as_ref(), "the VPCs are the sender's");
        assert!(!vpc_ids.is_empty() && vpc_ids.iter().all(|id| id.starts_with("vpc-")));
    }
    for trusted in trust_cases(&sender) {
        let document = format!(
            r#"{{"version": 1, "accounts": ["{trusted}"], "regions": ["us-east-1"], "rules": [{{"name": "all", "zones": ["Z0123456789ABCDEFGHIJ"]}}]}}"#
        );
        let Ok(rules) = Rules::parse(&document) else {
            continue;
        };
        if let Ok(scopes) = crate::private_zones::events::admit(&rules, target.clone()) {
            assert!(scopes.iter().all(|(account, _, _)| *account == trusted));
        }
    }
}

/// The auditor's decoder and admission: nothing is audited for an account it does not trust.
pub fn audit_events(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let sender = sender(&event);
    for trusted in trust_cases(&sender) {
        let senders = BTreeSet::from([trusted.clone()]);
        if let Ok(Job::Audit(_)) = job_of(event.clone(), &senders) {
            assert_eq!(
                sender.as_deref(),
                Some(trusted.as_str()),
                "audited for a stranger"
            );
        }
    }
}

/// The Chatbot custom notification the Slack notifier reads: what it accepts, written back in
/// the same format, reads back the same.
pub fn chatbot(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(read) = Notification::from_chatbot(&doc) else {
        return;
    };
    let written = read.to_chatbot();
    let again = Notification::from_chatbot(&written).map(|n| n.to_chatbot());
    assert_eq!(again, Ok(written), "what we write must read back the same");
}

/// The connection policy: parsed or refused with its places; a parsed one decides.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::parse(text) {
        Ok(policy) => {
            let probe: Vec<Connection> = policy
                .service_ids()
                .map(|service| Connection {
                    service_id: service.to_owned(),
                    endpoint_id: "vpce-0f".into(),
                    owner: "111111111111".into(),
                    state: "pendingAcceptance".into(),
                    vpc_id: Some("vpc-0a".into()),
                    tags: Tags::Complete(BTreeMap::from([("team".into(), "a".into())])),
                })
                .collect();
            assert_eq!(decide(&policy, &probe).len(), probe.len());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// The zone rules: parsed or refused with their places; parsed ones plan.
pub fn rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Rules::parse(text) {
        Ok(rules) => {
            let zones: Vec<Zone> = rules
                .rules
                .iter()
                .flat_map(|r| r.zones.iter())
                .map(|id| Zone {
                    id: id.clone(),
                    name: "internal.".into(),
                    tags: BTreeMap::new(),
                    vpcs: BTreeSet::new(),
                })
                .collect();
            for account in &rules.accounts {
                for region in &rules.regions {
                    let vpc = Vpc {
                        account: account.clone(),
                        region: region.clone(),
                        vpc_id: "vpc-0a".into(),
                        tags: BTreeMap::new(),
                    };
                    for step in plan(&rules, &vpc, &zones) {
                        assert!(zones.iter().any(|z| z.id == step.zone_id));
                    }
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// Every file under `events/`, the fuzzers' seeds.
    fn samples() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "json") {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../events"),
            &mut out,
        );
        out
    }

    #[test]
    fn every_target_takes_every_sample_and_its_damaged_copies() {
        let samples = samples();
        assert!(samples.len() > 20, "{} samples", samples.len());
        for path in samples {
            let data = std::fs::read(&path).unwrap();
            // The sample, then cut short and with a byte flipped at a few places.
            let mut inputs = vec![data.clone()];
            for at in [data.len() / 3, data.len() / 2, data.len() * 9 / 10] {
                inputs.push(data[..at].to_vec());
                let mut flipped = data.clone();
                flipped[at] ^= 0x20;
                inputs.push(flipped);
            }
            for input in &inputs {
                envelope(input);
                connection_events(input);
                zone_events(input);
                audit_events(input);
                chatbot(input);
                policy(input);
                rules(input);
            }
        }
    }

    #[test]
    fn the_sample_documents_are_valid() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/documents");
        let read = |name: &str| std::fs::read_to_string(docs.join(name)).unwrap();
        Policy::parse(&read("connection-policy.json")).unwrap();
        Rules::parse(&read("zone-rules.json")).unwrap();
    }
}
