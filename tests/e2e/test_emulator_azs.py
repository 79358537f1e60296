"""The emulator's availability-zone, target and paging extensions (tests/emulator/availability_zones.py,
tests/emulator/paging.py, cross-region in tests/emulator/privatelink.py) answer as AWS documents."""

import pytest
from botocore.exceptions import ClientError

from harness import azs
from harness.emulator import PROVIDER, REGION

CONSUMER = "111111111111"
OTHER_REGION = "us-west-2"


def zone_map(emu, account):
    zones = emu.client("ec2", account).describe_availability_zones()["AvailabilityZones"]
    return {z["ZoneName"]: z["ZoneId"] for z in zones}


def refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]


def everything(client, operation: str, key: str, **kwargs) -> list:
    items = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items += page[key]
    return items


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


def test_instance_targets_have_no_az_in_their_health_and_arns_say_their_type(emu):
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for az, cidr in (("us-east-1a", "10.0.1.0/24"), ("us-east-1b", "10.0.2.0/24"))}
    nlb = elb.create_load_balancer(Name="orders", Subnets=list(subnets.values()), Type="network")["LoadBalancers"][0]
    assert ":loadbalancer/net/orders/" in nlb["LoadBalancerArn"]
    assert elb.describe_load_balancers(LoadBalancerArns=[nlb["LoadBalancerArn"]])["LoadBalancers"][0]["Type"] == "network"
    alb = elb.create_load_balancer(Name="web", Subnets=list(subnets.values()))["LoadBalancers"][0]
    assert ":loadbalancer/app/web/" in alb["LoadBalancerArn"]
    gwlb = elb.create_load_balancer(Name="inspect", Subnets=list(subnets.values()), Type="gateway")["LoadBalancers"][0]
    assert ":loadbalancer/gwy/inspect/" in gwlb["LoadBalancerArn"]
    tg = elb.create_target_group(Name="orders", Protocol="TCP", Port=80, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    instances = {az: ec2.run_instances(ImageId=azs.AMI, MinCount=1, MaxCount=1, SubnetId=s)["Instances"][0]["InstanceId"]
                 for az, s in subnets.items()}
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in instances.values()])
    elb.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])  # else its targets are unused
    ec2.stop_instances(InstanceIds=[instances["us-east-1b"]])
    descriptions = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    # "This parameter is not supported if the target type of the target group is instance or alb."
    assert all("AvailabilityZone" not in d["Target"] for d in descriptions)
    health = {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in descriptions}
    assert health == {instances["us-east-1a"]: "healthy", instances["us-east-1b"]: "unused"}
    # The AZ is the instance's placement, from DescribeInstances.
    placed = {i["InstanceId"]: i["Placement"]["AvailabilityZone"]
              for r in ec2.describe_instances(InstanceIds=list(instances.values()))["Reservations"] for i in r["Instances"]}
    assert placed == {i: az for az, i in instances.items()}
    # RegisterTargets refuses an AZ for an instance, and an instance that is not there.
    assert refused(elb.register_targets, TargetGroupArn=tg,
                   Targets=[{"Id": instances["us-east-1a"], "AvailabilityZone": "us-east-1a"}])["Code"] == "ValidationError"
    assert refused(elb.register_targets, TargetGroupArn=tg, Targets=[{"Id": "i-0123456789abcdef0"}])["Code"] == "InvalidTarget"
    other_vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.7.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    stranger = ec2.run_instances(ImageId=azs.AMI, MinCount=1, MaxCount=1, SubnetId=elsewhere)["Instances"][0]["InstanceId"]
    assert refused(elb.register_targets, TargetGroupArn=tg, Targets=[{"Id": stranger}])["Code"] == "InvalidTarget"


def test_an_nlb_forwards_to_an_alb_target(emu):
    elb = emu.client("elbv2")
    world = azs.alb_behind_nlb(emu, alb_azs=("us-east-1a", "us-east-1b"), nlb_azs=("us-east-1a", "us-east-1b", "us-east-1c"))
    [group] = elb.describe_target_groups(LoadBalancerArn=world.nlb)["TargetGroups"]
    assert (group["TargetType"], group["TargetGroupArn"]) == ("alb", world.target_group)
    [d] = elb.describe_target_health(TargetGroupArn=world.target_group)["TargetHealthDescriptions"]
    assert d["Target"] == {"Id": world.alb, "Port": 80}, "no AvailabilityZone for an alb target"
    assert d["TargetHealth"]["State"] == "healthy"
    # The AZs it serves are the ALB's, from DescribeLoadBalancers.
    [alb] = elb.describe_load_balancers(LoadBalancerArns=[world.alb])["LoadBalancers"]
    assert sorted(z["ZoneName"] for z in alb["AvailabilityZones"]) == ["us-east-1a", "us-east-1b"]
    # Refusals: an AZ; a second ALB in the group; a load balancer that is not an ALB; an ALB
    # without a listener on the group's port; a third target group for one ALB.
    assert refused(elb.register_targets, TargetGroupArn=world.target_group,
                   Targets=[{"Id": world.alb, "AvailabilityZone": "us-east-1a"}])["Code"] == "ValidationError"
    subnets = list(world.subnets.values())
    second = elb.create_load_balancer(Name="second", Subnets=subnets, Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=second, Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
    assert refused(elb.register_targets, TargetGroupArn=world.target_group, Targets=[{"Id": second}])["Code"] == "TooManyTargets"
    to_alb = lambda name, port=80: elb.create_target_group(  # noqa: E731
        Name=name, Protocol="TCP", Port=port, VpcId=world.vpc, TargetType="alb")["TargetGroups"][0]["TargetGroupArn"]
    assert refused(elb.register_targets, TargetGroupArn=to_alb("to-nlb"), Targets=[{"Id": world.nlb}])["Code"] == "InvalidTarget"
    assert refused(elb.register_targets, TargetGroupArn=to_alb("wrong-port", 8080), Targets=[{"Id": world.alb}])["Code"] == "ValidationError"
    elb.register_targets(TargetGroupArn=to_alb("twice"), Targets=[{"Id": world.alb}])
    assert refused(elb.register_targets, TargetGroupArn=to_alb("thrice"),
                   Targets=[{"Id": world.alb}])["Code"] == "TooManyRegistrationsForTargetId"
    # A deleted ALB fails its health checks.
    elb.delete_load_balancer(LoadBalancerArn=world.alb)
    [d] = elb.describe_target_health(TargetGroupArn=world.target_group)["TargetHealthDescriptions"]
    assert (d["TargetHealth"]["State"], d["TargetHealth"]["Reason"]) == ("unhealthy", "Target.FailedHealthChecks")


def test_ip_targets_report_the_az_they_were_given_or_all(emu):
    elb = emu.client("elbv2")
    world = azs.ip_target_group(emu, outside=("192.168.10.5", "100.64.0.9"))
    targets = {d["Target"]["Id"]: d["Target"].get("AvailabilityZone")
               for d in elb.describe_target_health(TargetGroupArn=world.target_group)["TargetHealthDescriptions"]}
    assert targets == {**{ip: az for az, ip in world.inside.items()}, "192.168.10.5": "all", "100.64.0.9": "all"}
    # Registered without an AZ (in the VPC, AWS detects it): none reported.
    quiet = azs.ip_target_group(emu, outside=(), zone_given=False, name="quiet", cidr="10.6.0.0/16")
    reported = [d["Target"] for d in elb.describe_target_health(TargetGroupArn=quiet.target_group)["TargetHealthDescriptions"]]
    assert sorted(t["Id"] for t in reported) == sorted(quiet.inside.values())
    assert all("AvailabilityZone" not in t for t in reported)
    # Refusals: outside the VPC without an AZ, or with one AZ (an NLB group needs "all");
    # a publicly routable IP; an Id that is not an IP; an AZ the region does not have.
    register = lambda **target: elb.register_targets(TargetGroupArn=world.target_group, Targets=[target])  # noqa: E731
    assert refused(register, Id="192.168.10.6")["Code"] == "ValidationError"
    assert refused(register, Id="192.168.10.6", AvailabilityZone="us-east-1a")["Code"] == "ValidationError"
    assert refused(register, Id="8.8.8.8", AvailabilityZone="all")["Code"] == "InvalidTarget"
    assert refused(register, Id="i-0123456789abcdef0")["Code"] == "ValidationError"
    assert refused(register, Id=world.inside["us-east-1a"], AvailabilityZone="eu-west-1a")["Code"] == "ValidationError"
    # "all" is for ip targets only.
    instance_tg = elb.create_target_group(Name="instances", Protocol="TCP", Port=80, VpcId=world.vpc,
                                          TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    instance = emu.client("ec2").run_instances(ImageId=azs.AMI, MinCount=1, MaxCount=1,
                                               SubnetId=world.subnets["us-east-1a"])["Instances"][0]["InstanceId"]
    assert refused(elb.register_targets, TargetGroupArn=instance_tg,
                   Targets=[{"Id": instance, "AvailabilityZone": "all"}])["Code"] == "ValidationError"


def test_describe_load_balancers_takes_20_arns_and_pages_with_markers(emu):
    elb = emu.client("elbv2", validate=False)
    services = azs.services_with_nlbs(emu, 21)
    arns = [nlb for nlb, _ in services]
    error = refused(elb.describe_load_balancers, LoadBalancerArns=arns)
    assert error == {"Type": "Sender", "Code": "ValidationError",
                     "Message": "Up to 20 load balancers can be described at a time, but 21 were specified"}
    assert refused(elb.describe_load_balancers, Names=[f"svc-{n}" for n in range(21)])["Code"] == "ValidationError"
    assert len(elb.describe_load_balancers(LoadBalancerArns=arns[:20])["LoadBalancers"]) == 20
    # PageSize 1-400, Marker / NextMarker.
    first = elb.describe_load_balancers(PageSize=5)
    assert len(first["LoadBalancers"]) == 5 and first["NextMarker"]
    second = elb.describe_load_balancers(PageSize=5, Marker=first["NextMarker"])
    assert {lb["LoadBalancerArn"] for lb in second["LoadBalancers"]}.isdisjoint(lb["LoadBalancerArn"] for lb in first["LoadBalancers"])
    assert sorted(lb["LoadBalancerArn"] for lb in everything(elb, "describe_load_balancers", "LoadBalancers",
                                                             PaginationConfig={"PageSize": 4})) == sorted(arns)
    assert "NextMarker" not in elb.describe_load_balancers(LoadBalancerArns=arns[:20])
    for size in (0, 401):
        assert refused(elb.describe_load_balancers, PageSize=size)["Code"] == "ValidationError"
    assert refused(elb.describe_load_balancers, Marker="not-a-marker")["Code"] == "ValidationError"
    # DescribeTargetGroups pages the same way.
    page = elb.describe_target_groups(PageSize=4)
    assert len(page["TargetGroups"]) == 4 and page["NextMarker"]
    assert len(everything(elb, "describe_target_groups", "TargetGroups", PaginationConfig={"PageSize": 4})) == 21
    assert refused(elb.describe_target_groups, PageSize=401)["Code"] == "ValidationError"


def test_ec2_max_results_ranges_follow_each_api(emu):
    p = azs.build(emu)
    p.consumer_endpoint(CONSUMER, ["us-east-1a"], ["us-east-1a"])
    ec2 = emu.client("ec2", validate=False)
    consumer = emu.client("ec2", CONSUMER, validate=False)
    code = lambda call, **kw: refused(call, **kw)["Code"]  # noqa: E731
    # DescribeSubnets: 5-1000.
    assert code(ec2.describe_subnets, MaxResults=4) == "InvalidParameterValue"
    assert code(ec2.describe_subnets, MaxResults=1001) == "InvalidParameterValue"
    assert len(ec2.describe_subnets(MaxResults=5)["Subnets"]) == 5
    # DescribeInstances: at least 5, not with instance ids; more than 1000 is answered with 1000.
    error = refused(ec2.describe_instances, MaxResults=3)
    assert error["Message"] == "Value ( 3 ) for parameter maxResults is invalid. Expecting a value greater than 5."
    assert code(ec2.describe_instances, MaxResults=5, InstanceIds=p.instances["us-east-1a"]) == "InvalidParameterCombination"
    assert len(ec2.describe_instances(MaxResults=2000)["Reservations"]) == 2
    # Endpoint services and connections: 5-1000, larger answered with 1000; endpoints: at most 1000.
    assert code(ec2.describe_vpc_endpoint_service_configurations, MaxResults=4) == "InvalidParameterValue"
    assert len(ec2.describe_vpc_endpoint_service_configurations(MaxResults=2000)["ServiceConfigurations"]) == 1
    assert code(ec2.describe_vpc_endpoint_connections, MaxResults=4) == "InvalidParameterValue"
    assert len(ec2.describe_vpc_endpoint_connections(MaxResults=2000)["VpcEndpointConnections"]) == 1
    assert len(consumer.describe_vpc_endpoints(MaxResults=2000)["VpcEndpoints"]) == 1
    assert code(ec2.describe_subnets, NextToken="not-a-token") == "InvalidPaginationToken"


def test_page_size_setting_caps_every_page(emu):
    p = azs.build(emu)
    more = azs.services_with_nlbs(emu, 2)
    for n in range(3):
        p.consumer_endpoint(CONSUMER, ["us-east-1a"], ["us-east-1a"])
    ec2, elb, consumer = emu.client("ec2"), emu.client("elbv2"), emu.client("ec2", CONSUMER)
    calls = [  # (client, operation, result key, token key, kwargs, how many in all)
        (elb, "describe_load_balancers", "LoadBalancers", "NextMarker", {"PageSize": 400}, 3),
        (elb, "describe_target_groups", "TargetGroups", "NextMarker", {}, 3),
        (ec2, "describe_vpc_endpoint_service_configurations", "ServiceConfigurations", "NextToken", {"MaxResults": 1000}, 3),
        (consumer, "describe_vpc_endpoints", "VpcEndpoints", "NextToken", {}, 3),
        (ec2, "describe_subnets", "Subnets", "NextToken", {"Filters": [{"Name": "vpc-id", "Values": [p.vpc]}]}, 2),
        (ec2, "describe_instances", "Reservations", "NextToken", {}, 4),
        (ec2, "describe_vpc_endpoint_connections", "VpcEndpointConnections", "NextToken", {"MaxResults": 5}, 3),
    ]
    assert emu.settings(page_size=1)["page_size"] == 1
    for client, operation, key, token, kwargs, total in calls:
        page = getattr(client, operation)(**kwargs)
        assert len(page[key]) == 1 and page[token], f"{operation}: a caller without a paginator misses items"
        assert len(everything(client, operation, key, **kwargs)) == total, operation
    # ids do not escape it either.
    nlbs = [p.nlb] + [nlb for nlb, _ in more]
    assert len(elb.describe_load_balancers(LoadBalancerArns=nlbs)["LoadBalancers"]) == 1
    # Back to AWS's own pages.
    assert emu.settings(page_size=None)["page_size"] is None
    for client, operation, key, token, kwargs, total in calls:
        page = getattr(client, operation)(**kwargs)
        assert len(page[key]) == total and token not in page, operation
    with pytest.raises(Exception, match="page_size"):
        emu.settings(page_size=0)


def test_describe_subnets_honours_the_vpc_id_filter_across_pages(emu):
    ec2 = emu.client("ec2")
    vpcs = []
    for n in (1, 2):
        vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
        for i, az in enumerate(("us-east-1a", "us-east-1b", "us-east-1c")):
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.{i}.0/24", AvailabilityZone=az)
        vpcs.append(vpc)
    emu.settings(page_size=2)
    mine = everything(ec2, "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpcs[0]]}])
    assert len(mine) == 3 and {s["VpcId"] for s in mine} == {vpcs[0]}
    assert sorted(s["AvailabilityZone"] for s in mine) == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_gateway_load_balancer_endpoint_service(emu):
    ec2 = emu.client("ec2")
    world = azs.gwlb_service(emu)
    [config] = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[world.service_id])["ServiceConfigurations"]
    assert config["GatewayLoadBalancerArns"] == [world.gwlb]
    assert config.get("NetworkLoadBalancerArns", []) == []
    assert config["ServiceType"] == [{"ServiceType": "GatewayLoadBalancer"}]
    assert sorted(config["AvailabilityZones"]) == ["us-east-1a", "us-east-1b"]
    # A load balancer in the wrong list, or both lists at once, is refused.
    nlb = azs.services_with_nlbs(emu, 1)[0][0]
    assert refused(ec2.create_vpc_endpoint_service_configuration, NetworkLoadBalancerArns=[world.gwlb])["Code"] == "InvalidParameterValue"
    assert refused(ec2.create_vpc_endpoint_service_configuration, GatewayLoadBalancerArns=[nlb])["Code"] == "InvalidParameterValue"
    assert refused(ec2.create_vpc_endpoint_service_configuration, NetworkLoadBalancerArns=[nlb],
                   GatewayLoadBalancerArns=[world.gwlb])["Code"] == "InvalidParameterCombination"
    # DescribeVpcEndpointServiceConfigurations filters (moto ignored them).
    by = lambda name, value: [c["ServiceId"] for c in ec2.describe_vpc_endpoint_service_configurations(  # noqa: E731
        Filters=[{"Name": name, "Values": [value]}])["ServiceConfigurations"]]
    assert by("service-name", world.service_name) == [world.service_id]
    assert by("service-id", world.service_id) == [world.service_id]
    assert len(by("service-state", "Available")) == 2
    assert by("service-id", "vpce-svc-0ffffffff") == []
    assert refused(ec2.describe_vpc_endpoint_service_configurations,
                   Filters=[{"Name": "colour", "Values": ["blue"]}])["Code"] == "InvalidParameterValue"


def test_a_consumer_connects_across_regions(emu):
    p = azs.build(emu)
    remote = emu.client("ec2", CONSUMER, region=OTHER_REGION)
    vpc = remote.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = remote.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24", AvailabilityZone=f"{OTHER_REGION}a")["Subnet"]["SubnetId"]
    create = lambda **kw: remote.create_vpc_endpoint(VpcId=vpc, ServiceName=p.service_name, SubnetIds=[subnet], **kw)  # noqa: E731
    # Not before the provider enables the region; never without ServiceRegion; interface only.
    assert refused(create, VpcEndpointType="Interface", ServiceRegion=REGION)["Code"] == "InvalidServiceName"
    assert refused(create, VpcEndpointType="Interface")["Code"] == "InvalidServiceName"
    endpoint = p.cross_region_endpoint(CONSUMER, OTHER_REGION)
    assert refused(create, VpcEndpointType="GatewayLoadBalancer", ServiceRegion=REGION)["Code"] == "InvalidParameter"
    [mine] = remote.describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"]
    assert (mine["ServiceName"], mine["ServiceRegion"], mine["State"]) == (p.service_name, REGION, "available")
    [config] = emu.client("ec2").describe_vpc_endpoint_service_configurations(ServiceIds=[p.service_id])["ServiceConfigurations"]
    assert [r["Region"] for r in config["SupportedRegions"]] == [OTHER_REGION]
    [connection] = emu.client("ec2").describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [p.service_id]}])["VpcEndpointConnections"]
    assert (connection["VpcEndpointId"], connection["VpcEndpointOwner"], connection["VpcEndpointRegion"]) == (
        endpoint, CONSUMER, OTHER_REGION)
    # The provider's region has no such endpoint; the consumer's deletion ends the connection.
    assert emu.client("ec2", CONSUMER).describe_vpc_endpoints()["VpcEndpoints"] == []
    remote.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    assert emu.client("ec2").describe_vpc_endpoint_connections()["VpcEndpointConnections"] == []
