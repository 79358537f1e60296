//! The AWS SDK configuration, loaded once per cold start. `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by every client, so the same binary talks to AWS or
//! to the local emulator.
//!
//! Every SDK client shares one HTTPS client: hyper 1 and rustls with the `ring` crypto provider.
//! The SDK's default client would compile aws-lc (a C library, and a C build); TLS to AWS
//! endpoints needs nothing ring lacks. The README's "Size, start-up and memory" has the figures.

pub use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .load()
        .await
}

/// The crypto provider for HTTPS outside the SDK, the same as the SDK's.
#[cfg(feature = "https")]
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
