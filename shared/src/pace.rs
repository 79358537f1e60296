//! Request rates kept on our side: AWS throttles an account's requests with token buckets shared
//! by every client in the account, so each job takes its tokens from a bucket of its own, sized
//! at (a share of) the documented rate. Waiting for a token here keeps a burst at the rate's
//! bound with no call refused, where retrying throttled calls with backoff falls well below it.
//!
//! [`Pace`] is a bucket of one process. [`SharedBuckets`] keeps buckets in a DynamoDB item, so
//! every execution environment of a function (and the operator CLI) draws on the same tokens, as
//! AWS's own buckets are drawn on by every client of the account.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A token bucket that makes callers wait for their token.
#[derive(Debug)]
pub struct Pace {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Pace {
    pub fn new((rate, burst): (f64, f64)) -> Self {
        Pace {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// How long the next request must wait for its token (taking it now, so waiting callers are
    /// served in turn).
    pub fn reserve(&self) -> Duration {
        let Ok(mut state) = self.state.lock() else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let (tokens, last) = *state;
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        *state = (tokens - 1.0, now);
        if tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - tokens) / self.rate)
        }
    }

    pub async fn wait(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A bucket's name and its (rate per second, burst).
pub type Bucket = (&'static str, (f64, f64));

/// The buckets of one item: its version (for the conditional write), and each bucket's tokens
/// and when they were last counted (ms since the epoch). Each bucket keeps its own time, so one
/// drawn on rarely still refills while the others are drawn on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drawn {
    pub version: u64,
    pub tokens: std::collections::BTreeMap<String, (f64, u64)>,
}

impl Drawn {
    /// Pure: one token reserved from each of `buckets` at `now_ms` (a bucket never seen starts
    /// full): the item's next state, and how long the caller waits for its tokens. Tokens may go
    /// below zero: a reservation made now is served after those made before it.
    pub fn reserve(&self, now_ms: u64, buckets: &[Bucket]) -> (Drawn, Duration) {
        let mut next = Drawn {
            version: self.version + 1,
            tokens: self.tokens.clone(),
        };
        let mut wait = Duration::ZERO;
        for (name, (rate, burst)) in buckets {
            let (had, at) = match self.tokens.get(*name) {
                None => (*burst, now_ms),
                // A clock behind the bucket's never refills backwards nor moves it back.
                Some(&(t, at)) => {
                    let elapsed = now_ms.saturating_sub(at) as f64 / 1000.0;
                    ((t + elapsed * rate).min(*burst), at.max(now_ms))
                }
            };
            if had < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - had) / rate));
            }
            next.tokens.insert((*name).to_owned(), (had - 1.0, at));
        }
        (next, wait)
    }
}

/// Token buckets kept in DynamoDB: one item per key (an account's buckets), drawn on with a
/// read and a conditional write, so concurrent processes each get their own tokens.
#[cfg(feature = "private-zones")]
pub struct SharedBuckets {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// What this process last wrote of each item: the next reservation writes without reading
    /// first, and reads only when another process wrote since.
    seen: Mutex<std::collections::HashMap<String, Drawn>>,
}

/// Attempts at a reservation while other processes win the conditional write.
#[cfg(feature = "private-zones")]
const RESERVE_ATTEMPTS: u32 = 20;

#[cfg(feature = "private-zones")]
impl SharedBuckets {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        SharedBuckets {
            client,
            table,
            seen: Mutex::default(),
        }
    }

    /// Reserve one token from each of `buckets` under `key` and wait until they are due.
    pub async fn wait(&self, key: &str, buckets: &[Bucket]) -> crate::Result<()> {
        let wait = self.reserve(key, buckets).await?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    async fn reserve(&self, key: &str, buckets: &[Bucket]) -> crate::Result<Duration> {
        let pk = format!("pace#{key}");
        let mut last = self.seen.lock().ok().and_then(|s| s.get(&pk).cloned());
        for _ in 0..RESERVE_ATTEMPTS {
            let drawn = match last.take() {
                Some(drawn) => drawn,
                None => self.read(&pk).await?,
            };
            let now_ms = crate::events::since_epoch().as_millis() as u64;
            let (next, wait) = drawn.reserve(now_ms, buckets);
            if self.write(&pk, &drawn, &next).await? {
                if let Ok(mut seen) = self.seen.lock() {
                    seen.insert(pk, next);
                }
                return Ok(wait);
            }
        }
        Err(crate::Error::Busy(format!(
            "the request rate kept in {} under {pk} changed under {RESERVE_ATTEMPTS} attempts in a row",
            self.table
        )))
    }

    async fn read(&self, pk: &str) -> crate::Result<Drawn> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::Error::aws("dynamodb:GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(Drawn::default());
        };
        let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<f64>().ok());
        Ok(Drawn {
            version: crate::dynamo::number(item, "version").unwrap_or(0),
            tokens: item
                .iter()
                .filter_map(|(k, v)| {
                    let name = k.strip_prefix("tokens_")?;
                    let at = crate::dynamo::number(item, &format!("at_{name}"))?;
                    Some((name.to_owned(), (number(v)?, at)))
                })
                .collect(),
        })
    }

    /// `next` written if the item is still as `drawn` found it; `false` if another process wrote
    /// since.
    async fn write(&self, pk: &str, drawn: &Drawn, next: &Drawn) -> crate::Result<bool> {
        let n = |v: String| AttributeValue::N(v);
        // Idle buckets refill to full: an item unused for a day is left to the table's TTL.
        let expires = crate::events::now_secs() + 86_400;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.to_owned()))
            .item("version", n(next.version.to_string()))
            .item("expires_at", n(expires.to_string()));
        for (name, (tokens, at)) in &next.tokens {
            put = put
                .item(format!("tokens_{name}"), n(format!("{tokens:.4}")))
                .item(format!("at_{name}"), n(at.to_string()));
        }
        put = if drawn.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :seen")
                .expression_attribute_values(":seen", n(drawn.version.to_string()))
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if crate::dynamo::conditional_failed(&e) => Ok(false),
            Err(e) => Err(crate::Error::aws("dynamodb:PutItem", e)),
        }
    }
}

#[cfg(feature = "private-zones")]
use aws_sdk_dynamodb::types::AttributeValue;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_in_one_item_spend_every_bucket_and_wait_for_the_slowest() {
        let buckets: [Bucket; 2] = [("account", (10.0, 2.0)), ("associate", (5.0, 1.0))];
        let (first, wait) = Drawn::default().reserve(1_000, &buckets);
        assert_eq!(wait, Duration::ZERO, "a bucket never seen starts full");
        assert_eq!(first.version, 1);
        assert_eq!(first.tokens["account"].0, 1.0);
        assert_eq!(first.tokens["associate"].0, 0.0);
        // At once again: the associate bucket is empty, its token is due in 1/5 s.
        let (second, wait) = first.reserve(1_000, &buckets);
        assert_eq!(wait, Duration::from_millis(200));
        assert_eq!(second.tokens["associate"].0, -1.0);
        // A third waits behind the second.
        let (third, wait) = second.reserve(1_000, &buckets);
        assert_eq!(wait, Duration::from_millis(400));
        // A second later both refilled, capped at their bursts (from -2 + 5 for associate).
        let (_, wait) = third.reserve(2_000, &buckets);
        assert_eq!(wait, Duration::ZERO);
        // A clock behind the item's never refills backwards nor moves the item back.
        let (behind, _) = third.reserve(500, &buckets);
        assert_eq!(behind.tokens["account"].1, 1_000);
    }

    #[test]
    fn a_bucket_drawn_on_rarely_refills_while_the_others_are_drawn_on() {
        let account: [Bucket; 1] = [("account", (10.0, 50.0))];
        let both: [Bucket; 2] = [("account", (10.0, 50.0)), ("associate", (5.0, 1.0))];
        let (mut item, _) = Drawn::default().reserve(0, &both);
        // Account-only requests every 100 ms for a second.
        for t in (100..=1_000).step_by(100) {
            item = item.reserve(t, &account).0;
        }
        // The associate bucket refilled over that second: no wait.
        let (_, wait) = item.reserve(1_000, &both);
        assert_eq!(wait, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_then_requests_are_spaced_at_the_rate() {
        let pace = Pace::new((5.0, 20.0));
        let waits: Vec<Duration> = (0..25).map(|_| pace.reserve()).collect();
        assert!(waits[..20].iter().all(|w| w.is_zero()));
        // The 21st waits one interval, the 25th five.
        assert_eq!(waits[20], Duration::from_millis(200));
        assert_eq!(waits[24], Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(pace.reserve().is_zero(), "refilled");
    }
}
