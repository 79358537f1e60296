//! Availability zones (`audit-availability-zones`): endpoint services and consumer endpoints
//! whose AZ or cross-zone set-up drops or misroutes traffic, announced when a finding opens and
//! when it resolves.
//!
//! - `analysis`: the pure analysis of a snapshot, by AZ ID
//! - `ports`: the estate and the findings memory the run needs
//! - `estate`: the snapshot from EC2/ELBv2; `consumers`: the consumers' side, through their read roles
//! - `findings`: open findings remembered in DynamoDB
//! - `run`: audit, compare with what is open (`reconcile`), announce what opened or resolved
//! - `notifications`: what the run announces

pub mod analysis;
pub mod config;

#[cfg(feature = "availability-zones")]
mod consumers;
#[cfg(feature = "availability-zones")]
pub mod estate;
#[cfg(feature = "availability-zones")]
pub mod findings;
#[cfg(feature = "availability-zones")]
pub mod notifications;
#[cfg(feature = "availability-zones")]
pub mod ports;
#[cfg(feature = "availability-zones")]
pub mod run;
