//! `autopilot policy check FILE` and `autopilot rules check FILE`: a document validated offline by
//! the parser the functions use, each error pointed at its place.

use crate::output::{Output, Table};
use crate::{Failure, Outcome, Verdict};
use autopilot::documents::{PolicyError, Problem, explain};
use autopilot::endpoint_connections::policy::Policy;
use autopilot::private_zones::rules::Rules;
use serde_json::json;
use std::path::Path;

#[derive(Clone, Copy)]
pub enum Kind {
    Policy,
    Rules,
}

/// What a valid document holds, in a line.
fn summary(kind: Kind, text: &str) -> Result<String, PolicyError> {
    Ok(match kind {
        Kind::Policy => {
            let p = Policy::parse(text)?;
            let services: Vec<&str> = p.service_ids().collect();
            let rules: usize = services
                .iter()
                .filter_map(|s| p.service(s))
                .map(|s| s.allow.len())
                .sum();
            format!(
                "a valid connection policy: {} service(s), {rules} allow rule(s)",
                services.len()
            )
        }
        Kind::Rules => {
            let r = Rules::parse(text)?;
            format!(
                "valid zone rules: {} account(s), {} region(s), {} rule(s), {} Resolver rule set(s), {} inbound endpoint VPC(s){}",
                r.accounts.len(),
                r.regions.len(),
                r.rules.len(),
                r.resolver_rules.len(),
                r.on_premises.as_ref().map_or(0, |o| o.inbound_vpcs.len()),
                if r.on_premises.as_ref().is_some_and(|o| o.discover) {
                    " (and the hub's, found)"
                } else {
                    ""
                }
            )
        }
    })
}

pub fn document(out: &Output, file: &Path, kind: Kind) -> Outcome {
    let name = file.display().to_string();
    let text =
        std::fs::read_to_string(file).map_err(|e| Failure(format!("cannot read {name}: {e}")))?;
    match summary(kind, &text) {
        Ok(summary) => {
            if out.json() {
                out.document(&json!({ "file": name, "valid": true, "summary": summary }));
            } else {
                out.tables(&[], &[format!("{name}: {summary}")]);
            }
            Ok(Verdict::Clear)
        }
        Err(e) => {
            let problems = explain(&e, &text);
            if out.json() {
                out.document(&json!({ "file": name, "valid": false, "errors": problems }));
            } else {
                let rows = problems.iter().map(|p| row(&name, p)).collect();
                out.tables(
                    &[Table {
                        title: format!("{name}: {} error(s)", problems.len()),
                        columns: vec!["place", "path", "error"],
                        rows,
                    }],
                    &[],
                );
            }
            Ok(Verdict::Failed)
        }
    }
}

fn row(name: &str, p: &Problem) -> Vec<String> {
    let place = match (p.line, p.column) {
        (Some(line), Some(column)) => format!("{name}:{line}:{column}"),
        (Some(line), None) => format!("{name}:{line}"),
        _ => name.to_owned(),
    };
    vec![
        place,
        p.path.clone().unwrap_or_else(|| "-".into()),
        p.message.clone(),
    ]
}
