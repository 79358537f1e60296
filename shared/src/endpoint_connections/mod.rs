//! Endpoint connections (`accept-endpoint-connections`): pending PrivateLink connection requests
//! accepted or rejected against the written policy.
//!
//! - `events`: what an invocation is about (the CloudTrail decoders) and the pure `admit`
//! - `policy`: the policy document and the pure `decide`
//! - `claims`: what consumers' events say of their endpoints (VPC, tags), pure
//! - `ports`: the connections and the memory the run needs, shaped like its IAM permissions
//! - `ec2`: the connections on EC2, and the consumers' endpoints through their read role; `memory`: the outbox and the remembered claims on DynamoDB,
//!   and read-only for a preview
//! - `consumers`: the run's use of the claims (merge, recall for held connections, keep, forget),
//!   and of the consumers' own endpoints for held connections no event described
//! - `run`: recover → read → decide → write down → apply → announce → report
//! - `notifications`: what the run announces

pub mod claims;
pub mod config;
pub mod events;
#[cfg(test)]
pub(crate) mod fakes;
pub mod policy;

#[cfg(feature = "endpoint-connections")]
mod consumers;
#[cfg(feature = "endpoint-connections")]
pub mod ec2;
#[cfg(feature = "endpoint-connections")]
pub mod memory;
#[cfg(feature = "endpoint-connections")]
pub mod notifications;
#[cfg(feature = "endpoint-connections")]
pub mod ports;
#[cfg(feature = "endpoint-connections")]
pub mod run;

/// The acceptor on AWS's ports.
#[cfg(feature = "endpoint-connections")]
pub type AwsAcceptor = run::Acceptor<
    ec2::Ec2Connections,
    crate::ledger::DynamoLedger,
    memory::DynamoMemory,
    crate::notify::SnsPublisher,
    Option<ec2::ConsumerRoles>,
>;

/// The consumers' endpoints through their read role, when one is configured.
#[cfg(feature = "endpoint-connections")]
fn consumer_roles(
    sdk: &crate::aws::SdkConfig,
    config: &config::Config,
) -> Option<ec2::ConsumerRoles> {
    let reads = config.consumer_reads.as_ref()?;
    Some(ec2::ConsumerRoles::new(
        crate::accounts::AccountConfigs::new(
            sdk.clone(),
            reads.home_account.clone(),
            reads.role_name.clone(),
        ),
        sdk.region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default(),
    ))
}

/// The acceptor on AWS as configured: the function's, and the operator CLI's `--apply`.
#[cfg(feature = "endpoint-connections")]
pub fn acceptor(sdk: &crate::aws::SdkConfig, config: &config::Config) -> AwsAcceptor {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    run::Acceptor {
        connections: ec2::Ec2Connections::new(aws_sdk_ec2::Client::new(sdk)),
        ledger: crate::ledger::DynamoLedger::new(
            dynamodb.clone(),
            config.run.decisions_table.clone(),
            std::time::Duration::from_secs(config.run.decision_memory_hours * 3600),
        ),
        memory: memory::DynamoMemory::new(dynamodb, config.run.decisions_table.clone()),
        publisher: crate::notify::SnsPublisher::new(
            aws_sdk_sns::Client::new(sdk),
            config.run.alert_topic_arn.clone(),
        ),
        consumers: consumer_roles(sdk, config),
        dry_run: config.run.dry_run,
    }
}

/// Its preview: the same reads and decisions, nothing written, applied or announced.
#[cfg(feature = "endpoint-connections")]
pub fn preview(
    sdk: &crate::aws::SdkConfig,
    config: &config::Config,
) -> run::Acceptor<
    ec2::Ec2Connections,
    crate::preview::Unrecorded,
    memory::ReadOnly<memory::DynamoMemory>,
    crate::preview::Unpublished,
    Option<ec2::ConsumerRoles>,
> {
    run::Acceptor {
        connections: ec2::Ec2Connections::new(aws_sdk_ec2::Client::new(sdk)),
        ledger: crate::preview::Unrecorded,
        memory: memory::ReadOnly(memory::DynamoMemory::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.run.decisions_table.clone(),
        )),
        publisher: crate::preview::Unpublished,
        consumers: consumer_roles(sdk, config),
        dry_run: true,
    }
}

/// Read and validate the connection policy. Any failure is a [`policy::PolicyError`]: the caller
/// accepts nothing.
#[cfg(feature = "endpoint-connections")]
pub async fn load_policy(
    source: &crate::config::PolicySource,
    ssm: &aws_sdk_ssm::Client,
) -> Result<policy::Policy, policy::PolicyError> {
    policy::Policy::parse(&crate::documents::read(source, ssm).await?)
}
