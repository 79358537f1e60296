//! The availability-zone auditor: collect a [`Snapshot`] of the estate, [`analyse`] it, and compare
//! with the findings remembered in DynamoDB, so a notification goes out when a finding opens or
//! resolves and a run that finds the same open finding stays quiet.

use crate::accounts::AccountConfigs;
use crate::az::{
    AzFinding, CrossZone, Endpoint, LoadBalancer, Service, Snapshot, Target, TargetGroup, analyse,
};
use crate::error::{Error, Result};
use crate::notify::{Notification, Publisher, Severity, fnv1a};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// What a run looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    /// Everything (the schedule, or an event that names no service).
    All,
    /// These endpoint services (an event that names them).
    Services(BTreeSet<String>),
}

impl AuditScope {
    fn covers(&self, service_id: &str) -> bool {
        match self {
            AuditScope::All => true,
            AuditScope::Services(ids) => ids.contains(service_id),
        }
    }
}

/// Reads the estate: the provider's services, NLBs and targets, and the consumers' endpoints.
pub trait Estate {
    fn snapshot(&self, scope: &AuditScope) -> impl Future<Output = Result<Snapshot>> + Send;
}

/// A finding remembered as open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFinding {
    pub fingerprint: String,
    pub service_id: String,
    pub severity: Severity,
    pub title: String,
    /// The NLB, target group or endpoint the finding was about.
    pub resource: String,
}

/// `dynamodb:Scan`, `PutItem`, `DeleteItem` on the findings table.
pub trait FindingsStore {
    fn open(&self) -> impl Future<Output = Result<Vec<OpenFinding>>> + Send;
    fn remember(&self, finding: &AzFinding) -> impl Future<Output = Result<()>> + Send;
    fn forget(&self, fingerprint: &str) -> impl Future<Output = Result<()>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AuditReport {
    pub opened: Vec<AzFinding>,
    pub resolved: Vec<OpenFinding>,
    /// Open before and still open: not announced again.
    pub still_open: usize,
}

pub struct Auditor<E, F, P> {
    pub estate: E,
    pub findings: F,
    pub publisher: P,
}

impl<E: Estate + Sync, F: FindingsStore + Sync, P: Publisher + Sync> Auditor<E, F, P> {
    pub async fn run(&self, scope: AuditScope) -> Result<AuditReport> {
        let snapshot = self.estate.snapshot(&scope).await?;
        let current: Vec<AzFinding> = analyse(&snapshot)
            .into_iter()
            .filter(|f| f.service_id == "*" || scope.covers(&f.service_id))
            .collect();
        let known = self.findings.open().await?;
        let known_prints: BTreeSet<&str> = known.iter().map(|k| k.fingerprint.as_str()).collect();
        let current_prints: BTreeSet<&str> =
            current.iter().map(|f| f.fingerprint.as_str()).collect();
        let opened: Vec<AzFinding> = current
            .iter()
            .filter(|f| !known_prints.contains(f.fingerprint.as_str()))
            .cloned()
            .collect();
        // Only what this run looked at can resolve; account-wide findings only on a full run.
        let looked_at = |k: &OpenFinding| match &scope {
            AuditScope::All => true,
            AuditScope::Services(_) => k.service_id != "*" && scope.covers(&k.service_id),
        };
        let resolved: Vec<OpenFinding> = known
            .iter()
            .filter(|k| looked_at(k) && !current_prints.contains(k.fingerprint.as_str()))
            .cloned()
            .collect();
        let report = AuditReport {
            still_open: current.len() - opened.len(),
            opened,
            resolved,
        };
        for f in &report.opened {
            tracing::warn!(fingerprint = %f.fingerprint, severity = f.severity.as_str(), title = %f.title, "finding opened");
        }
        for k in &report.resolved {
            tracing::info!(fingerprint = %k.fingerprint, title = %k.title, "finding resolved");
        }
        // One notification per finding, threaded by finding, so a chat client can put the
        // resolution under the message that opened it. Each is remembered (or forgotten) right
        // after it is published: a failure part-way leaves the rest for the next run.
        for f in &report.opened {
            self.publisher.publish(&opened_notification(f)).await?;
            self.findings.remember(f).await?;
        }
        for k in &report.resolved {
            self.publisher.publish(&resolved_notification(k)).await?;
            self.findings.forget(&k.fingerprint).await?;
        }
        Ok(report)
    }
}

/// The thread every notification about one finding shares.
fn thread_of(fingerprint: &str) -> String {
    format!("az-finding-{:016x}", fnv1a(fingerprint.as_bytes()))
}

const KEYWORDS: [&str; 3] = ["privatelink", "availability-zone", "cross-zone"];

fn opened_notification(f: &AzFinding) -> Notification {
    let thread = thread_of(&f.fingerprint);
    let evidence = f
        .evidence
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut context: BTreeMap<String, String> = f.evidence.clone();
    context.extend([
        ("status".to_owned(), "opened".to_owned()),
        ("check".to_owned(), f.check.as_str().to_owned()),
        ("resource".to_owned(), f.resource.clone()),
        ("fingerprint".to_owned(), f.fingerprint.clone()),
    ]);
    if f.service_id != "*" {
        context.insert("service".into(), f.service_id.clone());
    }
    Notification {
        id: format!("{thread}-opened"),
        event_type: "AvailabilityZoneFinding".into(),
        severity: f.severity,
        title: format!("PrivateLink availability zones: {}", f.title),
        description: format!("`{}`: {evidence}", f.resource),
        next_steps: vec![f.fix.clone()],
        keywords: KEYWORDS.map(String::from).to_vec(),
        thread_id: Some(thread),
        summary: f.title.clone(),
        related_resources: vec![f.resource.clone()],
        context,
    }
}

fn resolved_notification(k: &OpenFinding) -> Notification {
    let thread = thread_of(&k.fingerprint);
    let mut context = BTreeMap::from([
        ("status".to_owned(), "resolved".to_owned()),
        ("resource".to_owned(), k.resource.clone()),
        ("fingerprint".to_owned(), k.fingerprint.clone()),
        ("opened_severity".to_owned(), k.severity.as_str().to_owned()),
    ]);
    if k.service_id != "*" {
        context.insert("service".into(), k.service_id.clone());
    }
    Notification {
        id: format!("{thread}-resolved"),
        event_type: "AvailabilityZoneFinding".into(),
        severity: Severity::Info,
        title: format!("Resolved: {}", k.title),
        description: format!("No longer found in the latest audit: {}", k.title),
        next_steps: vec![],
        keywords: KEYWORDS.map(String::from).to_vec(),
        thread_id: Some(thread),
        summary: format!("Resolved: {}", k.title),
        related_resources: vec![k.resource.clone()],
        context,
    }
}

// --- DynamoDB ---------------------------------------------------------------------------------

pub struct DynamoFindings {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoFindings {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoFindings {
            client,
            table: table.into(),
        }
    }
}

impl FindingsStore for DynamoFindings {
    async fn open(&self) -> Result<Vec<OpenFinding>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("dynamodb:Scan", e))?;
            for item in page.items() {
                let text = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                out.push(OpenFinding {
                    fingerprint: text("pk"),
                    service_id: text("service_id"),
                    severity: Severity::parse(&text("severity")).unwrap_or(Severity::Info),
                    title: text("title"),
                    resource: text("resource"),
                });
            }
        }
        Ok(out)
    }

    async fn remember(&self, f: &AzFinding) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(f.fingerprint.clone()))
            .item("service_id", AttributeValue::S(f.service_id.clone()))
            .item("severity", AttributeValue::S(f.severity.as_str().into()))
            .item("title", AttributeValue::S(f.title.clone()))
            .item("resource", AttributeValue::S(f.resource.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:PutItem", e))
    }

    async fn forget(&self, fingerprint: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(fingerprint.into()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("dynamodb:DeleteItem", e))
    }
}

// --- EC2, ELBv2 and the consumers -------------------------------------------------------------

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
