//! In-memory stand-ins for the ports, so the engine's tests run each job's logic without AWS or
//! SDK mocks. Each fake keeps what it was asked and can be told to fail.

use crate::error::{Error, ItemFailure, Result};
use crate::notify::{Notification, Publisher};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// An AWS refusal with `code`, as the adapters report one.
pub fn aws_error(operation: &'static str, code: &str, retryable: bool) -> Error {
    Error::Aws {
        operation,
        code: Some(code.into()),
        message: format!("{code}: refused by the fake"),
        retryable,
        source: Box::new(std::io::Error::other(code.to_owned())),
    }
}

/// Fails the next call when set.
#[derive(Default)]
pub struct Fault(Mutex<Option<&'static str>>);

impl Fault {
    pub fn set(&self, code: &'static str) {
        *self.0.lock().unwrap() = Some(code);
    }

    fn check(&self, operation: &'static str) -> Result<()> {
        match self.0.lock().unwrap().take() {
            Some(code) => Err(aws_error(operation, code, true)),
            None => Ok(()),
        }
    }
}

#[derive(Default)]
pub struct MemoryPublisher {
    pub published: Mutex<Vec<Notification>>,
    pub fault: Fault,
}

impl MemoryPublisher {
    pub fn titles(&self) -> Vec<String> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.title.clone())
            .collect()
    }
}

impl Publisher for MemoryPublisher {
    async fn publish(&self, notification: &Notification) -> Result<()> {
        self.fault.check("sns:Publish")?;
        self.published.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "slack"
))]
pub use ledger::MemoryLedger;

#[cfg(any(
    feature = "endpoint-connections",
    feature = "private-zones",
    feature = "slack"
))]
mod ledger {
    use super::*;
    use crate::ledger::Ledger;

    #[derive(Default)]
    pub struct MemoryLedger {
        pub keys: Mutex<BTreeSet<String>>,
        /// run → (body, started at).
        pub journals: Mutex<BTreeMap<String, (String, u64)>>,
        pub fault: Fault,
    }

    impl Ledger for MemoryLedger {
        async fn unseen(&self, keys: &[String]) -> Result<Vec<String>> {
            let known = self.keys.lock().unwrap();
            Ok(keys
                .iter()
                .filter(|k| !known.contains(*k))
                .cloned()
                .collect())
        }

        async fn remember(&self, keys: &[String]) -> Result<()> {
            self.fault.check("dynamodb:PutItem")?;
            self.keys.lock().unwrap().extend(keys.iter().cloned());
            Ok(())
        }

        async fn claim(&self, keys: &[String]) -> Result<Vec<String>> {
            self.fault.check("dynamodb:PutItem")?;
            let mut known = self.keys.lock().unwrap();
            Ok(keys
                .iter()
                .filter(|k| known.insert((*k).clone()))
                .cloned()
                .collect())
        }

        async fn release(&self, keys: &[String]) -> Result<()> {
            let mut known = self.keys.lock().unwrap();
            keys.iter().for_each(|k| {
                known.remove(k);
            });
            Ok(())
        }

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
}

#[cfg(feature = "endpoint-connections")]
pub use connections::{FakeConnections, MemoryOfConnections};

#[cfg(feature = "endpoint-connections")]
mod connections {
    use super::*;
    use crate::endpoint_connections::claims::Known;
    use crate::endpoint_connections::ec2::ConnectionApi;
    use crate::endpoint_connections::memory::{Entries, Memory};
    use crate::endpoint_connections::policy::Connection;

    /// Connections by endpoint id; Accept moves them to `pending` (AWS: it can take time to
    /// become `available`), Reject to `rejected`.
    #[derive(Default)]
    pub struct FakeConnections {
        pub connections: Mutex<BTreeMap<String, Connection>>,
        /// Endpoint ids whose Accept/Reject AWS reports as unsuccessful, with the code.
        pub refused: BTreeMap<String, String>,
        /// Services whose Accept/Reject calls AWS refuses as a whole, with the code.
        pub refused_services: BTreeMap<String, &'static str>,
        /// (operation, service id, endpoint ids) of each mutating call.
        pub calls: Mutex<Vec<(&'static str, String, Vec<String>)>>,
    }

    impl FakeConnections {
        pub fn with(connections: impl IntoIterator<Item = Connection>) -> Self {
            FakeConnections {
                connections: Mutex::new(
                    connections
                        .into_iter()
                        .map(|c| (c.endpoint_id.clone(), c))
                        .collect(),
                ),
                ..Self::default()
            }
        }

        pub fn state(&self, endpoint_id: &str) -> String {
            self.connections.lock().unwrap()[endpoint_id].state.clone()
        }

        fn mutate(
            &self,
            operation: &'static str,
            service_id: &str,
            ids: &[String],
            state: &str,
        ) -> Vec<ItemFailure> {
            self.calls
                .lock()
                .unwrap()
                .push((operation, service_id.to_owned(), ids.to_vec()));
            let mut connections = self.connections.lock().unwrap();
            let mut failures = Vec::new();
            for id in ids {
                match (self.refused.get(id), connections.get_mut(id)) {
                    (Some(code), _) => failures.push(ItemFailure {
                        resource_id: id.clone(),
                        code: code.clone(),
                        message: "refused by the fake".into(),
                    }),
                    (None, Some(c)) if c.state == "pendingAcceptance" => c.state = state.into(),
                    _ => failures.push(ItemFailure {
                        resource_id: id.clone(),
                        code: "InvalidState".into(),
                        message: "not pending".into(),
                    }),
                }
            }
            failures
        }
    }

    impl ConnectionApi for FakeConnections {
        async fn pending(&self, service_id: &str, ids: &[String]) -> Result<Vec<Connection>> {
            Ok(self
                .connections
                .lock()
                .unwrap()
                .values()
                .filter(|c| c.service_id == service_id && c.state == "pendingAcceptance")
                .filter(|c| ids.is_empty() || ids.contains(&c.endpoint_id))
                .cloned()
                .collect())
        }

        async fn states(
            &self,
            service_id: &str,
            ids: &[String],
        ) -> Result<BTreeMap<String, String>> {
            Ok(self
                .connections
                .lock()
                .unwrap()
                .values()
                .filter(|c| c.service_id == service_id && ids.contains(&c.endpoint_id))
                .map(|c| (c.endpoint_id.clone(), c.state.clone()))
                .collect())
        }

        async fn accept(&self, service_id: &str, ids: &[String]) -> Result<Vec<ItemFailure>> {
            if let Some(code) = self.refused_services.get(service_id) {
                return Err(aws_error("ec2:AcceptVpcEndpointConnections", code, false));
            }
            Ok(self.mutate("accept", service_id, ids, "pending"))
        }

        async fn reject(&self, service_id: &str, ids: &[String]) -> Result<Vec<ItemFailure>> {
            if let Some(code) = self.refused_services.get(service_id) {
                return Err(aws_error("ec2:RejectVpcEndpointConnections", code, false));
            }
            Ok(self.mutate("reject", service_id, ids, "rejected"))
        }
    }

    /// The acceptor's outbox and remembered claims, as the DynamoDB table would keep them.
    #[derive(Default)]
    pub struct MemoryOfConnections {
        pub outbox: Mutex<Entries>,
        pub claims: Mutex<BTreeMap<String, Known>>,
        pub fault: Fault,
        /// Who holds the lock to apply decisions, and its generation.
        pub locked: Mutex<Option<String>>,
        pub generation: Mutex<u64>,
    }

    impl Memory for MemoryOfConnections {
        async fn left(&self, services: &[String]) -> Result<Entries> {
            let outbox = self.outbox.lock().unwrap();
            Ok(services
                .iter()
                .filter_map(|s| Some((s.clone(), outbox.get(s)?.clone())))
                .collect())
        }

        async fn write_ahead(&self, entries: &Entries) -> Result<()> {
            self.fault.check("dynamodb:BatchWriteItem")?;
            let mut outbox = self.outbox.lock().unwrap();
            outbox.extend(entries.iter().map(|(s, e)| (s.clone(), e.clone())));
            Ok(())
        }

        async fn clear(&self, services: &[String]) -> Result<()> {
            let mut outbox = self.outbox.lock().unwrap();
            services.iter().for_each(|s| {
                outbox.remove(s);
            });
            Ok(())
        }

        async fn recall(&self, ids: &[String]) -> Result<BTreeMap<String, Known>> {
            let claims = self.claims.lock().unwrap();
            Ok(ids
                .iter()
                .filter_map(|id| Some((id.clone(), claims.get(id)?.clone())))
                .collect())
        }

        async fn keep(&self, known: &[Known]) -> Result<()> {
            let mut claims = self.claims.lock().unwrap();
            claims.extend(known.iter().map(|k| (k.endpoint_id.clone(), k.clone())));
            Ok(())
        }

        async fn forget(&self, ids: &[String]) -> Result<()> {
            let mut claims = self.claims.lock().unwrap();
            ids.iter().for_each(|id| {
                claims.remove(id);
            });
            Ok(())
        }

        async fn generation(&self) -> Result<u64> {
            Ok(*self.generation.lock().unwrap())
        }

        async fn lock(&self, holder: &str, seen: u64) -> Result<bool> {
            let mut locked = self.locked.lock().unwrap();
            if locked.is_some() || *self.generation.lock().unwrap() != seen {
                return Ok(false);
            }
            *locked = Some(holder.to_owned());
            Ok(true)
        }

        async fn unlock(&self, holder: &str) -> Result<()> {
            let mut locked = self.locked.lock().unwrap();
            if locked.as_deref() == Some(holder) {
                *locked = None;
                *self.generation.lock().unwrap() += 1;
            }
            Ok(())
        }
    }
}

#[cfg(feature = "availability-zones")]
pub use azs::{FakeEstate, MemoryFindings};

#[cfg(feature = "availability-zones")]
mod azs {
    use super::*;
    use crate::availability_zones::analysis::{AzFinding, Snapshot};
    use crate::availability_zones::ports::{
        AuditScope, Estate, FindingsStore, OpenFinding, Pass, PassStore,
    };

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
}

#[cfg(feature = "slack")]
pub use slack::{FakePoster, MemoryDeliveries};

#[cfg(feature = "slack")]
mod slack {
    use super::*;
    use crate::slack::client::Posted;
    use crate::slack::config::Destination;
    use crate::slack::ports::{Claim, DeliveryStore, PostError, Poster, Target};
    use serde_json::Value;
    use tokio::time::Instant;

    /// Claims as the DynamoDB store keeps them, by notification id (`InFlight`: claimed by a
    /// live invocation). Time is not modelled: a repeat is always a duplicate.
    #[derive(Default)]
    pub struct MemoryDeliveries {
        pub messages: Mutex<BTreeMap<String, Claim>>,
        pub threads: Mutex<BTreeMap<String, (String, String)>>,
        pub release_fault: Fault,
    }

    impl DeliveryStore for MemoryDeliveries {
        async fn claim(&self, notification_id: &str, _message_id: &str) -> Result<Claim> {
            let mut messages = self.messages.lock().unwrap();
            match messages.get(notification_id) {
                None => {
                    messages.insert(notification_id.to_owned(), Claim::InFlight);
                    Ok(Claim::Mine)
                }
                Some(state) => Ok(state.clone()),
            }
        }

        async fn reclaim(&self, notification_id: &str, claimed_at: u64) -> Result<Claim> {
            let mut messages = self.messages.lock().unwrap();
            let state = messages.get_mut(notification_id);
            match state {
                Some(state) if *state == Claim::Interrupted { claimed_at } => {
                    *state = Claim::InFlight;
                    Ok(Claim::Mine)
                }
                _ => Ok(Claim::InFlight),
            }
        }

        async fn posted(&self, notification_id: &str) -> Result<()> {
            self.messages
                .lock()
                .unwrap()
                .insert(notification_id.to_owned(), Claim::Posted);
            Ok(())
        }

        async fn release(&self, notification_id: &str) -> Result<()> {
            self.release_fault.check("dynamodb:DeleteItem")?;
            self.messages.lock().unwrap().remove(notification_id);
            Ok(())
        }

        async fn unsure(&self, notification_id: &str) -> Result<()> {
            self.messages.lock().unwrap().insert(
                notification_id.to_owned(),
                Claim::Interrupted { claimed_at: 0 },
            );
            Ok(())
        }

        async fn remember_thread(&self, thread_id: &str, channel: &str, ts: &str) -> Result<()> {
            self.threads
                .lock()
                .unwrap()
                .insert(thread_id.into(), (channel.into(), ts.into()));
            Ok(())
        }

        async fn thread(&self, thread_id: &str) -> Result<Option<(String, String)>> {
            Ok(self.threads.lock().unwrap().get(thread_id).cloned())
        }
    }

    /// One message in the channel: the message, its channel, thread and notification id.
    pub type Post = (Value, Option<String>, Option<String>, String);

    /// Slack as the notifier sees it: posts land in `posts`. `failures` posts are refused
    /// (surely not posted); `lost` posts land but their answer is lost; `readable` says whether
    /// the channel can be read back.
    pub struct FakePoster {
        pub destination: Destination,
        pub posts: Mutex<Vec<Post>>,
        pub failures: Mutex<u32>,
        pub lost: Mutex<u32>,
        pub readable: bool,
    }

    impl FakePoster {
        pub fn new(destination: Destination) -> Self {
            FakePoster {
                destination,
                posts: Mutex::default(),
                failures: Mutex::new(0),
                lost: Mutex::new(0),
                readable: true,
            }
        }

        fn ts(n: usize) -> String {
            format!("1700000000.{n:06}")
        }
    }

    impl Poster for FakePoster {
        fn destination(&self) -> &Destination {
            &self.destination
        }

        async fn post(
            &self,
            message: &Value,
            target: Target<'_>,
            _deadline: Instant,
        ) -> std::result::Result<Posted, PostError> {
            let delivery = |message: &str, retryable| Error::Delivery {
                service: "Slack",
                message: message.into(),
                retryable,
            };
            {
                let mut failures = self.failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    return Err(PostError::NotPosted(delivery("the fake refused", true)));
                }
            }
            let mut posts = self.posts.lock().unwrap();
            posts.push((
                message.clone(),
                target.channel.map(str::to_owned),
                target.thread_ts.map(str::to_owned),
                target.key.to_owned(),
            ));
            let mut lost = self.lost.lock().unwrap();
            if *lost > 0 {
                *lost -= 1;
                return Err(PostError::MaybePosted(delivery(
                    "the fake lost the answer: it may already be in Slack",
                    false,
                )));
            }
            Ok(Posted {
                channel: target.channel.map(str::to_owned),
                ts: Some(Self::ts(posts.len())),
            })
        }

        async fn find(
            &self,
            target: Target<'_>,
            _since: u64,
            _deadline: Instant,
        ) -> Result<Option<Posted>> {
            if !self.readable {
                return Err(Error::Delivery {
                    service: "Slack",
                    message: "the fake cannot read the channel".into(),
                    retryable: false,
                });
            }
            let posts = self.posts.lock().unwrap();
            Ok(posts
                .iter()
                .position(|p| p.3 == target.key && p.1.as_deref() == target.channel)
                .map(|i| Posted {
                    channel: target.channel.map(str::to_owned),
                    ts: Some(Self::ts(i + 1)),
                }))
        }
    }
}

#[cfg(feature = "private-zones")]
pub use zones::FakeRoute53;

#[cfg(feature = "private-zones")]
mod zones {
    use super::*;
    use crate::private_zones::route53::{Spokes, ZoneOwner};
    use crate::private_zones::rules::{Vpc, Zone};
    use std::sync::Arc;

    /// Route 53 as both sides see it: the hub's zones and authorizations, the spokes' VPCs. A
    /// spoke's associate needs an authorization, as in AWS.
    #[derive(Default)]
    pub struct State {
        pub zones: Vec<Zone>,
        pub vpcs: Vec<Vpc>,
        pub authorizations: BTreeSet<(String, String)>,
        /// Each call, as "operation zone vpc".
        pub calls: Vec<String>,
        /// Operation → the code it fails with.
        pub refuse: BTreeMap<&'static str, &'static str>,
    }

    #[derive(Clone, Default)]
    pub struct FakeRoute53(pub Arc<Mutex<State>>);

    impl FakeRoute53 {
        pub fn new(zones: Vec<Zone>, vpcs: Vec<Vpc>) -> Self {
            FakeRoute53(Arc::new(Mutex::new(State {
                zones,
                vpcs,
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
        async fn catalogue(&self) -> Result<Vec<Zone>> {
            Ok(self.state().zones.clone())
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
            let state = self.state();
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
            Ok(self
                .state()
                .zones
                .iter()
                .find(|z| z.id == zone_id)
                .map(|z| z.vpcs.clone())
                .unwrap_or_default())
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
}
