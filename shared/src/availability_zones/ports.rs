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
}

impl AuditScope {
    pub fn covers(&self, service_id: &str) -> bool {
        match self {
            AuditScope::All => true,
            AuditScope::Services(ids) => ids.contains(service_id),
            // Resolved to services before anything is read.
            AuditScope::Resources(_) => false,
        }
    }
}

/// Reads the estate: the provider's services, NLBs and targets, and the consumers' endpoints.
pub trait Estate {
    fn snapshot(&self, scope: &AuditScope) -> impl Future<Output = Result<Snapshot>> + Send;
    /// The endpoint services fronted by these load balancers or by the load balancers of these
    /// target groups; what is kept of them is read anew.
    fn services_behind(
        &self,
        arns: &BTreeSet<String>,
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
