//! What the audit announces: one message when a finding opens and one, in its thread, when it
//! resolves.

use crate::availability_zones::analysis::{ACCOUNT_WIDE, AzFinding};
use crate::availability_zones::ports::OpenFinding;
use crate::ids::fnv1a;
use crate::notify::{EventType, Fact, Facts, Lifecycle, Notification, Severity};

/// The thread every notification about one finding shares.
fn thread_of(fingerprint: &str) -> String {
    format!("az-finding-{:016x}", fnv1a(fingerprint.as_bytes()))
}

const KEYWORDS: [&str; 3] = ["privatelink", "availability-zone", "cross-zone"];

/// Characters of the drawing a notification carries: Slack shows it as a code block in one
/// section (3,000 characters), with room for the fences.
pub const MATRIX_CHARACTERS: usize = 2_900;

/// A finding opened; `matrix` is its service's AZ coverage drawn as text, when it has one.
pub fn opened(f: &AzFinding, matrix: Option<String>) -> Notification {
    let thread = thread_of(&f.fingerprint);
    let evidence = f
        .evidence
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut context = f.evidence.clone();
    context.extend(Lifecycle::Opened.facts());
    context.extend([
        (Fact::Check, f.check.as_str().to_owned()),
        (Fact::Resource, f.resource.clone()),
        (Fact::Fingerprint, f.fingerprint.clone()),
    ]);
    if f.service_id != ACCOUNT_WIDE {
        context.set(Fact::Service, f.service_id.clone());
    }
    if let Some(matrix) = matrix {
        context.set(Fact::AzMatrix, matrix);
    }
    Notification {
        id: format!("{thread}-opened"),
        event_type: EventType::AvailabilityZoneFinding,
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
    let mut context = Facts::from_iter([
        (Fact::Resource, k.resource.clone()),
        (Fact::Fingerprint, k.fingerprint.clone()),
    ]);
    context.extend(
        Lifecycle::Resolved {
            opened_severity: k.severity,
        }
        .facts(),
    );
    if k.service_id != ACCOUNT_WIDE {
        context.set(Fact::Service, k.service_id.clone());
    }
    Notification {
        id: format!("{thread}-resolved"),
        event_type: EventType::AvailabilityZoneFinding,
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
