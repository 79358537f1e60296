//! Endpoint connections (`accept-endpoint-connections`): pending PrivateLink connection requests
//! accepted or rejected against the written policy; and the custom resource
//! (`connection-notifications`) that gives each managed service its connection notification.
//!
//! - `policy`: the policy document and the pure `decide`
//! - `ec2`: the port the run needs (shaped like its IAM permissions) and its EC2 adapter
//! - `claims`: what consumers' events say of their endpoints (VPC, tags), pure
//! - `memory`: the outbox and the remembered claims (port + DynamoDB adapter)
//! - `consumers`: the run's use of the claims (merge, recall for held connections, keep, forget)
//! - `run`: recover → read → decide → write down → apply → announce → report
//! - `notifications`: what the run announces
//! - `notifications_resource`: the CloudFormation custom resource, pure plan to EC2 calls

pub mod claims;
pub mod config;
pub mod policy;

#[cfg(feature = "endpoint-connections")]
mod consumers;
#[cfg(feature = "endpoint-connections")]
pub mod ec2;
#[cfg(feature = "endpoint-connections")]
pub mod memory;
#[cfg(feature = "endpoint-connections")]
pub mod notifications;
#[cfg(feature = "connection-notifications")]
pub mod notifications_resource;
#[cfg(feature = "endpoint-connections")]
pub mod run;

/// Read and validate the connection policy. Any failure is a [`policy::PolicyError`]: the caller
/// accepts nothing.
#[cfg(feature = "endpoint-connections")]
pub async fn load_policy(
    source: &crate::config::PolicySource,
    ssm: &aws_sdk_ssm::Client,
) -> Result<policy::Policy, policy::PolicyError> {
    policy::Policy::parse(&crate::documents::read(source, ssm).await?)
}
