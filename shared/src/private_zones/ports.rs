//! What the associator needs of the world, shaped like its IAM permissions: Route 53 in the hub
//! as the zones' owner, each spoke account through its role (adapters in `route53.rs`), and the
//! journal its runs write ahead in (DynamoDB, adapter in `journal.rs`).

use crate::error::Result;
use crate::private_zones::rules::{RuleAssociation, Vpc, Zone};
use std::collections::BTreeSet;
use std::future::Future;

/// How long an event run may use the zone catalogue an earlier run of the same execution
/// environment read.
pub const CATALOGUE_KEPT: std::time::Duration = std::time::Duration::from_secs(900);

/// Route 53 in the hub, as the zones' owner: `route53:ListHostedZones`, `ListTagsForResources`,
/// `GetHostedZone`, `AssociateVPCWithHostedZone`, `CreateVPCAssociationAuthorization`,
/// `DeleteVPCAssociationAuthorization`, `DisassociateVPCFromHostedZone`.
pub trait ZoneOwner {
    /// Every private hosted zone of the hub, with its name and tags; its VPCs are read with
    /// [`ZoneOwner::associated`], for the zones a run needs. `fresh`: read now; otherwise what
    /// was read in the last [`CATALOGUE_KEPT`] may be returned (names and tags rarely change;
    /// the reconcile reads them fresh).
    fn catalogue(&self, fresh: bool) -> impl Future<Output = Result<Vec<Zone>>> + Send;
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
    /// The (VPC id, region) pairs authorized to associate with the zone, every page.
    fn authorizations(
        &self,
        zone_id: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// The (VPC id, region) pairs associated with the zone now.
    fn associated(
        &self,
        zone_id: &str,
    ) -> impl Future<Output = Result<BTreeSet<(String, String)>>> + Send;
    /// How many VPCs the zone has, and how many it may have (`route53:GetHostedZoneLimit`,
    /// `MAX_VPCS_ASSOCIATED_BY_ZONE`: an adjustable quota, so read, never assumed).
    fn vpc_limit(&self, zone_id: &str) -> impl Future<Output = Result<(u64, u64)>> + Send;
}

/// What the associator may do in a spoke account (through its role; in the hub, as itself):
/// `ec2:DescribeVpcs`, `route53:AssociateVPCWithHostedZone`, and Route 53 Resolver's
/// `ListResolverRuleAssociations`, `AssociateResolverRule`, `DisassociateResolverRule` (the VPC's
/// owner alone sees and makes its rule associations), `ListResolverEndpoints`.
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
    /// The Resolver rule associations of `account`'s VPCs in `region` (of `vpc_ids` only, when
    /// given), every page.
    fn rule_associations(
        &self,
        account: &str,
        region: &str,
        vpc_ids: &[String],
    ) -> impl Future<Output = Result<Vec<RuleAssociation>>> + Send;
    /// Associate a Resolver rule as the VPC's owner. Tried once: an answer lost on the way (a
    /// timeout, a throttle, a fault) may hide a success, so the caller reads before trying again.
    fn associate_rule(
        &self,
        account: &str,
        region: &str,
        rule_id: &str,
        vpc_id: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn disassociate_rule(
        &self,
        account: &str,
        region: &str,
        rule_id: &str,
        vpc_id: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The VPCs of `account`'s `INBOUND` Resolver endpoints in `region`.
    fn inbound_vpcs(
        &self,
        account: &str,
        region: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// `dynamodb:PutItem`, `UpdateItem`, `GetItem`, `BatchGetItem`, `BatchWriteItem` on the
/// decisions table: what runs are about to change, written before they change it.
pub trait Journal {
    /// Write ahead what run `run` is about to change (`body`), before it changes anything; kept
    /// until [`Journal::close`]. `started_at` (epoch seconds) tells a live run from a dead one.
    fn open(
        &self,
        run: &str,
        body: &str,
        started_at: u64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The runs' changes are announced: forget what they wrote ahead.
    fn close(&self, runs: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// What runs started before `before` wrote ahead and never closed (they died, or gave up):
    /// (run, body).
    fn abandoned(&self, before: u64) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
}
