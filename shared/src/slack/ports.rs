//! What the notifier needs of the world: the memory of deliveries (claims, posted messages,
//! threads) and something that posts to Slack. The run is written against these, so its
//! exactly-once logic is tested with in-memory fakes; the adapters are `deliveries` (DynamoDB) and
//! `client` (HTTPS).

use crate::error::{Error, Result};
use crate::slack::client::Posted;
use crate::slack::config::Destination;
use serde_json::Value;
use std::future::Future;
use tokio::time::Instant;

/// The state of one notification in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to post.
    Mine,
    /// Already posted: a duplicate delivery, or the producer's retry of the same notification.
    Posted,
    /// Another invocation is posting it now.
    InFlight,
    /// An invocation claimed it and did not finish (it died, or Slack's answer was lost): it may
    /// or may not be in Slack. `claimed_at` (Unix seconds) is when that attempt began.
    Interrupted { claimed_at: u64 },
}

/// `dynamodb:PutItem`, `GetItem`, `UpdateItem`, `DeleteItem` on the deliveries table. A delivery
/// is keyed by the notification's own id: SNS's duplicate deliveries and a producer's retry
/// (a second SNS message with the same notification) are both posted once.
pub trait DeliveryStore {
    /// Claims a notification before posting it: of two deliveries, one posts.
    fn claim(
        &self,
        notification_id: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<Claim>> + Send;
    /// Takes over an interrupted claim (after looking in Slack): `Mine` only if nobody else
    /// took it since `claimed_at`.
    fn reclaim(
        &self,
        notification_id: &str,
        claimed_at: u64,
    ) -> impl Future<Output = Result<Claim>> + Send;
    /// The notification is in Slack.
    fn posted(&self, notification_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Posting failed for sure: let the retry post it.
    fn release(&self, notification_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Slack's answer was lost: the message may be there. Never posted again without looking.
    fn unsure(&self, notification_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Where the message that opened `thread_id` is.
    fn remember_thread(
        &self,
        thread_id: &str,
        channel: &str,
        ts: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The channel and `ts` of the message that opened `thread_id`, if remembered.
    fn thread(
        &self,
        thread_id: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>>> + Send;
}

/// Why a post failed, as far as it matters for posting again.
#[derive(Debug)]
pub enum PostError {
    /// Slack surely does not have it (refused, `5xx`, never reached): the retry may post it.
    NotPosted(Error),
    /// The request went out and the answer was lost (a timeout, a cut connection, an unreadable
    /// `2xx`), and looking was not possible or did not settle it: it may be in Slack.
    MaybePosted(Error),
}

/// Posts one rendered message (bot mode: to `channel`, in `thread_ts`), trying again as its
/// policy allows, never waiting past `deadline`. `key` (the notification id) goes with the
/// message, so [`Poster::find`] can tell later whether it arrived.
pub trait Poster {
    fn destination(&self) -> &Destination;
    fn post(
        &self,
        message: &Value,
        target: Target<'_>,
        deadline: Instant,
    ) -> impl Future<Output = std::result::Result<Posted, PostError>> + Send;
    /// Looks for the message posted with `target.key` since `since` (Unix seconds). `Ok(None)`:
    /// surely not there; an error: it cannot tell (a webhook cannot read its channel; a channel
    /// given by name cannot be read by ID).
    fn find(
        &self,
        target: Target<'_>,
        since: u64,
        deadline: Instant,
    ) -> impl Future<Output = Result<Option<Posted>>> + Send;
}

/// Where a message goes and what identifies it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Bot mode: the channel (a name or an ID).
    pub channel: Option<&'a str>,
    /// Bot mode: the `ts` of the message to reply under.
    pub thread_ts: Option<&'a str>,
    /// The notification id, carried in the message's metadata.
    pub key: &'a str,
}
