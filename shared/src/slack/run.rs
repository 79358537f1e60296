//! The notifier's run: each SNS message claimed, rendered, posted once (or found already
//! posted), its finding's thread remembered, the claim settled.

use super::client::{LOOK_BACK, Posted};
use super::config::Destination;
use super::message::{Alert, render};
use super::ports::{Claim, DeliveryStore, PostError, Poster, Target};
use super::{failed, reason};
use crate::error::{Error, Result};
use crate::events::SnsNotice;
use crate::notify::Severity;
use serde::Serialize;
use tokio::time::Instant;

/// What became of one SNS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Delivery {
    Posted {
        message_id: String,
        channel: Option<String>,
        ts: Option<String>,
        /// Set when it was posted as a reply in a finding's thread.
        thread_ts: Option<String>,
    },
    /// Below the severity filter.
    Filtered {
        message_id: String,
        severity: Severity,
    },
    /// Already posted by an earlier delivery of the same SNS message.
    Duplicate { message_id: String },
    /// Nothing to say: a new alarm settling into OK.
    Quiet { message_id: String },
}

/// What an invocation did with the SNS messages it carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub deliveries: Vec<Delivery>,
}

pub struct Notifier<S, D> {
    pub slack: S,
    pub deliveries: D,
    pub min_severity: Severity,
}

impl<S: Poster + Sync, D: DeliveryStore + Sync> Notifier<S, D> {
    /// Delivers each message in turn; the first that fails fails the invocation (its retry
    /// finds the ones before it posted and does not post them again).
    pub async fn deliver_all(&self, notices: &[SnsNotice], deadline: Instant) -> Result<Report> {
        let mut deliveries = Vec::with_capacity(notices.len());
        for notice in notices {
            let delivery = self.deliver(notice, deadline).await.inspect_err(|e| {
                tracing::error!(message_id = %notice.message_id, error = %e, kind = e.kind(), "not posted");
            })?;
            deliveries.push(delivery);
        }
        Ok(Report { deliveries })
    }

    /// Posts one alert-topic message, unless it is filtered out or already posted. Nothing is
    /// posted for a message that is not a Chatbot custom notification.
    pub async fn deliver(&self, notice: &SnsNotice, deadline: Instant) -> Result<Delivery> {
        let Some(alert) = Alert::from_sns(notice)? else {
            tracing::info!(message_id = %notice.message_id, "an alarm settling, nothing to post");
            return Ok(Delivery::Quiet {
                message_id: notice.message_id.clone(),
            });
        };
        let message_id = alert.message_id.clone();
        let severity = alert.routing_severity();
        if severity < self.min_severity {
            tracing::info!(%message_id, severity = severity.as_str(), "below SLACK_MIN_SEVERITY, not posted");
            return Ok(Delivery::Filtered {
                message_id,
                severity,
            });
        }
        let (channel, thread_ts) = self.place(&alert, severity).await?;
        let key = alert.delivery_key();
        let target = Target {
            channel: channel.as_deref(),
            thread_ts: thread_ts.as_deref(),
            key: &key,
        };
        if let Some(already) = self.claim(&alert, target, deadline).await? {
            return Ok(already);
        }
        let posted = self.post(&alert, target, deadline).await?;
        self.deliveries.posted(&key).await?;
        self.remember_opener(&alert, &posted).await?;
        tracing::info!(
            %message_id,
            mode = self.slack.destination().mode(),
            channel = posted.channel.as_deref().unwrap_or("webhook"),
            ts = posted.ts.as_deref().unwrap_or_default(),
            in_thread = thread_ts.is_some(),
            event_type = %alert.notification.event_type,
            "posted to Slack"
        );
        Ok(Delivery::Posted {
            message_id,
            channel: posted.channel,
            ts: posted.ts,
            thread_ts,
        })
    }

    /// Where the message goes (bot-token mode): a resolution into the thread of the message
    /// that opened its finding, anything else to the channel of its severity.
    async fn place(
        &self,
        alert: &Alert,
        severity: Severity,
    ) -> Result<(Option<String>, Option<String>)> {
        let Destination::Bot { routing, .. } = self.slack.destination() else {
            return Ok((None, None));
        };
        let opener = match (&alert.notification.thread_id, alert.resolves()) {
            (Some(thread), true) => self.deliveries.thread(thread).await?,
            _ => None,
        };
        Ok(match opener {
            Some((channel, ts)) => (Some(channel), Some(ts)),
            None => (routing.channel(severity).map(str::to_owned), None),
        })
    }

    /// The right to post the message, once: `Some` when it is in Slack already (nothing to
    /// post); an error when another invocation is posting it, or an interrupted attempt may
    /// have posted it and Slack cannot be read to tell.
    async fn claim(
        &self,
        alert: &Alert,
        target: Target<'_>,
        deadline: Instant,
    ) -> Result<Option<Delivery>> {
        let (key, message_id) = (target.key, &alert.message_id);
        let claimed_at = match self.deliveries.claim(key, message_id).await? {
            Claim::Mine => return Ok(None),
            Claim::Posted => {
                tracing::info!(%message_id, notification_id = %key, "already posted, not posting again");
                return Ok(Some(Delivery::Duplicate {
                    message_id: message_id.clone(),
                }));
            }
            Claim::InFlight => return Err(in_flight(key)),
            Claim::Interrupted { claimed_at } => claimed_at,
        };
        // Never posted again blindly: look in the channel first, where that is possible.
        let since = claimed_at.saturating_sub(LOOK_BACK.as_secs());
        match self.slack.find(target, since, deadline).await {
            Ok(Some(found)) => {
                tracing::info!(%message_id, notification_id = %key, ts = found.ts.as_deref().unwrap_or_default(), "an interrupted post is in Slack, not posting again");
                self.deliveries.posted(key).await?;
                self.remember_opener(alert, &found).await?;
                Ok(Some(Delivery::Duplicate {
                    message_id: message_id.clone(),
                }))
            }
            Ok(None) => {
                if self.deliveries.reclaim(key, claimed_at).await? != Claim::Mine {
                    return Err(in_flight(key));
                }
                tracing::info!(%message_id, notification_id = %key, "an interrupted post is not in Slack, posting it");
                Ok(None)
            }
            Err(cannot_tell) => Err(failed(
                format!(
                    "an earlier attempt to post notification {key} (SNS message {message_id}) was interrupted: it may be in Slack already, so it is not posted again (check the channel; {})",
                    reason(&cannot_tell)
                ),
                false,
            )),
        }
    }

    /// Posts the claimed message. A failure settles the claim: released when the message was
    /// surely not posted (the retry may post it), marked unsure when it may have been (it is
    /// looked for before it is posted again). If even that fails, the claim expires into
    /// "interrupted".
    async fn post(&self, alert: &Alert, target: Target<'_>, deadline: Instant) -> Result<Posted> {
        let message_id = &alert.message_id;
        match self.slack.post(&render(alert), target, deadline).await {
            Ok(posted) => Ok(posted),
            Err(PostError::NotPosted(err)) => {
                if let Err(release) = self.deliveries.release(target.key).await {
                    tracing::error!(%message_id, error = %release, "could not release the claim");
                }
                Err(err)
            }
            Err(PostError::MaybePosted(err)) => {
                if let Err(unsure) = self.deliveries.unsure(target.key).await {
                    tracing::error!(%message_id, error = %unsure, "could not mark the claim unsure; it expires into interrupted");
                }
                Err(err)
            }
        }
    }

    /// Where a finding's opening message is, for its resolution's reply.
    async fn remember_opener(&self, alert: &Alert, posted: &Posted) -> Result<()> {
        if let (true, Some(thread), Some(channel), Some(ts)) = (
            alert.opens(),
            &alert.notification.thread_id,
            &posted.channel,
            &posted.ts,
        ) {
            self.deliveries.remember_thread(thread, channel, ts).await?;
        }
        Ok(())
    }
}

fn in_flight(key: &str) -> Error {
    failed(
        format!("notification {key} is being posted by another invocation; try again later"),
        true,
    )
}

/// The notifier's exactly-once logic on in-memory ports.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{EventType, Lifecycle, Notification};
    use crate::slack::config::{Routing, Secret};
    use crate::slack::fakes::{FakePoster, MemoryDeliveries};
    use std::time::Duration;

    fn notifier() -> Notifier<FakePoster, MemoryDeliveries> {
        Notifier {
            slack: FakePoster::new(Destination::Bot {
                token: Secret("xoxb-test".into()),
                api_url: "https://slack.com/api".into(),
                routing: Routing::parse("default=#alerts", Severity::Info).unwrap(),
            }),
            deliveries: MemoryDeliveries::default(),
            min_severity: Severity::Info,
        }
    }

    fn notice(message_id: &str, lifecycle: Option<Lifecycle>) -> SnsNotice {
        let resolves = matches!(lifecycle, Some(Lifecycle::Resolved { .. }));
        let n = Notification {
            id: if resolves {
                "az-finding-1-resolved"
            } else {
                "az-finding-1"
            }
            .into(),
            event_type: EventType::AvailabilityZoneFinding,
            severity: Severity::Critical,
            title: "No healthy target in use1-az2".into(),
            description: "• the NLB sends traffic into nothing".into(),
            next_steps: vec![],
            keywords: vec![],
            thread_id: Some("az-finding-1".into()),
            summary: "blackhole".into(),
            related_resources: vec![],
            context: lifecycle
                .map(Lifecycle::facts)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        };
        SnsNotice {
            message_id: message_id.into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:alerts".into(),
            subject: None,
            message: n.to_chatbot().to_string(),
            published_epoch: 1_764_150_000,
            published: "2026-11-26T09:30:00Z".into(),
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    fn posts(n: &Notifier<FakePoster, MemoryDeliveries>) -> usize {
        n.slack.posts.lock().unwrap().len()
    }

    #[tokio::test]
    async fn a_message_is_posted_once_however_often_it_is_delivered() {
        let n = notifier();
        let first = n.deliver(&notice("m-1", None), soon()).await.unwrap();
        assert!(matches!(first, Delivery::Posted { channel: Some(c), .. } if c == "#alerts"));
        let again = n.deliver(&notice("m-1", None), soon()).await.unwrap();
        assert_eq!(
            again,
            Delivery::Duplicate {
                message_id: "m-1".into()
            }
        );
        assert_eq!(posts(&n), 1);
    }

    #[tokio::test]
    async fn a_claim_held_by_a_running_invocation_is_left_to_it() {
        let n = notifier();
        n.deliveries
            .messages
            .lock()
            .unwrap()
            .insert("az-finding-1".into(), Claim::InFlight);
        let err = n.deliver(&notice("m-1", None), soon()).await.unwrap_err();
        assert!(err.retryable(), "the retry finds it posted: {err}");
        assert_eq!(posts(&n), 0);
    }

    fn interrupted(n: &Notifier<FakePoster, MemoryDeliveries>) {
        n.deliveries
            .messages
            .lock()
            .unwrap()
            .insert("az-finding-1".into(), Claim::Interrupted { claimed_at: 7 });
    }

    #[tokio::test]
    async fn a_claim_left_by_a_dead_invocation_is_never_posted_blindly() {
        let mut n = notifier();
        n.slack.readable = false;
        interrupted(&n);
        let err = n.deliver(&notice("m-1", None), soon()).await.unwrap_err();
        assert!(
            !err.retryable(),
            "to the dead-letter queue, not Slack: {err}"
        );
        assert!(err.to_string().contains("may be in Slack already"), "{err}");
        assert_eq!(posts(&n), 0);
    }

    #[tokio::test]
    async fn an_interrupted_post_is_looked_for_and_posted_only_if_absent() {
        // Not in the channel: taken over and posted, once.
        let n = notifier();
        interrupted(&n);
        let d = n.deliver(&notice("m-1", None), soon()).await.unwrap();
        assert!(matches!(d, Delivery::Posted { .. }), "{d:?}");
        assert_eq!(posts(&n), 1);
        assert_eq!(
            n.deliver(&notice("m-1", None), soon()).await.unwrap(),
            Delivery::Duplicate {
                message_id: "m-1".into()
            }
        );
        // In the channel already: marked posted, not posted again.
        let n = notifier();
        *n.slack.lost.lock().unwrap() = 1;
        let err = n.deliver(&notice("m-1", None), soon()).await.unwrap_err();
        assert!(!err.retryable(), "{err}");
        assert_eq!(
            n.deliver(&notice("m-1", None), soon()).await.unwrap(),
            Delivery::Duplicate {
                message_id: "m-1".into()
            }
        );
        assert_eq!(posts(&n), 1);
        assert_eq!(
            n.deliveries.messages.lock().unwrap()["az-finding-1"],
            Claim::Posted
        );
    }

    #[tokio::test]
    async fn a_lost_answer_where_slack_cannot_be_read_is_never_posted_again() {
        let mut n = notifier();
        n.slack.readable = false;
        *n.slack.lost.lock().unwrap() = 1;
        n.deliver(&notice("m-1", None), soon()).await.unwrap_err();
        for _ in 0..3 {
            let err = n.deliver(&notice("m-1", None), soon()).await.unwrap_err();
            assert!(err.to_string().contains("may be in Slack already"), "{err}");
            assert!(!err.retryable());
        }
        assert_eq!(posts(&n), 1);
    }

    #[tokio::test]
    async fn a_producers_retry_in_another_sns_message_is_posted_once() {
        let n = notifier();
        n.deliver(&notice("m-1", None), soon()).await.unwrap();
        assert_eq!(
            n.deliver(&notice("m-2", None), soon()).await.unwrap(),
            Delivery::Duplicate {
                message_id: "m-2".into()
            }
        );
        assert_eq!(posts(&n), 1);
    }

    #[tokio::test]
    async fn a_failed_post_releases_its_claim_so_the_retry_posts() {
        let n = notifier();
        *n.slack.failures.lock().unwrap() = 1;
        assert!(
            n.deliver(&notice("m-1", None), soon())
                .await
                .unwrap_err()
                .retryable()
        );
        assert!(n.deliveries.messages.lock().unwrap().is_empty());
        n.deliver(&notice("m-1", None), soon()).await.unwrap();
        assert_eq!(posts(&n), 1);
    }

    #[tokio::test]
    async fn a_release_that_fails_keeps_the_claim_so_nothing_posts_twice() {
        let n = notifier();
        *n.slack.failures.lock().unwrap() = 1;
        n.deliveries
            .release_fault
            .set("ProvisionedThroughputExceededException");
        let err = n.deliver(&notice("m-1", None), soon()).await.unwrap_err();
        assert!(
            err.to_string().contains("the fake refused"),
            "the post's error: {err}"
        );
        // The claim stays: in flight now, interrupted once its lease runs out; never posted twice.
        let next = n.deliver(&notice("m-1", None), soon()).await;
        assert!(next.is_err());
        assert_eq!(posts(&n), 0);
    }

    #[tokio::test]
    async fn a_resolution_replies_in_the_thread_its_finding_opened() {
        let n = notifier();
        let opened = n
            .deliver(&notice("m-1", Some(Lifecycle::Opened)), soon())
            .await
            .unwrap();
        let Delivery::Posted { ts: Some(ts), .. } = opened else {
            panic!("{opened:?}")
        };
        let resolved = Lifecycle::Resolved {
            opened_severity: Severity::Critical,
        };
        let reply = n
            .deliver(&notice("m-2", Some(resolved)), soon())
            .await
            .unwrap();
        assert!(matches!(reply, Delivery::Posted { thread_ts: Some(t), .. } if t == ts));
    }

    #[tokio::test]
    async fn below_the_minimum_severity_nothing_is_claimed_or_posted() {
        let mut n = notifier();
        n.min_severity = Severity::Critical;
        let mut low = notice("m-1", None);
        low.message = low.message.replace("\"critical\"", "\"info\"");
        let delivery = n.deliver(&low, soon()).await.unwrap();
        assert!(
            matches!(delivery, Delivery::Filtered { .. }),
            "{delivery:?}"
        );
        assert!(n.deliveries.messages.lock().unwrap().is_empty());
    }
}
