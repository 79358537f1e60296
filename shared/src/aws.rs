//! The AWS SDK configuration, loaded once per cold start. `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by every client, so the same binary talks to AWS or
//! to the local emulator.
//!
//! Every SDK client shares one HTTPS client: hyper 1 and rustls with the `ring` crypto provider.
//! The SDK's default client would compile aws-lc (a C library, and a C build); TLS to AWS
//! endpoints needs nothing ring lacks. `docs/benchmarks.md` has the figures.

pub use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(None, None).await
}

/// The same, with a named profile and a region when given (the operator CLI's `--profile` and
/// `--region`); otherwise the standard chain decides.
pub async fn sdk_config_for(profile: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    );
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    loader.load().await
}

/// An EC2 `Filter` (`name` = any of `values`): the way every EC2 read here narrows what it asks
/// for, so an id that no longer exists is absent from the answer rather than failing it.
/// Values per EC2 filter (EC2 refuses more: `FilterLimitExceeded`).
pub const VALUES_PER_FILTER: usize = 200;

#[cfg(any(
    feature = "endpoint-connections",
    feature = "connection-notifications",
    feature = "private-zones",
    feature = "availability-zones"
))]
pub fn ec2_filter<S: AsRef<str>>(
    name: &str,
    values: impl IntoIterator<Item = S>,
) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .set_values(Some(
            values.into_iter().map(|v| v.as_ref().to_owned()).collect(),
        ))
        .build()
}

/// The crypto provider for HTTPS outside the SDK, the same as the SDK's.
#[cfg(feature = "https")]
pub fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The endpoints among `ids` that `ec2`'s account can see, every page, by filter in batches EC2
/// takes: an id deleted since, or another account's, is absent rather than failing the others.
#[cfg(any(feature = "endpoint-connections", feature = "availability-zones"))]
pub async fn vpc_endpoints(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> crate::Result<Vec<aws_sdk_ec2::types::VpcEndpoint>> {
    let mut endpoints = Vec::new();
    for chunk in ids.chunks(VALUES_PER_FILTER) {
        let mut pages = ec2
            .describe_vpc_endpoints()
            .filters(ec2_filter("vpc-endpoint-id", chunk))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| crate::Error::aws("ec2:DescribeVpcEndpoints", e))?;
            endpoints.extend(page.vpc_endpoints.unwrap_or_default());
        }
    }
    Ok(endpoints)
}
