//! In-memory stand-ins for this job's ports, for the engine's tests: each keeps what it was
//! asked and can be told to fail.

use crate::endpoint_connections::claims::Known;
use crate::endpoint_connections::policy::Connection;
use crate::endpoint_connections::ports::{
    ClaimKey, ConnectionApi, ConsumerEndpoints, Entries, Memory,
};
use crate::error::{ItemFailure, Result};
use crate::fakes::{Fault, aws_error};
use std::collections::BTreeMap;
use std::sync::Mutex;

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

    async fn states(&self, service_id: &str, ids: &[String]) -> Result<BTreeMap<String, String>> {
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
    pub claims: Mutex<BTreeMap<ClaimKey, Known>>,
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

    async fn recall(&self, keys: &[ClaimKey]) -> Result<BTreeMap<String, Known>> {
        let claims = self.claims.lock().unwrap();
        Ok(keys
            .iter()
            .filter_map(|key| Some((key.1.clone(), claims.get(key)?.clone())))
            .collect())
    }

    async fn keep(&self, known: &[Known]) -> Result<()> {
        let mut claims = self.claims.lock().unwrap();
        claims.extend(
            known
                .iter()
                .map(|k| ((k.account.clone(), k.endpoint_id.clone()), k.clone())),
        );
        Ok(())
    }

    async fn forget(&self, keys: &[ClaimKey]) -> Result<()> {
        let mut claims = self.claims.lock().unwrap();
        keys.iter().for_each(|key| {
            claims.remove(key);
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

/// Consumers' own endpoints by account, as their read role shows them; an account in
/// `unreadable` answers with that code (its role is missing, say).
#[derive(Default)]
pub struct FakeConsumers {
    pub endpoints: BTreeMap<String, Vec<Known>>,
    pub unreadable: BTreeMap<String, &'static str>,
    /// The account of each read.
    pub reads: Mutex<Vec<String>>,
}

impl ConsumerEndpoints for FakeConsumers {
    async fn endpoints(&self, account: &str, ids: &[String]) -> Result<Vec<Known>> {
        self.reads.lock().unwrap().push(account.to_owned());
        if let Some(code) = self.unreadable.get(account) {
            return Err(aws_error("ec2:DescribeVpcEndpoints", code, false));
        }
        Ok(self
            .endpoints
            .get(account)
            .into_iter()
            .flatten()
            .filter(|k| ids.contains(&k.endpoint_id))
            .cloned()
            .collect())
    }
}
