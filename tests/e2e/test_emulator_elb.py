"""The emulator's ELB extensions — request throttling (tests/emulator/elb_throttling.py), target
health over time (tests/emulator/target_health.py) and the describe calls' pages
(tests/emulator/paging.py) — read back through boto3 as a client of AWS would."""

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import azs
from harness.emulator import PROVIDER, REGION, EmulatorError

OTHER = "222222222222"


def once(emu, service: str, account: str = PROVIDER, region: str = REGION):
    """A client that does not retry (every error reaches the test) and, like the AWS SDK for
    Rust, leaves ranges to the service."""
    key, secret, token = emu._credentials.get(account) or emu.credentials(account)
    return boto3.client(service, endpoint_url=emu.url, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False))


def outcome(call, **kwargs) -> str:
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return "ok"


def refusal(call, tries: int = 5, **kwargs) -> tuple[dict, int]:
    """The first throttling refusal of ``call`` (made up to ``tries`` times): (Error, HTTP status)."""
    for _ in range(tries):
        try:
            call(**kwargs)
        except ClientError as e:
            if e.response["Error"]["Code"] in ("Throttling", "RequestLimitExceeded"):
                return e.response["Error"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"never throttled in {tries} calls")


def until_throttled(call, limit: int = 300, **kwargs) -> list[str]:
    codes: list[str] = []
    while len(codes) < limit and (not codes or codes[-1] != "Throttling"):
        codes.append(outcome(call, **kwargs))
    return codes


# --- 1. request throttling ----------------------------------------------------------------------


def test_describe_calls_share_one_bucket_of_40_refilled_10_a_second(emu):
    elb = once(emu, "elbv2")
    assert [outcome(elb.describe_target_groups) for _ in range(60)] == ["ok"] * 60  # off by default
    emu.reset_calls()
    emu.settings(elb_rate=True)
    started = time.monotonic()
    burst = [outcome(elb.describe_target_groups) for _ in range(60)]
    elapsed = time.monotonic() - started
    assert burst[:40] == ["ok"] * 40, burst
    passed = burst.count("ok")
    assert passed <= 40 + 10 * elapsed + 1, (passed, elapsed)
    assert set(burst) == {"ok", "Throttling"} and burst[-1] == "Throttling"
    # Every Describe* draws from the same bucket (empty now, but for what a few milliseconds add).
    assert len(until_throttled(elb.describe_load_balancers)) <= 2
    error, status = refusal(elb.describe_target_health,
                            TargetGroupArn="arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1")
    assert (error["Code"], error["Message"], error["Type"], status) == ("Throttling", "Rate exceeded", "Sender", 400)
    # The buckets are per account and per region; ELB API version 1 (Classic) has its own.
    assert [outcome(once(emu, "elbv2", OTHER).describe_target_groups) for _ in range(40)] == ["ok"] * 40
    assert [outcome(once(emu, "elbv2", region="us-west-2").describe_target_groups) for _ in range(40)] == ["ok"] * 40
    assert [outcome(once(emu, "elb").describe_load_balancers) for _ in range(40)] == ["ok"] * 40
    # Tokens come back at 10 a second.
    time.sleep(0.35)
    assert outcome(elb.describe_target_groups) == "ok"
    # The call accounting counts the refusals apart.
    calls = emu.calls()
    assert calls["elasticloadbalancing:DescribeTargetGroups"]["throttled"] == 60 - passed
    assert calls["elasticloadbalancing:DescribeTargetGroups"]["count"] == 60 + 40 + 40 + 1
    assert calls["elasticloadbalancing:DescribeLoadBalancers"]["throttled"] == 1
    assert calls["elasticloadbalancing:DescribeTargetHealth"]["throttled"] >= 1
    assert all(entry["faulted"] == 0 for entry in calls.values())


def test_registration_has_its_own_bucket_and_every_action_draws_on_the_account_bucket(emu):
    world = azs.ip_target_group(emu, outside=())
    elb = once(emu, "elbv2")
    target = {"Id": world.inside["us-east-1a"], "AvailabilityZone": "us-east-1a"}
    emu.settings(elb_rate=True)
    started = time.monotonic()
    # RegisterTargets / DeregisterTargets: 20 at once, then 4 a second.
    registrations = until_throttled(elb.register_targets, TargetGroupArn=world.target_group, Targets=[target])
    registered = len(registrations) - 1
    assert registrations[-1] == "Throttling" and set(registrations[:-1]) == {"ok"}
    assert 20 <= registered <= 20 + 4 * (time.monotonic() - started) + 1, registered
    assert outcome(elb.deregister_targets, TargetGroupArn=world.target_group, Targets=[target]) == "Throttling"
    # The Describe* bucket is still full, but the account's bucket (40, 10 a second) has only
    # what the registrations left.
    describes = until_throttled(elb.describe_target_health, TargetGroupArn=world.target_group)
    drawn = registered + len(describes) - 1
    assert describes[-1] == "Throttling"
    assert 39 <= drawn <= 40 + 10 * (time.monotonic() - started) + 1, (registered, len(describes))


def test_elb_rate_as_a_number_is_one_bucket_and_a_change_refills_it(emu):
    for wrong in (0, -1, "fast", [5]):
        with pytest.raises(EmulatorError):
            emu.settings(elb_rate=wrong)
    elb = once(emu, "elbv2")
    emu.settings(elb_rate=5)
    started = time.monotonic()
    calls = [outcome(elb.describe_load_balancers), outcome(elb.describe_target_groups),
             outcome(elb.describe_account_limits)]
    calls += until_throttled(elb.describe_load_balancers)
    assert calls[:5] == ["ok"] * 5 and calls[-1] == "Throttling"
    assert len(calls) - 1 <= 5 + 5 * (time.monotonic() - started) + 1
    emu.settings(elb_rate=True)  # a change starts every bucket full
    assert [outcome(elb.describe_load_balancers) for _ in range(40)] == ["ok"] * 40
    emu.settings(elb_rate=None)
    assert [outcome(elb.describe_load_balancers) for _ in range(60)] == ["ok"] * 60


# --- 3. target health -----------------------------------------------------------------------------


def nlb_with_instances(emu, nlb_azs=("us-east-1a", "us-east-1b"), instance_azs=("us-east-1a",), listener=True,
                       **group):
    """An NLB in ``nlb_azs``, a TCP instance target group (``group``: its health check settings)
    forwarded to by a listener (unless ``listener`` is false), and a running instance in each of
    ``instance_azs`` (in the VPC's subnet of that AZ), not yet registered."""
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    every = list(dict.fromkeys(nlb_azs + instance_azs))
    subnets = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(every)}
    nlb = elb.create_load_balancer(Name="orders", Subnets=[subnets[az] for az in nlb_azs], Type="network",
                                   Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="orders", Protocol="TCP", Port=80, VpcId=vpc, TargetType="instance",
                                 **group)["TargetGroups"][0]["TargetGroupArn"]
    if listener:
        elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    instances = [ec2.run_instances(ImageId=azs.AMI, MinCount=1, MaxCount=1, SubnetId=subnets[az])["Instances"][0]["InstanceId"]
                 for az in instance_azs]
    return nlb, tg, instances, subnets


def health(emu, tg: str, **kwargs) -> dict[str, tuple]:
    """{target id: (state, reason, description)} from DescribeTargetHealth."""
    descriptions = emu.client("elbv2").describe_target_health(TargetGroupArn=tg, **kwargs)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"),
                                d["TargetHealth"].get("Description")) for d in descriptions}


def wait_for(emu, tg: str, target: str, state: str, timeout: float = 5.0, **kwargs) -> tuple[float, list]:
    """Poll DescribeTargetHealth until ``target`` is in ``state`` (or gone, for ``state=None``):
    (when, the states seen before)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = health(emu, tg, **kwargs).get(target)
        if (now[0] if now else None) == state:
            return time.monotonic(), seen
        seen.append(now)
        time.sleep(0.05)
    raise AssertionError(f"{target} never became {state}; seen {seen[-3:]}")


def test_a_registered_target_is_initial_for_interval_times_healthy_threshold(emu):
    emu.settings(target_health_scale=0.005)  # the defaults' 30 s × 5 = 150 s become 0.75 s
    _, tg, [instance], _ = nlb_with_instances(emu)
    [group] = emu.client("elbv2").describe_target_groups(TargetGroupArns=[tg])["TargetGroups"]
    assert (group["HealthCheckIntervalSeconds"], group["HealthyThresholdCount"]) == (30, 5)  # the NLB defaults
    registered = time.monotonic()
    emu.client("elbv2").register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert health(emu, tg)[instance] == ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
    healthy_at, seen = wait_for(emu, tg, instance, "healthy")
    assert healthy_at - registered >= 150 * 0.005, "never before interval × healthy threshold"
    assert healthy_at - registered < 150 * 0.005 + 2
    assert {s[:2] for s in seen} == {("initial", "Elb.RegistrationInProgress")}
    assert health(emu, tg)[instance] == ("healthy", None, None)


def test_the_groups_own_health_check_settings_set_the_pace(emu):
    emu.settings(target_health_scale=0.02)  # 10 s × 2 = 20 s become 0.4 s
    _, tg, [instance], _ = nlb_with_instances(emu, HealthCheckIntervalSeconds=10, HealthyThresholdCount=2)
    registered = time.monotonic()
    emu.client("elbv2").register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    healthy_at, seen = wait_for(emu, tg, instance, "healthy")
    assert 0.4 <= healthy_at - registered < 2.4 and seen
    # The settings the reference allows, and no others (interval 5-300, thresholds 2-10); health
    # checks of an instance, ip or alb group cannot be turned off.
    elb = once(emu, "elbv2")
    for wrong in ({"HealthCheckIntervalSeconds": 4}, {"HealthCheckIntervalSeconds": 301}, {"HealthyThresholdCount": 1},
                  {"HealthyThresholdCount": 11}, {"UnhealthyThresholdCount": 11}, {"HealthCheckTimeoutSeconds": 1},
                  {"HealthCheckEnabled": False}):
        assert outcome(elb.modify_target_group, TargetGroupArn=tg, **wrong) == "ValidationError", wrong
        assert outcome(elb.create_target_group, Name="other", Protocol="TCP", Port=80, VpcId="vpc-x",
                       **wrong) == "ValidationError", wrong
    elb.modify_target_group(TargetGroupArn=tg, HealthCheckIntervalSeconds=300, HealthyThresholdCount=10)


def test_a_deregistered_target_drains_for_the_deregistration_delay_then_is_gone(emu):
    elb = emu.client("elbv2")
    _, tg, instances, _ = nlb_with_instances(emu, instance_azs=("us-east-1a", "us-east-1b"))
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in instances])  # scale 0: healthy at once
    assert health(emu, tg) == {i: ("healthy", None, None) for i in instances}
    attributes = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == "300"
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "100"}])
    emu.settings(target_health_scale=0.01)  # 100 s become 1 s; the healthy target stays healthy
    leaving, staying = instances
    deregistered = time.monotonic()
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": leaving}])
    assert health(emu, tg) == {leaving: ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"),
                               staying: ("healthy", None, None)}
    gone_at, seen = wait_for(emu, tg, leaving, None)
    assert gone_at - deregistered >= 1.0, "draining for the whole delay"
    assert gone_at - deregistered < 3.0
    assert {s[0] for s in seen} == {"draining"}
    assert health(emu, tg) == {staying: ("healthy", None, None)}
    # Asked for by id, a target that is not registered is unused (of any id type).
    assert health(emu, tg, Targets=[{"Id": leaving}, {"Id": "10.0.0.99"}]) == {
        leaving: ("unused", "Target.NotRegistered", "Target is not registered to the target group"),
        "10.0.0.99": ("unused", "Target.NotRegistered", "Target is not registered to the target group")}
    # At scale 0 a deregistered target is gone at once.
    emu.settings(target_health_scale=0)
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": staying}])
    assert health(emu, tg) == {}


def test_a_target_is_unused_until_its_group_is_used_and_its_az_enabled(emu):
    emu.settings(target_health_scale=0.004)  # 150 s become 0.6 s
    elb = emu.client("elbv2")
    nlb, tg, [inside, outside], subnets = nlb_with_instances(
        emu, nlb_azs=("us-east-1a", "us-east-1b"), instance_azs=("us-east-1a", "us-east-1c"), listener=False)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": inside}, {"Id": outside}])
    time.sleep(0.7)  # longer than the checks take: nothing is checked yet
    not_used = ("unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer")
    assert health(emu, tg) == {inside: not_used, outside: not_used}
    # A listener forwards to the group: its target in an enabled AZ starts its checks.
    listener = elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    used = time.monotonic()
    now = health(emu, tg)
    assert now[inside][:2] == ("initial", "Elb.RegistrationInProgress")
    assert now[outside] == ("unused", "Target.NotInUse",
                            "Target is in an Availability Zone that is not enabled for the load balancer")
    healthy_at, _ = wait_for(emu, tg, inside, "healthy")
    assert healthy_at - used >= 0.6
    # The NLB enables the AZ: that target starts its checks then.
    elb.set_subnets(LoadBalancerArn=nlb, Subnets=list(subnets.values()))
    enabled = time.monotonic()
    assert health(emu, tg)[outside][:2] == ("initial", "Elb.RegistrationInProgress")
    healthy_at, _ = wait_for(emu, tg, outside, "healthy")
    assert healthy_at - enabled >= 0.6
    # Without its listener the group is not used again.
    elb.delete_listener(ListenerArn=listener)
    assert health(emu, tg) == {inside: not_used, outside: not_used}


def test_a_stopped_instance_is_unused_and_must_pass_its_checks_again_when_started(emu):
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    _, tg, [instance], _ = nlb_with_instances(emu)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert health(emu, tg)[instance][0] == "healthy"
    ec2.stop_instances(InstanceIds=[instance])
    assert health(emu, tg)[instance][:2] == ("unused", "Target.InvalidState")
    emu.settings(target_health_scale=0.004)
    ec2.start_instances(InstanceIds=[instance])
    started = time.monotonic()
    assert health(emu, tg)[instance] == ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    healthy_at, _ = wait_for(emu, tg, instance, "healthy")
    assert healthy_at - started >= 0.6


def test_ip_targets_outside_the_vpc_serve_every_enabled_az(emu):
    emu.settings(target_health_scale=0)
    world = azs.ip_target_group(emu, outside=("192.168.10.5",))
    states = health(emu, world.target_group)
    assert {ip: s[0] for ip, s in states.items()} == {**{ip: "healthy" for ip in world.inside.values()},
                                                      "192.168.10.5": "healthy"}


# --- 5. pages and bounds ------------------------------------------------------------------------


def pages(call, key: str, **kwargs) -> list[int]:
    sizes, marker = [], None
    while True:
        page = call(**kwargs, **({"Marker": marker} if marker else {}))
        sizes.append(len(page[key]))
        marker = page.get("NextMarker")
        if not marker:
            return sizes


def test_describe_target_groups_pages_unfiltered_and_filtered(emu):
    elb = once(emu, "elbv2")
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(("us-east-1a", "us-east-1b"))]
    nlb = elb.create_load_balancer(Name="many", Subnets=subnets, Type="network")["LoadBalancers"][0]["LoadBalancerArn"]
    groups = [elb.create_target_group(Name=f"tg-{n}", Protocol="TCP", Port=80 + n, VpcId=vpc,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"] for n in range(5)]
    for n, tg in enumerate(groups[:3]):  # three listeners forward to three of the groups
        elb.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80 + n,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    # PageSize 1-400, unfiltered and filtered alike; without PageSize one page of up to 400.
    assert pages(elb.describe_target_groups, "TargetGroups", PageSize=2) == [2, 2, 1]
    assert pages(elb.describe_target_groups, "TargetGroups", PageSize=400) == [5]
    assert pages(elb.describe_target_groups, "TargetGroups") == [5]
    assert pages(elb.describe_target_groups, "TargetGroups", TargetGroupArns=groups, PageSize=2) == [2, 2, 1]
    assert pages(elb.describe_target_groups, "TargetGroups", LoadBalancerArn=nlb, PageSize=2) == [2, 1]
    by_lb = [g["TargetGroupArn"] for g in elb.describe_target_groups(LoadBalancerArn=nlb)["TargetGroups"]]
    assert sorted(by_lb) == sorted(groups[:3])
    for size in (0, 401):
        assert outcome(elb.describe_target_groups, PageSize=size) == "ValidationError"
        assert outcome(elb.describe_target_groups, TargetGroupArns=groups, PageSize=size) == "ValidationError"
    # One filter at a time ("specify one of the following to filter the results").
    assert outcome(elb.describe_target_groups, LoadBalancerArn=nlb, TargetGroupArns=groups[:1]) == "ValidationError"
    # DescribeLoadBalancers: PageSize up to 400; LoadBalancerArns at most 20 (see test_emulator_azs.py).
    assert pages(elb.describe_load_balancers, "LoadBalancers", PageSize=400) == [1]
    assert outcome(elb.describe_load_balancers, PageSize=401) == "ValidationError"
    assert outcome(elb.describe_load_balancers, LoadBalancerArns=[nlb] * 21) == "ValidationError"
