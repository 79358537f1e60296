//! privatelink-autopilot's engine: decision logic (policy, event normalising) and the AWS
//! adapters every function shares. Function crates only decode events and wire these together.

pub mod aws;
pub mod cloudtrail;
pub mod config;
pub mod error;
pub mod events;
pub mod ids;
pub mod notify;
pub mod policy;
pub mod zones;

#[cfg(feature = "endpoints")]
pub mod acceptor;
#[cfg(feature = "endpoints")]
pub mod endpoints;
#[cfg(feature = "endpoints")]
pub mod ledger;
#[cfg(feature = "endpoints")]
pub mod policy_source;

pub use error::{Error, Result};
