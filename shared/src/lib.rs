//! privatelink-autopilot's engine. The files at this level are the core every job shares: errors,
//! configuration, event envelopes and the CloudTrail normaliser, the notification model with its
//! Chatbot format and SNS publisher, the announce-once memory, the written documents, cross-account
//! access, HTTPS and CloudFormation's custom resource protocol. Each folder is one job, named as its
//! function and its cargo feature are: its pure rules and decisions (always compiled, so tools
//! can use them without AWS), its AWS adapters and its run (behind the feature).

pub mod aws;
pub mod cloudtrail;
pub mod config;
pub mod documents;
pub mod error;
pub mod events;
pub mod ids;
pub mod notify;
pub mod pace;

pub mod availability_zones;
pub mod endpoint_connections;
pub mod private_zones;

#[cfg(any(feature = "private-zones", feature = "availability-zones"))]
pub mod accounts;
#[cfg(any(feature = "endpoint-connections", feature = "private-zones"))]
pub mod announce;
#[cfg(feature = "https")]
pub mod cloudformation;
#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "slack",
    feature = "availability-zones"
))]
pub mod dynamo;
#[cfg(feature = "https")]
pub mod https;
#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "slack"
))]
pub mod ledger;
#[cfg(any(feature = "endpoint-connections", feature = "private-zones"))]
pub mod preview;
#[cfg(feature = "slack")]
pub mod slack;

pub use error::{Error, Result};

#[cfg(test)]
pub(crate) mod fakes;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
#[cfg(test)]
mod properties;
