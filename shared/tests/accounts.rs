//! Reaching other accounts (`AccountConfigs`) over a stand-in STS: the home account keeps its own
//! credentials; another is reached through the role of the configured name in it (its ARN in the
//! partition of the region, the session named after the project).
#![allow(clippy::unwrap_used, clippy::panic)]

use autopilot::accounts::AccountConfigs;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const HOME: &str = "111111111111";
const ROLE: &str = "AuditReadRole";

/// STS: `AssumeRole` hands out keys named after the role's account (`ASIA<account>`), or refuses
/// a role of a `denied` account. Every `RoleArn` and `RoleSessionName` asked for is logged.
#[derive(Clone, Debug, Default)]
struct Sts {
    denied: Arc<BTreeSet<String>>,
    asked: Arc<Mutex<Vec<(String, String)>>>,
}

impl HttpConnector for Sts {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = std::str::from_utf8(request.body().bytes().unwrap_or_default()).unwrap();
        let param = |name: &str| {
            body.split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(|v| v.replace("%3A", ":").replace("%2F", "/"))
                .unwrap_or_default()
        };
        let (arn, session) = (param("RoleArn"), param("RoleSessionName"));
        self.asked.lock().unwrap().push((arn.clone(), session));
        let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
        let (status, xml) = if self.denied.contains(&account) {
            (
                403,
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error><RequestId>r</RequestId></ErrorResponse>".to_owned(),
            )
        } else {
            (
                200,
                format!(
                    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIA{account}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>{arn}</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"
                ),
            )
        };
        HttpConnectorFuture::ready(Ok(Response::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(xml),
        )))
    }
}

/// The home account's configuration, as the function loads it, with STS answered by `sts`.
fn accounts(sts: &Sts, region: &str) -> AccountConfigs {
    let connector = sts.clone();
    // The SDK's fixed test clock, which the role's provider needs (aws_config's loader gives
    // the function the system's).
    let clock = aws_sdk_ec2::Config::builder()
        .with_test_defaults_v2()
        .build()
        .time_source();
    let mut home = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("AKIDHOME", "secret", None, None, "test"),
        ))
        .http_client(http_client_fn(move |_, _| {
            SharedHttpConnector::new(connector.clone())
        }));
    home.set_time_source(clock);
    AccountConfigs::new(home.build(), HOME.into(), ROLE.into())
}

async fn key_of(config: &aws_config::SdkConfig) -> Result<String, String> {
    config
        .credentials_provider()
        .unwrap()
        .provide_credentials()
        .await
        .map(|c| c.access_key_id().to_owned())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn the_home_account_keeps_its_credentials_and_another_is_reached_through_its_role() {
    let sts = Sts::default();
    let accounts = accounts(&sts, "us-east-1");
    assert_eq!(
        key_of(&accounts.config(HOME).await).await.unwrap(),
        "AKIDHOME"
    );
    assert!(
        sts.asked.lock().unwrap().is_empty(),
        "no role for the home account"
    );

    let consumer = accounts.config("222222222222").await;
    assert_eq!(key_of(&consumer).await.unwrap(), "ASIA222222222222");
    assert_eq!(
        *sts.asked.lock().unwrap(),
        [(
            "arn:aws:iam::222222222222:role/AuditReadRole".to_owned(),
            "privatelink-autopilot".to_owned()
        )]
    );
    // An EC2 client for the account, in the region asked for.
    let ec2 = accounts.ec2("222222222222", "eu-west-1").await;
    assert_eq!(ec2.config().region().unwrap().as_ref(), "eu-west-1");
}

#[tokio::test]
async fn a_role_is_named_in_the_partition_of_the_region() {
    let sts = Sts::default();
    let accounts = accounts(&sts, "cn-north-1");
    key_of(&accounts.config("222222222222").await)
        .await
        .unwrap();
    assert_eq!(
        sts.asked.lock().unwrap()[0].0,
        "arn:aws-cn:iam::222222222222:role/AuditReadRole"
    );
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_fails_its_credentials_and_says_so() {
    let sts = Sts {
        denied: Arc::new(BTreeSet::from(["333333333333".to_owned()])),
        ..Sts::default()
    };
    let accounts = accounts(&sts, "us-east-1");
    let err = key_of(&accounts.config("333333333333").await)
        .await
        .unwrap_err();
    assert!(err.contains("AccessDenied"), "{err}");
}
