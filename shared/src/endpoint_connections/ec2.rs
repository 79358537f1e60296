//! The provider side of PrivateLink connections: the narrow port the acceptor needs (shaped like
//! its IAM permissions) and its EC2 adapter.

use crate::endpoint_connections::policy::Connection;
use crate::error::{Error, ItemFailure, Result, unsuccessful};
use aws_sdk_ec2::types::{Filter, UnsuccessfulItem};
use std::future::Future;

/// Ids per Accept/Reject call. The API takes a list without a documented maximum; a modest page
/// keeps each call well inside request-size limits.
pub const IDS_PER_CALL: usize = 100;

/// `ec2:DescribeVpcEndpointConnections`, `ec2:AcceptVpcEndpointConnections`,
/// `ec2:RejectVpcEndpointConnections`.
pub trait ConnectionApi {
    /// Connections to `service_id` waiting for acceptance (only `endpoint_id`'s, when given).
    fn pending(
        &self,
        service_id: &str,
        endpoint_id: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Connection>>> + Send;

    /// Accept; returns the items AWS reported as `Unsuccessful`.
    fn accept(
        &self,
        service_id: &str,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<Vec<ItemFailure>>> + Send;

    /// Reject; returns the items AWS reported as `Unsuccessful`.
    fn reject(
        &self,
        service_id: &str,
        endpoint_ids: &[String],
    ) -> impl Future<Output = Result<Vec<ItemFailure>>> + Send;
}

pub struct Ec2Connections {
    client: aws_sdk_ec2::Client,
}

impl Ec2Connections {
    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Ec2Connections { client }
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

impl ConnectionApi for Ec2Connections {
    async fn pending(
        &self,
        service_id: &str,
        endpoint_id: Option<&str>,
    ) -> Result<Vec<Connection>> {
        let mut request = self
            .client
            .describe_vpc_endpoint_connections()
            .filters(filter("service-id", service_id))
            .filters(filter("vpc-endpoint-state", "pendingAcceptance"));
        if let Some(id) = endpoint_id {
            request = request.filters(filter("vpc-endpoint-id", id));
        }
        let mut pages = request.into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ec2:DescribeVpcEndpointConnections", e))?;
            for c in page.vpc_endpoint_connections() {
                let (Some(endpoint_id), Some(owner)) =
                    (c.vpc_endpoint_id(), c.vpc_endpoint_owner())
                else {
                    tracing::warn!(
                        service_id,
                        "connection without endpoint id or owner skipped"
                    );
                    continue;
                };
                found.push(Connection {
                    service_id: c.service_id().unwrap_or(service_id).to_owned(),
                    endpoint_id: endpoint_id.to_owned(),
                    owner: owner.to_owned(),
                    state: c
                        .vpc_endpoint_state()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    vpc_id: None,
                    tags: c
                        .tags()
                        .iter()
                        .filter_map(|t| {
                            Some((
                                t.key()?.to_owned(),
                                t.value().unwrap_or_default().to_owned(),
                            ))
                        })
                        .collect(),
                });
            }
        }
        Ok(found)
    }

    async fn accept(&self, service_id: &str, endpoint_ids: &[String]) -> Result<Vec<ItemFailure>> {
        in_pages(endpoint_ids, |ids| async move {
            self.client
                .accept_vpc_endpoint_connections()
                .service_id(service_id)
                .set_vpc_endpoint_ids(Some(ids))
                .send()
                .await
                .map(|r| r.unsuccessful.unwrap_or_default())
                .map_err(|e| Error::aws("ec2:AcceptVpcEndpointConnections", e))
        })
        .await
    }

    async fn reject(&self, service_id: &str, endpoint_ids: &[String]) -> Result<Vec<ItemFailure>> {
        in_pages(endpoint_ids, |ids| async move {
            self.client
                .reject_vpc_endpoint_connections()
                .service_id(service_id)
                .set_vpc_endpoint_ids(Some(ids))
                .send()
                .await
                .map(|r| r.unsuccessful.unwrap_or_default())
                .map_err(|e| Error::aws("ec2:RejectVpcEndpointConnections", e))
        })
        .await
    }
}

/// Call `call` once per page of ids, collecting every `Unsuccessful` item.
async fn in_pages<F, Fut>(ids: &[String], call: F) -> Result<Vec<ItemFailure>>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<UnsuccessfulItem>>>,
{
    let mut out = Vec::new();
    for page in ids.chunks(IDS_PER_CALL) {
        out.extend(unsuccessful(&call(page.to_vec()).await?));
    }
    Ok(out)
}
