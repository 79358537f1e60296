//! What the acceptor announces: its decisions as one digest (a summary and parts when there are
//! many), in the words an operator reads.

use crate::endpoint_connections::policy::Action;
use crate::endpoint_connections::run::{Outcome, Status};
use crate::notify::digest::{Brief, Digest, Item};
use crate::notify::{EventType, Fact, Notification, Severity};
use serde_json::json;

fn verb(o: &Outcome) -> &'static str {
    match (o.status, o.decision.action) {
        (Status::Failed, Action::Accept) => "accept failed",
        (Status::Failed, _) => "reject failed",
        (Status::DryRun, Action::Accept) => "would accept",
        (Status::DryRun, _) => "would reject",
        (_, Action::Accept) => "accepted",
        (_, Action::Reject) => "rejected",
        (_, Action::Hold) => "held",
    }
}

/// The messages announcing `outcomes`, in order.
pub fn decisions(outcomes: &[&Outcome], dry_run: bool) -> Vec<Notification> {
    let mut digest = Digest::new(
        EventType::EndpointConnectionDecisions,
        "PrivateLink connections",
        "connections",
        &["privatelink", "endpoint-connection"],
        dry_run,
    );
    digest.records_under(Fact::Decisions);
    for o in outcomes {
        let c = &o.decision.connection;
        let vpc = c
            .vpc_id
            .as_deref()
            .map(|v| format!(", VPC `{v}`"))
            .unwrap_or_default();
        let failure = o
            .failure
            .as_ref()
            .map(|f| format!(" — AWS said {}: {}", f.code, f.message))
            .unwrap_or_default();
        digest.push(Item {
            key: o.ledger_key(),
            verb: verb(o).into(),
            group: c.service_id.clone(),
            line: format!(
                "*{}* `{}` from account `{}`{vpc} to `{}`: {}{failure}",
                verb(o),
                c.endpoint_id,
                c.owner,
                c.service_id,
                o.decision.reason
            ),
            brief: Some(Brief {
                head: format!(
                    "*{}* to `{}` from account `{}`: {}{failure}",
                    verb(o),
                    c.service_id,
                    c.owner,
                    o.decision.reason
                ),
                member: match &c.vpc_id {
                    Some(v) => format!("`{}` (VPC `{v}`)", c.endpoint_id),
                    None => format!("`{}`", c.endpoint_id),
                },
            }),
            resources: vec![c.endpoint_id.clone()],
            record: Some(
                json!({"decision": verb(o), "account": c.owner, "vpc": c.vpc_id,
                "endpoint": c.endpoint_id, "service": c.service_id, "reason": o.decision.reason}),
            ),
        });
    }
    let any = |s: Status| outcomes.iter().any(|o| o.status == s);
    if any(Status::Failed) || any(Status::Held) {
        digest.severity = Severity::Warning;
    }
    digest.step(any(Status::Held), "Held connections wait for a human: add the consumer to the policy, or accept/reject them with `aws ec2 accept-vpc-endpoint-connections` / `reject-vpc-endpoint-connections`.");
    digest.step(
        outcomes
            .iter()
            .any(|o| o.decision.action == Action::Reject && o.status == Status::Applied),
        "If a rejection is wrong, add the consumer to the policy and ask them to create the endpoint again.",
    );
    digest.step(any(Status::Failed), "Some decisions were not applied; the invocation fails and is retried. Check the function's logs.");
    digest.step(
        dry_run,
        "Dry run: nothing was changed. Set DRY_RUN=false to apply decisions.",
    );
    let services: std::collections::BTreeSet<&str> = outcomes
        .iter()
        .map(|o| o.decision.connection.service_id.as_str())
        .collect();
    digest.thread_id = match services.iter().next() {
        Some(only) if services.len() == 1 => (*only).to_owned(),
        _ => "privatelink-connections".to_owned(),
    };
    if let [single] = outcomes {
        let c = &single.decision.connection;
        digest.single_facts([
            (Fact::Account, c.owner.clone()),
            (
                Fact::Vpc,
                c.vpc_id.clone().unwrap_or_else(|| "unknown".into()),
            ),
            (Fact::Endpoint, c.endpoint_id.clone()),
            (Fact::Service, c.service_id.clone()),
            (Fact::Decision, verb(single).to_owned()),
            (Fact::Reason, single.decision.reason.clone()),
        ]);
    }
    digest.notifications()
}
