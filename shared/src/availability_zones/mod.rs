//! Availability zones (`audit-availability-zones`): endpoint services and consumer endpoints
//! whose AZ or cross-zone set-up drops or misroutes traffic, announced when a finding opens and
//! when it resolves.
//!
//! - `events`: what an invocation is about (the CloudTrail decoder) and the pure `admit`
//! - `analysis`: the pure analysis of a snapshot, by AZ ID
//! - `ports`: the estate and the findings memory the run needs
//! - `estate`: the snapshot from EC2/ELBv2; `consumers`: the consumers' side, through their read roles
//! - `findings`: open findings remembered in DynamoDB
//! - `run`: audit, compare with what is open (`reconcile`), announce what opened or resolved
//! - `notifications`: what the run announces

pub mod analysis;
pub mod config;
pub mod coverage;
pub mod events;
#[cfg(test)]
pub(crate) mod fakes;
pub mod ports;

#[cfg(feature = "availability-zones")]
mod consumers;
#[cfg(feature = "availability-zones")]
pub mod estate;
#[cfg(feature = "availability-zones")]
pub mod findings;
#[cfg(feature = "availability-zones")]
pub mod notifications;
#[cfg(feature = "availability-zones")]
pub mod run;

/// The auditor on AWS's ports.
#[cfg(feature = "availability-zones")]
pub type AwsAuditor =
    run::Auditor<estate::AwsEstate, findings::DynamoFindings, crate::notify::SnsPublisher>;

/// The auditor on AWS's ports, with a findings memory and a publisher of the caller's choosing.
#[cfg(feature = "availability-zones")]
fn on_aws<F, P>(
    sdk: &crate::aws::SdkConfig,
    config: &config::Config,
    findings: F,
    publisher: P,
) -> run::Auditor<estate::AwsEstate, F, P> {
    run::Auditor {
        estate: estate::AwsEstate {
            ec2: aws_sdk_ec2::Client::new(sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            accounts: crate::accounts::AccountConfigs::new(
                sdk.clone(),
                config.home_account.clone(),
                config.consumer_role_name.clone(),
            ),
            account: config.home_account.clone(),
            region: config.region.clone(),
            rates: Some(estate::Rates::share(config.rate_share)),
            memory: estate::Memory::new(std::time::Duration::from_secs(config.keep_seconds)),
        },
        findings,
        publisher,
        grace: config.grace,
    }
}

/// The auditor on AWS as configured: the function's.
#[cfg(feature = "availability-zones")]
pub fn auditor(sdk: &crate::aws::SdkConfig, config: &config::Config) -> AwsAuditor {
    on_aws(
        sdk,
        config,
        findings::DynamoFindings::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.findings_table.clone(),
        ),
        crate::notify::SnsPublisher::new(
            aws_sdk_sns::Client::new(sdk),
            config.alert_topic_arn.clone(),
        ),
    )
}

/// Its preview, the operator CLI's `audit`: the same reads and analysis, the open findings read
/// but nothing remembered or announced, and no pass (it cannot take the schedule's place).
#[cfg(feature = "availability-zones")]
pub fn preview(
    sdk: &crate::aws::SdkConfig,
    config: &config::Config,
) -> run::Auditor<
    estate::AwsEstate,
    findings::ReadOnly<findings::DynamoFindings>,
    crate::preview::Unpublished,
> {
    on_aws(
        sdk,
        config,
        findings::ReadOnly(findings::DynamoFindings::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.findings_table.clone(),
        )),
        crate::preview::Unpublished,
    )
}
