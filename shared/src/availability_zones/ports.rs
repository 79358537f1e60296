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
}

impl AuditScope {
    pub fn covers(&self, service_id: &str) -> bool {
        match self {
            AuditScope::All => true,
            AuditScope::Services(ids) => ids.contains(service_id),
        }
    }
}

/// Reads the estate: the provider's services, NLBs and targets, and the consumers' endpoints.
pub trait Estate {
    fn snapshot(&self, scope: &AuditScope) -> impl Future<Output = Result<Snapshot>> + Send;
}

/// A finding remembered as open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFinding {
    pub fingerprint: String,
    pub service_id: String,
    pub severity: Severity,
    pub title: String,
    /// The NLB, target group or endpoint the finding was about.
    pub resource: String,
}

/// `dynamodb:Scan`, `PutItem`, `DeleteItem` on the findings table.
pub trait FindingsStore {
    fn open(&self) -> impl Future<Output = Result<Vec<OpenFinding>>> + Send;
    fn remember(&self, finding: &AzFinding) -> impl Future<Output = Result<()>> + Send;
    fn forget(&self, fingerprint: &str) -> impl Future<Output = Result<()>> + Send;
}
