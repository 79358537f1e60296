"""The emulator's availability-zone and NLB target extension (tests/emulator/availability_zones.py)."""

from harness.emulator import PROVIDER, REGION

CONSUMER = "111111111111"


def zone_map(emu, account):
    zones = emu.client("ec2", account).describe_availability_zones()["AvailabilityZones"]
    return {z["ZoneName"]: z["ZoneId"] for z in zones}


def test_each_account_has_its_own_name_to_id_map(emu):
    provider, consumer = zone_map(emu, PROVIDER), zone_map(emu, CONSUMER)
    assert sorted(provider) == sorted(consumer)
    assert sorted(provider.values()) == sorted(consumer.values()), "the same physical zones"
    assert provider["us-east-1a"] != consumer["us-east-1a"]
    # Subnets agree with their account's map, by name and by id.
    ec2 = emu.client("ec2", CONSUMER)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    by_name = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    assert by_name["AvailabilityZoneId"] == consumer["us-east-1a"]
    by_id = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZoneId=provider["us-east-1a"])["Subnet"]
    assert by_id["AvailabilityZoneId"] == provider["us-east-1a"]
    assert consumer[by_id["AvailabilityZone"]] == provider["us-east-1a"]
    [only] = ec2.describe_availability_zones(ZoneIds=[provider["us-east-1a"]])["AvailabilityZones"]
    assert only["ZoneName"] == by_id["AvailabilityZone"]


def test_nlb_arns_say_net_and_targets_report_their_az_and_health(emu):
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for az, cidr in (("us-east-1a", "10.0.1.0/24"), ("us-east-1b", "10.0.2.0/24"))}
    nlb = elb.create_load_balancer(Name="orders", Subnets=list(subnets.values()), Type="network")["LoadBalancers"][0]
    assert ":loadbalancer/net/orders/" in nlb["LoadBalancerArn"]
    assert elb.describe_load_balancers(LoadBalancerArns=[nlb["LoadBalancerArn"]])["LoadBalancers"][0]["Type"] == "network"
    alb = elb.create_load_balancer(Name="web", Subnets=list(subnets.values()))["LoadBalancers"][0]
    assert ":loadbalancer/app/web/" in alb["LoadBalancerArn"]
    tg = elb.create_target_group(Name="orders", Protocol="TCP", Port=80, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    instances = {az: ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=s)["Instances"][0]["InstanceId"]
                 for az, s in subnets.items()}
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in instances.values()])
    ec2.stop_instances(InstanceIds=[instances["us-east-1b"]])
    health = {d["Target"]["Id"]: (d["Target"]["AvailabilityZone"], d["TargetHealth"]["State"])
              for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
    assert health == {instances["us-east-1a"]: ("us-east-1a", "healthy"), instances["us-east-1b"]: ("us-east-1b", "unused")}
