//! Posting to Slack over HTTPS: an incoming webhook, or `chat.postMessage` with a bot token.
//!
//! Slack's answers, and what we do: `2xx` posted (for the Web API, only with `"ok": true`);
//! `429` wait `Retry-After` seconds and try again; `5xx` or no answer, retry with backoff; any
//! other refusal (`invalid_blocks`, `channel_not_found`, `invalid_auth`, …) is final. What still
//! fails is an error, so the invocation is retried and then kept in the dead-letter queue.
//! <https://docs.slack.dev/apis/web-api/rate-limits>,
//! <https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks>

use super::config::{Destination, Secret};
use super::ports::{PostError, Poster, Target};
use crate::error::{Invalid, Result};
use crate::https::{HttpsClient, RequestError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// How hard to try before giving up (and leaving the message to Lambda's retries and the DLQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts when Slack fails (`5xx`) or does not answer, the first included.
    pub attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub backoff: Duration,
    /// `429`s honoured before giving up.
    pub rate_limited: u32,
    /// Wait when a `429` has no usable `Retry-After`.
    pub default_retry_after: Duration,
    /// Each request's time limit.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(500),
            rate_limited: 5,
            default_retry_after: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Where a message landed: the Web API names the channel and the message's `ts` (what a thread
/// reply points at); a webhook says neither.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Posted {
    pub channel: Option<String>,
    pub ts: Option<String>,
}

/// What one HTTP exchange means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Posted(Posted),
    /// `429`: try again after this long.
    RateLimited(Duration),
    /// `5xx`, or the request surely never reached Slack: try again with backoff.
    Transient(String),
    /// The request went out and the answer was lost (a timeout, a cut connection, a `2xx` that
    /// cannot be read): the message may be in Slack. Look before posting again.
    Lost(String),
    /// Slack refused the message; trying again will not help.
    Refused(String),
}

/// A reply as far as the verdict needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// `None` when the body could not be read to its end.
    pub body: Option<String>,
}

/// Reads a reply: `web_api` for `chat.postMessage` (JSON with `ok`), else a webhook (`ok` text).
pub fn verdict(reply: &Reply, web_api: bool, policy: &RetryPolicy) -> Verdict {
    let body = reply.body.as_deref().unwrap_or_default();
    let excerpt: String = body.trim().chars().take(200).collect();
    let answered = if excerpt.is_empty() {
        format!("answered {}", reply.status)
    } else {
        format!("answered {}: {excerpt}", reply.status)
    };
    match reply.status {
        429 => Verdict::RateLimited(reply.retry_after.unwrap_or(policy.default_retry_after)),
        500..=599 => Verdict::Transient(answered),
        200..=299 if !web_api => Verdict::Posted(Posted::default()),
        200..=299 if reply.body.is_none() => Verdict::Lost(format!(
            "answered {} but the answer was cut off",
            reply.status
        )),
        200..=299 => match serde_json::from_str::<Value>(body) {
            Ok(doc) if doc["ok"] == true => Verdict::Posted(Posted {
                channel: doc["channel"].as_str().map(str::to_owned),
                ts: doc["ts"].as_str().map(str::to_owned),
            }),
            Ok(doc) if doc["error"] == "ratelimited" => {
                Verdict::RateLimited(reply.retry_after.unwrap_or(policy.default_retry_after))
            }
            Ok(doc) => Verdict::Refused(format!(
                "refused the message: {}",
                doc["error"].as_str().unwrap_or("no error given")
            )),
            Err(_) => Verdict::Lost(format!("{answered} (not the JSON Slack answers)")),
        },
        _ => Verdict::Refused(answered),
    }
}

/// The longest `Retry-After` taken as said; a longer one (or a huge number) counts as this, which
/// is past any invocation's deadline anyway.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` in seconds, bounded: digits only, at most [`MAX_RETRY_AFTER`].
pub fn retry_after(value: &str) -> Option<Duration> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The HTTPS client (system roots, as the AWS SDK uses), built once per cold start.
pub struct SlackClient {
    http: HttpsClient,
    destination: Destination,
    policy: RetryPolicy,
}

impl SlackClient {
    pub fn new(destination: Destination, policy: RetryPolicy) -> Result<Self> {
        let http = HttpsClient::new();
        Ok(SlackClient {
            http,
            destination,
            policy,
        })
    }

    /// One exchange with Slack: a JSON `POST`, or a `GET` without a body.
    async fn send(
        &self,
        url: &str,
        token: Option<&Secret>,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> std::result::Result<Reply, RequestError> {
        let not_sent = |message: String| RequestError {
            message,
            maybe_sent: false,
        };
        let mut request = match body {
            Some(_) => hyper::Request::post(url).header(
                hyper::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            ),
            None => hyper::Request::get(url),
        };
        if let Some(token) = token {
            request = request.header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        }
        // Errors name what went wrong, never the URL (a webhook's URL is its credential).
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|_| not_sent("the Slack URL is not a valid URI".to_owned()))?;
        let response = tokio::time::timeout(timeout, self.http.request(request))
            .await
            .map_err(|_| RequestError {
                message: format!("no answer within {timeout:?}"),
                maybe_sent: true,
            })??;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let body = Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await
            .ok()
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned());
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }

    /// The conversation a message can be looked for in: bot mode, and a channel given by ID
    /// (the Web API reads history by ID only).
    fn readable<'a>(
        &'a self,
        target: Target<'a>,
    ) -> std::result::Result<(&'a Secret, &'a str, &'a str), Invalid> {
        match (&self.destination, target.channel) {
            (Destination::Webhook { .. }, _) => {
                Err("an incoming webhook cannot read its channel".into())
            }
            (Destination::Bot { token, api_url, .. }, Some(channel)) if is_channel_id(channel) => {
                Ok((token, api_url, channel))
            }
            (Destination::Bot { .. }, _) => Err(
                "the channel is given by name; give its ID in SLACK_CHANNELS so it can be read"
                    .into(),
            ),
        }
    }

    /// Time left for one request.
    fn timeout(&self, deadline: Instant) -> Duration {
        self.policy
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()))
    }
}

/// How far before the first attempt the channel is searched (clocks differ a little).
pub const LOOK_BACK: Duration = Duration::from_secs(60);

/// The `event_type` of the metadata every message carries (its payload names the notification).
pub const METADATA_EVENT: &str = "privatelink_autopilot_notification";
/// Pages of history read when looking for a message (each up to [`HISTORY_PAGE`] messages).
const HISTORY_PAGES: usize = 5;
const HISTORY_PAGE: usize = 100;

/// A Slack conversation ID (`C…`, `G…`, `D…`), as opposed to a `#name`.
fn is_channel_id(channel: &str) -> bool {
    channel.len() >= 9
        && matches!(channel.as_bytes()[0], b'C' | b'G' | b'D')
        && channel
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A query-string value, percent-encoded (RFC 3986 unreserved characters kept).
fn query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The message of `doc` (a `conversations.history` / `.replies` page) that carries `key`.
fn carrying(doc: &Value, key: &str) -> Option<String> {
    doc["messages"].as_array()?.iter().find_map(|m| {
        let meta = &m["metadata"];
        (meta["event_type"] == METADATA_EVENT && meta["event_payload"]["notification_id"] == key)
            .then(|| m["ts"].as_str().map(str::to_owned))
            .flatten()
    })
}

impl Poster for SlackClient {
    fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Posts `message` (`text` and `blocks`), to `channel` and in `thread_ts` in bot mode, trying
    /// again as the policy allows without waiting past `deadline`. An answer lost after the
    /// request went out is never followed blindly by a second post: the channel is read first
    /// (bot mode with a channel ID); where it cannot be, the message may be in Slack and is not
    /// posted again.
    async fn post(
        &self,
        message: &Value,
        target: Target<'_>,
        deadline: Instant,
    ) -> std::result::Result<Posted, PostError> {
        let (url, token, body) = match &self.destination {
            Destination::Webhook { url } => (url.expose().to_owned(), None, message.clone()),
            Destination::Bot { token, api_url, .. } => {
                let mut body = message.clone();
                body["channel"] = Value::from(target.channel.unwrap_or_default());
                body["unfurl_links"] = Value::Bool(false);
                body["metadata"] = serde_json::json!({
                    "event_type": METADATA_EVENT,
                    "event_payload": { "notification_id": target.key },
                });
                if let Some(ts) = target.thread_ts {
                    body["thread_ts"] = Value::from(ts);
                }
                (format!("{api_url}/chat.postMessage"), Some(token), body)
            }
        };
        let body = Bytes::from(body.to_string());
        let web_api = token.is_some();
        let since = crate::events::now_secs().saturating_sub(LOOK_BACK.as_secs());
        let may_be_posted = |why: &str, cannot: &str| {
            PostError::MaybePosted(super::failed(
                format!(
                    "{why}: the message may already be in Slack, so it is not posted again ({cannot})"
                ),
                false,
            ))
        };
        let (mut failures, mut limited) = (0u32, 0u32);
        // Set when the last answer was lost: look in the channel before sending again.
        let mut lost: Option<String> = None;
        loop {
            if let Some(why) = lost.take() {
                match self.find(target, since, deadline).await {
                    Ok(Some(posted)) => {
                        tracing::info!(reason = %why, "Slack's answer was lost, but the message is in the channel");
                        return Ok(posted);
                    }
                    Ok(None) if failures >= self.policy.attempts => {
                        return Err(PostError::NotPosted(super::failed(
                            format!("{why} ({failures} attempts; not in the channel)"),
                            true,
                        )));
                    }
                    Ok(None) => {}
                    Err(cannot) => return Err(may_be_posted(&why, &super::reason(&cannot))),
                }
            }
            // Never wait for an answer past the deadline: a killed invocation would leave the
            // message claimed and unknown.
            let verdict = match self
                .send(&url, token, Some(body.clone()), self.timeout(deadline))
                .await
            {
                Ok(reply) => verdict(&reply, web_api, &self.policy),
                Err(e) if e.maybe_sent => Verdict::Lost(e.message),
                Err(e) => Verdict::Transient(e.message),
            };
            let (wait, why) = match verdict {
                Verdict::Posted(posted) => return Ok(posted),
                Verdict::Refused(why) => {
                    return Err(PostError::NotPosted(super::failed(why, false)));
                }
                Verdict::RateLimited(after) => {
                    limited += 1;
                    let why = format!("rate limited (Retry-After {}s)", after.as_secs());
                    if limited > self.policy.rate_limited {
                        return Err(PostError::NotPosted(super::failed(
                            format!("{why}, {limited} times"),
                            true,
                        )));
                    }
                    (after, why)
                }
                Verdict::Transient(why) => {
                    failures += 1;
                    if failures >= self.policy.attempts {
                        return Err(PostError::NotPosted(super::failed(
                            format!("{why} ({failures} attempts)"),
                            true,
                        )));
                    }
                    (self.policy.backoff * 2u32.pow(failures - 1), why)
                }
                Verdict::Lost(why) => {
                    failures += 1;
                    if let Err(cannot) = self.readable(target) {
                        return Err(may_be_posted(&why, &cannot.0));
                    }
                    // Give Slack a moment to finish what it may have been doing, then look.
                    lost = Some(why.clone());
                    (self.policy.backoff * 2u32.pow(failures - 1), why)
                }
            };
            // No arithmetic on what Slack said: compared with the time left, never added to now.
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                let why =
                    format!("{why}; waiting {wait:?} more would pass the invocation's deadline");
                return Err(match lost {
                    Some(_) => may_be_posted(&why, "no time left to look"),
                    None => PostError::NotPosted(super::failed(why, true)),
                });
            }
            tracing::warn!(reason = %why, wait_ms = wait.as_millis() as u64, "Slack post retried");
            tokio::time::sleep(wait).await;
        }
    }

    /// Reads the channel (or the thread) since `since` for the message carrying `target.key`:
    /// `conversations.history` / `conversations.replies` with `include_all_metadata`, a few
    /// pages at most. <https://docs.slack.dev/reference/methods/conversations.history>,
    /// <https://docs.slack.dev/reference/methods/conversations.replies>
    async fn find(
        &self,
        target: Target<'_>,
        since: u64,
        deadline: Instant,
    ) -> Result<Option<Posted>> {
        let cannot = |why: String| super::failed(why, false);
        let (token, api_url, channel) = self.readable(target).map_err(|why| cannot(why.0))?;
        let mut cursor: Option<String> = None;
        for _ in 0..HISTORY_PAGES {
            let mut url = match target.thread_ts {
                Some(ts) => format!(
                    "{api_url}/conversations.replies?channel={}&ts={}",
                    query(channel),
                    query(ts)
                ),
                None => format!("{api_url}/conversations.history?channel={}", query(channel)),
            };
            url.push_str(&format!(
                "&oldest={since}&limit={HISTORY_PAGE}&include_all_metadata=true"
            ));
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={}", query(c)));
            }
            let reply = self
                .send(&url, Some(token), None, self.timeout(deadline))
                .await
                .map_err(|e| cannot(format!("reading the channel: {e}")))?;
            let doc: Value = match (reply.status, reply.body.as_deref()) {
                (200, Some(body)) => serde_json::from_str(body).unwrap_or_default(),
                (status, _) => {
                    return Err(cannot(format!("reading the channel: answered {status}")));
                }
            };
            if doc["ok"] != true {
                return Err(cannot(format!(
                    "reading the channel: {}",
                    doc["error"]
                        .as_str()
                        .unwrap_or("not the JSON Slack answers")
                )));
            }
            if let Some(ts) = carrying(&doc, target.key) {
                return Ok(Some(Posted {
                    channel: Some(channel.to_owned()),
                    ts: Some(ts),
                }));
            }
            match doc["response_metadata"]["next_cursor"].as_str() {
                Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
                _ => return Ok(None),
            }
        }
        Err(cannot(format!(
            "more than {} messages since the first attempt",
            HISTORY_PAGES * HISTORY_PAGE
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str, retry_after: Option<u64>) -> Reply {
        Reply {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: Some(body.into()),
        }
    }

    #[test]
    fn retry_after_is_bounded_and_never_overflows() {
        assert_eq!(retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("99999999999999999999999"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(&u64::MAX.to_string()), Some(MAX_RETRY_AFTER));
        for junk in ["", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "+5"] {
            assert_eq!(retry_after(junk), None, "{junk:?}");
        }
        // What the post loop does with the longest one: compare, never add.
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(MAX_RETRY_AFTER >= deadline.saturating_duration_since(Instant::now()));
    }

    #[test]
    fn slack_answers_are_read_as_documented() {
        let p = RetryPolicy::default();
        assert_eq!(
            verdict(&reply(200, "ok", None), false, &p),
            Verdict::Posted(Posted::default())
        );
        assert_eq!(
            verdict(
                &reply(200, r#"{"ok":true,"channel":"C1","ts":"1.2"}"#, None),
                true,
                &p
            ),
            Verdict::Posted(Posted {
                channel: Some("C1".into()),
                ts: Some("1.2".into())
            })
        );
        assert_eq!(
            verdict(&reply(429, "", Some(7)), true, &p),
            Verdict::RateLimited(Duration::from_secs(7))
        );
        assert_eq!(
            verdict(&reply(429, "", None), false, &p),
            Verdict::RateLimited(Duration::from_secs(1))
        );
        assert_eq!(
            verdict(&reply(503, "", None), false, &p),
            Verdict::Transient("answered 503".into())
        );
        assert_eq!(
            verdict(
                &reply(200, r#"{"ok":false,"error":"channel_not_found"}"#, None),
                true,
                &p
            ),
            Verdict::Refused("refused the message: channel_not_found".into())
        );
        assert_eq!(
            verdict(&reply(400, "invalid_blocks", None), false, &p),
            Verdict::Refused("answered 400: invalid_blocks".into())
        );
    }
}
