//! What the custom resource needs of EC2, shaped like its IAM permissions (adapter in `ec2.rs`).

use crate::error::{ItemFailure, Result};
use std::collections::BTreeSet;
use std::future::Future;

/// A connection notification on the topic, as EC2 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    /// `None` for an endpoint's notification (not ours).
    pub service_id: Option<String>,
    pub events: BTreeSet<String>,
}

/// `ec2:DescribeVpcEndpointConnectionNotifications`,
/// `ec2:CreateVpcEndpointConnectionNotification`, `ec2:DeleteVpcEndpointConnectionNotifications`.
pub trait NotificationApi {
    /// Every notification on `topic_arn`.
    fn list(&self, topic_arn: &str) -> impl Future<Output = Result<Vec<Notification>>> + Send;

    /// Creates one; returns its id. `client_token` makes a repeated call a no-op.
    fn create(
        &self,
        service_id: &str,
        topic_arn: &str,
        events: &BTreeSet<String>,
        client_token: &str,
    ) -> impl Future<Output = Result<String>> + Send;

    /// Deletes these (one call); returns the items EC2 reported as `Unsuccessful`.
    fn delete(&self, ids: &[String]) -> impl Future<Output = Result<Vec<ItemFailure>>> + Send;
}
