//! privatelink-autopilot's engine. The files at this level are the core two or more jobs share:
//! errors, configuration, event envelopes and the CloudTrail normaliser, the notification model
//! with its Chatbot format and SNS publisher, the announce-once ledger, the written documents,
//! cross-account access, HTTPS and CloudFormation's custom resource protocol.
//!
//! Each folder is one job, named after what it keeps correct, and each has the same shape:
//!
//! | file | holds |
//! | --- | --- |
//! | `config.rs` | its settings, read from the environment |
//! | `events.rs` | what an invocation is about: the decoders of its events, and the pure `admit` that decides whom it believes |
//! | the pure rules | `policy.rs`, `rules.rs`, `analysis.rs`, `message.rs`: decisions without I/O |
//! | `ports.rs` | what the run needs of the world, shaped like its IAM permissions |
//! | adapters | the ports on AWS (`ec2.rs`, `memory.rs`, `route53.rs`, `journal.rs`, `estate.rs`, `findings.rs`, `client.rs`, `deliveries.rs`) |
//! | `fakes.rs` | in-memory ports for the engine's tests |
//! | `run.rs` | the run, step by step |
//! | `notifications.rs` | what the run announces |
//! | `mod.rs` | the wiring: the run on AWS as the function builds it, and its read-only preview |
//!
//! Jobs and functions: `endpoint_connections` is `accept-endpoint-connections`;
//! `connection_notifications` is the `connection-notifications` custom resource;
//! `private_zones` is `associate-private-zones`; `availability_zones` is
//! `audit-availability-zones`; `slack` is `notify-slack`. Each job's cargo feature gates its AWS
//! adapters and run; its configuration, events and pure rules are always compiled, so tools and
//! the fuzz targets use them without AWS.

pub mod aws;
pub mod cloudtrail;
pub mod config;
pub mod documents;
pub mod error;
pub mod events;
pub mod ids;
pub mod metrics;
pub mod notify;
pub mod pace;
pub mod status;

pub mod availability_zones;
pub mod endpoint_connections;
pub mod private_zones;

#[cfg(feature = "connection-notifications")]
pub mod connection_notifications;

#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "availability-zones"
))]
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
#[cfg(feature = "lambda")]
pub mod logs;
#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "availability-zones"
))]
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
