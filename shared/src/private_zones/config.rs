//! The settings of `associate-private-zones`, from its environment.

use crate::config::{Env, PolicySource, RunConfig};
use crate::error::Result;

/// Settings of the private hosted zone associator (it runs in the hub account, which owns the zones).
#[derive(Debug, Clone)]
pub struct Config {
    pub rules_source: PolicySource,
    pub run: RunConfig,
    /// The hub's own account: its VPCs are associated directly, without a role.
    pub hub_account: String,
    /// The role the associator assumes in each spoke account (same name everywhere).
    pub spoke_role_name: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(Config {
            rules_source: PolicySource::from_env(env, "RULES")?,
            run: RunConfig::from_env(env)?,
            hub_account: env.required("HUB_ACCOUNT_ID")?,
            spoke_role_name: env.required("SPOKE_ROLE_NAME")?,
        })
    }
}
