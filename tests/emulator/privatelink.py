"""PrivateLink provider-side behaviour that moto lacks, added to moto's EC2.

moto serves VPCs, subnets, NLBs, endpoint services and endpoints, but endpoints go straight to
``available``, services are invisible to other accounts, and the connection APIs do not exist.
This module adds, following the EC2 API reference:

* CreateVpcEndpoint to an endpoint service (interface / GWLB endpoint):
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html
  - another account may connect only when the service's allowed principals name it (its root
    ARN, any ARN in it, or ``*``); otherwise ``InvalidServiceName``, as for a service that does
    not exist — see "Manage permissions" in the PrivateLink guide:
    https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html#add-remove-permissions
  - with ``AcceptanceRequired`` the endpoint starts as ``pendingAcceptance``, else ``available``:
    https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html#accept-reject-connection-requests
  - cross-region: with ``ServiceRegion`` ("The Region where the service is hosted. The default is
    the current Region") an interface endpoint in this region connects to a service in that one,
    if the provider enabled this region in the service's ``SupportedRegions``; otherwise
    ``InvalidServiceName`` as above (wording unverified). The consumer's DescribeVpcEndpoints
    shows ``ServiceRegion``; the provider's DescribeVpcEndpointConnections, in the service's
    region, shows the connection with ``VpcEndpointRegion`` = the endpoint's region. Only
    interface endpoints go across regions (``InvalidParameter`` for others; wording unverified).
    An endpoint service's name (``com.amazonaws.vpce.<region>.vpce-svc-…``) that names no service
    in the region looked in — a service of another region without ``ServiceRegion`` — is
    ``InvalidServiceName`` (moto created the endpoint regardless):
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpoint.html
    https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-share-your-services.html#endpoint-service-cross-region
    https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html
* DescribeVpcEndpointConnections, filters ``service-id``, ``vpc-endpoint-state``,
  ``vpc-endpoint-id``, ``vpc-endpoint-owner``; ``MaxResults`` / ``NextToken`` paging: "This
  value can be between 5 and 1,000; if MaxResults is given a value larger than 1,000, only 1,000
  results are returned" (below 5 refused); pages also capped by the ``page_size`` setting of
  paging.py:
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpointConnections.html
* AcceptVpcEndpointConnections (``pendingAcceptance`` → ``available``) and
  RejectVpcEndpointConnections (``pendingAcceptance`` or ``available`` → ``rejected``); ids that
  are unknown or in the wrong state come back as ``Unsuccessful`` items in a 200 response:
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AcceptVpcEndpointConnections.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RejectVpcEndpointConnections.html
* Create/Describe/DeleteVpcEndpointConnectionNotification(s), and an SNS publish to the
  notification's topic on ``Connect``, ``Accept``, ``Reject`` and ``Delete``; a create repeated
  with the same ``ClientToken`` returns the first one, and with other parameters is refused with
  ``IdempotentParameterMismatch`` ("Ensuring idempotency"); Describe takes the
  six documented filters and pages (20 by default):
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpointConnectionNotification.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpointConnectionNotifications.html
  https://docs.aws.amazon.com/AWSEC2/latest/devguide/ec2-api-idempotency.html
  https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service-notification.html

* Accepting takes time: AcceptVpcEndpointConnections moves a connection (and the consumer's
  endpoint) to ``pending``, and it becomes ``available`` ``accept_seconds`` later (0.5 s unless
  changed through ``POST /_autopilot/settings``), worked out when the state is next read — no
  threads. "It can take time for the endpoint connection state to change":
  https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html#accept-reject-connection-requests
  Rejecting goes straight to ``rejected``. A second Accept of a ``pending`` connection is an
  ``IncorrectState`` item, as for any state other than ``pendingAcceptance``.
* EC2 is eventually consistent: "the result of an API command you run that affects your EC2
  resources might not be immediately visible to all subsequent commands you run". With
  ``visible_after_seconds`` (0 unless changed through ``POST /_autopilot/settings``) a new
  connection is left out of DescribeVpcEndpointConnections for that long after its endpoint is
  created, so a consumer's event can arrive before the provider sees the request:
  https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
* A connection's ``Tags`` are the connection's own (resource type ``vpc-endpoint-connection``,
  id ``vpce-con-…``, in the provider's account), set by the provider with CreateTags on that id;
  not the consumer endpoint's tags. CreateTags / DeleteTags / DescribeTags take ``vpce-con-``
  ids (moto refused them as ``InvalidID``); an id that is not one of the caller's connections is
  ``InvalidID``, the documented code for an id CreateTags cannot use:
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpointConnections.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpointConnection.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateTags.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TagSpecification.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
  https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html
* An ``"unsuccessful": true`` fault rule (tests/emulator/faults.py) answers Accept / Reject with
  every requested id as an ``Unsuccessful`` item and changes nothing.

Unverified, so chosen and kept simple: AWS publishes no sample of the notification's message body
(the body below is a stand-in: the acceptor only takes a ``vpce-svc-`` id from it), nor the exact
``Unsuccessful`` error codes (``InvalidVpcEndpointId.NotFound``, ``IncorrectState`` here), nor
whether a ``pending`` connection can be rejected (refused here as ``IncorrectState``: no kinder
than AWS may be), nor how long acceptance takes.

State lives in moto's EC2 backends, per account and region: connections on the service
configuration, notifications on the provider's backend.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import moto.ec2.models
import moto.ec2.models.tags
import moto.ec2.utils
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError, InvalidID
from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.responses import EC2Response
from moto.ec2.utils import random_id
from moto.sns.models import sns_backends

import faults
import paging
import settings

CONNECTION_EVENTS = ("Connect", "Accept", "Reject", "Delete")
# The name EC2 gives an endpoint service: com.amazonaws.vpce.<region>.vpce-svc-<id>.
ENDPOINT_SERVICE_NAME = re.compile(r"^com\.amazonaws\.vpce\.[a-z0-9-]+\.vpce-svc-[0-9a-f]+$")
CONNECTION_PREFIX = "vpce-con"
FILTERS = {
    "service-id": lambda c: c["service"].id,
    "vpc-endpoint-state": lambda c: _settle(c["endpoint"]),
    "vpc-endpoint-id": lambda c: c["endpoint"].id,
    "vpc-endpoint-owner": lambda c: c["owner"],
}


# --- model -------------------------------------------------------------------------------------


def _connections(service) -> dict:
    if not hasattr(service, "connections"):
        service.connections = {}
    return service.connections


def _notifications(backend) -> dict:
    if not hasattr(backend, "connection_notifications"):
        backend.connection_notifications = {}
    return backend.connection_notifications


def _find_service(region: str, service_name: str):
    """The (provider backend, service) whose name is ``service_name``, in any account."""
    for account_id in list(ec2_backends.keys()):
        backend = ec2_backends[account_id].get(region)
        if backend is None:
            continue
        for service in list(backend.configurations.values()):
            if service.service_name == service_name:
                return backend, service
    return None


def _settle(endpoint) -> str:
    """The endpoint's state now: an accepted one is ``available`` once its time has come."""
    due = getattr(endpoint, "available_at", None)
    if endpoint.state == "pending" and due is not None and time.monotonic() >= due:
        endpoint.state = "available"
        endpoint.available_at = None
    return endpoint.state


def _connection_ids(backend) -> set[str]:
    return {c["connection_id"] for service in backend.configurations.values() for c in _connections(service).values()}


def _principal_allows(service, account_id: str) -> bool:
    for principal in service.principals:
        if principal == "*" or principal.split(":")[4:5] == [account_id]:
            return True
    return False


def _as_bool(value) -> bool:
    return value is True or str(value).lower() == "true"


def _notify(provider, service, endpoint, owner: str, event: str) -> None:
    for n in list(_notifications(provider).values()):
        if event not in n["ConnectionEvents"]:
            continue
        if n.get("ServiceId") not in (None, service.id) or n.get("VpcEndpointId") not in (None, endpoint.id):
            continue
        arn = n["ConnectionNotificationArn"]
        _, _, _, region, account, _ = arn.split(":", 5)
        topic = sns_backends[account][region].topics.get(arn)
        if topic is None:
            continue
        body = {
            "connectionNotificationId": n["ConnectionNotificationId"],
            "connectionEvent": event,
            "serviceId": service.id,
            "vpcEndpointId": endpoint.id,
            "vpcEndpointOwner": owner,
            "vpcEndpointState": endpoint.state,
            "eventTime": utcnow().isoformat(),
        }
        topic.publish(json.dumps(body), subject=f"VPC endpoint connection {event}")


_original_create = VPCBackend.create_vpc_endpoint
_original_delete = VPCBackend.delete_vpc_endpoints
_original_create_response = EC2Response.create_vpc_endpoint
# CreateVpcEndpoint's ServiceRegion, which moto's response does not pass to its backend: set for
# the request being served (one thread each).
_request = threading.local()


def create_vpc_endpoint_response(self):
    _request.service_region = self._get_param("ServiceRegion")
    try:
        return _original_create_response(self)
    finally:
        _request.service_region = None


def _no_service(service_name: str) -> EC2ClientError:
    return EC2ClientError("InvalidServiceName", f"The Vpc Endpoint Service '{service_name}' does not exist")


def create_vpc_endpoint(self, vpc_id, service_name, endpoint_type, *args, **kwargs):
    found = None
    service_region = getattr(_request, "service_region", None)
    remote = bool(service_region) and service_region != self.region_name
    if remote and (endpoint_type or "").lower() != "interface":
        raise EC2ClientError("InvalidParameter", "ServiceRegion is supported for interface endpoints only")
    if (endpoint_type or "").lower() in ("interface", "gatewayloadbalancer"):
        found = _find_service(service_region or self.region_name, service_name)
        if found and found[0].account_id != self.account_id and not _principal_allows(found[1], self.account_id):
            raise _no_service(service_name)
        # An endpoint service's name that is not one in the region searched (ServiceRegion, else
        # this one) names nothing: a service of another region needs ServiceRegion.
        if found is None and ENDPOINT_SERVICE_NAME.match(service_name or ""):
            raise _no_service(service_name)
        # Cross-region: only to a service that names this region among its SupportedRegions.
        if remote and self.region_name not in found[1]._supported_region_names:
            raise _no_service(service_name)
    endpoint = _original_create(self, vpc_id, service_name, endpoint_type, *args, **kwargs)
    if service_region:
        endpoint.service_region = service_region
    if found:
        provider, service = found
        endpoint.state = "pendingAcceptance" if _as_bool(service.acceptance_required) else "available"
        _connections(service)[endpoint.id] = {
            "service": service,
            "endpoint": endpoint,
            "owner": self.account_id,
            "region": self.region_name,
            "connection_id": random_id("vpce-con", 17),
            "visible_at": time.monotonic() + float(settings.get("visible_after_seconds")),
        }
        _notify(provider, service, endpoint, self.account_id, "Connect")
    return endpoint


def delete_vpc_endpoints(self, vpce_ids=None):
    _original_delete(self, vpce_ids)
    for vpce_id in vpce_ids or []:
        endpoint = self.vpc_end_points.get(vpce_id)
        region = endpoint and (getattr(endpoint, "service_region", None) or self.region_name)
        found = endpoint and _find_service(region, endpoint.service_name)
        gone = found and _connections(found[1]).pop(vpce_id, None)
        if gone:
            found[0].tags.pop(gone["connection_id"], None)
            _notify(found[0], found[1], endpoint, self.account_id, "Delete")


_original_describe_endpoints = VPCBackend.describe_vpc_endpoints


def describe_vpc_endpoints(self, *args, **kwargs):
    for endpoint in list(self.vpc_end_points.values()):
        _settle(endpoint)
    return _original_describe_endpoints(self, *args, **kwargs)


# --- tags on vpce-con- ids ---------------------------------------------------------------------

_original_get_prefix = moto.ec2.utils.get_prefix
_original_resources_exist = EC2Backend.do_resources_exist


def get_prefix(resource_id: str) -> str:
    if resource_id.startswith(CONNECTION_PREFIX + "-"):
        return CONNECTION_PREFIX
    return _original_get_prefix(resource_id)


def do_resources_exist(self, resource_ids: list[str]) -> bool:
    ours = _connection_ids(self)
    for resource_id in resource_ids:
        if resource_id.startswith(CONNECTION_PREFIX + "-") and resource_id not in ours:
            raise InvalidID(resource_id)
    return _original_resources_exist(self, [r for r in resource_ids if not r.startswith(CONNECTION_PREFIX + "-")])


# --- API ---------------------------------------------------------------------------------------


def _own_service(backend, service_id):
    service = backend.configurations.get(service_id or "")
    if service is None:
        raise EC2ClientError(
            "InvalidVpcEndpointServiceId.NotFound", f"The VpcEndpointService Id '{service_id}' does not exist"
        )
    return service


def describe_vpc_endpoint_connections(self) -> ActionResult:
    filters = self._filters_from_querystring()
    for name in filters:
        if name not in FILTERS:
            raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
    rows = [
        c
        for service in self.ec2_backend.configurations.values()
        for c in _connections(service).values()
        if all(FILTERS[name](c) in values for name, values in filters.items())
        and time.monotonic() >= c.get("visible_at", 0)
    ]
    rows.sort(key=lambda c: (c["endpoint"].creation_timestamp, c["endpoint"].id))
    page, next_token = _page(self, rows)
    tags = self.ec2_backend.tags
    result = {
        "VpcEndpointConnections": [
            {
                "ServiceId": c["service"].id,
                "VpcEndpointId": c["endpoint"].id,
                "VpcEndpointOwner": c["owner"],
                "VpcEndpointState": _settle(c["endpoint"]),
                "CreationTimestamp": c["endpoint"].creation_timestamp,
                "DnsEntries": c["endpoint"].dns_entries or [],
                "NetworkLoadBalancerArns": c["service"].network_load_balancer_arns,
                "IpAddressType": "ipv4",
                "VpcEndpointConnectionId": c["connection_id"],
                "Tags": [{"Key": k, "Value": v} for k, v in tags.get(c["connection_id"], {}).items()],
                "VpcEndpointRegion": c["region"],
            }
            for c in page
        ]
    }
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def _page(self, rows: list, default: int = 1000, over: str = "cap") -> tuple[list, str | None]:
    """One page of ``rows`` after ``NextToken``: ``MaxResults`` (5–1000; above 1000 answered
    with 1000 or refused, as ``over`` says) of them, never more than ``default``, and never more
    than the ``page_size`` setting (paging.py). AWS may answer fewer than asked; callers must
    follow ``NextToken``."""
    return paging.ec2_page(self, rows, 5, 1000, over, default=default, ceiling=default)


def _decide(self, event: str, allowed_from: tuple[str, ...], new_state: str) -> ActionResult:
    service = _own_service(self.ec2_backend, self._get_param("ServiceId"))
    endpoint_ids = self._get_param("VpcEndpointIds", [])
    refused = faults.take("unsuccessful")
    if refused:
        return ActionResult({"Unsuccessful": [_item(i, refused.code, refused.message) for i in endpoint_ids]})
    unsuccessful = []
    for endpoint_id in endpoint_ids:
        c = _connections(service).get(endpoint_id)
        state = c and _settle(c["endpoint"])
        if c is None:
            unsuccessful.append(_item(endpoint_id, "InvalidVpcEndpointId.NotFound",
                                      f"The Vpc Endpoint Id '{endpoint_id}' does not exist"))
        elif state not in allowed_from:
            unsuccessful.append(_item(endpoint_id, "IncorrectState",
                                      f"Vpc Endpoint '{endpoint_id}' is in state '{state}'"))
        else:
            c["endpoint"].state = new_state
            c["endpoint"].available_at = (
                time.monotonic() + float(settings.get("accept_seconds")) if new_state == "pending" else None)
            _notify(self.ec2_backend, service, c["endpoint"], c["owner"], event)
    return ActionResult({"Unsuccessful": unsuccessful})


def _item(resource_id: str, code: str, message: str) -> dict:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


def accept_vpc_endpoint_connections(self) -> ActionResult:
    return _decide(self, "Accept", ("pendingAcceptance",), "pending")


def reject_vpc_endpoint_connections(self) -> ActionResult:
    return _decide(self, "Reject", ("pendingAcceptance", "available"), "rejected")


def create_vpc_endpoint_connection_notification(self) -> ActionResult:
    service_id = self._get_param("ServiceId")
    endpoint_id = self._get_param("VpcEndpointId")
    if bool(service_id) == bool(endpoint_id):
        raise EC2ClientError("InvalidParameterCombination", "Specify either ServiceId or VpcEndpointId")
    if service_id:
        _own_service(self.ec2_backend, service_id)
    arn = self._get_param("ConnectionNotificationArn") or ""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sns" or arn not in sns_backends[parts[4]][parts[3]].topics:
        raise EC2ClientError("InvalidConnectionNotification", f"Connection notification ARN {arn} is not valid")
    token = self._get_param("ClientToken")
    events = self._get_param("ConnectionEvents", [])
    for earlier in _notifications(self.ec2_backend).values():
        if token and earlier.get("_token") == token:  # "Ensuring idempotency"
            same = (earlier.get("ServiceId"), earlier.get("VpcEndpointId"), earlier["ConnectionNotificationArn"],
                    earlier["ConnectionEvents"]) == (service_id, endpoint_id, self._get_param("ConnectionNotificationArn"), events)
            if not same:
                raise EC2ClientError("IdempotentParameterMismatch",
                                     f"The client token {token} was used with different parameters")
            return ActionResult({"ConnectionNotification": {k: v for k, v in earlier.items() if k != "_token"},
                                 "ClientToken": token})
    if not events or any(e not in CONNECTION_EVENTS for e in events):
        raise EC2ClientError(
            "InvalidParameterValue", f"ConnectionEvents must be some of {', '.join(CONNECTION_EVENTS)}"
        )
    notification = {
        "ConnectionNotificationId": random_id("vpce-nfn", 17),
        "ConnectionNotificationType": "Topic",
        "ConnectionNotificationArn": arn,
        "ConnectionEvents": events,
        "ConnectionNotificationState": "Enabled",
        "ServiceRegion": self.region,
    }
    if service_id:
        notification["ServiceId"] = service_id
    else:
        notification["VpcEndpointId"] = endpoint_id
    if token:
        notification["_token"] = token
    _notifications(self.ec2_backend)[notification["ConnectionNotificationId"]] = notification
    return ActionResult({"ConnectionNotification": notification,
                         "ClientToken": self._get_param("ClientToken") or str(uuid.uuid4())})


NOTIFICATION_FILTERS = {
    "connection-notification-arn": lambda n: n["ConnectionNotificationArn"],
    "connection-notification-id": lambda n: n["ConnectionNotificationId"],
    "connection-notification-state": lambda n: n["ConnectionNotificationState"],
    "connection-notification-type": lambda n: n["ConnectionNotificationType"],
    "service-id": lambda n: n.get("ServiceId"),
    "vpc-endpoint-id": lambda n: n.get("VpcEndpointId"),
}
# Small pages, so that a caller that does not follow NextToken misses notifications in tests
# as it would in AWS.
NOTIFICATION_PAGE = 20


def describe_vpc_endpoint_connection_notifications(self) -> ActionResult:
    filters = self._filters_from_querystring()
    for name in filters:
        if name not in NOTIFICATION_FILTERS:
            raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
    wanted = self._get_param("ConnectionNotificationId")
    rows = [
        n
        for i, n in _notifications(self.ec2_backend).items()
        if wanted in (None, i) and all(NOTIFICATION_FILTERS[k](n) in v for k, v in filters.items())
    ]
    page, next_token = _page(self, rows, default=NOTIFICATION_PAGE, over="refuse")
    result = {"ConnectionNotificationSet": [{k: v for k, v in n.items() if k != "_token"} for n in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def delete_vpc_endpoint_connection_notifications(self) -> ActionResult:
    unsuccessful = []
    for nid in self._get_param("ConnectionNotificationIds", []):
        if _notifications(self.ec2_backend).pop(nid, None) is None:
            unsuccessful.append(_item(nid, "InvalidConnectionNotification",
                                      f"The connection notification '{nid}' does not exist"))
    return ActionResult({"Unsuccessful": unsuccessful})


def endpoint_filter_value(self, filter_name: str, method_name: str | None = None):
    """DescribeVpcEndpoints' documented filters that moto lacks (it knows only the type and the
    state): ``vpc-endpoint-id``, ``vpc-id``, ``service-name``.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpoints.html"""
    values = {"vpc-endpoint-id": self.id, "vpc-id": self.vpc_id, "service-name": self.service_name}
    if filter_name in values:
        return values[filter_name]
    return _original_endpoint_filter_value(self, filter_name, method_name)


def install() -> None:
    """Patch moto's EC2 backend and response class. Call before the server starts."""
    global _original_endpoint_filter_value
    settings.declare("accept_seconds", 0.5)
    settings.declare("visible_after_seconds", 0.0)
    _original_endpoint_filter_value = VPCEndPoint.get_filter_value
    VPCEndPoint.get_filter_value = endpoint_filter_value
    VPCBackend.create_vpc_endpoint = create_vpc_endpoint
    VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints
    VPCBackend.describe_vpc_endpoints = describe_vpc_endpoints
    EC2Response.create_vpc_endpoint = create_vpc_endpoint_response
    # vpce-con- ids are taggable resources of type vpc-endpoint-connection.
    moto.ec2.utils.EC2_RESOURCE_TO_PREFIX["vpc-endpoint-connection"] = CONNECTION_PREFIX
    moto.ec2.utils.EC2_PREFIX_TO_RESOURCE[CONNECTION_PREFIX] = "vpc-endpoint-connection"
    for module in (moto.ec2.utils, moto.ec2.models, moto.ec2.models.tags):
        module.get_prefix = get_prefix
    EC2Backend.do_resources_exist = do_resources_exist
    for handler in (
        describe_vpc_endpoint_connections,
        accept_vpc_endpoint_connections,
        reject_vpc_endpoint_connections,
        create_vpc_endpoint_connection_notification,
        describe_vpc_endpoint_connection_notifications,
        delete_vpc_endpoint_connection_notifications,
    ):
        setattr(EC2Response, handler.__name__, handler)
