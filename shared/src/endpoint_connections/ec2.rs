//! PrivateLink connections on EC2: the provider's side (the adapter of [`ConnectionApi`]), and
//! the consumers' endpoints read through their read role (the adapter of [`ConsumerEndpoints`]).

use crate::aws::ec2_filter as filter;
use crate::endpoint_connections::claims::Known;
use crate::endpoint_connections::policy::{Connection, Tags};
use crate::endpoint_connections::ports::{ConnectionApi, ConsumerEndpoints};
use crate::error::{Error, ItemFailure, Result, unsuccessful};
use aws_sdk_ec2::types::{Filter, UnsuccessfulItem};
use std::collections::BTreeMap;

/// Ids per Accept/Reject call. The API takes a list without a documented maximum; a modest page
/// keeps each call well inside request-size limits.
pub const IDS_PER_CALL: usize = 100;

pub struct Ec2Connections {
    client: aws_sdk_ec2::Client,
}

impl Ec2Connections {
    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Ec2Connections { client }
    }
}

impl Ec2Connections {
    /// Every connection to `service_id` matching the filters, across pages.
    async fn describe(
        &self,
        service_id: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<aws_sdk_ec2::types::VpcEndpointConnection>> {
        let mut pages = self
            .client
            .describe_vpc_endpoint_connections()
            .set_filters(Some(
                std::iter::once(filter("service-id", [service_id]))
                    .chain(filters)
                    .collect(),
            ))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ec2:DescribeVpcEndpointConnections", e))?;
            found.extend(page.vpc_endpoint_connections.unwrap_or_default());
        }
        Ok(found)
    }
}

impl ConnectionApi for Ec2Connections {
    async fn pending(&self, service_id: &str, endpoint_ids: &[String]) -> Result<Vec<Connection>> {
        let mut filters = vec![filter("vpc-endpoint-state", ["pendingAcceptance"])];
        if !endpoint_ids.is_empty() {
            filters.push(filter("vpc-endpoint-id", endpoint_ids));
        }
        let mut found = Vec::new();
        for c in self.describe(service_id, filters).await? {
            let (Some(endpoint_id), Some(owner)) = (c.vpc_endpoint_id(), c.vpc_endpoint_owner())
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
                // The consumer's VPC and tags are not in this answer (its `Tags` are the
                // connection's own): they come from the consumer's events.
                vpc_id: None,
                tags: Tags::Unknown,
            });
        }
        Ok(found)
    }

    async fn states(
        &self,
        service_id: &str,
        endpoint_ids: &[String],
    ) -> Result<BTreeMap<String, String>> {
        let connections = self.describe(service_id, vec![]).await?;
        Ok(connections
            .iter()
            .filter_map(|c| {
                let id = c.vpc_endpoint_id()?;
                endpoint_ids.iter().any(|e| e == id).then(|| {
                    let state = c
                        .vpc_endpoint_state()
                        .map(|s| s.as_str())
                        .unwrap_or_default();
                    (id.to_owned(), state.to_owned())
                })
            })
            .collect())
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

/// Each consumer account's endpoints through its read-only role (the provider's own account
/// with the function's own credentials), in the provider's region.
pub struct ConsumerRoles {
    accounts: crate::accounts::AccountConfigs,
    region: String,
}

impl ConsumerRoles {
    pub fn new(accounts: crate::accounts::AccountConfigs, region: String) -> Self {
        ConsumerRoles { accounts, region }
    }
}

impl ConsumerEndpoints for ConsumerRoles {
    async fn endpoints(&self, account: &str, endpoint_ids: &[String]) -> Result<Vec<Known>> {
        let ec2 = self.accounts.ec2(account, &self.region).await;
        let found = crate::aws::vpc_endpoints(&ec2, endpoint_ids).await?;
        Ok(found
            .iter()
            // Only the account's own endpoints count: its word is about what it owns.
            .filter(|e| e.owner_id() == Some(account))
            .filter_map(|e| {
                Some(Known {
                    endpoint_id: e.vpc_endpoint_id()?.to_owned(),
                    account: account.to_owned(),
                    // `com.amazonaws.vpce.<region>.vpce-svc-…`: the service id ends it.
                    service_id: e
                        .service_name()
                        .and_then(|n| n.rsplit('.').next())
                        .map(str::to_owned),
                    vpc_id: e.vpc_id().map(str::to_owned),
                    tags: Tags::Complete(
                        e.tags()
                            .iter()
                            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                            .collect(),
                    ),
                })
            })
            .collect())
    }
}

/// Call `call` once per page of ids, collecting every `Unsuccessful` item, and every id of a
/// page whose call failed as a whole (with the call's error code).
async fn in_pages<F, Fut>(ids: &[String], call: F) -> Result<Vec<ItemFailure>>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<UnsuccessfulItem>>>,
{
    let mut out = Vec::new();
    for page in ids.chunks(IDS_PER_CALL) {
        match call(page.to_vec()).await {
            Ok(items) => out.extend(unsuccessful(&items)),
            Err(e) => {
                tracing::error!(error = %e, ids = page.len(), "call refused");
                let code = e.code().unwrap_or(e.kind()).to_owned();
                out.extend(page.iter().map(|id| ItemFailure {
                    resource_id: id.clone(),
                    code: code.clone(),
                    message: e.to_string(),
                }));
            }
        }
    }
    Ok(out)
}
