"""Cross-account private hosted zone association, which moto lacks, added to moto's Route 53.

Following the Route 53 API reference and developer guide:

* CreateVPCAssociationAuthorization / ListVPCAssociationAuthorizations /
  DeleteVPCAssociationAuthorization, by the zone owner only, for private zones:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateVPCAssociationAuthorization.html
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListVPCAssociationAuthorizations.html
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_DeleteVPCAssociationAuthorization.html
  (``VPCAssociationAuthorizationNotFound`` when there is none to delete;
  ``TooManyVPCAssociationAuthorizations`` past the quota).
* AssociateVPCWithHostedZone by the VPC owner succeeds across accounts only while an
  authorization for that zone, VPC and region exists (``NotAuthorizedException`` otherwise); the
  VPC must exist in the caller's account (``InvalidVPCId``); a VPC already associated with a zone
  of that name (the same zone included) gets ``ConflictingDomainExists`` instead of being listed
  twice; a zone with 300 VPCs gets ``LimitsExceeded``:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_AssociateVPCWithHostedZone.html
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/hosted-zone-private-associate-vpcs-different-accounts.html
* ListHostedZonesByVPC, called by the VPC owner, lists the zones of any account the VPC is
  associated with, each with its owning account:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListHostedZonesByVPC.html

Deleting an authorization removes the permission, not the association. Unverified, so kept
simple: whether re-associating the very same pair is ``ConflictingDomainExists`` (as here).
Authorizations live on the zone owner's Route 53 backend.
"""

from __future__ import annotations

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.route53 import urls
from moto.route53.exceptions import NoSuchHostedZone, Route53ClientError
from moto.route53.models import Route53Backend, route53_backends
from moto.route53.responses import Route53

VPCS_PER_ZONE = 300
AUTHORIZATIONS_PER_ZONE = 1000


def _error(code: str, message: str) -> Route53ClientError:
    return Route53ClientError(code, message)


def _authorizations(backend) -> dict:
    """zone id -> list of (vpc id, region), on the zone owner's backend."""
    if not hasattr(backend, "vpc_authorizations"):
        backend.vpc_authorizations = {}
    return backend.vpc_authorizations


def _zone_id(zone_id: str) -> str:
    return zone_id.replace("/hostedzone/", "")


def _find_zone(zone_id: str):
    """(owner backend, zone) for a zone id, in any account."""
    zone_id = _zone_id(zone_id)
    for account_id in list(route53_backends.keys()):
        for partition_backend in route53_backends[account_id].values():
            zone = partition_backend.zones.get(zone_id)
            if zone is not None:
                return partition_backend, zone
    raise NoSuchHostedZone(zone_id)


def _own_private_zone(backend, zone_id: str):
    zone = backend.zones.get(_zone_id(zone_id))
    if zone is None:
        raise NoSuchHostedZone(_zone_id(zone_id))
    if not zone.private_zone:
        raise _error("InvalidInput", "The hosted zone is not a private hosted zone")
    return zone


def associate_vpc_with_hosted_zone(self, zone_id: str, vpcid: str, vpcregion: str):
    owner, zone = _find_zone(zone_id)
    if not zone.private_zone:
        raise _error("PublicZoneVPCAssociation", "You can't associate a VPC with a public hosted zone.")
    if owner.account_id != self.account_id and (vpcid, vpcregion) not in _authorizations(owner).get(zone.id, []):
        raise _error(
            "NotAuthorizedException",
            f"User: arn:aws:iam::{self.account_id}:root is not authorized to access this resource",
        )
    region_backend = ec2_backends[self.account_id].get(vpcregion)
    if region_backend is None or vpcid not in region_backend.vpcs:
        raise _error("InvalidVPCId", f"The VPC ID '{vpcid}' is not valid for account {self.account_id}")
    for _, other in _all_zones():
        if other.private_zone and other.name == zone.name and any(v.get("vpc_id") == vpcid for v in other.vpcs):
            raise _error(
                "ConflictingDomainExists",
                f"The VPC {vpcid} in {vpcregion} region has already been associated with the hosted zone {other.id} with the same domain name.",
            )
    if len(zone.vpcs) >= VPCS_PER_ZONE:
        raise _error("LimitsExceeded", f"The hosted zone {zone.id} already has {VPCS_PER_ZONE} VPCs")
    zone.add_vpc(vpcid, vpcregion)
    return zone


def _all_zones():
    for account_id in list(route53_backends.keys()):
        for backend in route53_backends[account_id].values():
            for zone in list(backend.zones.values()):
                yield backend, zone


def list_hosted_zones_by_vpc(self, vpc_id: str):
    return [
        {"HostedZoneId": zone.id, "Name": zone.name, "Owner": {"OwningAccount": backend.account_id}}
        for backend, zone in _all_zones()
        if zone.private_zone and any(v.get("vpc_id") == vpc_id for v in zone.vpcs)
    ]


# --- responses ---------------------------------------------------------------------------------


def create_vpc_association_authorization(self) -> ActionResult:
    zone = _own_private_zone(self.backend, self._get_param("HostedZoneId"))
    vpc = (self._get_param("VPC.VPCId"), self._get_param("VPC.VPCRegion"))
    existing = _authorizations(self.backend).setdefault(zone.id, [])
    if vpc not in existing:
        if len(existing) >= AUTHORIZATIONS_PER_ZONE:
            raise _error("TooManyVPCAssociationAuthorizations", "Too many VPC association authorizations")
        existing.append(vpc)
    return ActionResult({"HostedZoneId": zone.id, "VPC": {"VPCId": vpc[0], "VPCRegion": vpc[1]}})


def list_vpc_association_authorizations(self) -> ActionResult:
    zone = _own_private_zone(self.backend, self._get_param("HostedZoneId"))
    vpcs = [{"VPCId": v, "VPCRegion": r} for v, r in _authorizations(self.backend).get(zone.id, [])]
    return ActionResult({"HostedZoneId": zone.id, "VPCs": vpcs})


def delete_vpc_association_authorization(self) -> ActionResult:
    zone = _own_private_zone(self.backend, self._get_param("HostedZoneId"))
    vpc = (self._get_param("VPC.VPCId"), self._get_param("VPC.VPCRegion"))
    existing = _authorizations(self.backend).get(zone.id, [])
    if vpc not in existing:
        raise _error(
            "VPCAssociationAuthorizationNotFound",
            f"The VPC {vpc[0]} in {vpc[1]} is not authorized to be associated with {zone.id}",
        )
    existing.remove(vpc)
    return EmptyResult()


def install() -> None:
    """Patch moto's Route 53 backend, responses and URLs. Call before the server starts."""
    Route53Backend.associate_vpc_with_hosted_zone = associate_vpc_with_hosted_zone
    Route53Backend.list_hosted_zones_by_vpc = list_hosted_zones_by_vpc
    for handler in (
        create_vpc_association_authorization,
        list_vpc_association_authorizations,
        delete_vpc_association_authorization,
    ):
        setattr(Route53, handler.__name__, handler)
    base = r"{0}/(?P<api_version>[\d_-]+)/hostedzone/(?P<zone_id>[^/]+)"
    urls.url_paths[base + r"/authorizevpcassociation/?$"] = Route53.dispatch
    urls.url_paths[base + r"/deauthorizevpcassociation/?$"] = Route53.dispatch
