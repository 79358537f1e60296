//! What an invocation of the notifier is about: the SNS messages of the alert topic it carries.

use crate::events::{Incoming, SnsNotice, Triage, classify};
use serde_json::Value;

/// SNS is the only way in; anything else is logged and answered.
pub fn notices_of(payload: Value) -> Result<Vec<SnsNotice>, Triage> {
    match classify(payload)? {
        Incoming::Sns(notices) => Ok(notices),
        other => Err(other.unhandled()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples::sample;
    use serde_json::json;

    #[test]
    fn an_alert_topic_delivery_is_one_notice() {
        let notices = notices_of(sample("slack/sns-blackhole-opened.json")).unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].published, "2026-11-26T09:30:00Z");
    }

    #[test]
    fn other_events_are_answered_not_posted() {
        assert!(matches!(
            notices_of(sample("scheduled.json")),
            Err(Triage::Ignored(_))
        ));
        assert!(matches!(
            notices_of(json!({"Records": []})),
            Err(Triage::Invalid(_))
        ));
    }
}
