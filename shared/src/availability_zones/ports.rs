//! What the audit needs of the world, shaped like its IAM permissions: the estate to read and the
//! memory of open findings.

use crate::availability_zones::analysis::{AzFinding, Snapshot};
use crate::error::Result;
use crate::notify::Severity;
use serde::Serialize;
use std::collections::BTreeSet;
use std::future::Future;

/// What a run looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    /// Everything (the schedule, or an event that names no service).
    All,
    /// These endpoint services (an event that names them).
    Services(BTreeSet<String>),
    /// The services behind these load balancers and target groups (an ELB event's ARNs).
    Resources(BTreeSet<String>),
    /// The services these consumer endpoints are connected to (an EC2 event that names an
    /// endpoint, not its service: `ModifyVpcEndpoint`).
    Endpoints(BTreeSet<String>),
    /// The services whose ids sort after `after` and up to `through` (both ends open when
    /// `None`): one stretch of the scheduled pass through the estate. A finding of a service
    /// deleted since is in the stretch its id falls in, so it resolves.
    Range {
        after: Option<String>,
        through: Option<String>,
    },
}

impl AuditScope {
    pub fn covers(&self, service_id: &str) -> bool {
        match self {
            AuditScope::All => true,
            AuditScope::Services(ids) => ids.contains(service_id),
            // Resolved to services before anything is read.
            AuditScope::Resources(_) | AuditScope::Endpoints(_) => false,
            AuditScope::Range { after, through } => {
                after.as_deref().is_none_or(|a| service_id > a)
                    && through.as_deref().is_none_or(|t| service_id <= t)
            }
        }
    }
}

/// Reads the estate: the provider's services, NLBs and targets, and the consumers' endpoints.
pub trait Estate {
    fn snapshot(&self, scope: &AuditScope) -> impl Future<Output = Result<Snapshot>> + Send;
    /// The ids of the endpoint services an audit covers, in order.
    fn service_ids(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// The endpoint services fronted by these load balancers or by the load balancers of these
    /// target groups; what is kept of them is read anew.
    fn services_behind(
        &self,
        arns: &BTreeSet<String>,
    ) -> impl Future<Output = Result<BTreeSet<String>>> + Send;
    /// The endpoint services these consumer endpoints are connected to.
    fn services_of_endpoints(
        &self,
        endpoints: &BTreeSet<String>,
    ) -> impl Future<Output = Result<BTreeSet<String>>> + Send;
}

/// A finding remembered: open (announced), or pending (seen, caused only by targets in
/// transition, not announced until it has held for its grace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFinding {
    pub fingerprint: String,
    pub service_id: String,
    pub severity: Severity,
    pub title: String,
    /// The NLB, target group or endpoint the finding was about.
    pub resource: String,
    /// When a pending finding was first seen (seconds since the epoch); `None` once announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<u64>,
}

/// `dynamodb:Scan`, `PutItem`, `DeleteItem` on the findings table.
pub trait FindingsStore {
    fn open(&self) -> impl Future<Output = Result<Vec<OpenFinding>>> + Send;
    /// Remember `finding` as open, or as pending since `pending_since`.
    fn remember(
        &self,
        finding: &AzFinding,
        pending_since: Option<u64>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn forget(&self, fingerprint: &str) -> impl Future<Output = Result<()>> + Send;
}

/// The scheduled audit's pass through the estate: every service once per audit period, taken
/// in stretches by successive invocations, each continuing where the last one stopped.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Pass {
    /// When the pass began (seconds since the epoch); 0: there has been none.
    pub started: u64,
    /// The last service id audited in this pass; `None`: none yet.
    pub after: Option<String>,
    /// Every service of the pass audited.
    pub complete: bool,
}

/// The pass, kept beside the findings (`dynamodb:UpdateItem` on one item). One invocation at a
/// time works on it: a claim lasts until its lease ends, so an invocation that dies part-way
/// leaves the pass to the next, which goes on from the last stretch recorded.
pub trait PassStore {
    /// The pass, claimed by `holder` until `until` — or `None` while another holder's lease
    /// runs at `now`.
    fn claim(
        &self,
        holder: &str,
        now: u64,
        until: u64,
    ) -> impl Future<Output = Result<Option<Pass>>> + Send;
    /// Record the pass's progress and extend the lease; fails if the claim was lost.
    fn advance(
        &self,
        holder: &str,
        pass: &Pass,
        until: u64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// End the claim (nothing if it was lost meanwhile).
    fn release(&self, holder: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Reaching the accounts the audit reads: EC2 acting in `account` (the home account with its own
/// credentials, another through its read role), in `region`. A role that cannot be assumed
/// shows as the client's first call failing.
#[cfg(feature = "availability-zones")]
pub trait Accounts {
    fn ec2(&self, account: &str, region: &str) -> impl Future<Output = aws_sdk_ec2::Client> + Send;
}
