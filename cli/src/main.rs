//! `autopilot`: the operator's view of privatelink-autopilot. The same engine the functions run —
//! the policy, the zone rules, the AZ analysis and their AWS adapters — on demand, from a laptop:
//! preview what the functions would do, carry it out, audit, and check documents before they ship.

mod check;
mod invoke;
mod jobs;
mod matrix;
mod output;
mod stack;
mod status;

use clap::{Parser, Subcommand, ValueEnum};
use output::Output;
use std::path::PathBuf;
use std::process::ExitCode;

/// How a subcommand ended, once what it found is shown; its exit code gates a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do: no decision pending, no warning or critical finding, the document is valid
    /// (exit 0).
    Clear,
    /// Changes pending (a preview found something to do) or warning / critical findings open
    /// (exit 2).
    Pending,
    /// Something failed and what is shown says what: a change, a document, an account not read,
    /// the function invoked (exit 1).
    Failed,
}

/// A subcommand that could not do its work (bad configuration, an AWS call that failed, a file
/// not read): its message, printed once (exit 1).
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(err.to_string())
    }
}

/// What a subcommand returns.
pub type Outcome = Result<Verdict, Failure>;

#[derive(Parser)]
#[command(
    name = "autopilot",
    version,
    about = "Preview, apply, audit and check what the privatelink-autopilot functions do, with their engine",
    long_about = "Preview, apply, audit and check what the privatelink-autopilot functions do.\n\n\
        It runs the same decision logic as the deployed functions, reading the same configuration \
        (environment variables of the same names: POLICY_PARAMETER / POLICY_FILE / POLICY_JSON, \
        DECISIONS_TABLE, ALERT_TOPIC_ARN, DRY_RUN, RULES_*, HUB_ACCOUNT_ID, SPOKE_ROLE_NAME, \
        FINDINGS_TABLE, HOME_ACCOUNT_ID, CONSUMER_ROLE_NAME) and the standard AWS credential chain. \
        Nothing changes unless --apply is given.\n\n\
        Exit codes: 0 nothing to do (or the document is valid), 2 changes pending or findings open \
        (warning or critical), 1 an error.",
    after_help = "Examples:\n  \
        autopilot policy check policy.json\n  \
        autopilot connections                  # what the acceptor would decide now\n  \
        autopilot connections --apply          # decide, apply and announce, as the function does\n  \
        autopilot --profile hub zones          # VPCs missing zones, leftover authorizations\n  \
        autopilot --output json audit | jq .   # every finding with its evidence\n  \
        autopilot audit --matrix --problems    # each service's AZ IDs against its consumers\n  \
        autopilot audit --matrix --html az.html\n  \
        autopilot invoke accept-endpoint-connections --event events/scheduled.json"
)]
struct Cli {
    /// AWS profile, from ~/.aws/config (SSO, role and credential-process profiles included);
    /// default: the standard credential chain (environment, AWS_PROFILE, …).
    #[arg(long, global = true)]
    profile: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// A deployed hub stack (SAM or CDK) to take the configuration from: its functions'
    /// environment and its outputs. A variable set in the environment still wins.
    #[arg(long, global = true)]
    stack: Option<String>,
    /// How results are printed on stdout (progress always goes to stderr).
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Columns for people.
    Table,
    /// One JSON document, for scripts.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Every pending connection of the managed services, with the decision the policy gives it
    /// and why.
    Connections {
        /// Carry the decisions out and announce them, exactly as the acceptor function does
        /// (DRY_RUN=true still changes nothing).
        #[arg(long)]
        apply: bool,
    },
    /// VPCs of the trusted accounts missing zones: the associations to make and the
    /// authorizations left behind.
    Zones {
        /// Make the associations and clean up, exactly as the associator function does
        /// (DRY_RUN=true still changes nothing).
        #[arg(long)]
        apply: bool,
    },
    /// Every AZ and cross-zone check with its findings and evidence, and which are already open
    /// in the findings table. Read-only.
    Audit(Matrix),
    /// Whether the automation is healthy: each scheduled job's last run against its heartbeat
    /// window, the open findings, the connections held, the failure queues' depth. Read-only;
    /// exit 0 healthy, 2 something needs a look, 1 cannot tell.
    Status,
    /// Validate a connection policy document offline.
    Policy {
        #[command(subcommand)]
        action: Check,
    },
    /// Validate a zone rules document offline.
    Rules {
        #[command(subcommand)]
        action: Check,
    },
    /// Run a function's handler locally on a sample event, against the configured AWS endpoint
    /// (AWS_ENDPOINT_URL for the emulator). The function's binary is found next to this one.
    Invoke {
        /// accept-endpoint-connections, associate-private-zones, audit-availability-zones,
        /// notify-slack or connection-notifications.
        function: String,
        /// The event, as a JSON file (see events/).
        #[arg(long)]
        event: PathBuf,
        /// The function's binary, if not next to this one.
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Seconds the invocation may take (Lambda's timeout).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

/// `audit --matrix`: the AZ coverage picture instead of the findings table.
#[derive(clap::Args)]
pub struct Matrix {
    /// Draw each endpoint service's AZ IDs (NLB enabled, healthy/registered targets, state)
    /// against its consumer endpoints, problems first. With --output json, the picture as data.
    #[arg(long)]
    pub(crate) matrix: bool,
    /// Also write the picture as one self-contained HTML file (inline SVG, no script, works
    /// offline). Implies --matrix.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// Only this endpoint service (repeatable).
    #[arg(long = "service", value_name = "ID")]
    pub(crate) services: Vec<String>,
    /// Only this account's services and consumer endpoints (repeatable).
    #[arg(long = "account", value_name = "ID")]
    pub(crate) accounts: Vec<String>,
    /// Only the services with a problem, and only their consumers with one.
    #[arg(long)]
    pub(crate) problems: bool,
    /// Columns of the terminal (default: COLUMNS, the terminal's, or 100).
    #[arg(long)]
    pub(crate) width: Option<usize>,
    /// Plain ASCII marks (the default where the locale is not UTF-8).
    #[arg(long)]
    pub(crate) ascii: bool,
}

#[derive(Subcommand)]
enum Check {
    /// Parse and validate FILE; every error with its place (path in the document and line).
    Check { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(matches!(cli.output, Format::Json));
    let (profile, region, stack) = (cli.profile, cli.region, cli.stack);
    let outcome = match cli.command {
        Command::Policy {
            action: Check::Check { file },
        } => check::document(&out, &file, check::Kind::Policy),
        Command::Rules {
            action: Check::Check { file },
        } => check::document(&out, &file, check::Kind::Rules),
        Command::Invoke {
            function,
            event,
            binary,
            timeout,
        } => on_runtime(invoke::run(&out, &function, &event, binary, timeout)),
        Command::Connections { apply } => on_runtime(async {
            let aws =
                jobs::Aws::new(profile.as_deref(), region.as_deref(), stack.as_deref()).await?;
            jobs::connections(&out, aws, apply).await
        }),
        Command::Zones { apply } => on_runtime(async {
            let aws =
                jobs::Aws::new(profile.as_deref(), region.as_deref(), stack.as_deref()).await?;
            jobs::zones(&out, aws, apply).await
        }),
        Command::Audit(mut matrix) => on_runtime(async {
            matrix.matrix |= matrix.html.is_some();
            let aws =
                jobs::Aws::new(profile.as_deref(), region.as_deref(), stack.as_deref()).await?;
            jobs::audit(&out, aws, &matrix).await
        }),
        Command::Status => on_runtime(async {
            let aws =
                jobs::Aws::new(profile.as_deref(), region.as_deref(), stack.as_deref()).await?;
            status::status(&out, aws).await
        }),
    };
    ExitCode::from(match outcome {
        Ok(Verdict::Clear) => 0,
        Ok(Verdict::Pending) => 2,
        Ok(Verdict::Failed) => 1,
        Err(Failure(message)) => {
            out.fail(&message);
            1
        }
    })
}

/// Runs a subcommand that talks to AWS (or to a function).
fn on_runtime(work: impl std::future::Future<Output = Outcome>) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start: {e}")))?;
    runtime.block_on(work)
}
