//! In-memory stand-ins for this job's ports, for the engine's tests: each keeps what it was
//! asked and can be told to fail.

use crate::availability_zones::analysis::{AzFinding, Snapshot};
use crate::availability_zones::ports::{
    AuditScope, Estate, FindingsStore, OpenFinding, Pass, PassStore,
};
use crate::error::{Error, Result};
use crate::fakes::Fault;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The estate as a snapshot the test edits between runs.
#[derive(Default)]
pub struct FakeEstate {
    pub snapshot: Mutex<Snapshot>,
}

impl Estate for FakeEstate {
    async fn snapshot(&self, _scope: &AuditScope) -> Result<Snapshot> {
        Ok(self.snapshot.lock().unwrap().clone())
    }

    async fn service_ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self
            .snapshot
            .lock()
            .unwrap()
            .services
            .iter()
            .map(|v| v.id.clone())
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn services_of_endpoints(&self, ids: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let s = self.snapshot.lock().unwrap();
        Ok(s.endpoints
            .iter()
            .filter(|e| ids.contains(&e.id))
            .map(|e| e.service_id.clone())
            .collect())
    }

    async fn services_behind(&self, arns: &BTreeSet<String>) -> Result<BTreeSet<String>> {
        let s = self.snapshot.lock().unwrap();
        let lbs: BTreeSet<&String> = s
            .target_groups
            .iter()
            .filter(|g| arns.contains(&g.arn))
            .flat_map(|g| &g.lb_arns)
            .chain(arns.iter())
            .collect();
        Ok(s.services
            .iter()
            .filter(|v| v.nlb_arns.iter().any(|a| lbs.contains(a)))
            .map(|v| v.id.clone())
            .collect())
    }
}

#[derive(Default)]
pub struct MemoryFindings {
    pub open: Mutex<BTreeMap<String, OpenFinding>>,
    pub fault: Fault,
    /// The pass (`None`: none yet) and its lease (holder, until).
    pub pass: Mutex<Option<Pass>>,
    pub lease: Mutex<Option<(String, u64)>>,
}

impl PassStore for MemoryFindings {
    async fn claim(&self, holder: &str, now: u64, until: u64) -> Result<Option<Pass>> {
        let mut lease = self.lease.lock().unwrap();
        if let Some((other, end)) = &*lease {
            if other != holder && *end >= now {
                return Ok(None);
            }
        }
        *lease = Some((holder.to_owned(), until));
        Ok(Some(self.pass.lock().unwrap().clone().unwrap_or(Pass {
            started: 0,
            after: None,
            complete: true,
        })))
    }

    async fn advance(&self, holder: &str, pass: &Pass, until: u64) -> Result<()> {
        self.fault.check("dynamodb:UpdateItem")?;
        let mut lease = self.lease.lock().unwrap();
        match &*lease {
            Some((h, _)) if h == holder => {
                *lease = Some((holder.to_owned(), until));
                *self.pass.lock().unwrap() = Some(pass.clone());
                Ok(())
            }
            _ => Err(Error::Config("the pass's claim was lost".into())),
        }
    }

    async fn release(&self, holder: &str) -> Result<()> {
        let mut lease = self.lease.lock().unwrap();
        if lease.as_ref().is_some_and(|(h, _)| h == holder) {
            *lease = None;
        }
        Ok(())
    }
}

impl FindingsStore for MemoryFindings {
    async fn open(&self) -> Result<Vec<OpenFinding>> {
        Ok(self.open.lock().unwrap().values().cloned().collect())
    }

    async fn remember(&self, f: &AzFinding, pending_since: Option<u64>) -> Result<()> {
        self.fault.check("dynamodb:PutItem")?;
        self.open.lock().unwrap().insert(
            f.fingerprint.clone(),
            OpenFinding {
                fingerprint: f.fingerprint.clone(),
                service_id: f.service_id.clone(),
                severity: f.severity,
                title: f.title.clone(),
                resource: f.resource.clone(),
                pending_since,
            },
        );
        Ok(())
    }

    async fn forget(&self, fingerprint: &str) -> Result<()> {
        self.fault.check("dynamodb:DeleteItem")?;
        self.open.lock().unwrap().remove(fingerprint);
        Ok(())
    }
}
