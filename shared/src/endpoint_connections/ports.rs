//! What the acceptor needs of the world, shaped like its IAM permissions: the provider's
//! connections (EC2, adapter in `ec2.rs`), the consumers' endpoints (EC2 through their read
//! role, adapter in `ec2.rs`) and its memory of decisions and consumers' claims (DynamoDB,
//! adapter in `memory.rs`).

use crate::endpoint_connections::claims::Known;
use crate::endpoint_connections::policy::{Action, Connection};
use crate::error::{ItemFailure, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

/// `ec2:DescribeVpcEndpointConnections`, `ec2:AcceptVpcEndpointConnections`,
/// `ec2:RejectVpcEndpointConnections`.
pub trait ConnectionApi {
    /// Connections to `service_id` waiting for acceptance (only those of `endpoint_ids`, when
    /// some are given).
    fn pending(
        &self,
        service_id: &str,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Connection>>> + Send;

    /// The state of each of these connections to `service_id` (absent: no such connection).
    fn states(
        &self,
        service_id: &str,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;

    /// Accept; returns the items not accepted: those AWS reported as `Unsuccessful`, and every
    /// item of a call AWS refused as a whole (so one refusal never hides what else was done).
    fn accept(
        &self,
        service_id: &str,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<Vec<ItemFailure>>> + Send;

    /// Reject; returns the items not rejected, as [`ConnectionApi::accept`] does.
    fn reject(
        &self,
        service_id: &str,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<Vec<ItemFailure>>> + Send;
}

/// `sts:AssumeRole` of each consumer account's read-only role (`ConsumerReadRoleName`, the
/// auditor's), and `ec2:DescribeVpcEndpoints` there: what the consumer's own API says of its
/// endpoints, for connections its events never described.
pub trait ConsumerEndpoints {
    /// Of `endpoint_ids`, the endpoints `account` itself owns in the provider's region, each with
    /// its service, VPC and every tag. An id absent from the answer is no endpoint of that
    /// account; `Err`: the account could not be read (no role, access denied, a fault).
    fn endpoints(
        &self,
        account: &str,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Known>>> + Send;
}

/// No consumer is read (no read role configured): connections wait for their consumers' events.
impl<T: ConsumerEndpoints + Sync> ConsumerEndpoints for Option<T> {
    async fn endpoints(&self, account: &str, endpoint_ids: &[String]) -> Result<Vec<Known>> {
        match self {
            Some(reads) => reads.endpoints(account, endpoint_ids).await,
            None => Ok(Vec::new()),
        }
    }
}

/// One decision about to be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub endpoint_id: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub action: Action,
    pub reason: String,
}

/// Entries by endpoint service.
pub type Entries = BTreeMap<String, Vec<Entry>>;

/// Whose word about which endpoint: (the account that said it, the endpoint id). An account's
/// claims are its own: another account's word never replaces them.
pub type ClaimKey = (String, String);

/// `dynamodb:BatchGetItem`, `dynamodb:BatchWriteItem` on the decisions table.
pub trait Memory {
    /// What runs that did not finish left for these services.
    fn left(&self, services: &[String]) -> impl Future<Output = Result<Entries>> + Send;
    /// Write down what is about to be applied (each service's entries replace its item).
    fn write_ahead(&self, entries: &Entries) -> impl Future<Output = Result<()>> + Send;
    /// The services' decisions are announced: forget them.
    fn clear(&self, services: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// What these accounts' events said about these endpoints (each endpoint once), by
    /// endpoint id.
    fn recall(
        &self,
        keys: &[ClaimKey],
    ) -> impl Future<Output = Result<BTreeMap<String, Known>>> + Send;
    /// Keep these for later runs.
    fn keep(&self, known: &[Known]) -> impl Future<Output = Result<()>> + Send;
    /// These endpoints are decided: forget what their accounts said about them.
    fn forget(&self, keys: &[ClaimKey]) -> impl Future<Output = Result<()>> + Send;
    /// How many times decisions have been applied so far (the lock's generation), read before
    /// a run reads anything else.
    fn generation(&self) -> impl Future<Output = Result<u64>> + Send;
    /// The right to apply decisions, for [`LOCK_LEASE`] at most: the outbox has one writer at a
    /// time (the function's runs, the operator CLI's `--apply`). `false` if another holds it, or
    /// if another applied since this run read `seen` (what it read may be stale).
    fn lock(&self, holder: &str, seen: u64) -> impl Future<Output = Result<bool>> + Send;
    /// Give the lock back (only `holder`'s), one generation on.
    fn unlock(&self, holder: &str) -> impl Future<Output = Result<()>> + Send;
}

/// A lock left by a run that died is free again after this long (well past the acceptor's
/// timeout).
pub const LOCK_LEASE: std::time::Duration = std::time::Duration::from_secs(300);
