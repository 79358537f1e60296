//! Posting to Slack over HTTPS: an incoming webhook, or `chat.postMessage` with a bot token.
//!
//! Slack's answers, and what we do: `2xx` posted (for the Web API, only with `"ok": true`);
//! `429` wait `Retry-After` seconds and try again; `5xx` or no answer, retry with backoff; any
//! other refusal (`invalid_blocks`, `channel_not_found`, `invalid_auth`, …) is final. What still
//! fails is an error, so the invocation is retried and then kept in the dead-letter queue.
//! <https://docs.slack.dev/apis/web-api/rate-limits>,
//! <https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks>

use super::config::{Destination, Secret};
use super::ports::Poster;
use crate::error::Result;
use crate::https::HttpsClient;
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
    /// `5xx` or no answer: try again with backoff.
    Transient(String),
    /// Slack refused the message; trying again will not help.
    Refused(String),
}

/// A reply as far as the verdict needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// Reads a reply: `web_api` for `chat.postMessage` (JSON with `ok`), else a webhook (`ok` text).
pub fn verdict(reply: &Reply, web_api: bool, policy: &RetryPolicy) -> Verdict {
    let excerpt: String = reply.body.trim().chars().take(200).collect();
    let answered = if excerpt.is_empty() {
        format!("answered {}", reply.status)
    } else {
        format!("answered {}: {excerpt}", reply.status)
    };
    match reply.status {
        429 => Verdict::RateLimited(reply.retry_after.unwrap_or(policy.default_retry_after)),
        500..=599 => Verdict::Transient(answered),
        200..=299 if !web_api => Verdict::Posted(Posted::default()),
        200..=299 => match serde_json::from_str::<Value>(&reply.body) {
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
            Err(_) => Verdict::Transient(answered),
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

    async fn send(
        &self,
        url: &str,
        token: Option<&Secret>,
        body: Bytes,
        timeout: Duration,
    ) -> std::result::Result<Reply, String> {
        let mut request = hyper::Request::post(url).header(
            hyper::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        );
        if let Some(token) = token {
            request = request.header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        }
        // Errors name what went wrong, never the URL (a webhook's URL is its credential).
        let request = request
            .body(Full::new(body))
            .map_err(|_| "the Slack URL is not a valid URI".to_owned())?;
        let response = tokio::time::timeout(timeout, self.http.request(request))
            .await
            .map_err(|_| format!("no answer within {timeout:?}"))??;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let body = Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await
            .map_err(|e| format!("reading Slack's answer: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            retry_after,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

impl Poster for SlackClient {
    fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Posts `message` (`text` and `blocks`), to `channel` and in `thread_ts` in bot mode, trying
    /// again as the policy allows without waiting past `deadline`.
    async fn post(
        &self,
        message: &Value,
        channel: Option<&str>,
        thread_ts: Option<&str>,
        deadline: Instant,
    ) -> Result<Posted> {
        let (url, token, body) = match &self.destination {
            Destination::Webhook { url } => (url.expose().to_owned(), None, message.clone()),
            Destination::Bot { token, api_url, .. } => {
                let mut body = message.clone();
                body["channel"] = Value::from(channel.unwrap_or_default());
                body["unfurl_links"] = Value::Bool(false);
                if let Some(ts) = thread_ts {
                    body["thread_ts"] = Value::from(ts);
                }
                (format!("{api_url}/chat.postMessage"), Some(token), body)
            }
        };
        let body = Bytes::from(body.to_string());
        let web_api = token.is_some();
        let (mut failures, mut limited) = (0u32, 0u32);
        loop {
            // Never wait for an answer past the deadline: a killed invocation would leave the
            // message claimed and unknown.
            let timeout = self
                .policy
                .timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            let verdict = match self.send(&url, token, body.clone(), timeout).await {
                Ok(reply) => verdict(&reply, web_api, &self.policy),
                Err(why) => Verdict::Transient(why),
            };
            let (wait, why) = match verdict {
                Verdict::Posted(posted) => return Ok(posted),
                Verdict::Refused(why) => return Err(super::failed(why, false)),
                Verdict::RateLimited(after) => {
                    limited += 1;
                    let why = format!("rate limited (Retry-After {}s)", after.as_secs());
                    if limited > self.policy.rate_limited {
                        return Err(super::failed(format!("{why}, {limited} times"), true));
                    }
                    (after, why)
                }
                Verdict::Transient(why) => {
                    failures += 1;
                    if failures >= self.policy.attempts {
                        return Err(super::failed(format!("{why} ({failures} attempts)"), true));
                    }
                    (self.policy.backoff * 2u32.pow(failures - 1), why)
                }
            };
            // No arithmetic on what Slack said: compared with the time left, never added to now.
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                return Err(super::failed(
                    format!("{why}; waiting {wait:?} more would pass the invocation's deadline"),
                    true,
                ));
            }
            tracing::warn!(reason = %why, wait_ms = wait.as_millis() as u64, "Slack post retried");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str, retry_after: Option<u64>) -> Reply {
        Reply {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.into(),
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
