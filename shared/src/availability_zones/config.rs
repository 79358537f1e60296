//! The settings of `audit-availability-zones`, from its environment.

use crate::config::Env;
use crate::error::{Error, Result};
use std::collections::BTreeSet;

/// Settings of the availability-zone auditor (it runs in the provider account).
#[derive(Debug, Clone)]
pub struct Config {
    pub alert_topic_arn: String,
    /// DynamoDB table of open findings (`pk` string key).
    pub findings_table: String,
    /// The provider's own account.
    pub home_account: String,
    pub region: String,
    /// The read-only role assumed in each consumer account.
    pub consumer_role_name: String,
    /// Accounts whose events may start an audit: this one and `EVENT_SENDER_ACCOUNT_IDS` (the
    /// consumers that forward their `CreateVpcEndpoint` / `ModifyVpcEndpoint`).
    pub senders: BTreeSet<String>,
    /// `AUDIT_RATE_SHARE` (0 < share ≤ 1, default 0.5): the share of ELB's and EC2's documented
    /// describe rates the provider's reads may use; the rest is the account's other clients'.
    pub rate_share: f64,
    /// `FINDING_GRACE_SECONDS`: how long a finding caused only by targets in transition must
    /// hold before it pages; unset, each target group's health check interval × healthy
    /// threshold count (or 5 minutes).
    pub grace: Option<u64>,
    /// `AUDIT_KEEP_SECONDS` (default 3600): how long what rarely changes (load balancer and
    /// target group settings, which groups serve which NLB) is kept before it is read again.
    pub keep_seconds: u64,
    /// `AUDIT_PERIOD_MINUTES` (default 5): every endpoint service is audited once per period by
    /// the scheduled invocations, which carry the pass on from one to the next.
    pub period_seconds: u64,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self> {
        let home_account = env.required("HOME_ACCOUNT_ID")?;
        let mut senders = BTreeSet::from([home_account.clone()]);
        for account in env
            .optional("EVENT_SENDER_ACCOUNT_IDS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Config(format!(
                    "EVENT_SENDER_ACCOUNT_IDS: {account:?} is not a 12-digit account id"
                )));
            }
            senders.insert(account.to_owned());
        }
        let rate_share = env.share("AUDIT_RATE_SHARE", 0.5)?;
        let seconds = |name: &str| -> Result<Option<u64>> {
            env.optional(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        Error::Config(format!("{name}: {v:?} is not a number of seconds"))
                    })
                })
                .transpose()
        };
        Ok(Config {
            rate_share,
            grace: seconds("FINDING_GRACE_SECONDS")?,
            keep_seconds: seconds("AUDIT_KEEP_SECONDS")?.unwrap_or(3600),
            period_seconds: env
                .optional("AUDIT_PERIOD_MINUTES")
                .map(|v| {
                    v.trim().parse::<u64>().map(|m| m * 60).map_err(|_| {
                        Error::Config(format!(
                            "AUDIT_PERIOD_MINUTES: {v:?} is not a number of minutes"
                        ))
                    })
                })
                .transpose()?
                .unwrap_or(300),
            alert_topic_arn: env.required("ALERT_TOPIC_ARN")?,
            findings_table: env.required("FINDINGS_TABLE")?,
            home_account,
            region: env.required("AWS_REGION")?,
            consumer_role_name: env.required("CONSUMER_ROLE_NAME")?,
            senders,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(senders: &str) -> Env {
        env_with(senders, None)
    }

    fn env_with(senders: &str, extra: Option<(&'static str, &'static str)>) -> Env {
        Env::from_pairs(
            [
                (
                    "ALERT_TOPIC_ARN",
                    "arn:aws:sns:us-east-1:111111111111:alerts",
                ),
                ("FINDINGS_TABLE", "findings"),
                ("HOME_ACCOUNT_ID", "111111111111"),
                ("AWS_REGION", "us-east-1"),
                ("CONSUMER_ROLE_NAME", "reader"),
                ("EVENT_SENDER_ACCOUNT_IDS", senders),
            ]
            .into_iter()
            .chain(extra),
        )
    }

    #[test]
    fn senders_are_this_account_and_the_listed_ones() {
        let c = Config::from_env(&env(" 222222222222, ,333333333333")).unwrap();
        assert_eq!(
            c.senders,
            ["111111111111", "222222222222", "333333333333"]
                .map(String::from)
                .into()
        );
        assert_eq!(
            Config::from_env(&env("")).unwrap().senders,
            ["111111111111".to_owned()].into()
        );
        let err = Config::from_env(&env("2222")).unwrap_err().to_string();
        assert!(err.contains("EVENT_SENDER_ACCOUNT_IDS: \"2222\""), "{err}");
    }

    #[test]
    fn rates_grace_and_keeping_have_defaults_and_refuse_nonsense() {
        let c = Config::from_env(&env("")).unwrap();
        assert_eq!(
            (c.rate_share, c.grace, c.keep_seconds, c.period_seconds),
            (0.5, None, 3600, 300)
        );
        let with = |name: &'static str, value: &'static str| {
            Config::from_env(&env_with("", Some((name, value))))
        };
        assert_eq!(with("AUDIT_RATE_SHARE", "0.25").unwrap().rate_share, 0.25);
        assert_eq!(with("FINDING_GRACE_SECONDS", "60").unwrap().grace, Some(60));
        assert_eq!(with("AUDIT_KEEP_SECONDS", "600").unwrap().keep_seconds, 600);
        assert_eq!(
            with("AUDIT_PERIOD_MINUTES", "15").unwrap().period_seconds,
            900
        );
        for (name, bad) in [
            ("AUDIT_RATE_SHARE", "0"),
            ("AUDIT_RATE_SHARE", "1.5"),
            ("AUDIT_RATE_SHARE", "half"),
            ("FINDING_GRACE_SECONDS", "-1"),
            ("AUDIT_KEEP_SECONDS", "1h"),
            ("AUDIT_PERIOD_MINUTES", "5m"),
        ] {
            let err = with(name, bad).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
