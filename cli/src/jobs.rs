//! `connections`, `zones` and `audit`: the functions' runs, from the same configuration. Without
//! `--apply` the runs are previews: the same reads and decisions, with nothing written, nothing
//! applied and nothing announced (read-only ports in place of the ledger, memory and publisher).

use crate::output::{Output, Table};
use crate::{Failure, Outcome, Verdict};
use autopilot::availability_zones;
use autopilot::availability_zones::coverage::{Filter, text};
use autopilot::availability_zones::ports::AuditScope;
use autopilot::aws::SdkConfig;
use autopilot::config::Env;
use autopilot::endpoint_connections::events::Scope;
use autopilot::endpoint_connections::policy::Action;
use autopilot::endpoint_connections::run::Status;
use autopilot::endpoint_connections::{self, load_policy};
use autopilot::events::Answer;
use autopilot::notify::Severity;
use autopilot::private_zones;
use autopilot::private_zones::events::Target;
use serde_json::json;

/// The AWS configuration and the environment every subcommand reads.
pub struct Aws {
    pub(crate) sdk: SdkConfig,
    pub(crate) env: Env,
}

impl Aws {
    /// The SDK's configuration, and the variables: the deployed stack's when one is named, with
    /// the environment's over them.
    pub async fn new(
        profile: Option<&str>,
        region: Option<&str>,
        stack: Option<&str>,
    ) -> Result<Self, Failure> {
        let sdk = autopilot::aws::sdk_config_for(profile, region).await;
        let env = match stack {
            Some(stack) => Env::with_process_over(crate::stack::variables(&sdk, stack).await?),
            None => Env::from_process(),
        };
        Ok(Aws { sdk, env })
    }

    fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.sdk)
    }
}

/// The run's report; none when the run was ignored (it has nothing to do).
fn ran<R>(out: &Output, answer: autopilot::Result<Answer<R>>) -> Result<Option<R>, Failure> {
    match answer? {
        Answer::Ran(report) => Ok(Some(report)),
        Answer::Ignored { ignored } => {
            out.progress(&format!("nothing to do: {ignored}"));
            Ok(None)
        }
    }
}

fn mode(apply: bool, dry_run: bool) -> &'static str {
    match (apply, dry_run) {
        (false, _) => "preview: nothing is changed or announced",
        (true, true) => "applying with DRY_RUN=true: decided and announced, nothing changed",
        (true, false) => "applying: decisions are carried out and announced",
    }
}

pub async fn connections(out: &Output, aws: Aws, apply: bool) -> Outcome {
    let config = endpoint_connections::config::Config::from_env(&aws.env)?;
    out.progress(&format!(
        "connections ({}); policy from {}",
        mode(apply, config.run.dry_run),
        config.policy_source
    ));
    let policy = load_policy(&config.policy_source, &aws.ssm()).await;
    let answer = if apply {
        // As the function does: an unusable policy is announced, and accepts nothing.
        endpoint_connections::acceptor(&aws.sdk, &config)
            .run(policy, Scope::All)
            .await
    } else {
        let policy = policy.map_err(|e| Failure(format!("{e}: nothing would be accepted")))?;
        out.progress(&format!(
            "reading the pending connections of {} managed service(s)",
            policy.service_ids().count()
        ));
        endpoint_connections::preview(&aws.sdk, &config)
            .run(Ok(policy), Scope::All)
            .await
    };
    let Some(report) = ran(out, answer)? else {
        return Ok(Verdict::Clear);
    };
    let failed = report.outcomes.iter().any(|o| o.status == Status::Failed);
    let pending = report
        .outcomes
        .iter()
        .any(|o| o.decision.action != Action::Hold);
    if out.json() {
        out.document(&json!({ "apply": apply, "report": report }));
    } else {
        let rows = report
            .outcomes
            .iter()
            .map(|o| {
                let c = &o.decision.connection;
                vec![
                    c.service_id.clone(),
                    c.endpoint_id.clone(),
                    c.owner.clone(),
                    c.vpc_id.clone().unwrap_or_else(|| "?".into()),
                    o.decision.action.to_string(),
                    status(&o.status).into(),
                    o.failure.as_ref().map_or_else(
                        || o.decision.reason.clone(),
                        |f| format!("{} ({}: {})", o.decision.reason, f.code, f.message),
                    ),
                ]
            })
            .collect();
        let closing = if apply {
            format!(
                "{} outcome(s), {} announced",
                report.outcomes.len(),
                report.announced
            )
        } else if pending {
            "decisions pending: `autopilot connections --apply` carries them out".into()
        } else {
            "nothing to accept or reject".into()
        };
        out.tables(
            &[Table {
                title: "Pending connections".into(),
                columns: vec![
                    "service", "endpoint", "account", "vpc", "decision", "status", "why",
                ],
                rows,
            }],
            &[closing],
        );
    }
    Ok(match (apply, failed, pending) {
        (_, true, _) => Verdict::Failed,
        (false, _, true) => Verdict::Pending,
        _ => Verdict::Clear,
    })
}

fn status(s: &Status) -> &'static str {
    match s {
        Status::Applied => "applied",
        Status::Held => "held",
        Status::DryRun => "not applied",
        Status::Failed => "failed",
    }
}

/// A row of `zones`' change tables: where, what, the change, and why (with the finding, if any).
fn change_row(
    [account, region, vpc]: [&String; 3],
    what: String,
    change: private_zones::rules::Change,
    reason: &str,
    finding: Option<&private_zones::run::Finding>,
) -> Vec<String> {
    let change = serde_json::to_value(change)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    vec![
        account.clone(),
        region.clone(),
        vpc.clone(),
        what,
        change,
        finding.map_or_else(
            || reason.to_owned(),
            |f| format!("{reason} ({}: {})", f.code, f.message),
        ),
    ]
}

pub async fn zones(out: &Output, aws: Aws, apply: bool) -> Outcome {
    let config = private_zones::config::Config::from_env(&aws.env)?;
    out.progress(&format!(
        "zones ({}); rules from {}",
        mode(apply, config.run.dry_run),
        config.rules_source
    ));
    let rules = private_zones::load_rules(&config.rules_source, &aws.ssm()).await;
    let answer = if apply {
        private_zones::associator(&aws.sdk, &config)
            .run(rules, Target::Reconcile)
            .await
    } else {
        let rules = rules.map_err(|e| Failure(format!("{e}: no zone would be associated")))?;
        out.progress(&format!(
            "reading the VPCs of {} account(s) in {} region(s), the zones and their authorizations",
            rules.accounts.len(),
            rules.regions.len()
        ));
        private_zones::preview(&aws.sdk, &config)
            .run(Ok(rules), Target::Reconcile)
            .await
    };
    let Some(report) = ran(out, answer)? else {
        return Ok(Verdict::Clear);
    };
    let refused = report.outcomes.iter().any(|o| o.finding.is_some())
        || report.rule_outcomes.iter().any(|o| o.finding.is_some())
        || !report.refused.is_empty()
        || !report.on_premises.is_empty();
    let changes_count = report.outcomes.len() + report.rule_outcomes.len();
    if out.json() {
        out.document(&json!({ "apply": apply, "report": report }));
    } else {
        let changes = report
            .outcomes
            .iter()
            .map(|o| {
                change_row(
                    [&o.account, &o.region, &o.vpc_id],
                    format!("{} ({})", o.step.zone_name, o.step.zone_id),
                    o.step.change,
                    &o.step.reason,
                    o.finding.as_ref(),
                )
            })
            .collect();
        let rule_changes = report
            .rule_outcomes
            .iter()
            .map(|o| {
                change_row(
                    [&o.account, &o.region, &o.vpc_id],
                    o.step.rule_id.clone(),
                    o.step.change,
                    &o.step.reason,
                    o.finding.as_ref(),
                )
            })
            .collect();
        let gaps = report
            .on_premises
            .iter()
            .map(|g| {
                vec![
                    g.account.clone(),
                    g.region.clone(),
                    g.vpc_id.clone(),
                    g.zone_id.clone().unwrap_or_default(),
                    g.problem.clone(),
                ]
            })
            .collect();
        let unreachable = report
            .unreachable
            .iter()
            .map(|u| vec![u.account.clone(), u.region.clone(), u.problem.clone()])
            .collect();
        let shadowing = report
            .refused
            .iter()
            .map(|r| {
                vec![
                    format!("{} ({})", r.zone_name, r.zone_id),
                    r.rule.clone(),
                    r.reason.clone(),
                ]
            })
            .collect();
        let closing = format!(
            "{} VPC(s) checked; {} change(s){}",
            report.vpcs_checked,
            changes_count,
            if apply {
                format!(", {} announced", report.announced)
            } else if changes_count == 0 {
                String::new()
            } else {
                ": `autopilot zones --apply` makes them".into()
            }
        );
        out.tables(
            &[
                Table {
                    title: if apply {
                        "Changes".into()
                    } else {
                        "Changes to make".into()
                    },
                    columns: vec!["account", "region", "vpc", "zone", "change", "why"],
                    rows: changes,
                },
                Table {
                    title: if apply {
                        "Resolver rule changes".into()
                    } else {
                        "Resolver rule changes to make".into()
                    },
                    columns: vec!["account", "region", "vpc", "rule", "change", "why"],
                    rows: rule_changes,
                },
                Table {
                    title: "Not resolvable from on-premises (inbound endpoint VPCs)".into(),
                    columns: vec!["account", "region", "vpc", "zone", "problem"],
                    rows: gaps,
                },
                Table {
                    title: "Accounts not read".into(),
                    columns: vec!["account", "region", "problem"],
                    rows: unreachable,
                },
                Table {
                    title: "Zones refused (tagged, outside the rule's domains)".into(),
                    columns: vec!["zone", "rule", "why"],
                    rows: shadowing,
                },
            ],
            &[closing],
        );
    }
    Ok(if refused || !report.unreachable.is_empty() {
        Verdict::Failed
    } else if !apply && changes_count > 0 {
        Verdict::Pending
    } else {
        Verdict::Clear
    })
}

pub async fn audit(out: &Output, aws: Aws, matrix: &crate::Matrix) -> Outcome {
    let filtered = !matrix.services.is_empty()
        || !matrix.accounts.is_empty()
        || matrix.problems
        || matrix.width.is_some()
        || matrix.ascii;
    if filtered && !matrix.matrix {
        return Err(Failure(
            "--service, --account, --problems, --width and --ascii draw the matrix: add --matrix (or --html FILE)".into(),
        ));
    }
    let config = availability_zones::config::Config::from_env(&aws.env)?;
    out.progress("audit (read-only): reading the endpoint services, their NLBs and consumers");
    let audit = availability_zones::preview(&aws.sdk, &config)
        .assess(&AuditScope::All)
        .await?;
    let open = |fingerprint: &str| audit.known.iter().any(|k| k.fingerprint == fingerprint);
    if matrix.matrix {
        let coverage = audit.coverage.filtered(&Filter {
            services: matrix.services.iter().cloned().collect(),
            accounts: matrix.accounts.iter().cloned().collect(),
            problems_only: matrix.problems,
        });
        if let Some(path) = &matrix.html {
            let caption = format!(
                "account {}, {}, read {}",
                config.home_account,
                config.region,
                crate::matrix::utc(autopilot::events::now_secs())
            );
            std::fs::write(path, crate::matrix::html(&coverage, &caption))
                .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?;
            out.progress(&format!("wrote {}", path.display()));
        }
        if out.json() {
            out.document(&json!({ "coverage": coverage }));
        } else {
            let style = crate::matrix::terminal_style(matrix.width, matrix.ascii);
            out.text(&text::estate(&coverage, &style));
        }
    } else if out.json() {
        let findings: Vec<_> = audit
            .current
            .iter()
            .map(|f| json!({ "finding": f, "already_open": open(&f.fingerprint) }))
            .collect();
        out.document(&json!({
            "findings": findings,
            "would_resolve": audit.report.resolved,
            "undecided": audit.report.undecided,
            "not_audited": audit.report.not_audited,
        }));
    } else {
        let rows = audit
            .current
            .iter()
            .map(|f| {
                let evidence: Vec<String> = f
                    .evidence
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                vec![
                    f.severity.as_str().to_owned(),
                    f.check.as_str().to_owned(),
                    f.resource.clone(),
                    if open(&f.fingerprint) { "open" } else { "new" }.to_owned(),
                    f.title.clone(),
                    evidence.join("; "),
                ]
            })
            .collect();
        let resolving = audit
            .report
            .resolved
            .iter()
            .map(|k| vec![k.resource.clone(), k.title.clone()])
            .collect();
        let skipped = audit
            .report
            .not_audited
            .iter()
            .map(|n| vec![n.resource.clone(), n.reason.clone()])
            .collect();
        out.tables(
            &[
                Table {
                    title: "Findings".into(),
                    columns: vec![
                        "severity", "check", "resource", "table", "finding", "evidence",
                    ],
                    rows,
                },
                Table {
                    title: "Open in the table, no longer found (the next audit resolves them)"
                        .into(),
                    columns: vec!["resource", "finding"],
                    rows: resolving,
                },
                Table {
                    title: "Not audited".into(),
                    columns: vec!["resource", "why"],
                    rows: skipped,
                },
            ],
            &[format!(
                "{} finding(s), {} already open in the findings table",
                audit.current.len(),
                audit
                    .current
                    .iter()
                    .filter(|f| open(&f.fingerprint))
                    .count()
            )],
        );
    }
    // Informational findings (cross-zone on, say) are listed but do not gate.
    Ok(
        if audit.current.iter().any(|f| f.severity > Severity::Info) {
            Verdict::Pending
        } else {
            Verdict::Clear
        },
    )
}
