//! What the notifier needs of the world: the memory of deliveries (claims, posted messages,
//! threads) and something that posts to Slack. The run is written against these, so its
//! exactly-once logic is tested with in-memory fakes; the adapters are `deliveries` (DynamoDB) and
//! `client` (HTTPS).

use crate::error::Result;
use crate::slack::client::Posted;
use crate::slack::config::Destination;
use serde_json::Value;
use std::future::Future;
use tokio::time::Instant;

/// The state of one SNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to post.
    Mine,
    /// Already posted: a duplicate delivery.
    Posted,
    /// Another invocation is posting it now.
    InFlight,
    /// An invocation claimed it and never finished: it may or may not have been posted.
    Interrupted,
}

/// `dynamodb:PutItem`, `GetItem`, `UpdateItem`, `DeleteItem` on the deliveries table.
pub trait DeliveryStore {
    /// Claims an SNS message before posting it: of two deliveries of one message, one posts.
    fn claim(&self, message_id: &str) -> impl Future<Output = Result<Claim>> + Send;
    /// The message is in Slack.
    fn posted(&self, message_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Posting failed for sure: let the retry post it.
    fn release(&self, message_id: &str) -> impl Future<Output = Result<()>> + Send;
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

/// Posts one rendered message (bot mode: to `channel`, in `thread_ts`), trying again as its
/// policy allows, never waiting past `deadline`.
pub trait Poster {
    fn destination(&self) -> &Destination;
    fn post(
        &self,
        message: &Value,
        channel: Option<&str>,
        thread_ts: Option<&str>,
        deadline: Instant,
    ) -> impl Future<Output = Result<Posted>> + Send;
}
