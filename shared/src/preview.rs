//! Read-only stand-ins for the ports that remember, write or announce, so a run can be previewed:
//! the same reads and the same decisions as the function's, with nothing written, nothing applied
//! (the runs are given `dry_run`) and nothing announced. The operator CLI's view without `--apply`.

use crate::error::Result;
use crate::ledger::Ledger;
use crate::notify::{Notification, Publisher};

/// A ledger that has seen nothing and keeps nothing: every outcome counts as new.
pub struct Unrecorded;

impl Ledger for Unrecorded {
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
    async fn open(&self, _: &str, _: &str, _: u64) -> Result<()> {
        Ok(())
    }
    async fn close(&self, _: &[String]) -> Result<()> {
        Ok(())
    }
    async fn abandoned(&self, _: u64) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }
}

/// A publisher that announces nothing.
pub struct Unpublished;

impl Publisher for Unpublished {
    async fn publish(&self, _: &Notification) -> Result<()> {
        Ok(())
    }
}

/// The acceptor's memory, read but never written: what consumers' events said is used, nothing
/// is kept or forgotten, and no lock is taken (a preview applies nothing).
#[cfg(feature = "endpoint-connections")]
pub struct ReadOnly<M>(pub M);

#[cfg(feature = "endpoint-connections")]
impl<M: crate::endpoint_connections::memory::Memory + Sync>
    crate::endpoint_connections::memory::Memory for ReadOnly<M>
{
    async fn left(
        &self,
        services: &[String],
    ) -> Result<crate::endpoint_connections::memory::Entries> {
        self.0.left(services).await
    }
    async fn write_ahead(&self, _: &crate::endpoint_connections::memory::Entries) -> Result<()> {
        Ok(())
    }
    async fn clear(&self, _: &[String]) -> Result<()> {
        Ok(())
    }
    async fn recall(
        &self,
        endpoint_ids: &[String],
    ) -> Result<std::collections::BTreeMap<String, crate::endpoint_connections::claims::Known>>
    {
        self.0.recall(endpoint_ids).await
    }
    async fn keep(&self, _: &[crate::endpoint_connections::claims::Known]) -> Result<()> {
        Ok(())
    }
    async fn forget(&self, _: &[String]) -> Result<()> {
        Ok(())
    }
    async fn generation(&self) -> Result<u64> {
        Ok(0)
    }
    async fn lock(&self, _: &str, _: u64) -> Result<bool> {
        Ok(true)
    }
    async fn unlock(&self, _: &str) -> Result<()> {
        Ok(())
    }
}
