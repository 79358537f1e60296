//! Private zones (`associate-private-zones`): VPCs of trusted accounts associated with the hub's
//! Route 53 private hosted zones, across accounts through the authorize → associate → clean-up
//! flow.
//!
//! - `rules`: the zone rules and the pure `plan`
//! - `route53`: the ports (zone owner, spokes) and their Route 53 / EC2 adapters
//! - `run`: read VPCs → plan → authorize, associate, clean up → announce
//! - `changes`: one change at a time, and the leftovers of runs that died
//! - `notifications`: what the run announces
//! - `pace`: Route 53's documented request rates, kept on our side

pub mod config;
pub mod rules;

#[cfg(feature = "private-zones")]
mod changes;
#[cfg(feature = "private-zones")]
pub mod notifications;
#[cfg(feature = "private-zones")]
pub mod pace;
#[cfg(feature = "private-zones")]
pub mod route53;
#[cfg(feature = "private-zones")]
pub mod run;
