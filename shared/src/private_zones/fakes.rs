//! In-memory stand-ins for this job's ports, for the engine's tests: each keeps what it was
//! asked and can be told to fail.

use crate::error::Error;
use crate::error::Result;
use crate::fakes::aws_error;
use crate::private_zones::ports::{Spokes, ZoneOwner};
use crate::private_zones::rules::{RuleAssociation, Vpc, Zone};
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
    /// Resolver rule associations: (account, region, association).
    pub rule_associations: Vec<(String, String, RuleAssociation)>,
    /// Each Resolver rule's domain name (two rules of one domain conflict on a VPC).
    pub rule_domains: BTreeMap<String, String>,
    /// Inbound Resolver endpoints' VPCs: (account, region, VPC id).
    pub inbound: Vec<(String, String, String)>,
    /// Associates whose answer is lost after they took effect.
    pub lose: u32,
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

    async fn rule_associations(
        &self,
        account: &str,
        region: &str,
        vpc_ids: &[String],
    ) -> Result<Vec<RuleAssociation>> {
        let mut state = self.state();
        state.reads.push(format!("rule-associations {account}"));
        if let Some(code) = state.refuse.get("rule-associations") {
            return Err(aws_error("rule-associations", code, false));
        }
        Ok(state
            .rule_associations
            .iter()
            .filter(|(a, r, x)| {
                a == account && r == region && (vpc_ids.is_empty() || vpc_ids.contains(&x.vpc_id))
            })
            .map(|(_, _, x)| x.clone())
            .collect())
    }

    async fn associate_rule(
        &self,
        account: &str,
        region: &str,
        rule_id: &str,
        vpc_id: &str,
    ) -> Result<()> {
        self.call("associate-rule", rule_id, vpc_id)?;
        self.associate_rule_checked(account, region, rule_id, vpc_id)
    }

    async fn disassociate_rule(
        &self,
        account: &str,
        region: &str,
        rule_id: &str,
        vpc_id: &str,
    ) -> Result<()> {
        self.call("disassociate-rule", rule_id, vpc_id)?;
        let mut state = self.state();
        let before = state.rule_associations.len();
        state.rule_associations.retain(|(a, r, x)| {
            !(a == account && r == region && x.rule_id == rule_id && x.vpc_id == vpc_id)
        });
        if state.rule_associations.len() == before {
            return Err(aws_error(
                "disassociate-rule",
                "ResourceNotFoundException",
                false,
            ));
        }
        Ok(())
    }

    async fn inbound_vpcs(&self, account: &str, region: &str) -> Result<Vec<String>> {
        Ok(self
            .state()
            .inbound
            .iter()
            .filter(|(a, r, _)| a == account && r == region)
            .map(|(_, _, v)| v.clone())
            .collect())
    }
}

fn refused(operation: &'static str, code: &str, message: String) -> Error {
    Error::Aws {
        operation,
        code: Some(code.into()),
        message,
        retryable: false,
        source: Box::new(std::io::Error::other(code.to_owned())),
    }
}

impl FakeRoute53 {
    /// Resolver's own checks, as AWS makes them (see the emulator's `resolver_sharing.py`).
    fn associate_rule_checked(
        &self,
        account: &str,
        region: &str,
        rule_id: &str,
        vpc_id: &str,
    ) -> Result<()> {
        let mut state = self.state();
        let domain = state.rule_domains.get(rule_id).cloned().unwrap_or_default();
        if let Some((_, _, other)) = state.rule_associations.iter().find(|(_, _, a)| {
            a.vpc_id == vpc_id && state.rule_domains.get(&a.rule_id) == Some(&domain)
        }) {
            return Err(refused(
                "route53resolver:AssociateResolverRule",
                "InvalidRequestException",
                format!(
                    "[RSLVR-00802] Cannot associate rules with same domain name with same VPC. Conflict with resolver rule '{}'",
                    other.rule_id
                ),
            ));
        }
        state.rule_associations.push((
            account.into(),
            region.into(),
            RuleAssociation {
                rule_id: rule_id.into(),
                vpc_id: vpc_id.into(),
                status: "CREATING".into(),
                message: String::new(),
            },
        ));
        if state.lose > 0 {
            state.lose -= 1;
            return Err(aws_error(
                "route53resolver:AssociateResolverRule",
                "InternalServiceErrorException",
                true,
            ));
        }
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
