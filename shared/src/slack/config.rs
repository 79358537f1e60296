//! The Slack notifier's configuration, checked at cold start: where messages go (an incoming
//! webhook, or a bot token with a channel per severity), and which severities are posted.

use crate::config::Env;
use crate::error::{Error, Result};
use crate::notify::Severity;
use std::collections::BTreeMap;
use std::fmt;

/// A credential that never shows up in logs or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// What the environment says; the destination itself comes from the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Secrets Manager secret (ARN or name) holding the webhook URL or the bot token.
    pub secret_id: String,
    /// Alerts below this severity are not posted (resolutions count as what they resolve).
    pub min_severity: Severity,
    /// Bot-token mode: the channel for each severity.
    pub routing: Option<Routing>,
    /// The Slack Web API base (`https://slack.com/api`); GovSlack and local tests change it.
    pub api_url: String,
    /// DynamoDB table remembering what was posted (and the threads findings opened).
    pub deliveries_table: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self> {
        let min_severity = match env.optional("SLACK_MIN_SEVERITY") {
            None => Severity::Info,
            Some(s) => Severity::parse(&s).ok_or_else(|| {
                Error::Config(format!(
                    "SLACK_MIN_SEVERITY must be info, warning or critical, not {s:?}"
                ))
            })?,
        };
        let routing = env
            .optional("SLACK_CHANNELS")
            .map(|text| Routing::parse(&text, min_severity))
            .transpose()?;
        let api_url = env
            .optional("SLACK_API_URL")
            .unwrap_or_else(|| "https://slack.com/api".into());
        check_url("SLACK_API_URL", &api_url, API_HOSTS, true)?;
        Ok(Config {
            secret_id: env.required("SLACK_SECRET_ARN")?,
            min_severity,
            routing,
            api_url: api_url.trim_end_matches('/').to_owned(),
            deliveries_table: env.required("DELIVERIES_TABLE")?,
        })
    }
}

/// `critical=#oncall,warning=#platform,default=#platform-info`: a channel (name or ID) per
/// severity, `default` for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    channels: BTreeMap<Severity, String>,
}

impl Routing {
    /// Every severity that is posted (at or above `min`) must have a channel.
    pub fn parse(text: &str, min: Severity) -> Result<Self> {
        let bad = |why: String| Error::Config(format!("SLACK_CHANNELS: {why}"));
        let mut named = BTreeMap::new();
        let mut default = None;
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, channel) = pair
                .split_once('=')
                .map(|(k, c)| (k.trim(), c.trim()))
                .ok_or_else(|| bad(format!("{pair:?} is not severity=channel")))?;
            if !valid_channel(channel) {
                return Err(bad(format!(
                    "{channel:?} is not a channel name (#name) or ID (C…, G…)"
                )));
            }
            let previous = if key == "default" {
                default.replace(channel.to_owned())
            } else {
                let severity = Severity::parse(key).ok_or_else(|| {
                    bad(format!("{key:?} is not info, warning, critical or default"))
                })?;
                named.insert(severity, channel.to_owned())
            };
            if previous.is_some() {
                return Err(bad(format!("{key} is given twice")));
            }
        }
        let mut channels = BTreeMap::new();
        for severity in [Severity::Info, Severity::Warning, Severity::Critical] {
            match named.remove(&severity).or_else(|| default.clone()) {
                Some(channel) => {
                    channels.insert(severity, channel);
                }
                None if severity >= min => {
                    return Err(bad(format!(
                        "no channel for {} alerts (name one, or a default)",
                        severity.as_str()
                    )));
                }
                None => {}
            }
        }
        Ok(Routing { channels })
    }

    pub fn channel(&self, severity: Severity) -> Option<&str> {
        self.channels.get(&severity).map(String::as_str)
    }
}

fn valid_channel(c: &str) -> bool {
    let name = c
        .strip_prefix('#')
        .is_some_and(|n| !n.is_empty() && n.len() <= 80);
    let id = c.len() >= 9
        && (c.starts_with('C') || c.starts_with('G'))
        && c.chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit());
    (name || id) && !c.contains(char::is_whitespace)
}

/// Slack's own hosts (commercial and GovSlack) for the Web API and for incoming webhooks.
/// <https://docs.slack.dev/apis/web-api/>, <https://docs.slack.dev/govslack>
const API_HOSTS: &[&str] = &["slack.com", "slack-gov.com"];
const WEBHOOK_HOSTS: &[&str] = &["hooks.slack.com", "hooks.slack-gov.com"];

/// `https` to one of Slack's `hosts` (or a subdomain of an API host), or `http` to this machine
/// only (local tests, a sidecar) — judged by the parsed host, so userinfo
/// (`http://127.0.0.1:@evil.example/`) and look-alikes (`slack.com.evil.example`) are refused:
/// a token never goes elsewhere, nor anywhere in clear text.
fn check_url(what: &str, url: &str, hosts: &[&str], subdomains: bool) -> Result<()> {
    let uri = crate::https::checked_url(what, url).map_err(|e| Error::Config(e.0))?;
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let slack = hosts.iter().any(|h| {
        host == *h || (subdomains && host.strip_suffix(h).is_some_and(|rest| rest.ends_with('.')))
    });
    if uri.scheme_str() == Some("http") || slack {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{what} must be a Slack URL ({}), or http:// to a loopback address",
            hosts.join(", ")
        )))
    }
}

/// Where messages go, from the secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An incoming webhook: one channel, no threads.
    Webhook { url: Secret },
    /// A bot token: `chat.postMessage` to the routed channel, resolutions in the thread.
    Bot {
        token: Secret,
        api_url: String,
        routing: Routing,
    },
}

impl Destination {
    /// The secret holds a webhook URL or a bot token, as plain text or as JSON
    /// (`{"webhook_url": "…"}` or `{"bot_token": "…"}`). Errors never repeat the value.
    pub fn from_secret(value: &str, config: &Config) -> Result<Self> {
        let bad =
            |why: &str| Error::Config(format!("the Slack secret {}: {why}", config.secret_id));
        let value = value.trim();
        let value = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(doc) if doc.is_object() => ["webhook_url", "bot_token"]
                .iter()
                .find_map(|k| doc[*k].as_str())
                .ok_or_else(|| bad("JSON without a webhook_url or bot_token string"))?
                .trim()
                .to_owned(),
            _ => value.to_owned(),
        };
        if value.starts_with("xoxb-") || value.starts_with("xoxp-") {
            let routing = config.routing.clone().ok_or_else(|| {
                bad("holds a bot token, so SLACK_CHANNELS must name the channels")
            })?;
            return Ok(Destination::Bot {
                token: Secret(value),
                api_url: config.api_url.clone(),
                routing,
            });
        }
        if value.starts_with("https://") || value.starts_with("http://") {
            check_url("the webhook URL", &value, WEBHOOK_HOSTS, false).map_err(|_| {
                bad("the webhook URL must be https://hooks.slack.com/… (http:// only to a loopback address)")
            })?;
            if config.routing.is_some() {
                return Err(bad(
                    "holds a webhook URL, which posts to its own channel: SLACK_CHANNELS needs a bot token",
                ));
            }
            return Ok(Destination::Webhook { url: Secret(value) });
        }
        Err(bad(
            "is neither a webhook URL (https://hooks.slack.com/…) nor a bot token (xoxb-…)",
        ))
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Destination::Webhook { .. } => "webhook",
            Destination::Bot { .. } => "bot",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&'static str, &'static str)]) -> Result<Config> {
        let mut vars = vec![
            (
                "SLACK_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:slack",
            ),
            ("DELIVERIES_TABLE", "deliveries"),
        ];
        vars.extend_from_slice(extra);
        Config::from_env(&Env::from_pairs(vars))
    }

    #[test]
    fn routing_needs_a_channel_for_every_posted_severity() {
        let r = Routing::parse("critical=#oncall, default=C0123456789", Severity::Info).unwrap();
        assert_eq!(r.channel(Severity::Critical), Some("#oncall"));
        assert_eq!(r.channel(Severity::Info), Some("C0123456789"));
        let err = Routing::parse("critical=#oncall", Severity::Info).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: SLACK_CHANNELS: no channel for info alerts (name one, or a default)"
        );
        assert!(Routing::parse("critical=#oncall,warning=#ops", Severity::Warning).is_ok());
        for (text, why) in [
            ("urgent=#x,default=#y", "\"urgent\" is not info"),
            ("default=general", "not a channel name"),
            ("default=#a,default=#b", "default is given twice"),
            ("#a", "is not severity=channel"),
        ] {
            let err = Routing::parse(text, Severity::Info)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn the_secret_decides_the_mode_and_never_appears_in_errors() {
        let webhook = config(&[]).unwrap();
        let d = Destination::from_secret("https://hooks.slack.com/services/T0/B0/sekrit", &webhook)
            .unwrap();
        assert_eq!(d.mode(), "webhook");
        assert!(!format!("{d:?}").contains("sekrit"));
        let json =
            Destination::from_secret(r#"{"webhook_url": "http://127.0.0.1:9/hook"}"#, &webhook);
        assert_eq!(json.unwrap().mode(), "webhook");

        let err = Destination::from_secret("xoxb-sekrit", &webhook)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SLACK_CHANNELS must name the channels"),
            "{err}"
        );
        for bad in [
            "http://hooks.example.com/sekrit",
            "sekrit",
            r#"{"token": "sekrit"}"#,
        ] {
            let err = Destination::from_secret(bad, &webhook)
                .unwrap_err()
                .to_string();
            assert!(!err.contains("sekrit"), "{err}");
        }

        let bot = config(&[("SLACK_CHANNELS", "default=#alerts")]).unwrap();
        let d = Destination::from_secret("xoxb-sekrit", &bot).unwrap();
        assert_eq!(d.mode(), "bot");
        assert!(!format!("{d:?}").contains("sekrit"));
        let err = Destination::from_secret("https://hooks.slack.com/x", &bot).unwrap_err();
        assert!(err.to_string().contains("SLACK_CHANNELS needs a bot token"));
    }

    #[test]
    fn environment_is_checked_at_cold_start() {
        let c = config(&[("SLACK_MIN_SEVERITY", "warning")]).unwrap();
        assert_eq!(c.min_severity, Severity::Warning);
        assert_eq!(c.api_url, "https://slack.com/api");
        assert!(config(&[("SLACK_MIN_SEVERITY", "loud")]).is_err());
        assert!(config(&[("SLACK_API_URL", "http://slack.com/api")]).is_err());
    }

    /// The bot token goes only to Slack, and never in clear text but to this machine.
    #[test]
    fn the_api_url_is_judged_by_its_parsed_host() {
        for ok in [
            "https://slack.com/api",
            "https://acme.enterprise.slack.com/api",
            "https://slack-gov.com/api",
            "http://127.0.0.1:9001/api",
            "http://localhost:9001/api",
            "http://[::1]:9001/api",
        ] {
            assert!(config(&[("SLACK_API_URL", ok)]).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:@evil.example/api",
            "https://user:pass@slack.com/api",
            "https://slack.com.evil.example/api",
            "https://evilslack.com/api",
            "https://evil.example/api",
            "http://slack.com/api",
            "http://10.0.0.1/api",
            "ftp://slack.com/api",
            "slack.com/api",
        ] {
            let err = config(&[("SLACK_API_URL", bad)]).unwrap_err().to_string();
            assert!(err.contains("SLACK_API_URL"), "{bad}: {err}");
            assert!(!err.contains("evil"), "the value is never repeated: {err}");
        }
        assert!(
            config(&[
                ("SLACK_CHANNELS", "critical=#x"),
                ("SLACK_MIN_SEVERITY", "critical")
            ])
            .is_ok()
        );
    }
}
