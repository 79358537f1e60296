"""Availability zones and NLB targets as AWS has them, where moto simplifies.

* AZ names map to different AZ IDs in each account ("AZ IDs for your resources",
  https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html). moto uses one map
  for every account; here each account's names are rotated over the region's AZ IDs by a fixed
  function of the account id (123456789012 keeps moto's map), in DescribeAvailabilityZones and in
  subnets' ``AvailabilityZoneId`` alike, and CreateSubnet's ``AvailabilityZoneId`` is read with
  the caller's map.
* NLB ARNs carry ``/net/`` (``loadbalancer/net/<name>/<id>``), not ``/app/``
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html).
* DescribeTargetHealth reports each instance target's ``AvailabilityZone`` (the instance's, as
  the NLB owner names it), and a target's health follows its instance: a stopped instance is
  ``unused`` (moto's own rule), a running one ``healthy``
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealthDescription.html).
"""

from __future__ import annotations

from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone
from moto.ec2.models.subnets import Subnet, SubnetBackend
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup


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


def health_for(self, target, ec2_backend):
    status = _health_for(self, target, ec2_backend)
    if target["Id"].startswith("i-"):
        instance = ec2_backend.get_instance_by_id(target["Id"])
        if instance is not None:
            status.availability_zone = instance._placement.zone
    return status


def health_target(self) -> dict:
    target = {"Id": self.instance_id, "Port": self.port}
    if getattr(self, "availability_zone", None):
        target["AvailabilityZone"] = self.availability_zone
    return target


def create_load_balancer(self, *args, **kwargs):
    lb = _create_load_balancer(self, *args, **kwargs)
    if lb.type == "network" and "/app/" in lb.arn:
        self.load_balancers.pop(lb.arn)
        tags = self.tagging_service.list_tags_for_resource(lb.arn).get("Tags", [])
        lb.arn = lb.arn.replace("/app/", "/net/")
        self.load_balancers[lb.arn] = lb
        self.tagging_service.tag_resource(lb.arn, tags)
    return lb


def install() -> None:
    """Patch moto's EC2 and ELBv2 models. Call before the server starts."""
    RegionsAndZonesBackend.describe_availability_zones = describe_availability_zones
    SubnetBackend.create_subnet = create_subnet
    Subnet.availability_zone_id = property(subnet_zone_id)
    FakeTargetGroup.health_for = health_for
    FakeHealthStatus.target = property(health_target)
    ELBv2Backend.create_load_balancer = create_load_balancer
