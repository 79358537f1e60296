"""Elastic Load Balancing's request-rate throttling, as token buckets per account and region, opt-in.

"Request throttling for the Elastic Load Balancing API" (ELB user guide):
https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html

* "Elastic Load Balancing throttles its API requests for each AWS account on a per-Region basis";
  "Elastic Load Balancing uses the token bucket algorithm": a bucket holds at most its capacity,
  "a set number of tokens is added back every second until the bucket reaches its maximum
  capacity"; "If a bucket is full when refill tokens arrive, they are discarded"; "You can use
  tokens as they are added to a bucket."
* "ELB API version 2 supports ... Application Load Balancers, Network Load Balancers, and Gateway
  Load Balancers. ELB API version 1 supports Classic Load Balancers. Each ELB API version has its
  own buckets and tokens." Both sign as ``elasticloadbalancing``; the version is the request's
  ``Version`` parameter (``2015-12-01`` for v2, ``2012-06-01`` for v1).
* "There is an account-level throttling limit that is shared across all Elastic Load Balancing
  API actions. The capacity of the account-level bucket is 40 tokens and the refill rate is 10
  request tokens per second."
* "API actions are grouped into categories. Each category has its own limits." (capacity /
  refill per second):

  - Resource-intensive — ELBv2 ``CreateLoadBalancer``, ``SetSubnets``; ELBv1
    ``CreateLoadBalancer``, ``AttachLoadBalancerToSubnets``, ``DetachLoadBalancerFromSubnets``,
    ``EnableAvailabilityZonesForLoadBalancer``, ``DisableAvailabilityZonesForLoadBalancer``:
    10 / 0.2 ("Fractional refill rates require several seconds to generate one full token").
  - Registration — ELBv2 ``RegisterTargets``, ``DeregisterTargets``; ELBv1
    ``RegisterInstancesWithLoadBalancer``, ``DeregisterInstancesFromLoadBalancer``: 20 / 4.
  - Non-mutating — ELBv2 ``DescribeAccountLimits``, ``DescribeCapacityReservation``,
    ``DescribeListenerAttributes``, ``DescribeListenerCertificates``, ``DescribeListeners``,
    ``DescribeLoadBalancerAttributes``, ``DescribeLoadBalancers``, ``DescribeRules``,
    ``DescribeSSLPolicies``, ``DescribeTags``, ``DescribeTargetGroupAttributes``,
    ``DescribeTargetGroups``, ``DescribeTargetHealth``; ELBv1 ``Describe*``: 40 / 10.
  - Mutating — the other ELBv2 actions the table lists (``AddListenerCertificates``, ``AddTags``,
    ``CreateListener``, ``CreateRule``, ``CreateTargetGroup``, ``Delete*``, ``Modify*``,
    ``RemoveListenerCertificates``, ``RemoveTags``, ``SetIpAddressType``, ``SetRulePriorities``,
    ``SetSecurityGroups``); ELBv1 ``AddTags``, ``ApplySecurityGroupsToLoadBalancer``,
    ``ConfigureHealthCheck``, ``Create*StickinessPolicy``, ``CreateLoadBalancerListener``,
    ``CreateLoadBalancerPolicy``, ``Delete*``, ``ModifyLoadBalancerAttributes``, ``RemoveTags``,
    ``SetLoadBalancer*``: 20 / 3. "Mutating actions ... generally includes all API actions that
    are not categorized as non-mutating actions": an action of neither table is mutating here,
    unless it is a ``Describe*`` / ``Get*`` (non-mutating).
  - Uncategorized (ELBv2, their own buckets): ``CreateTrustStore`` 10 / 0.2;
    ``AddTrustStoreRevocations``, ``DeleteSharedTrustStoreAssociation``, ``DeleteTrustStore``,
    ``ModifyTrustStore``, ``RemoveTrustStoreRevocations`` 10 / 0.2; ``GetResourcePolicy``,
    ``GetTrustStoreCaCertificatesBundle``, ``GetTrustStoreRevocationContent`` 20 / 4;
    ``DescribeTrustStoreAssociations``, ``DescribeTrustStoreRevocations``,
    ``DescribeTrustStores`` 40 / 10. Whether each row is one bucket shared by its actions or one
    bucket per action is not said; one shared bucket per row here (the stricter reading).

  A request takes a token from the account-level bucket and from its category's bucket and is
  throttled if either is empty (the page gives both limits and no other rule for combining
  them). A category bucket is shared by the actions of the category ("If you exceed 40
  ``Describe*`` requests in one second, you are throttled").
* "If you exceed an Elastic Load Balancing API throttling limit, you get the
  ``ThrottlingException`` error code and a ``Rate exceeded`` error message." That is the name
  CloudTrail records; the answers clients show carry the code ``Throttling`` with HTTP 400 —
  "Throttling: Rate exceeded status code: 400" for DescribeTargetHealth, DescribeTargetGroups,
  RegisterTargets
  (https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/1871), "An error
  occurred (Throttling) when calling the DescribeTargetHealth operation ...: Rate exceeded"
  (https://github.com/ansible-collections/community.aws/issues/444). Here: ELB's query-protocol
  ``<ErrorResponse>`` with ``Type`` ``Sender``, code ``Throttling``, message ``Rate exceeded``,
  HTTP 400 (faults.error_response). The AWS SDKs treat both codes as throttling errors; a
  caller must not tell them apart.

The setting ``elb_rate`` (``POST /_autopilot/settings``), off by default:

* ``null`` / ``false``: no throttling (moto's behaviour);
* ``true``: the documented buckets above, per account (the one moto serves the request as),
  region (the credential scope's) and API version;
* a number N > 0: one bucket per account and region, capacity N, refilled N per second, drawn
  by every ELB action.

Changing the setting starts every bucket full again. Not known, so not modelled: the limits AWS
Support may raise for an account, and whether a request refused by one bucket still takes a
token from the other (here a refused request takes none — as in route53_throttling.py). The
buckets of services that call ELB on the account's behalf (EC2, ECS, Auto Scaling,
CloudFormation) are their own and are not modelled.
"""

from __future__ import annotations

import threading
import time

import faults
import settings
from route53_throttling import Bucket

SERVICE = "elasticloadbalancing"
V1 = "2012-06-01"
ACCOUNT_BUCKET = (40, 10.0)
CATEGORY_LIMITS = {
    "resource-intensive": (10, 0.2),
    "registration": (20, 4.0),
    "non-mutating": (40, 10.0),
    "mutating": (20, 3.0),
}
V2_CATEGORIES = {
    "resource-intensive": {"CreateLoadBalancer", "SetSubnets"},
    "registration": {"RegisterTargets", "DeregisterTargets"},
    "non-mutating": {
        "DescribeAccountLimits", "DescribeCapacityReservation", "DescribeListenerAttributes",
        "DescribeListenerCertificates", "DescribeListeners", "DescribeLoadBalancerAttributes",
        "DescribeLoadBalancers", "DescribeRules", "DescribeSSLPolicies", "DescribeTags",
        "DescribeTargetGroupAttributes", "DescribeTargetGroups", "DescribeTargetHealth",
    },
    "mutating": {
        "AddListenerCertificates", "AddTags", "CreateListener", "CreateRule", "CreateTargetGroup",
        "DeleteListener", "DeleteLoadBalancer", "DeleteRule", "DeleteTargetGroup",
        "ModifyCapacityReservation", "ModifyIpPools", "ModifyListener", "ModifyListenerAttributes",
        "ModifyLoadBalancerAttributes", "ModifyRule", "ModifyTargetGroup",
        "ModifyTargetGroupAttributes", "RemoveListenerCertificates", "RemoveTags",
        "SetIpAddressType", "SetRulePriorities", "SetSecurityGroups",
    },
}
# Uncategorized ELBv2 actions: one bucket per table row.
V2_UNCATEGORIZED = {
    "trust-store-create": ({"CreateTrustStore"}, (10, 0.2)),
    "trust-store-change": ({"AddTrustStoreRevocations", "DeleteSharedTrustStoreAssociation", "DeleteTrustStore",
                            "ModifyTrustStore", "RemoveTrustStoreRevocations"}, (10, 0.2)),
    "trust-store-get": ({"GetResourcePolicy", "GetTrustStoreCaCertificatesBundle",
                         "GetTrustStoreRevocationContent"}, (20, 4.0)),
    "trust-store-describe": ({"DescribeTrustStoreAssociations", "DescribeTrustStoreRevocations",
                              "DescribeTrustStores"}, (40, 10.0)),
}
V1_CATEGORIES = {
    "resource-intensive": {"CreateLoadBalancer", "AttachLoadBalancerToSubnets", "DetachLoadBalancerFromSubnets",
                           "EnableAvailabilityZonesForLoadBalancer", "DisableAvailabilityZonesForLoadBalancer"},
    "registration": {"RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer"},
}
THROTTLED = ("Throttling", "Rate exceeded", 400)



def _check_rate(value) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return None
    return ("takes null or false (off), true (ELB's documented buckets) or a number > 0 (one bucket per account "
            "and region of that size and rate)")


def category(operation: str, version: str | None) -> tuple[str, tuple[float, float]]:
    """(bucket name, (capacity, rate)) of the category bucket ``operation`` draws from."""
    if version == V1:
        for name, actions in V1_CATEGORIES.items():
            if operation in actions:
                return name, CATEGORY_LIMITS[name]
        if operation.startswith("Describe"):
            return "non-mutating", CATEGORY_LIMITS["non-mutating"]
        return "mutating", CATEGORY_LIMITS["mutating"]
    for name, (actions, limits) in V2_UNCATEGORIZED.items():
        if operation in actions:
            return name, limits
    for name, actions in V2_CATEGORIES.items():
        if operation in actions:
            return name, CATEGORY_LIMITS[name]
    if operation.startswith(("Describe", "Get")):
        return "non-mutating", CATEGORY_LIMITS["non-mutating"]
    return "mutating", CATEGORY_LIMITS["mutating"]


_lock = threading.Lock()
_buckets: dict[tuple, Bucket] = {}
_mode: list = [None]  # (type, value) of the setting the buckets were made for


def buckets_for(mode, operation: str, version: str | None) -> list[tuple[str, tuple[float, float]]]:
    """(bucket key, (capacity, rate)) of each bucket a request draws from."""
    if mode is True:
        api = "v1" if version == V1 else "v2"
        name, limits = category(operation, version)
        return [(f"{api}:account", ACCOUNT_BUCKET), (f"{api}:{name}", limits)]
    return [("*", (mode, mode))]


def admit(mode, account: str, region: str, operation: str, version: str | None = None,
          now: float | None = None) -> bool:
    """Whether a request is within the rate; if so, its tokens are taken."""
    now = time.monotonic() if now is None else now
    with _lock:
        if _mode[0] != (type(mode), mode):
            _buckets.clear()
            _mode[0] = (type(mode), mode)
        drawn = []
        for key, (capacity, rate) in buckets_for(mode, operation, version):
            bucket = _buckets.get((account, region, key))
            if bucket is None:
                bucket = _buckets[(account, region, key)] = Bucket(capacity, rate, now)
            bucket.refill(now)
            drawn.append(bucket)
        if any(b.tokens < 1 for b in drawn):
            return False
        for b in drawn:
            b.tokens -= 1
        return True


def throttle(request: faults.Request):
    mode = settings.get("elb_rate")
    if request.service != SERVICE or mode is None or mode is False:
        return None
    if admit(mode, faults.account_of(request), request.region, request.operation, request.params.get("Version")):
        return None
    return THROTTLED


def install() -> None:
    """Register ``elb_rate`` in the settings and the throttle in front of moto. Call
    before the server starts."""
    settings.declare("elb_rate", None, _check_rate)
    faults.THROTTLES.append(throttle)
