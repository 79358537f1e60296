//! In-memory stand-ins for this job's ports, for the engine's tests: each keeps what it was
//! asked and can be told to fail.

use crate::error::Result;
use crate::fakes::aws_error;
use crate::private_zones::ports::{Spokes, ZoneOwner};
use crate::private_zones::rules::{Vpc, Zone};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::Mutex;

/// Route 53 as both sides see it: the hub's zones and authorizations, the spokes' VPCs. A
/// spoke's associate needs an authorization, as in AWS.
#[derive(Default)]
pub struct State {
    pub zones: Vec<Zone>,
    pub vpcs: Vec<Vpc>,
    pub authorizations: BTreeSet<(String, String)>,
    /// Each call, as "operation zone vpc".
    pub calls: Vec<String>,
    /// Each read of the hub's Route 53: "catalogue", "associated <zone>", "authorizations <zone>".
    pub reads: Vec<String>,
    /// Operation → the code it fails with.
    pub refuse: BTreeMap<&'static str, &'static str>,
    /// Each zone's VPC quota.
    pub vpc_limit: u64,
}

#[derive(Clone, Default)]
pub struct FakeRoute53(pub Arc<Mutex<State>>);

impl FakeRoute53 {
    pub fn new(zones: Vec<Zone>, vpcs: Vec<Vpc>) -> Self {
        FakeRoute53(Arc::new(Mutex::new(State {
            zones,
            vpcs,
            vpc_limit: 300,
            ..State::default()
        })))
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    fn call(&self, operation: &'static str, zone: &str, vpc: &str) -> Result<()> {
        let mut state = self.state();
        state.calls.push(format!("{operation} {zone} {vpc}"));
        match state.refuse.get(operation) {
            Some(code) => Err(aws_error(operation, code, false)),
            None => Ok(()),
        }
    }

    fn pairs(&self, zone_id: &str, change: impl FnOnce(&mut BTreeSet<(String, String)>)) {
        if let Some(z) = self.state().zones.iter_mut().find(|z| z.id == zone_id) {
            change(&mut z.vpcs);
        }
    }
}

impl ZoneOwner for FakeRoute53 {
    /// As Route 53 lists them: names and tags, the VPCs read apart.
    async fn catalogue(&self, _fresh: bool) -> Result<Vec<Zone>> {
        let mut state = self.state();
        state.reads.push("catalogue".into());
        Ok(state
            .zones
            .iter()
            .map(|z| Zone {
                vpcs: Default::default(),
                ..z.clone()
            })
            .collect())
    }

    async fn associate(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        self.call("associate", zone_id, vpc_id)?;
        self.pairs(zone_id, |v| {
            v.insert((vpc_id.into(), region.into()));
        });
        Ok(())
    }

    async fn authorize(&self, zone_id: &str, vpc_id: &str, _region: &str) -> Result<()> {
        self.call("authorize", zone_id, vpc_id)?;
        self.state()
            .authorizations
            .insert((zone_id.into(), vpc_id.into()));
        Ok(())
    }

    async fn deauthorize(&self, zone_id: &str, vpc_id: &str, _region: &str) -> Result<()> {
        self.call("deauthorize", zone_id, vpc_id)?;
        self.state()
            .authorizations
            .remove(&(zone_id.to_owned(), vpc_id.to_owned()));
        Ok(())
    }

    async fn disassociate(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        self.call("disassociate", zone_id, vpc_id)?;
        self.pairs(zone_id, |v| {
            v.remove(&(vpc_id.to_owned(), region.to_owned()));
        });
        Ok(())
    }

    async fn authorizations(&self, zone_id: &str) -> Result<Vec<(String, String)>> {
        let mut state = self.state();
        state.reads.push(format!("authorizations {zone_id}"));
        Ok(state
            .authorizations
            .iter()
            .filter(|(z, _)| z == zone_id)
            .filter_map(|(_, vpc)| {
                let region = state.vpcs.iter().find(|v| &v.vpc_id == vpc)?.region.clone();
                Some((vpc.clone(), region))
            })
            .collect())
    }

    async fn associated(&self, zone_id: &str) -> Result<BTreeSet<(String, String)>> {
        let mut state = self.state();
        state.reads.push(format!("associated {zone_id}"));
        Ok(state
            .zones
            .iter()
            .find(|z| z.id == zone_id)
            .map(|z| z.vpcs.clone())
            .unwrap_or_default())
    }

    async fn vpc_limit(&self, zone_id: &str) -> Result<(u64, u64)> {
        let count = self.associated(zone_id).await?.len() as u64;
        Ok((count, self.state().vpc_limit))
    }
}

impl Spokes for FakeRoute53 {
    async fn vpcs(&self, account: &str, region: &str, ids: &[String]) -> Result<Vec<Vpc>> {
        Ok(self
            .state()
            .vpcs
            .iter()
            .filter(|v| v.account == account && v.region == region)
            .filter(|v| ids.is_empty() || ids.contains(&v.vpc_id))
            .cloned()
            .collect())
    }

    async fn associate(
        &self,
        _account: &str,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> Result<()> {
        self.call("spoke-associate", zone_id, vpc_id)?;
        if !self
            .state()
            .authorizations
            .contains(&(zone_id.to_owned(), vpc_id.to_owned()))
        {
            return Err(aws_error(
                "spoke-associate",
                "NotAuthorizedException",
                false,
            ));
        }
        self.pairs(zone_id, |v| {
            v.insert((vpc_id.into(), region.into()));
        });
        Ok(())
    }
}

/// Journals by run: (body, started at).
#[derive(Default)]
pub struct MemoryJournal {
    pub journals: Mutex<BTreeMap<String, (String, u64)>>,
}

impl crate::private_zones::ports::Journal for MemoryJournal {
    async fn open(&self, run: &str, body: &str, started_at: u64) -> Result<()> {
        self.journals
            .lock()
            .unwrap()
            .insert(run.to_owned(), (body.to_owned(), started_at));
        Ok(())
    }

    async fn close(&self, runs: &[String]) -> Result<()> {
        let mut journals = self.journals.lock().unwrap();
        runs.iter().for_each(|r| {
            journals.remove(r);
        });
        Ok(())
    }

    async fn abandoned(&self, before: u64) -> Result<Vec<(String, String)>> {
        Ok(self
            .journals
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (_, started))| *started < before)
            .map(|(run, (body, _))| (run.clone(), body.clone()))
            .collect())
    }
}
