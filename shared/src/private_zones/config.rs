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
    /// `ROUTE53_RATE_SHARE` (0 < share ≤ 1, default 0.5): the share of Route 53's documented
    /// rates this stack's requests may use in each account, the rest left to the account's other
    /// clients (other hub stacks, the console, infrastructure tools).
    pub rate_share: f64,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(Config {
            rules_source: PolicySource::from_env(env, "RULES")?,
            run: RunConfig::from_env(env)?,
            hub_account: env.required("HUB_ACCOUNT_ID")?,
            spoke_role_name: env.required("SPOKE_ROLE_NAME")?,
            rate_share: env.share("ROUTE53_RATE_SHARE", 0.5)?,
        })
    }
}
