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
        Ok(Config {
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
        Env::from_pairs([
            (
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:us-east-1:111111111111:alerts",
            ),
            ("FINDINGS_TABLE", "findings"),
            ("HOME_ACCOUNT_ID", "111111111111"),
            ("AWS_REGION", "us-east-1"),
            ("CONSUMER_ROLE_NAME", "reader"),
            ("EVENT_SENDER_ACCOUNT_IDS", senders),
        ])
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
}
