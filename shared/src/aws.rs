//! The AWS SDK configuration, loaded once per cold start. `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by every client, so the same binary talks to AWS or
//! to the local emulator.

pub use aws_config::SdkConfig;

pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
