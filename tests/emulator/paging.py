"""Paging and per-call limits of the describe calls the availability-zone auditor makes.

moto answers most of these calls in one page whatever is asked, and takes any number of ids. AWS
pages them and refuses what its API reference refuses; a caller that does not follow the token
misses items there, so it must miss them here too.

ELBv2 (``PageSize`` 1–400, ``Marker`` in, ``NextMarker`` out):

* DescribeLoadBalancers: "You can specify up to 20 load balancers in a single call"
  (``LoadBalancerArns``); more is refused with ``ValidationError`` "Up to 20 load balancers can be
  described at a time, but N were specified" — AWS's wording as a user quoted it
  (https://github.com/cloud-custodian/cloud-custodian/issues/10550). The same limit is applied to
  ``Names``, for which the reference states none (unverified; no kinder than AWS may be).
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html
* DescribeTargetGroups:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html

  ``PageSize`` "Valid Range: Minimum value of 1. Maximum value of 400"; outside it,
  ``ValidationError`` in AWS's usual constraint wording. Without ``PageSize`` a page holds 400
  (the range's top; moto used 50).

EC2 (``MaxResults`` in, ``NextToken`` out; without ``MaxResults`` one page holds everything):

* DescribeSubnets: ``MaxResults`` 5–1000 (the reference's valid range); outside it,
  ``InvalidParameterValue``; the ``vpc-id`` filter is moto's.
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSubnets.html
* DescribeInstances: pages of reservations; ``MaxResults`` cannot go with ``InstanceIds``
  (moto's ``InvalidParameterCombination``); below 5 it is refused with AWS's observed wording
  "Value ( 3 ) for parameter maxResults is invalid. Expecting a value greater than 5." (the
  reference states no range); above 1000 one page holds 1000 (as AWS's pagination guide pages).
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
  https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-pagination.html
* DescribeVpcEndpoints: "If the value is greater than 1,000, we return only 1,000 items" (no
  minimum stated, none enforced).
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpoints.html
* DescribeVpcEndpointServiceConfigurations and DescribeVpcEndpointConnections (the latter served
  by privatelink.py, which pages through :func:`ec2_page`): "This value can be between 5 and
  1,000; if MaxResults is given a value larger than 1,000, only 1,000 results are returned."
  DescribeVpcEndpointServiceConfigurations also takes its filters ``service-name``,
  ``service-id``, ``service-state``, ``tag:<key>``, ``tag-key`` (moto ignored every filter);
  another name is ``InvalidParameterValue`` (``supported-ip-address-types`` is not served).
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpointServiceConfigurations.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpointConnections.html

The ``page_size`` setting (``POST /_autopilot/settings``, ``None`` by default = AWS's own pages)
caps every page of these calls — whatever ``MaxResults`` / ``PageSize`` asks, with ids or without
— so that a test can make a caller without a paginator visibly miss items. AWS documents that a
page may hold fewer items than asked ("Pagination", API reference:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html#api-pagination).

Tokens and markers are opaque (here: a base64 offset); one this emulator did not write is
refused (``InvalidPaginationToken`` for EC2, ``ValidationError`` for ELBv2; wording unverified).
"""

from __future__ import annotations

import base64

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidParameterCombination
from moto.ec2.responses import EC2Response
from moto.elbv2.exceptions import ValidationError
from moto.elbv2.responses import ELBV2Response

import faults
import settings

LOAD_BALANCER_LIMIT = 20
ELB_PAGE = (1, 400)


def _check_page_size(value) -> str | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return None
    return "takes a whole number >= 1, or null for AWS's own page sizes"


def page_size() -> int | None:
    return settings.get("page_size")


def _token(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        return int(base64.b64decode(token, validate=True).decode())
    except ValueError:
        return None


def _slice(rows: list, start: int, limit: int | None) -> tuple[list, str | None]:
    cap = page_size()
    if cap:
        limit = min(limit or cap, cap)
    if limit is None:
        return rows[start:], None
    end = start + limit
    return rows[start:end], (_token(end) if end < len(rows) else None)


def ec2_page(self, rows: list, minimum: int | None = 5, maximum: int = 1000, over: str = "cap",
             default: int | None = None, ceiling: int | None = None) -> tuple[list, str | None]:
    """One page of ``rows`` after ``NextToken``: ``MaxResults`` of them (``default`` when not
    given, ``None`` = all), never more than ``ceiling``. Below ``minimum`` is refused; above
    ``maximum`` is refused (``over="refuse"``) or answered with ``maximum`` (``over="cap"``)."""
    asked = self._get_int_param("MaxResults")
    if asked is not None:
        if minimum is not None and asked < minimum:
            raise EC2ClientError("InvalidParameterValue",
                                 f"Value ( {asked} ) for parameter maxResults is invalid. Expecting a value greater than {minimum}.")
        if asked > maximum:
            if over == "refuse":
                raise EC2ClientError("InvalidParameterValue",
                                     f"Value ( {asked} ) for parameter maxResults is invalid. Expecting a value less than or equal to {maximum}.")
            asked = maximum
    token = self._get_param("NextToken")
    start = _offset(token)
    if start is None:
        raise EC2ClientError("InvalidPaginationToken", f"Invalid pagination token: {token}")
    limit = asked or default
    if ceiling is not None:
        limit = min(limit or ceiling, ceiling)
    return _slice(rows, start, limit)


def elb_page(self, rows: list) -> tuple[list, str | None]:
    size = self._get_int_param("PageSize")
    low, high = ELB_PAGE
    if size is not None and not low <= size <= high:
        bound = f"greater than or equal to {low}" if size < low else f"less than or equal to {high}"
        raise ValidationError(f"1 validation error detected: Value '{size}' at 'pageSize' failed to satisfy "
                              f"constraint: Member must have value {bound}")
    marker = self._get_param("Marker")
    start = _offset(marker)
    if start is None:
        raise ValidationError(f"The marker '{marker}' is not valid")
    return _slice(rows, start, size or high)


# --- ELBv2 -------------------------------------------------------------------------------------


def describe_load_balancers(self) -> ActionResult:
    arns = self._get_param("LoadBalancerArns", [])
    names = self._get_param("Names", [])
    for given in (arns, names):
        if len(given) > LOAD_BALANCER_LIMIT:
            raise ValidationError(f"Up to {LOAD_BALANCER_LIMIT} load balancers can be described at a time, "
                                  f"but {len(given)} were specified")
    balancers = list(self.elbv2_backend.describe_load_balancers(arns, names))
    page, marker = elb_page(self, balancers)
    result = {"LoadBalancers": page}
    if marker:
        result["NextMarker"] = marker
    return ActionResult(result)


def describe_target_groups(self) -> ActionResult:
    groups = list(self.elbv2_backend.describe_target_groups(
        self._get_param("LoadBalancerArn"), self._get_param("TargetGroupArns", []), self._get_param("Names", [])))
    page, marker = elb_page(self, groups)
    result = {"TargetGroups": page}
    if marker:
        result["NextMarker"] = marker
    return ActionResult(result)


# --- EC2 ---------------------------------------------------------------------------------------


def _ec2_result(key: str, page: list, token: str | None) -> ActionResult:
    result = {key: page}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def describe_subnets(self) -> ActionResult:
    self.error_on_dryrun()
    subnets = self.ec2_backend.describe_subnets(self._get_param("SubnetIds"), self._filters_from_querystring())
    return _ec2_result("Subnets", *ec2_page(self, list(subnets), 5, 1000, "refuse"))


def describe_instances(self) -> ActionResult:
    self.error_on_dryrun()
    if "InstanceId.1" in self.data and "MaxResults" in self.data:
        raise InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
    filters = self._filters_from_querystring()
    ids = self._get_param("InstanceIds", [])
    if ids:
        reservations = self.ec2_backend.get_reservations_by_instance_ids(ids, filters=filters)
    else:
        reservations = self.ec2_backend.describe_instances(filters=filters)
    return _ec2_result("Reservations", *ec2_page(self, list(reservations), 5, 1000, "cap"))


def describe_vpc_endpoints(self) -> ActionResult:
    endpoints = self.ec2_backend.describe_vpc_endpoints(
        vpc_end_point_ids=self._get_param("VpcEndpointIds", []), filters=self._filters_from_querystring())
    return _ec2_result("VpcEndpoints", *ec2_page(self, list(endpoints), None, 1000, "cap"))


SERVICE_FILTERS = {
    "service-name": lambda c: [c.service_name],
    "service-id": lambda c: [c.id],
    "service-state": lambda c: [c.service_state],
    "tag-key": lambda c: [t["Key"] for t in c.get_tags()],
}


def _service_values(config, name: str) -> list[str] | None:
    if name.startswith("tag:"):
        return [t["Value"] for t in config.get_tags() if t["Key"] == name[4:]]
    get = SERVICE_FILTERS.get(name)
    return None if get is None else get(config)


def describe_vpc_endpoint_service_configurations(self) -> ActionResult:
    filters = self._filters_from_querystring()
    for name in filters:
        if not name.startswith("tag:") and name not in SERVICE_FILTERS:
            raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
    configs = [c for c in self.ec2_backend.describe_vpc_endpoint_service_configurations(self._get_param("ServiceIds", []))
               if all(set(_service_values(c, name)) & set(values) for name, values in filters.items())]
    return _ec2_result("ServiceConfigurations", *ec2_page(self, configs, 5, 1000, "cap"))


def install() -> None:
    """Register ``page_size`` in the settings and patch moto's ELBv2 and EC2
    responses. Call before the server starts."""
    settings.declare("page_size", None, _check_page_size)
    ELBV2Response.describe_load_balancers = describe_load_balancers
    ELBV2Response.describe_target_groups = describe_target_groups
    for handler in (describe_subnets, describe_instances, describe_vpc_endpoints,
                    describe_vpc_endpoint_service_configurations):
        setattr(EC2Response, handler.__name__, handler)
