//! Announcing once: what the deciding functions share about saying things exactly once.

use crate::documents::PolicyError;
use crate::error::Result;
use crate::ids::fnv1a;
use crate::ledger::Ledger;
use crate::notify::{EventType, Fact, Facts, Notification, Publisher, Severity};

/// Publish `notification` unless `key` was announced within the ledger's memory.
async fn once<L: Ledger, P: Publisher>(
    ledger: &L,
    publisher: &P,
    key: String,
    notification: &Notification,
) -> Result<bool> {
    if ledger.unseen(std::slice::from_ref(&key)).await?.is_empty() {
        return Ok(false);
    }
    publisher.publish(notification).await?;
    ledger.remember(&[key]).await?;
    Ok(true)
}

/// The loaded document, or: announce (once per distinct problem) that it is unusable and what
/// that stops, and return the problem as the error.
pub async fn usable<T, L: Ledger, P: Publisher>(
    ledger: &L,
    publisher: &P,
    document: &str,
    consequence: &str,
    loaded: std::result::Result<T, PolicyError>,
) -> Result<T> {
    match loaded {
        Ok(doc) => Ok(doc),
        Err(problem) => {
            unusable(ledger, publisher, document, consequence, &problem).await?;
            Err(problem.into())
        }
    }
}

async fn unusable<L: Ledger, P: Publisher>(
    ledger: &L,
    publisher: &P,
    document: &str,
    consequence: &str,
    problem: &PolicyError,
) -> Result<()> {
    tracing::error!(error = %problem, document, "document unusable: {consequence}");
    let key = format!(
        "policy-error:{:016x}",
        fnv1a(format!("{document}\n{problem}").as_bytes())
    );
    let title = format!("PrivateLink autopilot: the {document} is unusable, {consequence}");
    let notification = Notification {
        id: key.clone(),
        event_type: EventType::PolicyInvalid,
        severity: Severity::Critical,
        title,
        description: problem.to_string(),
        next_steps: vec![
            format!("Fix the {document} (see the README); the next run picks it up."),
            format!("Until then, {consequence}."),
        ],
        keywords: vec!["privatelink".into(), "policy".into()],
        thread_id: Some("privatelink-policy".into()),
        summary: format!("The {document} is unusable: {consequence}"),
        related_resources: vec![],
        context: Facts::from_iter([
            (Fact::Problem, problem.to_string()),
            (Fact::Document, document.into()),
        ]),
    };
    once(ledger, publisher, key, &notification)
        .await
        .map(|_| ())
}
