//! Typed configuration, read once per cold start. Variable names are the ones `template.yaml`
//! sets in each function's `Environment`.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// Reads variables from the process environment, or from a map in tests.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    /// These variables, with the process's own over them.
    pub fn with_process_over(base: HashMap<String, String>) -> Self {
        let mut vars = base;
        vars.extend(std::env::vars());
        Env { vars }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// A set, non-blank variable.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String> {
        self.optional(name)
            .ok_or_else(|| Error::Config(format!("{name} is not set")))
    }

    /// `true` or `false` (any case); unset means `default`. Anything else is an error, so a typo
    /// in `DRY_RUN` cannot silently turn changes on.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(Error::Config(format!(
                "{name} must be true or false, not {v:?}"
            ))),
        }
    }

    pub fn number(&self, name: &str, default: u64) -> Result<u64> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Error::Config(format!("{name} must be a whole number, not {v:?}"))),
        }
    }

    /// A share of a rate: 0 (excluded) to 1.
    pub fn share(&self, name: &str, default: f64) -> Result<f64> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && *s <= 1.0)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{name}: {v:?} is not a share between 0 (excluded) and 1"
                    ))
                }),
        }
    }
}

/// Where a policy document (the connection policy, the zone rules) is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// An SSM parameter (String or SecureString) holding the JSON document.
    Parameter(String),
    /// A file, for local runs and the operator CLI.
    File(String),
    /// The document itself, in the named environment variable.
    Inline { variable: String, text: String },
}

impl PolicySource {
    /// Exactly one of `{prefix}_PARAMETER`, `{prefix}_FILE` and `{prefix}_JSON`.
    pub fn from_env(env: &Env, prefix: &str) -> Result<Self> {
        let [parameter, file, inline] =
            ["PARAMETER", "FILE", "JSON"].map(|s| format!("{prefix}_{s}"));
        let sources: Vec<PolicySource> = [
            env.optional(&parameter).map(PolicySource::Parameter),
            env.optional(&file).map(PolicySource::File),
            env.optional(&inline).map(|text| PolicySource::Inline {
                variable: inline.clone(),
                text,
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        match <[PolicySource; 1]>::try_from(sources) {
            Ok([one]) => Ok(one),
            Err(found) if found.is_empty() => Err(Error::Config(format!(
                "set one of {parameter}, {file} or {inline}"
            ))),
            Err(_) => Err(Error::Config(format!(
                "set only one of {parameter}, {file} and {inline}"
            ))),
        }
    }
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicySource::Parameter(name) => write!(f, "SSM parameter {name}"),
            PolicySource::File(path) => write!(f, "file {path}"),
            PolicySource::Inline { variable, .. } => f.write_str(variable),
        }
    }
}

/// What every deciding function shares: dry run, where announcements go, and their memory.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Decide and notify, but change nothing.
    pub dry_run: bool,
    /// SNS topic that receives every decision (AWS Chatbot custom-notification format).
    pub alert_topic_arn: String,
    /// DynamoDB table remembering which decisions were already announced.
    pub decisions_table: String,
    /// How long an announced decision stays quiet before it is announced again (a connection
    /// still held after this long is announced once more, as a reminder).
    pub decision_memory_hours: u64,
}

impl RunConfig {
    pub fn from_env(env: &Env) -> Result<Self> {
        let decision_memory_hours = env.number("DECISION_MEMORY_HOURS", 24)?;
        if decision_memory_hours == 0 {
            return Err(Error::Config(
                "DECISION_MEMORY_HOURS must be at least 1".into(),
            ));
        }
        Ok(RunConfig {
            dry_run: env.flag("DRY_RUN", false)?,
            alert_topic_arn: env.required("ALERT_TOPIC_ARN")?,
            decisions_table: env.required("DECISIONS_TABLE")?,
            decision_memory_hours,
        })
    }
}
