"""Availability zones, load balancers and their targets as AWS has them, where moto simplifies.

* AZ names map to different AZ IDs in each account ("AZ IDs for your resources",
  https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html). moto uses one map
  for every account; here each account's names are rotated over the region's AZ IDs by a fixed
  function of the account id (123456789012 keeps moto's map), in DescribeAvailabilityZones and in
  subnets' ``AvailabilityZoneId`` alike, and CreateSubnet's ``AvailabilityZoneId`` is read with
  the caller's map.
* Load balancer ARNs carry their type: ``loadbalancer/net/<name>/<id>`` for an NLB,
  ``loadbalancer/gwy/<name>/<id>`` for a Gateway Load Balancer, ``/app/`` for an ALB only (moto
  writes ``/app/`` for all three):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html
  https://docs.aws.amazon.com/elasticloadbalancing/latest/gateway/gateway-load-balancers.html
* Targets (``TargetDescription``,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetDescription.html):
  ``AvailabilityZone`` "is not supported if the target type of the target group is instance or
  alb". So DescribeTargetHealth reports no ``AvailabilityZone`` for ``instance`` and ``alb``
  targets (a caller looks the instance up with DescribeInstances, the ALB with
  DescribeLoadBalancers), and for an ``ip`` target only the one given to RegisterTargets (an AZ
  name or ``all``). For an IP in one of the VPC's subnets AWS "automatically detects" the AZ;
  whether DescribeTargetHealth then echoes it is not documented, so it is left out here (no kinder
  than AWS: the caller must find the subnet).
* RegisterTargets
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RegisterTargets.html)
  refuses what its reference refuses:
  - ``instance``: an ``AvailabilityZone`` (``ValidationError``); an instance that does not exist
    or is not in the target group's VPC (``InvalidTarget``: "The specified target does not exist,
    is not in the same VPC as the target group, or has an unsupported instance type"); a stopped
    one (moto's ``InvalidTarget``).
  - ``ip``: an Id that is not an IP address; an IP outside the VPC's subnets that is not in the
    RFC 1918 / RFC 6598 ranges ("You can't specify publicly routable IP addresses",
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#target-type);
    an IP outside the VPC without ``AvailabilityZone`` ("If the IP address is outside the VPC,
    this parameter is required"); for a Network Load Balancer target group (TCP, UDP, TCP_UDP,
    TLS) an IP outside the VPC with an AZ other than ``all`` (re:Post, as the console answers:
    "the Availability Zones for IP address must be all when not within the VPC",
    https://repost.aws/questions/QU7wKcrxc4SjKZh66jQ_vVOA); an AZ that is not one of the region's.
  - ``alb`` (an NLB forwarding to an ALB, the way to put an ALB behind PrivateLink,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/application-load-balancer-target.html):
    an ``AvailabilityZone``; an Id that is not the ARN of an Application Load Balancer in the
    same account, region and VPC ("the load balancers must be in the same VPC within the same
    account", ``InvalidTarget``); an ALB without a listener on the target group's port ("the
    targeted Application Load Balancer must have at least one listener whose port matches the
    target group port", ``ValidationError``); a second ALB in the target group ("You can only
    register one Application Load Balancer per target group", ``TooManyTargets``); an ALB already
    the target of two target groups ("up to two Network Load Balancers",
    ``TooManyRegistrationsForTargetId``).
* Health (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealthDescription.html):
  an instance target follows its instance — stopped is ``unused`` (moto's rule), running
  ``healthy``; an ``alb`` target is ``healthy`` while its ALB exists and is ``active`` and
  ``unhealthy`` (``Target.FailedHealthChecks``) once it is gone; an ``ip`` target is ``healthy``.
  These are the states of a target that has passed its checks; target_health.py adds, on top,
  ``initial`` and ``draining`` over time and ``unused`` for a group no listener uses or a target
  in an AZ its load balancer does not enable.
* An endpoint service of Gateway Load Balancers has ``ServiceType`` ``GatewayLoadBalancer`` (moto
  says ``Gateway``, the type of S3 / DynamoDB gateway endpoints), and CreateVpcEndpointService
  Configuration refuses a load balancer of the wrong type in ``NetworkLoadBalancerArns`` /
  ``GatewayLoadBalancerArns`` and both lists at once (moto silently keeps one):
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ServiceConfiguration.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ServiceTypeDetail.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpointServiceConfiguration.html

Unverified, so chosen and kept simple: the messages of the RegisterTargets and
CreateVpcEndpointServiceConfiguration refusals (AWS publishes only the codes; ``ValidationError``
where it publishes none), and the health of an ``alb`` target whose ALB was deleted.
"""

from __future__ import annotations

import ipaddress

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone
from moto.ec2.models.subnets import Subnet, SubnetBackend
from moto.ec2.models.vpc_service_configuration import VPCServiceConfigurationBackend
from moto.ec2.responses import EC2Response
from moto.elbv2.exceptions import ELBClientError, TargetGroupNotFoundError, ValidationError
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup, elbv2_backends

ARN_KINDS = {"network": "/net/", "gateway": "/gwy/"}
NLB_PROTOCOLS = {"TCP", "UDP", "TCP_UDP", "TLS"}
# "the RFC 1918 range (10.0.0.0/8, 172.16.0.0/12, and 192.168.0.0/16), and the RFC 6598 range
# (100.64.0.0/10)": where an IP target outside the VPC may be.
PRIVATE_RANGES = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]
ALB_TARGET_GROUPS_PER_ALB = 2


def zone_id_for(account_id: str, region: str, name: str) -> str | None:
    """The AZ ID behind ``name`` in ``account_id``."""
    zones = RegionsAndZonesBackend.zones.get(region, [])
    names = [z.name for z in zones]
    if name not in names:
        return None
    shift = int(account_id) % len(zones) if account_id.isdigit() and account_id != "123456789012" else 0
    return zones[(names.index(name) + shift) % len(zones)].zone_id


def name_for(account_id: str, region: str, zone_id: str) -> str | None:
    for z in RegionsAndZonesBackend.zones.get(region, []):
        if zone_id_for(account_id, region, z.name) == zone_id:
            return z.name
    return None


_describe_zones = RegionsAndZonesBackend.describe_availability_zones
_create_subnet = SubnetBackend.create_subnet
_health_for = FakeTargetGroup.health_for
_create_load_balancer = ELBv2Backend.create_load_balancer
_register_targets = ELBv2Backend.register_targets
_create_service = VPCServiceConfigurationBackend.create_vpc_endpoint_service_configuration
_create_service_response = EC2Response.create_vpc_endpoint_service_configuration


def describe_availability_zones(self, filters=None, zone_names=None, zone_ids=None):
    own = [
        Zone(z.name, z.region_name, zone_id_for(self.account_id, z.region_name, z.name) or z.zone_id, z.zone_type)
        for z in _describe_zones(self)
    ]
    return [
        z for z in own
        if (not zone_ids or z.zone_id in zone_ids) and (not zone_names or z.name in zone_names)
        and all(_matches(z, f) for f in filters or [])
    ]


def _matches(zone: Zone, f: dict) -> bool:
    attr = {"zone-id": "zone_id", "zone-name": "name", "region-name": "region_name", "state": "state",
            "zone-type": "zone_type"}.get(f.get("Name", ""))
    return attr is None or getattr(zone, attr) in f.get("Values", [])


def create_subnet(self, vpc_id, cidr_block, ipv6_cidr_block=None, availability_zone=None,
                  availability_zone_id=None, *args, **kwargs):
    if availability_zone_id and not availability_zone:
        availability_zone = name_for(self.account_id, self.region_name, availability_zone_id)
        if availability_zone:
            availability_zone_id = None
    return _create_subnet(self, vpc_id, cidr_block, ipv6_cidr_block, availability_zone, availability_zone_id,
                          *args, **kwargs)


def subnet_zone_id(self) -> str:
    z = self._availability_zone
    return zone_id_for(self.ec2_backend.account_id, z.region_name, z.name) or z.zone_id


# --- load balancers ----------------------------------------------------------------------------


def create_load_balancer(self, *args, **kwargs):
    lb = _create_load_balancer(self, *args, **kwargs)
    kind = ARN_KINDS.get(lb.type)
    if kind and "/app/" in lb.arn:
        self.load_balancers.pop(lb.arn)
        tags = self.tagging_service.list_tags_for_resource(lb.arn).get("Tags", [])
        lb.arn = lb.arn.replace("/app/", kind)
        self.load_balancers[lb.arn] = lb
        self.tagging_service.tag_resource(lb.arn, tags)
    return lb


# --- targets -----------------------------------------------------------------------------------


def _invalid_target(target_id: str) -> ELBClientError:
    return ELBClientError(
        "InvalidTarget",
        f"The specified target '{target_id}' does not exist, is not in the same VPC as the target group, "
        "or has an unsupported instance type")


def _vpc_subnet_of(backend: ELBv2Backend, vpc_id: str, ip) -> object | None:
    for subnet in backend.ec2_backend.describe_subnets(filters={"vpc-id": [vpc_id]}):
        if ip in ipaddress.ip_network(subnet.cidr_block, strict=False):
            return subnet
    return None


def _check_target(backend: ELBv2Backend, tg: FakeTargetGroup, target: dict, batch: list[dict]) -> None:
    kind = tg.target_type
    target_id = str(target.get("Id") or "")
    zone = target.get("AvailabilityZone")
    if kind in ("instance", "alb") and zone:
        raise ValidationError(
            f"You cannot specify an Availability Zone for target '{target_id}': AvailabilityZone is not "
            f"supported for targets of type '{kind}'")
    if kind == "instance":
        instance = backend.ec2_backend.get_instance_by_id(target_id)
        if instance is None or instance.vpc_id != tg.vpc_id:
            raise _invalid_target(target_id)
    elif kind == "alb":
        lb = backend.load_balancers.get(target_id)
        if lb is None or lb.type != "application" or lb.vpc_id != tg.vpc_id:
            raise _invalid_target(target_id)
        if not any(str(listener.port) == str(tg.port) for listener in lb.listeners.values()):
            raise ValidationError(
                f"The Application Load Balancer '{target_id}' must have a listener on the target group's "
                f"port {tg.port}")
        others = ({t["Id"] for t in tg.targets.values()} | {str(t.get("Id")) for t in batch}) - {target_id}
        if others:
            raise ELBClientError("TooManyTargets",
                                     "You can only register one Application Load Balancer per target group")
        groups = [g for g in backend.target_groups.values()
                  if g is not tg and g.target_type == "alb" and target_id in g.targets]
        if len(groups) >= ALB_TARGET_GROUPS_PER_ALB:
            raise ELBClientError(
                "TooManyRegistrationsForTargetId",
                f"The Application Load Balancer '{target_id}' is already the target of "
                f"{ALB_TARGET_GROUPS_PER_ALB} target groups")
    elif kind == "ip":
        try:
            ip = ipaddress.ip_address(target_id)
        except ValueError:
            raise ValidationError(f"The IP address '{target_id}' is not a valid IP address") from None
        region_zones = {z.name for z in RegionsAndZonesBackend.zones.get(backend.region_name, [])}
        if zone and zone != "all" and zone not in region_zones:
            raise ValidationError(f"The Availability Zone '{zone}' is not valid")
        if _vpc_subnet_of(backend, tg.vpc_id, ip) is None:
            if not any(ip in net for net in PRIVATE_RANGES if net.version == ip.version):
                raise ELBClientError(
                    "InvalidTarget", f"The IP address '{target_id}' is publicly routable: IP targets outside "
                    "the VPC must be in 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10")
            if not zone:
                raise ValidationError(
                    f"An Availability Zone must be specified for the IP address '{target_id}', which is outside "
                    "the VPC of the target group")
            if zone != "all" and (tg.protocol or "").upper() in NLB_PROTOCOLS:
                raise ValidationError(
                    f"The Availability Zone for the IP address '{target_id}' must be 'all' when it is not "
                    "within the VPC of the target group")


def register_targets(self, target_group_arn: str, instances: list) -> None:
    tg = self.target_groups.get(target_group_arn)
    if tg is None:
        raise TargetGroupNotFoundError()
    for target in instances:
        _check_target(self, tg, target, instances)
    _register_targets(self, target_group_arn, instances)
    if tg.target_type == "ip":
        for target in instances:
            registered = tg.targets.get(target["Id"])
            if registered is not None and target.get("AvailabilityZone"):
                registered["AvailabilityZone"] = target["AvailabilityZone"]


def health_for(self, target, ec2_backend):
    registered = self.targets.get(target["Id"])
    if registered is not None and self.target_type == "alb":
        lb = elbv2_backends[self.account_id][self.region_name].load_balancers.get(registered["Id"])
        if lb is not None:
            lb.activate()
        if lb is not None and lb.state == "active":
            status = FakeHealthStatus(registered["Id"], registered["Port"], self.health_check_port, "healthy")
        else:
            status = FakeHealthStatus(registered["Id"], registered["Port"], self.health_check_port, "unhealthy",
                                      "Target.FailedHealthChecks", "Health checks failed")
    else:
        status = _health_for(self, target, ec2_backend)
    status.availability_zone = (registered or {}).get("AvailabilityZone") if self.target_type == "ip" else None
    return status


def health_target(self) -> dict:
    target = {"Id": self.instance_id, "Port": self.port}
    if getattr(self, "availability_zone", None):
        target["AvailabilityZone"] = self.availability_zone
    return target


# --- endpoint services of Gateway Load Balancers -----------------------------------------------


def create_service_response(self):
    network = self._get_param("NetworkLoadBalancerArns", [])
    gateway = self._get_param("GatewayLoadBalancerArns", [])
    if network and gateway:
        raise EC2ClientError("InvalidParameterCombination",
                             "Specify either NetworkLoadBalancerArns or GatewayLoadBalancerArns, not both")
    lbs = elbv2_backends[self.current_account][self.region].load_balancers
    for arns, kind in ((network, "network"), (gateway, "gateway")):
        for arn in arns:
            lb = lbs.get(arn)
            if lb is not None and lb.type != kind:
                raise EC2ClientError("InvalidParameterValue",
                                     f"The load balancer '{arn}' is of type '{lb.type}', not '{kind}'")
    return _create_service_response(self)


def create_service(self, *args, **kwargs):
    config = _create_service(self, *args, **kwargs)
    if config.gateway_load_balancer_arns:
        config._service_type_name = "GatewayLoadBalancer"
    return config


def install() -> None:
    """Patch moto's EC2 and ELBv2 models. Call before the server starts."""
    RegionsAndZonesBackend.describe_availability_zones = describe_availability_zones
    SubnetBackend.create_subnet = create_subnet
    Subnet.availability_zone_id = property(subnet_zone_id)
    FakeTargetGroup.health_for = health_for
    FakeHealthStatus.target = property(health_target)
    ELBv2Backend.create_load_balancer = create_load_balancer
    ELBv2Backend.register_targets = register_targets
    VPCServiceConfigurationBackend.create_vpc_endpoint_service_configuration = create_service
    EC2Response.create_vpc_endpoint_service_configuration = create_service_response
