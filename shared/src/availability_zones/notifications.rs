//! What the audit announces: one message when a finding opens and one, in its thread, when it
//! resolves.

use crate::availability_zones::analysis::AzFinding;
use crate::availability_zones::ports::OpenFinding;
use crate::ids::fnv1a;
use crate::notify::{Lifecycle, Notification, Severity, fact};
use std::collections::BTreeMap;

/// The thread every notification about one finding shares.
fn thread_of(fingerprint: &str) -> String {
    format!("az-finding-{:016x}", fnv1a(fingerprint.as_bytes()))
}

const KEYWORDS: [&str; 3] = ["privatelink", "availability-zone", "cross-zone"];

pub fn opened(f: &AzFinding) -> Notification {
    let thread = thread_of(&f.fingerprint);
    let evidence = f
        .evidence
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut context: BTreeMap<String, String> = f.evidence.clone();
    context.extend(Lifecycle::Opened.facts());
    context.extend([
        ("check".to_owned(), f.check.as_str().to_owned()),
        ("resource".to_owned(), f.resource.clone()),
        (fact::FINGERPRINT.to_owned(), f.fingerprint.clone()),
    ]);
    if f.service_id != "*" {
        context.insert("service".into(), f.service_id.clone());
    }
    Notification {
        id: format!("{thread}-opened"),
        event_type: "AvailabilityZoneFinding".into(),
        severity: f.severity,
        title: format!("PrivateLink availability zones: {}", f.title),
        description: format!("`{}`: {evidence}", f.resource),
        next_steps: vec![f.fix.clone()],
        keywords: KEYWORDS.map(String::from).to_vec(),
        thread_id: Some(thread),
        summary: f.title.clone(),
        related_resources: vec![f.resource.clone()],
        context,
    }
}

pub fn resolved(k: &OpenFinding) -> Notification {
    let thread = thread_of(&k.fingerprint);
    let mut context = BTreeMap::from([
        ("resource".to_owned(), k.resource.clone()),
        (fact::FINGERPRINT.to_owned(), k.fingerprint.clone()),
    ]);
    context.extend(
        Lifecycle::Resolved {
            opened_severity: k.severity,
        }
        .facts(),
    );
    if k.service_id != "*" {
        context.insert("service".into(), k.service_id.clone());
    }
    Notification {
        id: format!("{thread}-resolved"),
        event_type: "AvailabilityZoneFinding".into(),
        severity: Severity::Info,
        title: format!("Resolved: {}", k.title),
        description: format!("No longer found in the latest audit: {}", k.title),
        next_steps: vec![],
        keywords: KEYWORDS.map(String::from).to_vec(),
        thread_id: Some(thread),
        summary: format!("Resolved: {}", k.title),
        related_resources: vec![k.resource.clone()],
        context,
    }
}
