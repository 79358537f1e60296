//! The settings of `accept-endpoint-connections`, from its environment.

use crate::config::{Env, PolicySource, RunConfig};
use crate::error::Result;

/// Settings of the endpoint-connection acceptor.
#[derive(Debug, Clone)]
pub struct Config {
    pub policy_source: PolicySource,
    pub run: RunConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(Config {
            policy_source: PolicySource::from_env(env, "POLICY")?,
            run: RunConfig::from_env(env)?,
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
