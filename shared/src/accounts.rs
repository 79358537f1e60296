//! Reaching other accounts: an SDK configuration per account, through a role of the same name in
//! every account. The function's own account uses its own credentials. Configurations are kept for
//! the life of the execution environment; the SDK refreshes their credentials.

use aws_config::SdkConfig;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct AccountConfigs {
    home: SdkConfig,
    home_account: String,
    role_name: String,
    cache: Mutex<HashMap<String, SdkConfig>>,
}

impl AccountConfigs {
    pub fn new(home: SdkConfig, home_account: String, role_name: String) -> Self {
        AccountConfigs {
            home,
            home_account,
            role_name,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration for `account` (its role's session; the home account's own otherwise).
    pub async fn config(&self, account: &str) -> SdkConfig {
        if account == self.home_account {
            return self.home.clone();
        }
        if let Some(found) = self.cache.lock().ok().and_then(|m| m.get(account).cloned()) {
            return found;
        }
        let region = self
            .home
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default();
        let arn = format!(
            "arn:{}:iam::{account}:role/{}",
            crate::ids::partition(&region),
            self.role_name
        );
        let provider = aws_config::sts::AssumeRoleProvider::builder(arn)
            .session_name("privatelink-autopilot")
            .configure(&self.home)
            .build()
            .await;
        let config = self
            .home
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        if let Ok(mut m) = self.cache.lock() {
            m.insert(account.to_owned(), config.clone());
        }
        config
    }

    /// An EC2 client for `account` in `region`.
    pub async fn ec2(&self, account: &str, region: &str) -> aws_sdk_ec2::Client {
        let config = self.config(account).await;
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&config)
                .region(aws_config::Region::new(region.to_owned()))
                .build(),
        )
    }
}
