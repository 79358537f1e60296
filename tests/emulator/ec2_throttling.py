"""Amazon EC2's request-rate throttling, as token buckets per account, region and API, opt-in.

"Request throttling for the Amazon EC2 API" (EC2 developer guide):
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html

* "Amazon EC2 throttles EC2 API requests for each AWS account on a per-Region basis"; "Amazon EC2
  uses the token bucket algorithm" (capacity, refill per second, refill tokens arriving at a full
  bucket discarded, tokens usable as they are added).
* Request rate limiting: "each API is evaluated individually, and you are throttled on the
  number of requests you make on a per-API basis. Each request that you make removes one token
  from the API's bucket"; "requests for other API are not affected"; "Limits are applied to
  individual API actions, not API action categories." So every action has its own bucket, of its
  category's size (bucket maximum capacity / refill rate per second):

  - Non-mutating actions — "The ``Describe*``, ``List*``, ``Search*``, and ``Get*`` API actions
    that are not included in another category": 100 / 20 (``DescribeVpcEndpointServiceConfigurations``,
    ``DescribeVpcEndpointConnections``, ``DescribeVpcEndpoints``, ``DescribeSubnets``,
    ``DescribeAvailabilityZones``, ``DescribeVpcs``, and ``DescribeInstances`` when filtered or
    paginated).
  - Unfiltered and unpaginated non-mutating actions — ``DescribeInstances``,
    ``DescribeInstanceStatus``, ``DescribeNetworkInterfaces``, ``DescribeSecurityGroups``,
    ``DescribeSnapshots``, ``DescribeSpotInstanceRequests``, ``DescribeVolumes`` "when requested
    without specifying either pagination or a filter, use tokens from a smaller token bucket":
    50 / 10 ("make use of pagination and filtering so that tokens are deducted from the standard
    (larger) token bucket" — one or the other, so a request draws from one of the two). A request
    is paginated here when it gives ``MaxResults`` or ``NextToken``, filtered when it gives a
    ``Filter``. Whether ids (``InstanceId.N``) count as a filter is not documented: they do not
    here (the smaller bucket, the stricter reading).
  - Mutating actions — "All mutating API actions that are not Resource-intensive actions or
    Uncategorized actions": 50 / 5.
  - Resource-intensive actions (``AcceptVpcPeeringConnection``, ``AuthorizeSecurityGroupIngress``,
    ``CancelSpotInstanceRequests``, ``CreateKeyPair``, ``CreateVpcPeeringConnection``,
    ``DeleteVpcPeeringConnection``, ``RejectVpcPeeringConnection``,
    ``RevokeSecurityGroupIngress``, ``RequestSpotInstances``): 50 / 5.
  - Uncategorized actions with their own sizes: the page's table, in :data:`UNCATEGORIZED` below
    — among them ``AcceptVpcEndpointConnections`` 10 / 1 and ``RejectVpcEndpointConnections``
    10 / 1, ``CreateVpcEndpoint`` / ``ModifyVpcEndpoint`` / ``DeleteVpcEndpoints`` 4 / 0.3,
    ``Create/Modify/DeleteVpcEndpointServiceConfiguration(s)`` 10 / 1, ``RunInstances`` and
    ``StartInstances`` 5 / 2, ``CreateTags`` / ``DeleteTags`` 100 / 10.
  - Console non-mutating actions (100 / 10) are those the EC2 console calls: not modelled.

* Resource rate limiting: "``RunInstances`` and ``TerminateInstances`` ... have a separate
  resource token bucket that depletes based on the number of resources that are impacted by the
  request"; "If you exceed a specific bucket limit for an API ... the action of the API is
  limited". Resource buckets: ``RunInstances`` 1000 / 2, ``TerminateInstances`` 1000 / 20,
  ``StartInstances`` 1000 / 2, ``StopInstances`` 1000 / 20. A request takes one token from its
  request bucket and, for these four, one resource token per instance: ``MaxCount`` for
  RunInstances (the most it may launch), the ``InstanceId.N`` given for the others.

* "If you exceed an API throttling limit, you get the ``RequestLimitExceeded`` error code" — in
  EC2's own error format (``<Response><Errors><Error>``, faults.error_response), message
  "Request limit exceeded.". The HTTP status is not on the page nor in the error-code list
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html): 503, as clients
  report EC2 answering ("HTTP/1.1 503 Service Unavailable; content: [Request limit exceeded.]",
  https://github.com/jclouds/legacy-jclouds/issues/1214). The AWS SDKs classify the code as a
  throttling error whatever the status.

The setting ``ec2_rate`` (``POST /_autopilot/settings``), off by default:

* ``null`` / ``false``: no throttling (moto's behaviour);
* ``true``: the documented buckets above, per account (the one moto serves the request as),
  region (the credential scope's) and API;
* a number N > 0: one bucket per account and region, capacity N, refilled N per second, drawn
  by every EC2 action (no per-API or resource buckets).

Changing the setting starts every bucket full again. Not known, so not modelled: whether a
request refused by one bucket still takes a token from another (here a refused request takes
none); limits AWS Support has raised for an account; "The maximum API request rate may vary
across Regions" (troubleshooting page) — one set of figures for every region here.
"""

from __future__ import annotations

import threading
import time

import faults
import settings
from route53_throttling import Bucket

SERVICE = "ec2"
NON_MUTATING = (100, 20.0)
UNFILTERED = (50, 10.0)
MUTATING = (50, 5.0)
UNFILTERED_ACTIONS = {"DescribeInstances", "DescribeInstanceStatus", "DescribeNetworkInterfaces",
                      "DescribeSecurityGroups", "DescribeSnapshots", "DescribeSpotInstanceRequests",
                      "DescribeVolumes"}
RESOURCE_INTENSIVE = {"AcceptVpcPeeringConnection", "AuthorizeSecurityGroupIngress", "CancelSpotInstanceRequests",
                      "CreateKeyPair", "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
                      "RejectVpcPeeringConnection", "RevokeSecurityGroupIngress", "RequestSpotInstances"}
RESOURCE_BUCKETS = {"RunInstances": (1000, 2.0), "TerminateInstances": (1000, 20.0),
                    "StartInstances": (1000, 2.0), "StopInstances": (1000, 20.0)}
_TABLE = """
AcceptVpcEndpointConnections 10 1
AdvertiseByoipCidr 1 0.1
AssignIpv6Addresses 100 5
AssignPrivateIpAddresses 100 5
AssignPrivateNatGatewayAddress 10 1
AssociateCapacityReservationBillingOwner 1 0.5
AssociateEnclaveCertificateIamRole 10 1
AssociateIamInstanceProfile 100 5
AssociateNatGatewayAddress 10 1
AttachVerifiedAccessTrustProvider 10 2
AuthorizeClientVpnIngress 5 2
CancelDeclarativePoliciesReport 1 1
CopyImage 100 1
CreateClientVpnRoute 5 2
CreateCoipCidr 5 1
CreateCoipPool 5 1
CreateDefaultSubnet 1 1
CreateDefaultVpc 1 1
CreateLaunchTemplateVersion 100 5
CreateNatGateway 10 1
CreateNetworkInterface 100 5
CreateRestoreImageTask 50 0.1
CreateSnapshot 100 5
CreateSnapshots 100 5
CreateSpotDatafeedSubscription 50 3
CreateStoreImageTask 50 0.1
CreateSubnetCidrReservation 5 1
CreateTags 100 10
CreateVerifiedAccessEndpoint 20 4
CreateVerifiedAccessGroup 10 2
CreateVerifiedAccessInstance 10 2
CreateVerifiedAccessTrustProvider 10 2
CreateVolume 100 5
CreateVpcEndpoint 4 0.3
CreateVpcEndpointServiceConfiguration 10 1
DeleteClientVpnRoute 5 2
DeleteCoipCidr 5 1
DeleteCoipPool 5 1
DeleteCoipPoolPermission 5 1
DeleteNatGateway 10 1
DeleteNetworkInterface 100 5
DeleteSnapshot 100 5
DeleteSpotDatafeedSubscription 50 3
DeleteSubnetCidrReservation 5 1
DeleteQueuedReservedInstances 5 5
DeleteTags 100 10
DeleteVerifiedAccessEndpoint 20 4
DeleteVerifiedAccessGroup 10 2
DeleteVerifiedAccessInstance 10 2
DeleteVerifiedAccessTrustProvider 10 2
DeleteVolume 100 5
DeleteVpcEndpoints 4 0.3
DeleteVpcEndpointServiceConfigurations 10 1
DeprovisionByoipCidr 1 0.1
DeregisterImage 100 5
DescribeAggregateIdFormat 10 10
DescribeByoipCidrs 1 0.5
DescribeCapacityBlockExtensionOfferings 10 0.15
DescribeCapacityBlockOfferings 10 0.15
DescribeDeclarativePoliciesReports 5 5
DescribeHostReservations 5 2
DescribeHostReservationOfferings 5 2
DescribeIdentityIdFormat 10 10
DescribeIdFormat 10 10
DescribeInstanceTopology 1 1
DescribeMovingAddresses 1 1
DescribePrincipalIdFormat 10 10
DescribeReservedInstancesOfferings 10 10
DescribeSecurityGroupReferences 20 5
DescribeSpotDatafeedSubscription 100 13
DescribeSpotFleetInstances 100 5
DescribeSpotFleetRequestHistory 100 5
DescribeSpotFleetRequests 50 3
DescribeStaleSecurityGroups 20 5
DescribeStoreImageTasks 50 0.5
DescribeVerifiedAccessInstanceLoggingConfigurations 10 2
DetachVerifiedAccessTrustProvider 10 2
DisableFastLaunch 5 2
DisableImageBlockPublicAccess 1 0.1
DisableSnapshotBlockPublicAccess 1 0.1
DisassociateCapacityReservationBillingOwner 1 0.5
DisassociateEnclaveCertificateIamRole 10 1
DisassociateIamInstanceProfile 100 5
DisassociateNatGatewayAddress 10 1
EnableFastLaunch 5 2
EnableImageBlockPublicAccess 1 0.1
EnableSnapshotBlockPublicAccess 1 0.1
GetAssociatedEnclaveCertificateIamRoles 10 1
GetDeclarativePoliciesReportSummary 5 5
GetHostReservationPurchasePreview 5 2
ModifyImageAttribute 100 5
ModifyInstanceMetadataDefaults 2 2
ModifyInstanceMetadataOptions 100 5
ModifyLaunchTemplate 100 5
ModifyNetworkInterfaceAttribute 100 5
ModifySnapshotAttribute 100 5
ModifyVerifiedAccessEndpoint 20 4
ModifyVerifiedAccessEndpointPolicy 20 4
ModifyVerifiedAccessGroup 10 2
ModifyVerifiedAccessGroupPolicy 20 4
ModifyVerifiedAccessInstance 10 2
ModifyVerifiedAccessInstanceLoggingConfiguration 10 2
ModifyVerifiedAccessTrustProvider 10 2
ModifyVpcEndpoint 4 0.3
ModifyVpcEndpointServiceConfiguration 10 1
MoveAddressToVpc 1 1
ProvisionByoipCidr 1 0.1
PurchaseCapacityBlock 10 0.15
PurchaseCapacityBlockExtension 10 0.15
PurchaseHostReservation 5 2
PurchaseReservedInstancesOffering 5 5
RejectVpcEndpointConnections 10 1
RestoreAddressToClassic 1 1
RevokeClientVpnIngress 5 2
RunInstances 5 2
StartDeclarativePoliciesReport 1 1
StartInstances 5 2
TerminateInstances 100 5
UnassignPrivateIpAddresses 100 5
UnassignPrivateNatGatewayAddress 10 1
WithdrawByoipCidr 1 0.1
"""
# "Uncategorized actions": each with its own bucket maximum capacity and refill rate.
UNCATEGORIZED: dict[str, tuple[float, float]] = {
    name: (float(capacity), float(rate))
    for name, capacity, rate in (line.split() for line in _TABLE.strip().splitlines())
}
THROTTLED = ("RequestLimitExceeded", "Request limit exceeded.", 503)



def _check_rate(value) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return None
    return ("takes null or false (off), true (EC2's documented buckets) or a number > 0 (one bucket per account "
            "and region of that size and rate)")


def unfiltered(params: dict) -> bool:
    """Whether a request gives neither pagination (``MaxResults``, ``NextToken``) nor a filter."""
    return not any(k in ("MaxResults", "NextToken") or k.startswith("Filter.") for k in params)


def request_bucket(operation: str, params: dict) -> tuple[str, tuple[float, float]]:
    """(bucket key, (capacity, rate)) of the request bucket a request of ``operation`` draws from."""
    if operation in UNCATEGORIZED:
        return operation, UNCATEGORIZED[operation]
    if operation in UNFILTERED_ACTIONS and unfiltered(params):
        return f"{operation}:unfiltered", UNFILTERED
    if operation.startswith(("Describe", "List", "Search", "Get")):
        return operation, NON_MUTATING
    return operation, MUTATING  # mutating and resource-intensive alike: 50 / 5


def resources(operation: str, params: dict) -> int:
    """How many resource tokens a request takes (0 for an action without a resource bucket)."""
    if operation not in RESOURCE_BUCKETS:
        return 0
    if operation == "RunInstances":
        try:
            return max(1, int(params.get("MaxCount", "1")))
        except ValueError:
            return 1
    return sum(1 for k in params if k.startswith("InstanceId."))


_lock = threading.Lock()
_buckets: dict[tuple, Bucket] = {}
_mode: list = [None]  # (type, value) of the setting the buckets were made for


def buckets_for(mode, operation: str, params: dict) -> list[tuple[str, tuple[float, float], int]]:
    """(bucket key, (capacity, rate), tokens) of each bucket a request draws from."""
    if mode is True:
        key, limits = request_bucket(operation, params)
        drawn = [(key, limits, 1)]
        cost = resources(operation, params)
        if cost:
            drawn.append((f"{operation}:resources", RESOURCE_BUCKETS[operation], cost))
        return drawn
    return [("*", (mode, mode), 1)]


def admit(mode, account: str, region: str, operation: str, params: dict | None = None,
          now: float | None = None) -> bool:
    """Whether a request is within the rate; if so, its tokens are taken."""
    now = time.monotonic() if now is None else now
    params = params or {}
    with _lock:
        if _mode[0] != (type(mode), mode):
            _buckets.clear()
            _mode[0] = (type(mode), mode)
        drawn = []
        for key, (capacity, rate), tokens in buckets_for(mode, operation, params):
            bucket = _buckets.get((account, region, key))
            if bucket is None:
                bucket = _buckets[(account, region, key)] = Bucket(capacity, rate, now)
            bucket.refill(now)
            drawn.append((bucket, tokens))
        if any(b.tokens < tokens for b, tokens in drawn):
            return False
        for b, tokens in drawn:
            b.tokens -= tokens
        return True


def throttle(request: faults.Request):
    mode = settings.get("ec2_rate")
    if request.service != SERVICE or mode is None or mode is False:
        return None
    if admit(mode, faults.account_of(request), request.region, request.operation, request.params):
        return None
    return THROTTLED


def install() -> None:
    """Register ``ec2_rate`` in the settings and the throttle in front of moto. Call
    before the server starts."""
    settings.declare("ec2_rate", None, _check_rate)
    faults.THROTTLES.append(throttle)
