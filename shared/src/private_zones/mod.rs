//! Private zones (`associate-private-zones`): VPCs of trusted accounts associated with the hub's
//! Route 53 private hosted zones, across accounts through the authorize → associate → clean-up
//! flow.
//!
//! - `events`: what an invocation is about (the CloudTrail decoder) and the pure `admit`
//! - `rules`: the zone and Resolver rules, the pure `plan` and `rule_plan`
//! - `ports`: the zone owner and the spokes, shaped like the IAM permissions
//! - `route53`: their Route 53 / EC2 adapters; `journal`: the journal on DynamoDB
//! - `run`: read VPCs → plan → authorize, associate, clean up → announce
//! - `resolver`: the runs' Resolver rule pass (read in the VPC owner's account, associate, settle
//!   lost answers)
//! - `changes`: one change at a time, and the leftovers of runs that died
//! - `notifications`: what the run announces

pub mod config;
pub mod events;
#[cfg(test)]
pub(crate) mod fakes;
pub mod rules;

#[cfg(feature = "private-zones")]
mod changes;
#[cfg(feature = "private-zones")]
pub mod journal;
#[cfg(feature = "private-zones")]
pub mod notifications;
#[cfg(feature = "private-zones")]
pub mod ports;
#[cfg(feature = "private-zones")]
pub mod resolver;
#[cfg(feature = "private-zones")]
pub mod route53;
#[cfg(feature = "private-zones")]
pub mod run;

/// Read and validate the zone rules. Any failure is a [`crate::documents::PolicyError`]: the
/// caller associates nothing.
#[cfg(feature = "private-zones")]
pub async fn load_rules(
    source: &crate::config::PolicySource,
    ssm: &aws_sdk_ssm::Client,
) -> Result<rules::Rules, crate::documents::PolicyError> {
    rules::Rules::parse(&crate::documents::read(source, ssm).await?)
}

/// The associator on AWS's ports, with a ledger, a journal and a publisher of the caller's
/// choosing.
#[cfg(feature = "private-zones")]
pub type AwsAssociator<L, J, P> =
    run::Associator<route53::Route53Owner, route53::AssumedRoleSpokes, L, J, P>;

/// The associator as the function runs it.
#[cfg(feature = "private-zones")]
pub type DeployedAssociator =
    AwsAssociator<crate::ledger::DynamoLedger, journal::DynamoJournal, crate::notify::SnsPublisher>;

/// Route 53 as the hub and the spokes see it, built as the function builds them: drawing on
/// Route 53's rates through the table (`shared`), or in this process alone (a preview).
#[cfg(feature = "private-zones")]
fn on_aws<L, J, P>(
    sdk: &crate::aws::SdkConfig,
    config: &config::Config,
    (ledger, journal, publisher): (L, J, P),
    dry_run: bool,
    shared: Option<crate::pace::SharedBuckets>,
) -> AwsAssociator<L, J, P> {
    let route53 = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(sdk)
            .retry_config(run::route53_retry())
            .build(),
    );
    let rates = std::sync::Arc::new(route53::Route53Rates::new(config.rate_share, shared));
    run::Associator {
        owner: route53::Route53Owner::new(route53, config.hub_account.clone(), rates.clone()),
        spokes: route53::AssumedRoleSpokes::new(
            crate::accounts::AccountConfigs::new(
                sdk.clone(),
                config.hub_account.clone(),
                config.spoke_role_name.clone(),
            ),
            run::route53_retry(),
            rates,
        ),
        ledger,
        journal,
        publisher,
        hub_account: config.hub_account.clone(),
        dry_run,
        recent: run::Recent::default(),
    }
}

/// The associator on AWS as configured: the function's, and the operator CLI's `--apply`.
#[cfg(feature = "private-zones")]
pub fn associator(sdk: &crate::aws::SdkConfig, config: &config::Config) -> DeployedAssociator {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let table = config.run.decisions_table.clone();
    on_aws(
        sdk,
        config,
        (
            crate::ledger::DynamoLedger::new(
                dynamodb.clone(),
                table.clone(),
                std::time::Duration::from_secs(config.run.decision_memory_hours * 3600),
            ),
            journal::DynamoJournal::new(dynamodb.clone(), table.clone()),
            crate::notify::SnsPublisher::new(
                aws_sdk_sns::Client::new(sdk),
                config.run.alert_topic_arn.clone(),
            ),
        ),
        config.run.dry_run,
        Some(crate::pace::SharedBuckets::new(dynamodb, table)),
    )
}

/// Its preview: the same reads and plans (leftover authorizations included), nothing written,
/// changed or announced.
#[cfg(feature = "private-zones")]
pub fn preview(
    sdk: &crate::aws::SdkConfig,
    config: &config::Config,
) -> AwsAssociator<crate::preview::Unrecorded, journal::Unwritten, crate::preview::Unpublished> {
    on_aws(
        sdk,
        config,
        (
            crate::preview::Unrecorded,
            journal::Unwritten,
            crate::preview::Unpublished,
        ),
        true,
        None,
    )
}
