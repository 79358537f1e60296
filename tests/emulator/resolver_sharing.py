"""Route 53 Resolver rules across accounts, which moto lacks: its rules and associations are per
account, so a rule shared from the hub is "not found" in a spoke, and associations are always
``COMPLETE``. Added to moto's Resolver, following the Route 53 developer guide and API reference:

* Sharing: a forwarding rule is shared with other accounts through AWS RAM; in an account it is
  shared with, it can be read and associated with that account's VPCs by that account (the VPC's
  owner): "Sharing forwarding rules with other AWS accounts and using shared rules"
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-rules-managing.html. Here a
  rule is visible to an account when one of the owner's RAM resource shares (moto's RAM backend,
  ``CreateResourceShare``) names the rule's ARN and that account; deleting the share un-shares
  it. A rule neither owned nor shared: ``ResourceNotFoundException``.
* AssociateResolverRule
  (https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_AssociateResolverRule.html):
  the VPC must be the caller's (moto checks it); a VPC that already has a rule for the same domain
  name (the same rule included) is refused with ``InvalidRequestException`` "[RSLVR-00802] Cannot
  associate rules with same domain name with same VPC" (the message as seen in the field, per
  ``shared/AWS-FACTS.md``); a rule whose target IPs are those of an inbound endpoint in that very
  VPC is refused with ``InvalidRequestException`` "[RSLVR-00804] …" (likewise);
  ``LimitExceededException`` past 2,000 associations per region, counted against the VPC owner
  ("Associations between rules and VPCs per AWS Region: 2,000", Route 53 quotas page,
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html); an adjustable
  quota, so the setting ``resolver_associations_per_region`` (default 2,000) stands for an
  account's own figure.
* An association is asynchronous: ``Status`` ``CREATING`` then ``COMPLETE`` or ``FAILED``, with a
  ``StatusMessage``
  (https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_ResolverRuleAssociation.html).
  The setting ``resolver_association_seconds`` (default 1) is how long it stays ``CREATING``;
  ``resolver_failing_vpcs`` (default none) names VPCs whose associations end ``FAILED``. Both are
  read when the association is read (Get/List), as AWS reports its progress.
* ListResolverRuleAssociations lists the caller's own associations only; ``MaxResults`` 1 to 100
  ("If you don't specify a value for MaxResults, Resolver returns up to 100"), more is a
  ``ValidationException``:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_ListResolverRuleAssociations.html.

* Rate: "5 requests per second per AWS account per Region" for the Resolver API, throttled with
  ``ThrottlingException`` (the Route 53 quotas page as archived, per ``shared/AWS-FACTS.md``; the
  current page's figure is unverified). The setting ``resolver_rate`` (default ``null``: off, as
  moto): ``true`` is that bucket per account and region, 5 at once then 5 a second (the burst is
  not documented: one second's worth); a number N is N at once and N a second.

* ListResolverEndpoints with endpoints created without a ``Name`` (optional in AWS:
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_CreateResolverEndpoint.html):
  moto sorts them by name and fails on ``None``; they are named ``""`` inside, and the answer leaves
  ``Name`` out, as for rule associations.

Not modelled: ``OVERRIDDEN`` and ``DELETING``; system rules (only forwarding rules are shared);
sharing through an organization rather than account ids.
"""

from __future__ import annotations

import json
import time

from moto.core.exceptions import JsonRESTError
from moto.ram.models import ram_backends
from moto.route53resolver.exceptions import (
    InvalidNextTokenException,
    InvalidParameterException,
    InvalidRequestException,
    LimitExceededException,
    ResourceNotFoundException,
)
from moto.core.exceptions import InvalidToken
from moto.route53resolver.models import (
    ResolverEndpoint,
    ResolverRuleAssociation,
    Route53ResolverBackend,
    route53resolver_backends,
)
from moto.route53resolver.responses import Route53ResolverResponse

import faults
import settings
from route53_throttling import Bucket

ASSOCIATIONS_PER_REGION = 2000
PAGE_MAX = 100

_original_associate = Route53ResolverBackend.associate_resolver_rule
_original_description = ResolverRuleAssociation.description
_original_create_endpoint = Route53ResolverBackend.create_resolver_endpoint
_original_endpoint_description = ResolverEndpoint.description


def create_resolver_endpoint(self, region, creator_request_id, name, *args, **kwargs):
    return _original_create_endpoint(self, region, creator_request_id, name or "", *args, **kwargs)


def endpoint_description(self) -> dict:
    out = _original_endpoint_description(self)
    if not out.get("Name"):
        out.pop("Name", None)
    return out


def _shared_with(owner: str, region: str, arn: str, account: str) -> bool:
    """Whether one of the owner's RAM resource shares names the rule and the account."""
    return any(share.status == "ACTIVE" and arn in share.resource_arns and account in share.principals
               for share in ram_backends[owner][region].resource_shares)


def visible_rule(backend: Route53ResolverBackend, rule_id: str):
    """The rule with this id the caller may use: its own, or one shared with it through RAM."""
    if rule_id in backend.resolver_rules:
        return backend.resolver_rules[rule_id]
    for owner, regions in route53resolver_backends.items():
        other = regions.get(backend.region_name) if owner != backend.account_id else None
        rule = other.resolver_rules.get(rule_id) if other is not None else None
        if rule is not None and _shared_with(owner, backend.region_name, rule.arn, backend.account_id):
            return rule
    raise ResourceNotFoundException(f"Resolver rule with ID '{rule_id}' does not exist.")


def get_resolver_rule(self, resolver_rule_id: str):
    return visible_rule(self, resolver_rule_id)


def associate_resolver_rule(self, resolver_rule_id: str, name: str, vpc_id: str):
    rule = visible_rule(self, resolver_rule_id)
    mine = [a for a in self.resolver_rule_associations.values() if a.region == self.region_name]
    if len(mine) >= settings.get("resolver_associations_per_region"):
        raise LimitExceededException(f"Account '{self.account_id}' has exceeded 'max-rule-association'")
    if vpc_id not in [v.id for v in self.ec2_backend.describe_vpcs()]:
        raise InvalidParameterException(f"The vpc ID '{vpc_id}' does not exist")
    for a in mine:
        other = _rule_of(self, a.resolver_rule_id)
        if a.vpc_id == vpc_id and other is not None and other.domain_name == rule.domain_name:
            raise InvalidRequestException(
                "[RSLVR-00802] Cannot associate rules with same domain name with same VPC. "
                f"Conflict with resolver rule '{a.resolver_rule_id}'")
    targets = {t.get("Ip") for t in (rule.target_ips or [])}
    for endpoint in self.resolver_endpoints.values():
        ips = {ip.get("Ip") for ip in endpoint.ip_addresses}
        if endpoint.direction == "INBOUND" and endpoint.host_vpc_id == vpc_id and targets & ips:
            raise InvalidRequestException(
                "[RSLVR-00804] Cannot associate a rule with a VPC that contains the inbound endpoint "
                "the rule forwards queries to")
    # moto's own checks look the rule up in the caller's account: hand it the shared one there.
    borrowed = resolver_rule_id not in self.resolver_rules
    if borrowed:
        self.resolver_rules[resolver_rule_id] = rule
    try:
        # moto sorts associations by name: one without (AWS's Name is optional) is named "" here,
        # and the answer leaves it out, as AWS does.
        association = _original_associate(self, resolver_rule_id, name or "", vpc_id)
    finally:
        if borrowed:
            del self.resolver_rules[resolver_rule_id]
    association.created = time.monotonic()
    return association


def _rule_of(backend: Route53ResolverBackend, rule_id: str):
    try:
        return visible_rule(backend, rule_id)
    except ResourceNotFoundException:
        return None


def description(self) -> dict:
    out = _original_description(self)
    if not out.get("Name"):
        out.pop("Name", None)
    created = getattr(self, "created", None)
    if created is not None:
        if time.monotonic() - created < float(settings.get("resolver_association_seconds")):
            out["Status"], out["StatusMessage"] = "CREATING", "[Trace id: emulator] Creating the association."
        elif self.vpc_id in (settings.get("resolver_failing_vpcs") or []):
            out["Status"], out["StatusMessage"] = "FAILED", "[RSLVR-01901] The association could not be created."
    return out


def list_resolver_rule_associations(self) -> str:
    max_results = self._get_param("MaxResults") or PAGE_MAX
    if not 1 <= int(max_results) <= PAGE_MAX:
        raise JsonRESTError("ValidationException",
                            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
                            f"constraint: Member must have value less than or equal to {PAGE_MAX}")
    try:
        associations, next_token = self.route53resolver_backend.list_resolver_rule_associations(
            self._get_param("Filters"), next_token=self._get_param("NextToken"), max_results=int(max_results))
    except InvalidToken as exc:
        raise InvalidNextTokenException() from exc
    response = {"ResolverRuleAssociations": [a.description() for a in associations], "MaxResults": int(max_results)}
    if next_token:
        response["NextToken"] = next_token
    return json.dumps(response)


SERVICE = "route53resolver"
RATE = 5.0
THROTTLED = ("ThrottlingException", "Rate exceeded", 400)
_buckets: dict[tuple[str, str], Bucket] = {}
_rate_mode: list = [None]


def throttle(request: faults.Request):
    mode = settings.get("resolver_rate")
    if request.service != SERVICE or mode is None or mode is False:
        return None
    rate = RATE if mode is True else float(mode)
    now = time.monotonic()
    if _rate_mode[0] != (type(mode), mode):
        _buckets.clear()
        _rate_mode[0] = (type(mode), mode)
    key = (faults.account_of(request), request.region)
    bucket = _buckets.setdefault(key, Bucket(rate, rate, now))
    bucket.refill(now)
    if bucket.tokens < 1:
        return THROTTLED
    bucket.tokens -= 1
    return None


def _check_rate(value) -> str | None:
    if value is None or isinstance(value, bool) or (isinstance(value, (int, float)) and value > 0):
        return None
    return "takes null or false (off), true (5 a second per account and region) or a number > 0"


def _check_seconds(value) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return None
    return "takes a number of seconds >= 0"


def _check_count(value) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return None
    return "takes a whole number >= 1"


def _check_vpcs(value) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return "takes a list of VPC ids"


def install() -> None:
    """Register the settings and patch moto's Resolver. Call before the server starts."""
    settings.declare("resolver_association_seconds", 1.0, _check_seconds)
    settings.declare("resolver_failing_vpcs", [], _check_vpcs)
    settings.declare("resolver_associations_per_region", ASSOCIATIONS_PER_REGION, _check_count)
    settings.declare("resolver_rate", None, _check_rate)
    faults.THROTTLES.append(throttle)
    Route53ResolverBackend.get_resolver_rule = get_resolver_rule
    Route53ResolverBackend.associate_resolver_rule = associate_resolver_rule
    ResolverRuleAssociation.description = description
    Route53ResolverBackend.create_resolver_endpoint = create_resolver_endpoint
    ResolverEndpoint.description = endpoint_description
    Route53ResolverResponse.list_resolver_rule_associations = list_resolver_rule_associations
