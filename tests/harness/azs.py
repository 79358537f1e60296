"""A provider's NLB-backed endpoint service with instance targets in two AZs, and a consumer
account whose AZ names map to other AZ IDs: the world of the availability-zone auditor."""

from __future__ import annotations

from dataclasses import dataclass

from .emulator import PROVIDER, REGION, Emulator
from .scenario import alerts, create_table, topic_with_queue

CONSUMER = "111111111111"
FUNCTION = "audit-availability-zones"
AMI = "ami-12c6146b"


@dataclass
class Provider:
    emu: Emulator
    vpc: str
    subnets: dict[str, str]  # AZ name (provider's) -> subnet
    instances: dict[str, list[str]]  # AZ name -> instance ids
    nlb: str
    target_group: str
    service_id: str
    service_name: str
    alert_queue: str
    env: dict[str, str]

    def zone_ids(self, account: str) -> dict[str, str]:
        zones = self.emu.client("ec2", account).describe_availability_zones()["AvailabilityZones"]
        return {z["ZoneName"]: z["ZoneId"] for z in zones}

    def stop(self, az: str) -> None:
        self.emu.client("ec2").stop_instances(InstanceIds=self.instances[az])

    def add_targets(self, az: str, count: int = 1) -> None:
        ec2 = self.emu.client("ec2")
        new = [i["InstanceId"] for i in ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, SubnetId=self.subnets[az])["Instances"]]
        self.instances[az] += new
        self.emu.client("elbv2").register_targets(TargetGroupArn=self.target_group, Targets=[{"Id": i} for i in new])

    def target_group_cross_zone(self, value: str) -> None:
        self.emu.client("elbv2").modify_target_group_attributes(
            TargetGroupArn=self.target_group, Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": value}])

    def consumer_endpoint(self, account: str, subnet_azs: list[str], endpoint_azs: list[str], by_id: bool = False) -> str:
        """A consumer VPC with subnets in ``subnet_azs`` (names in the consumer's account, or AZ IDs
        with ``by_id``) and an endpoint in the first subnets of ``endpoint_azs``."""
        ec2 = self.emu.client("ec2", account)
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnets = {}
        for i, az in enumerate(subnet_azs):
            where = {"AvailabilityZoneId": az} if by_id else {"AvailabilityZone": az}
            subnets[az] = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", **where)["Subnet"]["SubnetId"]
        return ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=self.service_name, VpcEndpointType="Interface",
                                       SubnetIds=[subnets[az] for az in endpoint_azs])["VpcEndpoint"]["VpcEndpointId"]

    def alerts(self) -> list[dict]:
        return alerts(self.emu, self.alert_queue)


def build(emu: Emulator, azs: tuple[str, ...] = ("us-east-1a", "us-east-1b"), per_az: int = 1) -> Provider:
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs)}
    nlb = elb.create_load_balancer(Name="orders", Subnets=list(subnets.values()), Type="network", Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="orders", Protocol="TCP", Port=80, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    service = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False)["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"], AddAllowedPrincipals=["*"])
    topic, queue = topic_with_queue(emu, "privatelink-alerts")
    env = {**emu.function_env(), "ALERT_TOPIC_ARN": topic, "FINDINGS_TABLE": create_table(emu, "privatelink-findings"),
           "HOME_ACCOUNT_ID": PROVIDER, "CONSUMER_ROLE_NAME": "privatelink-autopilot-reader"}
    p = Provider(emu, vpc, subnets, {az: [] for az in azs}, nlb, tg, service["ServiceId"], service["ServiceName"], queue, env)
    for az in azs:
        p.add_targets(az, per_az)
    return p
