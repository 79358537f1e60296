//! In-memory stand-ins for this job's ports, for the engine's tests: each keeps what it was
//! asked and can be told to fail.

use crate::error::{Error, Result};
use crate::fakes::Fault;
use crate::slack::client::Posted;
use crate::slack::config::Destination;
use crate::slack::ports::{Claim, DeliveryStore, PostError, Poster, Target};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::time::Instant;

/// Claims as the DynamoDB store keeps them, by notification id (`InFlight`: claimed by a
/// live invocation). Time is not modelled: a repeat is always a duplicate.
#[derive(Default)]
pub struct MemoryDeliveries {
    pub messages: Mutex<BTreeMap<String, Claim>>,
    pub threads: Mutex<BTreeMap<String, (String, String)>>,
    pub release_fault: Fault,
}

impl DeliveryStore for MemoryDeliveries {
    async fn claim(&self, notification_id: &str, _message_id: &str) -> Result<Claim> {
        let mut messages = self.messages.lock().unwrap();
        match messages.get(notification_id) {
            None => {
                messages.insert(notification_id.to_owned(), Claim::InFlight);
                Ok(Claim::Mine)
            }
            Some(state) => Ok(state.clone()),
        }
    }

    async fn reclaim(&self, notification_id: &str, claimed_at: u64) -> Result<Claim> {
        let mut messages = self.messages.lock().unwrap();
        let state = messages.get_mut(notification_id);
        match state {
            Some(state) if *state == Claim::Interrupted { claimed_at } => {
                *state = Claim::InFlight;
                Ok(Claim::Mine)
            }
            _ => Ok(Claim::InFlight),
        }
    }

    async fn posted(&self, notification_id: &str) -> Result<()> {
        self.messages
            .lock()
            .unwrap()
            .insert(notification_id.to_owned(), Claim::Posted);
        Ok(())
    }

    async fn release(&self, notification_id: &str) -> Result<()> {
        self.release_fault.check("dynamodb:DeleteItem")?;
        self.messages.lock().unwrap().remove(notification_id);
        Ok(())
    }

    async fn unsure(&self, notification_id: &str) -> Result<()> {
        self.messages.lock().unwrap().insert(
            notification_id.to_owned(),
            Claim::Interrupted { claimed_at: 0 },
        );
        Ok(())
    }

    async fn remember_thread(&self, thread_id: &str, channel: &str, ts: &str) -> Result<()> {
        self.threads
            .lock()
            .unwrap()
            .insert(thread_id.into(), (channel.into(), ts.into()));
        Ok(())
    }

    async fn thread(&self, thread_id: &str) -> Result<Option<(String, String)>> {
        Ok(self.threads.lock().unwrap().get(thread_id).cloned())
    }
}

/// One message in the channel: the message, its channel, thread and notification id.
pub type Post = (Value, Option<String>, Option<String>, String);

/// Slack as the notifier sees it: posts land in `posts`. `failures` posts are refused
/// (surely not posted); `lost` posts land but their answer is lost; `readable` says whether
/// the channel can be read back.
pub struct FakePoster {
    pub destination: Destination,
    pub posts: Mutex<Vec<Post>>,
    pub failures: Mutex<u32>,
    pub lost: Mutex<u32>,
    pub readable: bool,
}

impl FakePoster {
    pub fn new(destination: Destination) -> Self {
        FakePoster {
            destination,
            posts: Mutex::default(),
            failures: Mutex::new(0),
            lost: Mutex::new(0),
            readable: true,
        }
    }

    fn ts(n: usize) -> String {
        format!("1700000000.{n:06}")
    }
}

impl Poster for FakePoster {
    fn destination(&self) -> &Destination {
        &self.destination
    }

    async fn post(
        &self,
        message: &Value,
        target: Target<'_>,
        _deadline: Instant,
    ) -> std::result::Result<Posted, PostError> {
        let delivery = |message: &str, retryable| Error::Delivery {
            service: "Slack",
            message: message.into(),
            retryable,
        };
        {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(PostError::NotPosted(delivery("the fake refused", true)));
            }
        }
        let mut posts = self.posts.lock().unwrap();
        posts.push((
            message.clone(),
            target.channel.map(str::to_owned),
            target.thread_ts.map(str::to_owned),
            target.key.to_owned(),
        ));
        let mut lost = self.lost.lock().unwrap();
        if *lost > 0 {
            *lost -= 1;
            return Err(PostError::MaybePosted(delivery(
                "the fake lost the answer: it may already be in Slack",
                false,
            )));
        }
        Ok(Posted {
            channel: target.channel.map(str::to_owned),
            ts: Some(Self::ts(posts.len())),
        })
    }

    async fn find(
        &self,
        target: Target<'_>,
        _since: u64,
        _deadline: Instant,
    ) -> Result<Option<Posted>> {
        if !self.readable {
            return Err(Error::Delivery {
                service: "Slack",
                message: "the fake cannot read the channel".into(),
                retryable: false,
            });
        }
        let posts = self.posts.lock().unwrap();
        Ok(posts
            .iter()
            .position(|p| p.3 == target.key && p.1.as_deref() == target.channel)
            .map(|i| Posted {
                channel: target.channel.map(str::to_owned),
                ts: Some(Self::ts(i + 1)),
            }))
    }
}
