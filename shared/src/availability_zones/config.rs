//! The settings of `audit-availability-zones`, from its environment.

use crate::config::Env;
use crate::error::Result;

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
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(Config {
            alert_topic_arn: env.required("ALERT_TOPIC_ARN")?,
            findings_table: env.required("FINDINGS_TABLE")?,
            home_account: env.required("HOME_ACCOUNT_ID")?,
            region: env.required("AWS_REGION")?,
            consumer_role_name: env.required("CONSUMER_ROLE_NAME")?,
        })
    }
}
