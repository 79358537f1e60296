//! The estate as EC2 and ELBv2 describe it: the provider's services, NLBs, target groups and
//! targets with the function's credentials, the consumers' endpoints through their read role.
//!
//! Every describe follows its pages; calls that take a bounded number of ids are sent in batches
//! AWS accepts (`DescribeLoadBalancers`: 20 ARNs; EC2 filters: 200 values); the calls grow with
//! the resources — services, load balancers, target groups, VPCs, accounts — never with targets
//! or findings. A target's AZs are as the elbv2 API defines them: an instance's placement; an IP
//! target's registered AZ, `all` (every enabled AZ), or the subnet of the target group's VPC
//! that holds it; an ALB target's enabled AZs.
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html>,
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetDescription.html>,
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html> (`FilterLimitExceeded`)

use crate::accounts::AccountConfigs;
use crate::availability_zones::analysis::{
    CrossZone, LoadBalancer, NotAudited, Service, Snapshot, Target, TargetAzs, TargetGroup,
};
use crate::availability_zones::ports::{AuditScope, Estate};
use crate::aws::ec2_filter as filter;
use crate::error::{Error, Result};
use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use std::collections::{BTreeMap, BTreeSet};

/// ARNs per `DescribeLoadBalancers` call (its documented maximum).
pub const LBS_PER_CALL: usize = 20;
/// Values per EC2 filter.
pub const VALUES_PER_FILTER: usize = 200;

/// The provider's account read with the function's credentials; consumers through their role.
pub struct AwsEstate {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub accounts: AccountConfigs,
    pub account: String,
    pub region: String,
}

pub(super) async fn az_map(ec2: &aws_sdk_ec2::Client) -> Result<BTreeMap<String, String>> {
    let zones = ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| Error::aws("ec2:DescribeAvailabilityZones", e))?;
    Ok(zones
        .availability_zones()
        .iter()
        .filter_map(|z| Some((z.zone_name()?.to_owned(), z.zone_id()?.to_owned())))
        .collect())
}

/// Subnets of these VPCs: (subnet id, VPC id, CIDR, AZ name).
pub(super) async fn subnets(
    ec2: &aws_sdk_ec2::Client,
    vpcs: &BTreeSet<String>,
) -> Result<Vec<(String, String, String, String)>> {
    let vpcs: Vec<&String> = vpcs.iter().collect();
    let mut out = Vec::new();
    for chunk in vpcs.chunks(VALUES_PER_FILTER) {
        let mut pages = ec2
            .describe_subnets()
            .filters(filter("vpc-id", chunk))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ec2:DescribeSubnets", e))?;
            for sn in page.subnets() {
                if let (Some(id), Some(vpc), Some(az)) =
                    (sn.subnet_id(), sn.vpc_id(), sn.availability_zone())
                {
                    let cidr = sn.cidr_block().unwrap_or_default();
                    out.push((id.into(), vpc.into(), cidr.into(), az.into()));
                }
            }
        }
    }
    Ok(out)
}

/// A target as `DescribeTargetHealth` gave it, before it is placed.
struct Health {
    id: String,
    /// `AvailabilityZone` (IP targets only).
    az: Option<String>,
    healthy: bool,
}

struct Group {
    arn: String,
    lb_arns: Vec<String>,
    kind: Option<TargetTypeEnum>,
    vpc: Option<String>,
    cross_zone: CrossZone,
    targets: Vec<Health>,
}

impl AwsEstate {
    /// Load balancers by ARN, 20 per call, every page.
    async fn load_balancers(
        &self,
        arns: &BTreeSet<String>,
    ) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>> {
        let arns: Vec<String> = arns.iter().cloned().collect();
        let mut out = Vec::new();
        for chunk in arns.chunks(LBS_PER_CALL) {
            let mut pages = self
                .elb
                .describe_load_balancers()
                .set_load_balancer_arns(Some(chunk.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| Error::aws("elasticloadbalancing:DescribeLoadBalancers", e))?;
                out.extend(page.load_balancers.unwrap_or_default());
            }
        }
        Ok(out)
    }

    async fn cross_zone_of_lb(&self, arn: &str) -> Result<bool> {
        let attrs = self
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(|e| Error::aws("elasticloadbalancing:DescribeLoadBalancerAttributes", e))?;
        Ok(attrs.attributes().iter().any(|a| {
            a.key() == Some("load_balancing.cross_zone.enabled") && a.value() == Some("true")
        }))
    }

    /// The target groups of one load balancer, with their setting and their targets' health.
    async fn groups(&self, lb_arn: &str) -> Result<Vec<Group>> {
        let mut pages = self
            .elb
            .describe_target_groups()
            .load_balancer_arn(lb_arn)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetGroups", e))?;
            for tg in page.target_groups() {
                let Some(arn) = tg.target_group_arn() else {
                    continue;
                };
                let attrs = self
                    .elb
                    .describe_target_group_attributes()
                    .target_group_arn(arn)
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
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map_err(|e| Error::aws("elasticloadbalancing:DescribeTargetHealth", e))?;
                let targets = health
                    .target_health_descriptions()
                    .iter()
                    .filter_map(|d| {
                        let t = d.target()?;
                        Some(Health {
                            id: t.id()?.to_owned(),
                            az: t.availability_zone().map(str::to_owned),
                            healthy: d
                                .target_health()
                                .and_then(|h| h.state())
                                .is_some_and(|st| st.as_str() == "healthy"),
                        })
                    })
                    .collect();
                out.push(Group {
                    arn: arn.to_owned(),
                    lb_arns: tg.load_balancer_arns().to_vec(),
                    kind: tg.target_type().cloned(),
                    vpc: tg.vpc_id().map(str::to_owned),
                    cross_zone,
                    targets,
                });
            }
        }
        Ok(out)
    }

    /// Where each instance is (AZ name), 200 ids per call, every page.
    async fn placements(&self, ids: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
        let ids: Vec<&String> = ids.iter().collect();
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(VALUES_PER_FILTER) {
            let mut pages = self
                .ec2
                .describe_instances()
                .filters(filter("instance-id", chunk))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| Error::aws("ec2:DescribeInstances", e))?;
                for i in page.reservations().iter().flat_map(|r| r.instances()) {
                    let zone = i.placement().and_then(|p| p.availability_zone());
                    if let (Some(id), Some(zone)) = (i.instance_id(), zone) {
                        out.insert(id.to_owned(), zone.to_owned());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every target placed, with as few calls as the estate allows: one batched instance
    /// lookup, one subnet read per VPC batch, one ALB read per 20 ALBs.
    async fn place(&self, groups: Vec<Group>) -> Result<Vec<TargetGroup>> {
        let of_kind = |kind: TargetTypeEnum| {
            groups
                .iter()
                .filter(move |g| g.kind.as_ref() == Some(&kind))
                .flat_map(|g| g.targets.iter().map(move |t| (g, t)))
        };
        let instances: BTreeSet<String> = of_kind(TargetTypeEnum::Instance)
            .map(|(_, t)| t.id.clone())
            .collect();
        let placements = if instances.is_empty() {
            BTreeMap::new()
        } else {
            self.placements(&instances).await?
        };
        let vpcs: BTreeSet<String> = of_kind(TargetTypeEnum::Ip)
            .filter(|(_, t)| t.az.is_none())
            .filter_map(|(g, _)| g.vpc.clone())
            .collect();
        let subnets = if vpcs.is_empty() {
            Vec::new()
        } else {
            subnets(&self.ec2, &vpcs).await?
        };
        let albs: BTreeSet<String> = of_kind(TargetTypeEnum::Alb)
            .map(|(_, t)| t.id.clone())
            .collect();
        let alb_azs: BTreeMap<String, Vec<String>> = if albs.is_empty() {
            BTreeMap::new()
        } else {
            self.load_balancers(&albs)
                .await?
                .iter()
                .filter_map(|lb| Some((lb.load_balancer_arn()?.to_owned(), zone_names(lb))))
                .collect()
        };
        Ok(groups
            .into_iter()
            .map(|g| {
                let targets = g
                    .targets
                    .iter()
                    .map(|t| {
                        let azs = match (&g.kind, &t.az) {
                            (Some(TargetTypeEnum::Ip), Some(az)) if az == "all" => TargetAzs::All,
                            (Some(TargetTypeEnum::Ip), Some(az)) => TargetAzs::In(vec![az.clone()]),
                            (Some(TargetTypeEnum::Ip), None) => {
                                locate_ip(&t.id, g.vpc.as_deref(), &subnets)
                            }
                            (Some(TargetTypeEnum::Instance), _) => placements
                                .get(&t.id)
                                .map_or(TargetAzs::Unknown, |az| TargetAzs::In(vec![az.clone()])),
                            (Some(TargetTypeEnum::Alb), _) => alb_azs
                                .get(&t.id)
                                .map_or(TargetAzs::Unknown, |azs| TargetAzs::In(azs.clone())),
                            _ => TargetAzs::Unknown,
                        };
                        if azs == TargetAzs::Unknown {
                            tracing::warn!(target = %t.id, target_group = %g.arn, "target not located");
                        }
                        Target {
                            id: t.id.clone(),
                            azs,
                            healthy: t.healthy,
                        }
                    })
                    .collect();
                TargetGroup {
                    arn: g.arn,
                    lb_arns: g.lb_arns,
                    cross_zone: g.cross_zone,
                    targets,
                }
            })
            .collect())
    }
}

fn zone_names(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> Vec<String> {
    lb.availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect()
}

/// An IP target in the subnet of its target group's VPC that holds it.
fn locate_ip(
    ip: &str,
    vpc: Option<&str>,
    subnets: &[(String, String, String, String)],
) -> TargetAzs {
    let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() else {
        return TargetAzs::Unknown;
    };
    subnets
        .iter()
        .find(|(_, v, cidr, _)| Some(v.as_str()) == vpc && cidr_contains(cidr, ip))
        .map_or(TargetAzs::Unknown, |(.., az)| {
            TargetAzs::In(vec![az.clone()])
        })
}

impl Estate for AwsEstate {
    async fn snapshot(&self, scope: &AuditScope) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        s.az_maps
            .insert(self.account.clone(), az_map(&self.ec2).await?);
        let mut pages = self
            .ec2
            .describe_vpc_endpoint_service_configurations()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| Error::aws("ec2:DescribeVpcEndpointServiceConfigurations", e))?;
            for c in page.service_configurations() {
                let Some(id) = c.service_id().filter(|id| scope.covers(id)) else {
                    continue;
                };
                if c.network_load_balancer_arns().is_empty() {
                    if !c.gateway_load_balancer_arns().is_empty() {
                        s.not_audited.push(NotAudited {
                            resource: id.to_owned(),
                            reason: "a Gateway Load Balancer endpoint service: the AZ and cross-zone checks are for Network Load Balancers".into(),
                        });
                    }
                    continue;
                }
                s.services.push(Service {
                    id: id.to_owned(),
                    account: self.account.clone(),
                    nlb_arns: c.network_load_balancer_arns().to_vec(),
                });
            }
        }
        let nlbs: BTreeSet<String> = s.services.iter().flat_map(|v| v.nlb_arns.clone()).collect();
        let mut groups = Vec::new();
        for lb in self.load_balancers(&nlbs).await? {
            let Some(arn) = lb.load_balancer_arn() else {
                continue;
            };
            s.load_balancers.push(LoadBalancer {
                arn: arn.to_owned(),
                account: self.account.clone(),
                az_names: zone_names(&lb),
                cross_zone: self.cross_zone_of_lb(arn).await?,
            });
            for g in self.groups(arn).await? {
                if !groups.iter().any(|known: &Group| known.arn == g.arn) {
                    groups.push(g);
                }
            }
        }
        s.target_groups = self.place(groups).await?;

        // Consumers: every live connection's endpoint, read in its owner's account.
        let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut service_of: BTreeMap<String, String> = BTreeMap::new();
        let services: Vec<&String> = s.services.iter().map(|v| &v.id).collect();
        for chunk in services.chunks(VALUES_PER_FILTER) {
            let mut pages = self
                .ec2
                .describe_vpc_endpoint_connections()
                .filters(filter("service-id", chunk))
                .filters(filter("vpc-endpoint-state", ["available"]))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| Error::aws("ec2:DescribeVpcEndpointConnections", e))?;
                for c in page.vpc_endpoint_connections() {
                    let (Some(id), Some(owner), Some(service)) =
                        (c.vpc_endpoint_id(), c.vpc_endpoint_owner(), c.service_id())
                    else {
                        continue;
                    };
                    match c.vpc_endpoint_region().filter(|r| *r != self.region) {
                        Some(region) => s.not_audited.push(NotAudited {
                            resource: id.to_owned(),
                            reason: format!("an endpoint in {region} (cross-region PrivateLink): AZ coverage is a matter within one region"),
                        }),
                        None => {
                            by_account.entry(owner.to_owned()).or_default().push(id.to_owned());
                            service_of.insert(id.to_owned(), service.to_owned());
                        }
                    }
                }
            }
        }
        for (account, ids) in by_account {
            if let Err(e) = self.consumer(&account, &ids, &mut s, &service_of).await {
                tracing::warn!(%account, error = %e, "consumer account unreachable");
                s.unreachable.push((account, e.to_string()));
                // Its endpoints' findings can be neither confirmed nor resolved this run.
                s.unread.extend(ids);
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

    #[test]
    fn ip_targets_are_located_in_their_own_vpc_only() {
        let subnets = vec![
            (
                "subnet-a".to_owned(),
                "vpc-other".to_owned(),
                "10.0.1.0/24".to_owned(),
                "us-east-1b".to_owned(),
            ),
            (
                "subnet-b".to_owned(),
                "vpc-mine".to_owned(),
                "10.0.1.0/24".to_owned(),
                "us-east-1a".to_owned(),
            ),
        ];
        assert_eq!(
            locate_ip("10.0.1.9", Some("vpc-mine"), &subnets),
            TargetAzs::In(vec!["us-east-1a".into()])
        );
        assert_eq!(
            locate_ip("10.9.9.9", Some("vpc-mine"), &subnets),
            TargetAzs::Unknown
        );
        assert_eq!(
            locate_ip("not-an-ip", Some("vpc-mine"), &subnets),
            TargetAzs::Unknown
        );
    }
}
