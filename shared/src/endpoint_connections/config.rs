//! The settings of `accept-endpoint-connections`, from its environment.

use crate::config::{Env, PolicySource, RunConfig};
use crate::error::Result;

/// Settings of the endpoint-connection acceptor.
#[derive(Debug, Clone)]
pub struct Config {
    pub policy_source: PolicySource,
    pub run: RunConfig,
    /// `CONSUMER_ROLE_NAME` and `HOME_ACCOUNT_ID`: the read-only role in each consumer account
    /// (the auditor's) and the provider's own account (read with its own credentials). Unset:
    /// no consumer is read, and a connection a rule on the VPC or tags holds waits for its
    /// consumer's events.
    pub consumer_reads: Option<ConsumerReads>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerReads {
    pub role_name: String,
    pub home_account: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self> {
        let consumer_reads = match env.optional("CONSUMER_ROLE_NAME") {
            Some(role_name) => Some(ConsumerReads {
                role_name,
                home_account: env.required("HOME_ACCOUNT_ID")?,
            }),
            None => None,
        };
        Ok(Config {
            policy_source: PolicySource::from_env(env, "POLICY")?,
            run: RunConfig::from_env(env)?,
            consumer_reads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:alerts",
            ),
            ("DECISIONS_TABLE", "decisions"),
        ]
    }

    #[test]
    fn reads_a_complete_configuration() {
        let mut vars = base();
        vars.extend([
            ("POLICY_PARAMETER", "/autopilot/policy"),
            ("DRY_RUN", "TRUE"),
        ]);
        let c = Config::from_env(&Env::from_pairs(vars)).unwrap();
        assert_eq!(
            c.policy_source,
            PolicySource::Parameter("/autopilot/policy".into())
        );
        assert!(c.run.dry_run);
        assert_eq!(c.run.decision_memory_hours, 24);
        assert_eq!(c.consumer_reads, None, "no role: no consumer is read");
    }

    #[test]
    fn a_consumer_read_role_needs_the_home_account() {
        let mut vars = base();
        vars.extend([
            ("POLICY_PARAMETER", "/autopilot/policy"),
            ("CONSUMER_ROLE_NAME", "reader"),
        ]);
        let err = Config::from_env(&Env::from_pairs(vars.clone())).unwrap_err();
        assert!(err.to_string().contains("HOME_ACCOUNT_ID"), "{err}");
        vars.push(("HOME_ACCOUNT_ID", "123456789012"));
        let c = Config::from_env(&Env::from_pairs(vars)).unwrap();
        assert_eq!(c.consumer_reads.unwrap().role_name, "reader");
    }

    #[test]
    fn exactly_one_policy_source() {
        let err = Config::from_env(&Env::from_pairs(base())).unwrap_err();
        assert!(
            err.to_string().contains("set one of POLICY_PARAMETER"),
            "{err}"
        );
        let mut vars = base();
        vars.extend([("POLICY_FILE", "p.json"), ("POLICY_JSON", "{}")]);
        let err = Config::from_env(&Env::from_pairs(vars)).unwrap_err();
        assert!(err.to_string().contains("only one"), "{err}");
    }

    #[test]
    fn a_mistyped_dry_run_is_an_error_not_a_live_run() {
        let mut vars = base();
        vars.extend([("POLICY_FILE", "p.json"), ("DRY_RUN", "yes")]);
        let err = Config::from_env(&Env::from_pairs(vars)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: DRY_RUN must be true or false, not \"yes\""
        );
    }

    #[test]
    fn missing_topic_is_named() {
        let env = Env::from_pairs([("POLICY_FILE", "p.json"), ("DECISIONS_TABLE", "t")]);
        let err = Config::from_env(&env).unwrap_err();
        assert_eq!(err.to_string(), "configuration: ALERT_TOPIC_ARN is not set");
    }
}
