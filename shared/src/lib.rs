//! privatelink-autopilot's engine: decision logic (policy, event normalising) and the AWS
//! adapters every function shares. Function crates only decode events and wire these together.

pub mod aws;
pub mod az;
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
#[cfg(any(feature = "zones", feature = "audit"))]
pub mod accounts;
#[cfg(any(feature = "endpoints", feature = "zones"))]
pub mod announce;
#[cfg(feature = "zones")]
pub mod associator;
#[cfg(feature = "audit")]
pub mod auditor;
#[cfg(feature = "https")]
pub mod cloudformation;
#[cfg(feature = "connection-notifications")]
pub mod connection_notifications;
#[cfg(feature = "endpoints")]
pub mod endpoints;
#[cfg(feature = "https")]
pub mod https;
#[cfg(any(feature = "endpoints", feature = "zones", feature = "slack"))]
pub mod ledger;
#[cfg(any(feature = "endpoints", feature = "zones"))]
pub mod policy_source;
#[cfg(feature = "zones")]
pub mod route53;
#[cfg(feature = "slack")]
pub mod slack;

pub use error::{Error, Result};
