//! The consumers' side of the estate, read through each account's read role.

use crate::availability_zones::analysis::{Endpoint, Snapshot};
use crate::availability_zones::estate::{AwsEstate, az_map, subnets};
use crate::availability_zones::ports::Accounts;
use crate::error::Result;
use std::collections::{BTreeMap, BTreeSet};

/// One consumer account's endpoints, with their AZs and their VPCs' AZs, and its AZ map.
pub(super) async fn consumer(
    estate: &AwsEstate<impl Accounts + Sync>,
    account: &str,
    endpoint_ids: &[String],
    s: &mut Snapshot,
    service_of: &BTreeMap<String, String>,
) -> Result<()> {
    let ec2 = estate.accounts.ec2(account, &estate.region).await;
    let map = match estate.memory.az_map.get(account) {
        Some(map) => map,
        None => {
            let map = az_map(&ec2).await?;
            estate.memory.az_map.put(account, map.clone());
            map
        }
    };
    s.az_maps.insert(account.to_owned(), map);
    let endpoints = crate::aws::vpc_endpoints(&ec2, endpoint_ids).await?;
    let vpcs: BTreeSet<String> = endpoints
        .iter()
        .filter_map(|e| e.vpc_id().map(str::to_owned))
        .collect();
    let subnets = subnets(&ec2, &vpcs).await?;
    let az_of = |subnet: &str| {
        subnets
            .iter()
            .find(|(id, ..)| id == subnet)
            .map(|(.., az)| az.clone())
    };
    for ep in &endpoints {
        let (Some(id), Some(vpc)) = (ep.vpc_endpoint_id(), ep.vpc_id()) else {
            continue;
        };
        s.endpoints.push(Endpoint {
            id: id.to_owned(),
            account: account.to_owned(),
            vpc_id: vpc.to_owned(),
            service_id: service_of.get(id).cloned().unwrap_or_default(),
            az_names: ep.subnet_ids().iter().filter_map(|sn| az_of(sn)).collect(),
            vpc_az_names: subnets
                .iter()
                .filter(|(_, v, ..)| v == vpc)
                .map(|(.., az)| az.clone())
                .collect(),
        });
    }
    for id in endpoint_ids {
        if !endpoints.iter().any(|e| e.vpc_endpoint_id() == Some(id)) {
            tracing::info!(%account, endpoint_id = %id, "endpoint gone since its connection was listed");
        }
    }
    Ok(())
}
