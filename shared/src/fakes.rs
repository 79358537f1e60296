//! In-memory stand-ins for the core's ports (the announce-once ledger, the publisher), and what
//! every job's fakes share, so the engine's tests run without AWS or SDK mocks. Each job's own
//! fakes sit beside its ports (`<job>/fakes.rs`).

use crate::error::{Error, Result};
use crate::notify::{Notification, Publisher};
use std::collections::BTreeSet;
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

    pub fn check(&self, operation: &'static str) -> Result<()> {
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
    }
}
