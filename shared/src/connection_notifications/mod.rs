//! One EC2 connection notification per managed endpoint service, kept by a CloudFormation custom
//! resource: the template's `ManagedServiceIds` is the wanted set, the notifications on the
//! stack's connection topic are what exists, and every Create, Update and Delete of the resource
//! makes the second match the first. Declarative, so a retried request, a rollback (an `Update`
//! back to the old list) and a failed half-way run all end where the template says.
//!
//! The resource owns every service notification on its topic (the stack's own topic); endpoint
//! notifications on it, and notifications on other topics, are never touched.
//!
//! The function is `connection-notifications` (feature `connection-notifications`); its events
//! are CloudFormation's custom resource requests (`crate::cloudformation`).
//!
//! - `plan`: the properties read and the pure `plan`
//! - `ports`: the EC2 calls it needs (`NotificationApi`); `ec2`: their adapter
//! - `run`: reconcile the topic's notifications, and answer CloudFormation

pub mod ec2;
pub mod plan;
pub mod ports;
pub mod run;
