//! The resource's run: make the topic's notifications match the wanted set, and answer
//! CloudFormation within the deadline.

use super::plan::*;
use super::ports::NotificationApi;
use crate::cloudformation::{Request, RequestType, Response, Status};
use crate::error::{Error, ItemFailure, Result};
use crate::ids::fnv1a;
use serde::Serialize;
use serde_json::{Map, json};
use std::collections::BTreeSet;

/// What a reconcile did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// `(service id, notification id)` of each notification created.
    pub created: Vec<(String, String)>,
    pub deleted: Vec<String>,
    pub kept: usize,
    /// What could not be done; the rest was done regardless.
    pub failures: Vec<ItemFailure>,
}

/// Makes the notifications on `wanted.topic_arn` match `wanted` (every one removed when
/// `wanted.service_ids` is empty). One service's failure does not stop the others; each is
/// reported in the outcome. `token_seed` (the CloudFormation request id) makes a retried
/// request's creates idempotent.
pub async fn reconcile(
    api: &impl NotificationApi,
    wanted: &Wanted,
    token_seed: &str,
) -> Result<Outcome> {
    let existing = api.list(&wanted.topic_arn).await?;
    let plan = plan(&wanted.service_ids, &wanted.events, &existing);
    let mut outcome = Outcome {
        kept: plan.kept.len(),
        ..Outcome::default()
    };
    for service in &plan.create {
        let token = client_token(token_seed, service, &wanted.topic_arn);
        match api
            .create(service, &wanted.topic_arn, &wanted.events, &token)
            .await
        {
            Ok(id) => {
                tracing::info!(service_id = %service, notification_id = %id, "connection notification created");
                outcome.created.push((service.clone(), id));
            }
            Err(e) => {
                tracing::error!(service_id = %service, error = %e, "connection notification not created");
                outcome.failures.push(failure(service, &e));
            }
        }
    }
    for ids in plan.delete.chunks(IDS_PER_DELETE) {
        match api.delete(ids).await {
            Ok(not_deleted) => {
                let refused: BTreeSet<&str> =
                    not_deleted.iter().map(|f| f.resource_id.as_str()).collect();
                outcome.deleted.extend(
                    ids.iter()
                        .filter(|id| !refused.contains(id.as_str()))
                        .cloned(),
                );
                outcome.failures.extend(not_deleted);
            }
            Err(e) => outcome
                .failures
                .extend(ids.iter().map(|id| failure(id, &e))),
        }
    }
    if !outcome.deleted.is_empty() {
        tracing::info!(deleted = ?outcome.deleted, "connection notifications deleted");
    }
    Ok(outcome)
}

fn failure(resource_id: &str, err: &Error) -> ItemFailure {
    ItemFailure {
        resource_id: resource_id.to_owned(),
        code: err.code().unwrap_or(err.kind()).to_owned(),
        message: err.to_string(),
    }
}

/// At most 64 ASCII characters, as EC2's idempotency tokens take; the same for a retry of the
/// same request and service, different otherwise.
fn client_token(seed: &str, service_id: &str, topic_arn: &str) -> String {
    let key = format!("{seed}\n{service_id}\n{topic_arn}");
    format!(
        "pla-{:016x}{:016x}",
        fnv1a(key.as_bytes()),
        fnv1a(format!("{key}\n2").as_bytes())
    )
}

fn physical_id(topic_arn: &str) -> String {
    format!("{PHYSICAL_PREFIX}{topic_arn}")
}

/// The whole custom resource: what a request changes and what CloudFormation is told. Never an
/// error: whatever goes wrong is a `FAILED` response naming it, so a stack never waits for an
/// answer that will not come. Work still running at `deadline` stops there and fails the request
/// under the resource's real name, so CloudFormation's rollback (a Delete after a Create, an
/// Update back after an Update) removes what was already made.
pub async fn handle(
    api: &impl NotificationApi,
    request: &Request,
    deadline: tokio::time::Instant,
) -> Response {
    let props = &request.resource_properties;
    let current = request.physical_resource_id.clone();
    let (wanted, physical) = match request.request_type {
        RequestType::Create | RequestType::Update => match Wanted::from_properties(props) {
            Ok(wanted) => {
                let physical = physical_id(&wanted.topic_arn);
                (wanted, physical)
            }
            Err(why) => {
                // Nothing changed. A failed Create still names a resource, one the Delete of the
                // rollback recognises as never made.
                let physical = current
                    .clone()
                    .unwrap_or_else(|| format!("{}-not-created", request.logical_resource_id));
                return answer(
                    Status::Failed,
                    format!("invalid properties: {why}"),
                    physical,
                    None,
                );
            }
        },
        RequestType::Delete => {
            let physical = current.clone().unwrap_or_default();
            let topic = topic_of(props).ok().filter(|t| physical_id(t) == physical);
            let Some(topic_arn) = topic else {
                // Not a resource this function made (a Create that failed its checks): nothing
                // to remove, and the stack must be able to go.
                tracing::info!(%physical, "delete of a resource never made: nothing to remove");
                return answer(Status::Success, String::new(), physical, None);
            };
            let wanted = Wanted {
                topic_arn,
                service_ids: BTreeSet::new(),
                events: BTreeSet::new(),
            };
            (wanted, physical)
        }
    };
    let work = reconcile(api, &wanted, &request.request_id);
    let (status, reason, outcome) = match tokio::time::timeout_at(deadline, work).await {
        Err(_) => (
            Status::Failed,
            "ran out of time; what was made so far is undone by the rollback".to_owned(),
            None,
        ),
        Ok(Ok(outcome)) if outcome.failures.is_empty() => {
            (Status::Success, String::new(), Some(outcome))
        }
        Ok(Ok(outcome)) => {
            let reason = format!(
                "{} of the changes failed (the others were made): {}",
                outcome.failures.len(),
                Error::Unapplied(outcome.failures.clone())
            );
            (Status::Failed, reason, Some(outcome))
        }
        Ok(Err(e)) => (Status::Failed, format!("nothing changed: {e}"), None),
    };
    // A failed move to a new topic is rolled back as an Update of the old resource, which never
    // sees the new topic again: clear what was made on it now, and keep the old name.
    if let (Status::Failed, Some(old)) = (status, current.filter(|c| *c != physical)) {
        let undo = Wanted {
            service_ids: BTreeSet::new(),
            ..wanted
        };
        let undone = tokio::time::timeout(UNDO_TIME, reconcile(api, &undo, &request.request_id));
        if !matches!(undone.await, Ok(Ok(_))) {
            tracing::error!(topic = %undo.topic_arn, "notifications on the new topic not cleared");
        }
        return answer(status, reason, old, outcome.as_ref());
    }
    answer(status, reason, physical, outcome.as_ref())
}

fn answer(status: Status, reason: String, physical: String, outcome: Option<&Outcome>) -> Response {
    let mut data = Map::new();
    if let Some(o) = outcome {
        data.insert("Created".into(), json!(o.created.len()));
        data.insert("Deleted".into(), json!(o.deleted.len()));
        data.insert("Unchanged".into(), json!(o.kept));
    }
    Response {
        status,
        reason,
        physical_resource_id: physical,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection_notifications::ports::Notification;
    use serde_json::Value;
    use std::sync::Mutex;

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn n(id: &str, service: Option<&str>, events: &[&str]) -> Notification {
        Notification {
            id: id.into(),
            service_id: service.map(str::to_owned),
            events: ids(events),
        }
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:connections";

    fn props(services: Value) -> Map<String, Value> {
        json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", "TopicArn": TOPIC, "ServiceIds": services})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn properties_are_checked_and_blanks_ignored() {
        let w =
            Wanted::from_properties(&props(json!(["vpce-svc-0a1", " vpce-svc-0b2", ""]))).unwrap();
        assert_eq!(w.service_ids, ids(&["vpce-svc-0a1", "vpce-svc-0b2"]));
        assert_eq!(w.events, ids(&["Connect"]));
        assert_eq!(
            Wanted::from_properties(&props(json!("vpce-svc-0a1,vpce-svc-0a1")))
                .unwrap()
                .service_ids,
            ids(&["vpce-svc-0a1"])
        );
        assert!(
            Wanted::from_properties(&props(json!([""])))
                .unwrap()
                .service_ids
                .is_empty()
        );
        for (bad, says) in [
            (props(json!(["vpce-0a1"])), "not an endpoint service id"),
            (props(json!([1])), "is not a string"),
            (props(json!({"a": 1})), "not a list of strings"),
        ] {
            let err = Wanted::from_properties(&bad).unwrap_err().0;
            assert!(err.contains(says), "{err}");
        }
        let mut no_topic = props(json!([]));
        no_topic.insert(
            "TopicArn".into(),
            json!("arn:aws:sqs:us-east-1:123456789012:q"),
        );
        assert!(
            Wanted::from_properties(&no_topic)
                .unwrap_err()
                .0
                .starts_with("TopicArn")
        );
        let mut odd_event = props(json!([]));
        odd_event.insert("ConnectionEvents".into(), json!(["Connect", "Explode"]));
        assert!(
            Wanted::from_properties(&odd_event)
                .unwrap_err()
                .0
                .contains("\"Explode\"")
        );
    }

    #[test]
    fn the_plan_creates_missing_removes_unwanted_and_keeps_the_rest() {
        let wanted = ids(&["vpce-svc-1", "vpce-svc-2", "vpce-svc-3"]);
        let connect = ids(&["Connect"]);
        let existing = [
            n("n-keep", Some("vpce-svc-1"), &["Connect"]),
            n("n-dup", Some("vpce-svc-1"), &["Connect"]),
            n("n-events", Some("vpce-svc-2"), &["Connect", "Accept"]),
            n("n-gone", Some("vpce-svc-9"), &["Connect"]),
            n("n-endpoint", None, &["Connect"]),
        ];
        let p = plan(&wanted, &connect, &existing);
        assert_eq!(p.kept, vec!["n-keep"]);
        assert_eq!(p.create, vec!["vpce-svc-2", "vpce-svc-3"]);
        assert_eq!(p.delete, vec!["n-dup", "n-events", "n-gone"]);
        // Applying the plan leaves nothing to do.
        let after = [
            n("n-keep", Some("vpce-svc-1"), &["Connect"]),
            n("a", Some("vpce-svc-2"), &["Connect"]),
            n("b", Some("vpce-svc-3"), &["Connect"]),
            n("n-endpoint", None, &["Connect"]),
        ];
        let again = plan(&wanted, &connect, &after);
        assert!(again.create.is_empty() && again.delete.is_empty());
        // Nothing wanted: every service notification goes, the endpoint's stays.
        assert_eq!(
            plan(&BTreeSet::new(), &connect, &after).delete,
            vec!["n-keep", "a", "b"]
        );
    }

    #[test]
    fn client_tokens_fit_ec2_and_differ_per_service() {
        let a = client_token("req-1", "vpce-svc-1", TOPIC);
        assert!(a.len() <= 64 && a.is_ascii());
        assert_eq!(a, client_token("req-1", "vpce-svc-1", TOPIC));
        assert_ne!(a, client_token("req-1", "vpce-svc-2", TOPIC));
        assert_ne!(a, client_token("req-2", "vpce-svc-1", TOPIC));
    }

    /// In-memory EC2: notifications, and services whose create fails.
    #[derive(Default)]
    struct Fake {
        existing: Mutex<Vec<Notification>>,
        refuse: BTreeSet<String>,
        broken_list: bool,
        /// Each create takes this long.
        slow: Option<std::time::Duration>,
    }

    impl NotificationApi for Fake {
        async fn list(&self, _topic: &str) -> Result<Vec<Notification>> {
            if self.broken_list {
                return Err(Error::Config("list refused".into()));
            }
            Ok(self.existing.lock().unwrap().clone())
        }
        async fn create(
            &self,
            service: &str,
            _t: &str,
            events: &BTreeSet<String>,
            _c: &str,
        ) -> Result<String> {
            if let Some(wait) = self.slow {
                tokio::time::sleep(wait).await;
            }
            if self.refuse.contains(service) {
                return Err(Error::Config(format!("{service} refused")));
            }
            let mut all = self.existing.lock().unwrap();
            let id = format!("vpce-nfn-{}", all.len() + 100);
            all.push(Notification {
                id: id.clone(),
                service_id: Some(service.into()),
                events: events.clone(),
            });
            Ok(id)
        }
        async fn delete(&self, ids: &[String]) -> Result<Vec<ItemFailure>> {
            assert!(ids.len() <= IDS_PER_DELETE);
            self.existing
                .lock()
                .unwrap()
                .retain(|n| !ids.contains(&n.id));
            Ok(Vec::new())
        }
    }

    fn later() -> tokio::time::Instant {
        tokio::time::Instant::now() + std::time::Duration::from_secs(60)
    }

    fn request(kind: &str, physical: Option<&str>, services: Value) -> Request {
        let mut r = json!({
            "RequestType": kind, "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/r", "StackId": "s",
            "RequestId": "r-1", "LogicalResourceId": "ConnectionNotifications",
            "ResourceProperties": props(services),
        });
        if let Some(p) = physical {
            r["PhysicalResourceId"] = json!(p);
        }
        Request::parse(r).unwrap()
    }

    #[tokio::test]
    async fn create_update_and_delete_follow_the_list() {
        let ec2 = Fake::default();
        let services: Vec<String> = (0..50).map(|i| format!("vpce-svc-{i:04x}")).collect();
        let created = handle(&ec2, &request("Create", None, json!(services)), later()).await;
        assert_eq!(created.status, Status::Success, "{}", created.reason);
        assert_eq!(
            created.physical_resource_id,
            format!("connection-notifications:{TOPIC}")
        );
        assert_eq!(created.data["Created"], 50);
        assert_eq!(ec2.existing.lock().unwrap().len(), 50);

        let physical = created.physical_resource_id.clone();
        let fewer = handle(
            &ec2,
            &request("Update", Some(&physical), json!(services[..1])),
            later(),
        )
        .await;
        assert_eq!(
            (fewer.status, fewer.data["Deleted"].clone()),
            (Status::Success, json!(49))
        );
        let left = ec2.existing.lock().unwrap().clone();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].service_id.as_deref(), Some("vpce-svc-0000"));

        let gone = handle(
            &ec2,
            &request("Delete", Some(&physical), json!(services[..1])),
            later(),
        )
        .await;
        assert_eq!(gone.status, Status::Success);
        assert!(ec2.existing.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn one_refused_service_fails_the_request_but_not_the_others() {
        let ec2 = Fake {
            refuse: ids(&["vpce-svc-bad"]),
            ..Fake::default()
        };
        let r = handle(
            &ec2,
            &request(
                "Create",
                None,
                json!(["vpce-svc-1", "vpce-svc-bad", "vpce-svc-2"]),
            ),
            later(),
        )
        .await;
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.contains("vpce-svc-bad"), "{}", r.reason);
        assert!(
            r.reason.starts_with("1 of the changes failed"),
            "{}",
            r.reason
        );
        assert_eq!(ec2.existing.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_failed_move_to_a_new_topic_leaves_nothing_on_it_and_keeps_the_old_name() {
        let ec2 = Fake {
            refuse: ids(&["vpce-svc-bad"]),
            ..Fake::default()
        };
        let old = format!("connection-notifications:{TOPIC}");
        let mut moved = request("Update", Some(&old), json!(["vpce-svc-1", "vpce-svc-bad"]));
        moved.resource_properties.insert(
            "TopicArn".into(),
            json!("arn:aws:sns:us-east-1:123456789012:new"),
        );
        let r = handle(&ec2, &moved, later()).await;
        assert_eq!(
            (r.status, r.physical_resource_id.as_str()),
            (Status::Failed, old.as_str())
        );
        assert!(ec2.existing.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn work_past_the_deadline_fails_under_the_real_name_so_the_rollback_removes_it() {
        let ec2 = Fake {
            slow: Some(std::time::Duration::from_secs(1)),
            ..Fake::default()
        };
        let services: Vec<String> = (0..100).map(|i| format!("vpce-svc-{i:04x}")).collect();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(10_500);
        let r = handle(&ec2, &request("Create", None, json!(services)), deadline).await;
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.starts_with("ran out of time"), "{}", r.reason);
        assert_eq!(
            r.physical_resource_id,
            format!("connection-notifications:{TOPIC}")
        );
        assert_eq!(
            ec2.existing.lock().unwrap().len(),
            10,
            "ten made before the deadline"
        );

        let fast = Fake {
            existing: Mutex::new(ec2.existing.lock().unwrap().clone()),
            ..Fake::default()
        };
        let rollback = request("Delete", Some(&r.physical_resource_id), json!(services));
        assert_eq!(
            handle(&fast, &rollback, later()).await.status,
            Status::Success
        );
        assert!(fast.existing.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn bad_properties_change_nothing_and_their_delete_succeeds() {
        let ec2 = Fake {
            existing: Mutex::new(vec![n("n-1", Some("vpce-svc-1"), &["Connect"])]),
            ..Fake::default()
        };
        let r = handle(
            &ec2,
            &request("Create", None, json!(["not-a-service"])),
            later(),
        )
        .await;
        assert_eq!(r.status, Status::Failed);
        assert!(
            r.reason.starts_with("invalid properties: ServiceIds"),
            "{}",
            r.reason
        );
        let d = handle(
            &ec2,
            &request(
                "Delete",
                Some(&r.physical_resource_id),
                json!(["not-a-service"]),
            ),
            later(),
        )
        .await;
        assert_eq!(d.status, Status::Success);
        assert_eq!(
            ec2.existing.lock().unwrap().len(),
            1,
            "a Delete of a resource never made removes nothing"
        );

        let broken = Fake {
            broken_list: true,
            ..Fake::default()
        };
        let r = handle(
            &broken,
            &request("Create", None, json!(["vpce-svc-1"])),
            later(),
        )
        .await;
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.starts_with("nothing changed: "), "{}", r.reason);
    }
}
