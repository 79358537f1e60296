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
  twice; a zone with as many VPCs as its quota gets ``LimitsExceeded``:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_AssociateVPCWithHostedZone.html
* Quotas. VPCs per private hosted zone, ``MAX_VPCS_ASSOCIATED_BY_ZONE``, is adjustable and read
  with GetHostedZoneLimit (``GET /2013-04-01/hostedzonelimit/{Id}/{Type}``: ``Count``, and
  ``Limit`` with ``Type`` and ``Value``; ``MAX_RRSETS_BY_ZONE`` the other type; a zone the caller
  does not own is ``NoSuchHostedZone``):
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHostedZoneLimit.html. The
  setting ``route53_vpcs_per_zone`` (default 300, the quotas page's figure) is every zone's
  value here, as if raised or lowered for the account. Association authorizations per zone: 100
  (the quotas page as archived; the live figure is unverified and no page lists a larger one, so
  the stricter holds), ``TooManyVPCAssociationAuthorizations`` past it:
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/hosted-zone-private-associate-vpcs-different-accounts.html
* ListHostedZonesByVPC, called by the VPC owner, lists the zones of any account the VPC is
  associated with, each with its owning account:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListHostedZonesByVPC.html
* DisassociateVPCFromHostedZone: "You can't disassociate the last Amazon VPC from a private hosted
  zone" (``LastVPCAssociation``); "You can submit a DisassociateVPCFromHostedZone request using
  either the account that created the hosted zone or the account that created the Amazon VPC"
  (moto looked the zone up in the caller's account only, so the VPC owner got
  ``NoSuchHostedZone``); a VPC not associated with the zone is ``VPCAssociationNotFound``
  (HTTP 404 in the service model); a caller owning neither the zone nor the VPC is refused with
  ``InvalidVPCId`` ("the current account is not authorized to access this VPC"):
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_DisassociateVPCFromHostedZone.html
* ListVPCAssociationAuthorizations pages: "If you don't specify a value for MaxResults, Route 53
  returns up to 50 VPCs per page"; ``NextToken`` in the response while more remain, "Length
  Constraints: Maximum length of 1024". ``MaxResults`` is "An integer" (a string on the wire):
  one that is not a whole number >= 1 is ``InvalidInput``; above 50 a page still holds at most
  50 (the reference states no maximum, so a caller must follow ``NextToken`` whatever it asks).
  A token this emulator did not write is ``InvalidPaginationToken`` (wording unverified). The
  ``page_size`` setting (paging.py) caps every page, as it does for the EC2 and ELBv2 calls.
* Changes in flight. CreateVPCAssociationAuthorization and DeleteVPCAssociationAuthorization may
  answer ``ConcurrentModification``: "Another user submitted a request to create, update, or
  delete the object at the same time that you did. Retry the request." AssociateVPCWithHostedZone
  may answer ``PriorRequestNotComplete``: "If Amazon Route 53 can't process a request before the
  next request arrives, it will reject subsequent requests for the same hosted zone and return an
  HTTP 400 error (Bad request)", Message "The request was rejected because Route 53 was still
  processing a prior request." (API reference error lists and the developer guide's quotas page:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateVPCAssociationAuthorization.html
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_DeleteVPCAssociationAuthorization.html
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_AssociateVPCWithHostedZone.html
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html). The setting
  ``route53_change_seconds`` (default 0 = never) is how long a zone stays "being changed" after
  a successful Create/DeleteVPCAssociationAuthorization, AssociateVPCWithHostedZone or
  DisassociateVPCFromHostedZone on it; within that window another authorization change on the
  zone gets ``ConcurrentModification`` and an association gets ``PriorRequestNotComplete``, both
  HTTP 400, whichever account asks. DisassociateVPCFromHostedZone documents neither error, so it
  is not refused (it does open a window). While the window lasts, the association's
  ``ChangeInfo`` says ``PENDING`` and GetChange on its id says ``PENDING``, then ``INSYNC``
  ("PENDING indicates that this request has not yet been applied to all Amazon Route 53 DNS
  servers": https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html).

Deleting an authorization removes the permission, not the association. Unverified, so kept
simple: whether re-associating the very same pair is ``ConflictingDomainExists`` (as here).
Authorizations live on the zone owner's Route 53 backend; the "being changed" window on the zone.
"""

from __future__ import annotations

import random
import string
import threading
import time

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends
from moto.route53 import urls
from moto.route53.exceptions import LastVPCAssociation, NoSuchHostedZone, Route53ClientError
from moto.route53.models import Route53Backend, route53_backends
from moto.route53.responses import Route53

import paging
import settings

VPCS_PER_ZONE = 300
AUTHORIZATIONS_PER_ZONE = 100
RRSETS_PER_ZONE = 10000
AUTHORIZATIONS_PAGE = 50
TOKEN_LENGTH = 1024
CONCURRENT = ("ConcurrentModification",
              "Another user submitted a request to create, update, or delete the object at the same time that you did. Retry the request.")
PRIOR = ("PriorRequestNotComplete", "The request was rejected because Route 53 was still processing a prior request.")


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


# --- changes in flight -------------------------------------------------------------------------

_changes: dict[str, float] = {}  # change id -> when it is INSYNC (time.monotonic)
_changes_lock = threading.Lock()


def _busy(zone) -> bool:
    return time.monotonic() < getattr(zone, "autopilot_changing_until", 0.0)


def _refuse_if_busy(zone, answer: tuple[str, str]) -> None:
    if _busy(zone):
        raise _error(*answer)


def _changed(zone, comment: str | None = None) -> dict:
    """Open the zone's "being changed" window; the ChangeInfo of the change."""
    seconds = float(settings.get("route53_change_seconds") or 0)
    change_id = "C" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))
    info = {"Id": f"/change/{change_id}", "Status": "INSYNC", "SubmittedAt": utcnow()}
    if comment is not None:
        info["Comment"] = comment
    if seconds > 0:
        until = time.monotonic() + seconds
        zone.autopilot_changing_until = until
        with _changes_lock:
            _changes[change_id] = until
        info["Status"] = "PENDING"
    return info


def get_change(self) -> ActionResult:
    change_id = self._get_param("Id").split("/")[-1]
    with _changes_lock:
        until = _changes.get(change_id)
    status = "PENDING" if until is not None and time.monotonic() < until else "INSYNC"
    return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": status, "SubmittedAt": utcnow()}})


# --- association -------------------------------------------------------------------------------


def associate_vpc_with_hosted_zone(self, zone_id: str, vpcid: str, vpcregion: str):
    owner, zone = _find_zone(zone_id)
    if not zone.private_zone:
        raise _error("PublicZoneVPCAssociation", "You can't associate a VPC with a public hosted zone.")
    _refuse_if_busy(zone, PRIOR)
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
    limit = settings.get("route53_vpcs_per_zone")
    if len(zone.vpcs) >= limit:
        raise _error("LimitsExceeded", f"The hosted zone {zone.id} already has {limit} VPCs")
    zone.add_vpc(vpcid, vpcregion)
    return zone


def disassociate_vpc_from_hosted_zone(self, zone_id: str, vpcid: str, vpcregion: str | None = None):
    owner, zone = _find_zone(zone_id)
    if owner.account_id != self.account_id:
        # Not the zone owner: only the VPC's owner may ask.
        region_backend = ec2_backends[self.account_id].get(vpcregion) if vpcregion else None
        if region_backend is None or vpcid not in region_backend.vpcs:
            raise _error("InvalidVPCId", f"The VPC ID '{vpcid}' is not valid for account {self.account_id}")

    def same(v: dict) -> bool:
        return v.get("vpc_id") == vpcid and (vpcregion is None or v.get("vpc_region") in (None, vpcregion))

    if not zone.private_zone or not any(same(v) for v in zone.vpcs):
        raise _error("VPCAssociationNotFound",
                     f"The specified VPC {vpcid} in {vpcregion} region is not associated with the hosted zone {_zone_id(zone.id)}")
    if len(zone.vpcs) <= 1:
        raise LastVPCAssociation()
    zone.vpcs = [v for v in zone.vpcs if not same(v)]
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


def associate_vpc_with_hosted_zone_response(self) -> ActionResult:
    zone = self.backend.associate_vpc_with_hosted_zone(
        self._get_param("HostedZoneId"), self._get_param("VPC.VPCId"), self._get_param("VPC.VPCRegion"))
    return ActionResult({"ChangeInfo": _changed(zone, self._get_param("Comment"))})


def disassociate_vpc_from_hosted_zone_response(self) -> ActionResult:
    zone = self.backend.disassociate_vpc_from_hosted_zone(
        self._get_param("HostedZoneId"), self._get_param("VPC.VPCId"), self._get_param("VPC.VPCRegion"))
    return ActionResult({"ChangeInfo": _changed(zone, self._get_param("Comment"))})


def create_vpc_association_authorization(self) -> ActionResult:
    zone = _own_private_zone(self.backend, self._get_param("HostedZoneId"))
    _refuse_if_busy(zone, CONCURRENT)
    vpc = (self._get_param("VPC.VPCId"), self._get_param("VPC.VPCRegion"))
    existing = _authorizations(self.backend).setdefault(zone.id, [])
    if vpc not in existing:
        if len(existing) >= AUTHORIZATIONS_PER_ZONE:
            raise _error("TooManyVPCAssociationAuthorizations", "Too many VPC association authorizations")
        existing.append(vpc)
    _changed(zone)
    return ActionResult({"HostedZoneId": zone.id, "VPC": {"VPCId": vpc[0], "VPCRegion": vpc[1]}})


def get_hosted_zone_limit(self) -> ActionResult:
    zone = self.backend.zones.get(_zone_id(self._get_param("HostedZoneId")))
    if zone is None:
        raise NoSuchHostedZone(_zone_id(self._get_param("HostedZoneId")))
    kind = self._get_param("Type")
    if kind == "MAX_VPCS_ASSOCIATED_BY_ZONE":
        count, value = len(zone.vpcs), settings.get("route53_vpcs_per_zone")
    elif kind == "MAX_RRSETS_BY_ZONE":
        count, value = len(zone.rrsets), RRSETS_PER_ZONE
    else:
        raise _error("InvalidInput", f"Invalid limit type: {kind}")
    return ActionResult({"Count": count, "Limit": {"Type": kind, "Value": value}})


def list_vpc_association_authorizations(self) -> ActionResult:
    zone = _own_private_zone(self.backend, self._get_param("HostedZoneId"))
    asked = self._get_param("MaxResults")
    limit = AUTHORIZATIONS_PAGE
    if asked is not None:
        text = str(asked).strip()
        if not text.isdigit() or int(text) < 1:
            raise _error("InvalidInput", f"Invalid value for parameter maxresults: '{asked}'; it must be a whole number of 1 or more")
        limit = min(int(text), AUTHORIZATIONS_PAGE)
    token = self._get_param("NextToken")
    if token is not None and len(token) > TOKEN_LENGTH:
        raise _error("InvalidInput", f"1 validation error detected: Value at 'nextToken' failed to satisfy constraint: "
                                     f"Member must have length less than or equal to {TOKEN_LENGTH}")
    start = paging._offset(token)
    if start is None:
        raise _error("InvalidPaginationToken", "The value that you specified for NextToken is not valid")
    vpcs = [{"VPCId": v, "VPCRegion": r} for v, r in _authorizations(self.backend).get(zone.id, [])]
    page, next_token = paging._slice(vpcs, start, limit)
    result = {"HostedZoneId": zone.id, "VPCs": page}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def delete_vpc_association_authorization(self) -> ActionResult:
    zone = _own_private_zone(self.backend, self._get_param("HostedZoneId"))
    _refuse_if_busy(zone, CONCURRENT)
    vpc = (self._get_param("VPC.VPCId"), self._get_param("VPC.VPCRegion"))
    existing = _authorizations(self.backend).get(zone.id, [])
    if vpc not in existing:
        raise _error(
            "VPCAssociationAuthorizationNotFound",
            f"The VPC {vpc[0]} in {vpc[1]} is not authorized to be associated with {zone.id}",
        )
    existing.remove(vpc)
    _changed(zone)
    return EmptyResult()


def _check_limit(value) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return None
    return "takes a whole number >= 1 (every zone's MAX_VPCS_ASSOCIATED_BY_ZONE)"


def install() -> None:
    """Register ``route53_change_seconds`` in the settings and patch moto's Route 53
    backend, responses and URLs. Call before the server starts."""
    settings.declare("route53_change_seconds", 0)
    settings.declare("route53_vpcs_per_zone", VPCS_PER_ZONE, _check_limit)
    Route53Backend.associate_vpc_with_hosted_zone = associate_vpc_with_hosted_zone
    Route53Backend.disassociate_vpc_from_hosted_zone = disassociate_vpc_from_hosted_zone
    Route53Backend.list_hosted_zones_by_vpc = list_hosted_zones_by_vpc
    Route53.associate_vpc_with_hosted_zone = associate_vpc_with_hosted_zone_response
    Route53.disassociate_vpc_from_hosted_zone = disassociate_vpc_from_hosted_zone_response
    for handler in (
        create_vpc_association_authorization,
        list_vpc_association_authorizations,
        delete_vpc_association_authorization,
        get_change,
        get_hosted_zone_limit,
    ):
        setattr(Route53, handler.__name__, handler)
    base = r"{0}/(?P<api_version>[\d_-]+)/hostedzone/(?P<zone_id>[^/]+)"
    urls.url_paths[base + r"/authorizevpcassociation/?$"] = Route53.dispatch
    urls.url_paths[base + r"/deauthorizevpcassociation/?$"] = Route53.dispatch
    urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/hostedzonelimit/(?P<zone_id>[^/]+)/(?P<limit_type>[^/]+)$"] = \
        Route53.dispatch
