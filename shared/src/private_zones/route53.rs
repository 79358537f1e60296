//! Private hosted zones across accounts: the narrow ports the associator needs, shaped like its
//! IAM permissions, and their adapters (Route 53 in the hub; EC2 and Route 53 in each spoke,
//! through an assumed role).

use crate::accounts::AccountConfigs;
use crate::error::{Error, Result};
use crate::private_zones::rules::{Vpc, Zone};
use aws_sdk_route53::types::{Tag, TagResourceType, Vpc as R53Vpc, VpcRegion};
use std::collections::BTreeMap;
use std::future::Future;

/// Route 53 in the hub, as the zones' owner: `route53:ListHostedZones`, `ListTagsForResources`,
/// `GetHostedZone`, `AssociateVPCWithHostedZone`, `CreateVPCAssociationAuthorization`,
/// `DeleteVPCAssociationAuthorization`, `DisassociateVPCFromHostedZone`.
pub trait ZoneOwner {
    /// Every private hosted zone of the hub, with its tags and associated VPCs.
    fn catalogue(&self) -> impl Future<Output = Result<Vec<Zone>>> + Send;
    fn associate(
        &self,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn authorize(
        &self,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn deauthorize(
        &self,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn disassociate(
        &self,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// What the associator may do in a spoke account (through its role): `ec2:DescribeVpcs` and
/// `route53:AssociateVPCWithHostedZone`.
pub trait Spokes {
    /// VPCs of `account` in `region` (only `vpc_ids`, when given), with their tags.
    fn vpcs(
        &self,
        account: &str,
        region: &str,
        vpc_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Vpc>>> + Send;
    /// Associate as the VPC's owner (after the hub authorized it).
    fn associate(
        &self,
        account: &str,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> impl Future<Output = Result<()>> + Send;
}

fn r53_vpc(vpc_id: &str, region: &str) -> R53Vpc {
    R53Vpc::builder()
        .vpc_id(vpc_id)
        .vpc_region(VpcRegion::from(region))
        .build()
}

fn bare_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

pub struct Route53Owner {
    client: aws_sdk_route53::Client,
}

impl Route53Owner {
    pub fn new(client: aws_sdk_route53::Client) -> Self {
        Route53Owner { client }
    }
}

impl ZoneOwner for Route53Owner {
    async fn catalogue(&self) -> Result<Vec<Zone>> {
        let mut zones = Vec::new();
        let mut pages = self.client.list_hosted_zones().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("route53:ListHostedZones", e))?;
            for z in page.hosted_zones() {
                if z.config().is_some_and(|c| c.private_zone()) {
                    zones.push(Zone {
                        id: bare_id(z.id()).to_owned(),
                        name: z.name().to_owned(),
                        tags: BTreeMap::new(),
                        vpcs: Default::default(),
                    });
                }
            }
        }
        // Tags, ten zones per call (the API's limit).
        for chunk in zones.chunks_mut(10) {
            let ids: Vec<String> = chunk.iter().map(|z| z.id.clone()).collect();
            let out = self
                .client
                .list_tags_for_resources()
                .resource_type(TagResourceType::Hostedzone)
                .set_resource_ids(Some(ids))
                .send()
                .await
                .map_err(|e| Error::aws("route53:ListTagsForResources", e))?;
            for set in out.resource_tag_sets() {
                if let Some(zone) = chunk
                    .iter_mut()
                    .find(|z| Some(z.id.as_str()) == set.resource_id().map(bare_id))
                {
                    zone.tags = set
                        .tags()
                        .iter()
                        .filter_map(|t: &Tag| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                        .collect();
                }
            }
        }
        for zone in &mut zones {
            let out = self
                .client
                .get_hosted_zone()
                .id(&zone.id)
                .send()
                .await
                .map_err(|e| Error::aws("route53:GetHostedZone", e))?;
            zone.vpcs = out
                .vpcs()
                .iter()
                .filter_map(|v| Some((v.vpc_id()?.to_owned(), v.vpc_region()?.as_str().to_owned())))
                .collect();
        }
        Ok(zones)
    }

    async fn associate(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        associate_with(&self.client, zone_id, vpc_id, region).await
    }

    async fn authorize(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        self.client
            .create_vpc_association_authorization()
            .hosted_zone_id(zone_id)
            .vpc(r53_vpc(vpc_id, region))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("route53:CreateVPCAssociationAuthorization", e))
    }

    async fn deauthorize(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        self.client
            .delete_vpc_association_authorization()
            .hosted_zone_id(zone_id)
            .vpc(r53_vpc(vpc_id, region))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("route53:DeleteVPCAssociationAuthorization", e))
    }

    async fn disassociate(&self, zone_id: &str, vpc_id: &str, region: &str) -> Result<()> {
        self.client
            .disassociate_vpc_from_hosted_zone()
            .hosted_zone_id(zone_id)
            .vpc(r53_vpc(vpc_id, region))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("route53:DisassociateVPCFromHostedZone", e))
    }
}

/// `AssociateVPCWithHostedZone` with `client`: the hub's for its own VPCs, a spoke's as the VPC owner.
pub async fn associate_with(
    client: &aws_sdk_route53::Client,
    zone_id: &str,
    vpc_id: &str,
    region: &str,
) -> Result<()> {
    client
        .associate_vpc_with_hosted_zone()
        .hosted_zone_id(zone_id)
        .vpc(r53_vpc(vpc_id, region))
        .comment("privatelink-autopilot")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("route53:AssociateVPCWithHostedZone", e))
}

/// Reaches each spoke account through its role (the hub's own VPCs with the function's own
/// credentials).
pub struct AssumedRoleSpokes {
    accounts: AccountConfigs,
    retry: aws_smithy_types::retry::RetryConfig,
}

impl AssumedRoleSpokes {
    pub fn new(accounts: AccountConfigs, retry: aws_smithy_types::retry::RetryConfig) -> Self {
        AssumedRoleSpokes { accounts, retry }
    }
}

impl Spokes for AssumedRoleSpokes {
    async fn vpcs(&self, account: &str, region: &str, vpc_ids: &[String]) -> Result<Vec<Vpc>> {
        let ec2 = self.accounts.ec2(account, region).await;
        let mut pages = ec2
            .describe_vpcs()
            .set_vpc_ids((!vpc_ids.is_empty()).then(|| vpc_ids.to_vec()))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ec2:DescribeVpcs", e))?;
            for v in page.vpcs() {
                let Some(vpc_id) = v.vpc_id() else { continue };
                out.push(Vpc {
                    account: v.owner_id().unwrap_or(account).to_owned(),
                    region: region.to_owned(),
                    vpc_id: vpc_id.to_owned(),
                    tags: v
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    async fn associate(
        &self,
        account: &str,
        zone_id: &str,
        vpc_id: &str,
        region: &str,
    ) -> Result<()> {
        let config = self.accounts.config(account).await;
        let client = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&config)
                .retry_config(self.retry.clone())
                .build(),
        );
        associate_with(&client, zone_id, vpc_id, region).await
    }
}
