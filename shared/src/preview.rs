//! Read-only stand-ins for the ports that remember, write or announce, so a run can be previewed:
//! the same reads and the same decisions as the function's, with nothing written, nothing applied
//! (the runs are given `dry_run`) and nothing announced. The operator CLI's view without `--apply`.

use crate::error::Result;
use crate::notify::{Notification, Publisher};

/// A ledger that has seen nothing and keeps nothing: every outcome counts as new.
#[cfg(any(feature = "endpoint-connections", feature = "private-zones"))]
pub struct Unrecorded;

#[cfg(any(feature = "endpoint-connections", feature = "private-zones"))]
impl crate::ledger::Ledger for Unrecorded {
    async fn unseen(&self, keys: &[String]) -> Result<Vec<String>> {
        Ok(keys.to_vec())
    }
    async fn remember(&self, _: &[String]) -> Result<()> {
        Ok(())
    }
    async fn claim(&self, keys: &[String]) -> Result<Vec<String>> {
        Ok(keys.to_vec())
    }
    async fn release(&self, _: &[String]) -> Result<()> {
        Ok(())
    }
}

/// A publisher that announces nothing.
pub struct Unpublished;

impl Publisher for Unpublished {
    async fn publish(&self, _: &Notification) -> Result<()> {
        Ok(())
    }
}
