//! The estate as EC2 and ELBv2 describe it: the provider's services, NLBs, target groups and
//! targets with the function's credentials, the consumers' endpoints through their read role.

use crate::accounts::AccountConfigs;
use crate::availability_zones::analysis::{
    CrossZone, Endpoint, LoadBalancer, Service, Snapshot, Target, TargetGroup,
};
use crate::availability_zones::ports::{AuditScope, Estate};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// The provider's account read with the function's credentials; consumers through their role.
pub struct AwsEstate {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub accounts: AccountConfigs,
    pub account: String,
    pub region: String,
}

fn az_map(zones: &[aws_sdk_ec2::types::AvailabilityZone]) -> BTreeMap<String, String> {
    zones
        .iter()
        .filter_map(|z| Some((z.zone_name()?.to_owned(), z.zone_id()?.to_owned())))
        .collect()
}

impl AwsEstate {
    /// Targets whose AZ the health description leaves out: instances by their placement, IP
    /// targets by the subnet whose CIDR holds them. What stays unknown counts in no AZ.
    async fn locate(&self, targets: &mut [Target]) -> Result<()> {
        let instances: Vec<String> = targets
            .iter()
            .filter(|t| t.az_name.is_none() && t.id.starts_with("i-"))
            .map(|t| t.id.clone())
            .collect();
        if !instances.is_empty() {
            let mut pages = self
                .ec2
                .describe_instances()
                .set_instance_ids(Some(instances))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| Error::aws("ec2:DescribeInstances", e))?;
                for i in page.reservations().iter().flat_map(|r| r.instances()) {
                    let zone = i.placement().and_then(|p| p.availability_zone());
                    if let (Some(id), Some(zone)) = (i.instance_id(), zone) {
                        targets
                            .iter_mut()
                            .filter(|t| t.id == id)
                            .for_each(|t| t.az_name = Some(zone.to_owned()));
                    }
                }
            }
        }
        if targets
            .iter()
            .any(|t| t.az_name.is_none() && t.id.parse::<std::net::Ipv4Addr>().is_ok())
        {
            let subnets = self
                .ec2
                .describe_subnets()
                .send()
                .await
                .map_err(|e| Error::aws("ec2:DescribeSubnets", e))?;
            for t in targets.iter_mut().filter(|t| t.az_name.is_none()) {
                let Ok(ip) = t.id.parse::<std::net::Ipv4Addr>() else {
                    continue;
                };
                t.az_name = subnets
                    .subnets()
                    .iter()
                    .find(|sn| sn.cidr_block().is_some_and(|c| cidr_contains(c, ip)))
                    .and_then(|sn| sn.availability_zone())
                    .map(str::to_owned);
            }
        }
        Ok(())
    }

    async fn consumer(
        &self,
        account: &str,
        endpoint_ids: &[String],
        s: &mut Snapshot,
        service_of: &BTreeMap<String, String>,
    ) -> Result<()> {
        let ec2 = self.accounts.ec2(account, &self.region).await;
        let zones = ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| Error::aws("ec2:DescribeAvailabilityZones", e))?;
        s.az_maps
            .insert(account.to_owned(), az_map(zones.availability_zones()));
        let endpoints = ec2
            .describe_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(endpoint_ids.to_vec()))
            .send()
            .await
            .map_err(|e| Error::aws("ec2:DescribeVpcEndpoints", e))?;
        for ep in endpoints.vpc_endpoints() {
            let (Some(id), Some(vpc)) = (ep.vpc_endpoint_id(), ep.vpc_id()) else {
                continue;
            };
            let subnets = ec2
                .describe_subnets()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("vpc-id")
                        .values(vpc)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Error::aws("ec2:DescribeSubnets", e))?;
            let az_of = |subnet: &str| {
                subnets
                    .subnets()
                    .iter()
                    .find(|sn| sn.subnet_id() == Some(subnet))
                    .and_then(|sn| sn.availability_zone())
                    .map(str::to_owned)
            };
            s.endpoints.push(Endpoint {
                id: id.to_owned(),
                account: account.to_owned(),
                vpc_id: vpc.to_owned(),
                service_id: service_of.get(id).cloned().unwrap_or_default(),
                az_names: ep.subnet_ids().iter().filter_map(|sn| az_of(sn)).collect(),
                vpc_az_names: subnets
                    .subnets()
                    .iter()
                    .filter_map(|sn| sn.availability_zone().map(str::to_owned))
                    .collect(),
            });
        }
        Ok(())
    }
}

impl Estate for AwsEstate {
    async fn snapshot(&self, scope: &AuditScope) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        let zones = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| Error::aws("ec2:DescribeAvailabilityZones", e))?;
        s.az_maps
            .insert(self.account.clone(), az_map(zones.availability_zones()));
        let configs = self
            .ec2
            .describe_vpc_endpoint_service_configurations()
            .send()
            .await
            .map_err(|e| Error::aws("ec2:DescribeVpcEndpointServiceConfigurations", e))?;
        for c in configs.service_configurations() {
            let Some(id) = c.service_id() else { continue };
            if scope.covers(id) {
                s.services.push(Service {
                    id: id.to_owned(),
                    account: self.account.clone(),
                    nlb_arns: c.network_load_balancer_arns().to_vec(),
                });
            }
        }
        let nlbs: Vec<String> = s.services.iter().flat_map(|v| v.nlb_arns.clone()).collect();
        if !nlbs.is_empty() {
            let lbs = self
                .elb
                .describe_load_balancers()
                .set_load_balancer_arns(Some(nlbs))
                .send()
                .await
                .map_err(|e| Error::aws("elasticloadbalancing:DescribeLoadBalancers", e))?;
            for lb in lbs.load_balancers() {
                let Some(arn) = lb.load_balancer_arn() else {
                    continue;
                };
                let attrs = self
                    .elb
                    .describe_load_balancer_attributes()
                    .load_balancer_arn(arn)
                    .send()
                    .await
                    .map_err(|e| {
                        Error::aws("elasticloadbalancing:DescribeLoadBalancerAttributes", e)
                    })?;
                let cross_zone = attrs.attributes().iter().any(|a| {
                    a.key() == Some("load_balancing.cross_zone.enabled")
                        && a.value() == Some("true")
                });
                s.load_balancers.push(LoadBalancer {
                    arn: arn.to_owned(),
                    account: self.account.clone(),
                    az_names: lb
                        .availability_zones()
                        .iter()
                        .filter_map(|z| z.zone_name().map(str::to_owned))
                        .collect(),
                    cross_zone,
                });
                let groups = self
                    .elb
                    .describe_target_groups()
                    .load_balancer_arn(arn)
                    .send()
                    .await
                    .map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetGroups", e))?;
                for tg in groups.target_groups() {
                    let Some(tg_arn) = tg.target_group_arn() else {
                        continue;
                    };
                    let attrs = self
                        .elb
                        .describe_target_group_attributes()
                        .target_group_arn(tg_arn)
                        .send()
                        .await
                        .map_err(|e| {
                            Error::aws("elasticloadbalancing:DescribeTargetGroupAttributes", e)
                        })?;
                    let cross_zone = match attrs
                        .attributes()
                        .iter()
                        .find(|a| a.key() == Some("load_balancing.cross_zone.enabled"))
                        .and_then(|a| a.value())
                    {
                        Some("true") => CrossZone::On,
                        Some("false") => CrossZone::Off,
                        _ => CrossZone::Inherit,
                    };
                    let health = self
                        .elb
                        .describe_target_health()
                        .target_group_arn(tg_arn)
                        .send()
                        .await
                        .map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetHealth", e))?;
                    let mut targets: Vec<Target> = health
                        .target_health_descriptions()
                        .iter()
                        .filter_map(|d| {
                            let t = d.target()?;
                            Some(Target {
                                id: t.id()?.to_owned(),
                                // "all" means reachable from every AZ, not located in one.
                                az_name: t
                                    .availability_zone()
                                    .filter(|z| *z != "all")
                                    .map(str::to_owned),
                                healthy: d
                                    .target_health()
                                    .and_then(|h| h.state())
                                    .is_some_and(|st| st.as_str() == "healthy"),
                            })
                        })
                        .collect();
                    self.locate(&mut targets).await?;
                    s.target_groups.push(TargetGroup {
                        arn: tg_arn.to_owned(),
                        lb_arns: tg.load_balancer_arns().to_vec(),
                        cross_zone,
                        targets,
                    });
                }
            }
        }
        // Consumers: every live connection's endpoint, read in its owner's account.
        let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut service_of: BTreeMap<String, String> = BTreeMap::new();
        for service in &s.services {
            let mut pages = self
                .ec2
                .describe_vpc_endpoint_connections()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("service-id")
                        .values(&service.id)
                        .build(),
                )
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("vpc-endpoint-state")
                        .values("available")
                        .build(),
                )
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| Error::aws("ec2:DescribeVpcEndpointConnections", e))?;
                for c in page.vpc_endpoint_connections() {
                    if let (Some(id), Some(owner)) = (c.vpc_endpoint_id(), c.vpc_endpoint_owner()) {
                        by_account
                            .entry(owner.to_owned())
                            .or_default()
                            .push(id.to_owned());
                        service_of.insert(id.to_owned(), service.id.clone());
                    }
                }
            }
        }
        for (account, ids) in by_account {
            if let Err(e) = self.consumer(&account, &ids, &mut s, &service_of).await {
                tracing::warn!(%account, error = %e, "consumer account unreachable");
                s.unreachable.push((account, e.to_string()));
            }
        }
        Ok(s)
    }
}

/// Whether an IPv4 CIDR block (`10.0.1.0/24`) holds `ip`.
fn cidr_contains(cidr: &str, ip: std::net::Ipv4Addr) -> bool {
    let Some((base, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(base), Ok(bits)) = (base.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(base) & mask == u32::from(ip) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
        assert!(cidr_contains("10.0.1.0/24", ip("10.0.1.77")));
        assert!(!cidr_contains("10.0.1.0/24", ip("10.0.2.1")));
        assert!(cidr_contains("0.0.0.0/0", ip("192.0.2.1")));
        assert!(!cidr_contains("10.0.0.0/33", ip("10.0.0.1")));
        assert!(!cidr_contains("garbage", ip("10.0.0.1")));
    }
}
