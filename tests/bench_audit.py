"""The availability-zone audit at estate scale, within ELB's and EC2's API rates: 1,000 endpoint
services, each with its NLB and target group, in 3 AZs, and 2 consumer accounts with endpoints
to some of them; the release binary under the local Lambda Runtime API (Lambda's 120 s timeout),
on the emulator with ELB's and EC2's documented token buckets on (``elb_rate``, ``ec2_rate``), so
a read faster than the auditor's share of them would be throttled, as in AWS.

Prints, with the AWS calls per operation as the emulator counted them:

* the first pass through the estate (nothing kept yet): the scheduled invocations it took, their
  time, and the ELB calls per minute (the default share is half of ELB's 10 a second);
* a second pass with nothing changed: its calls besides ``DescribeTargetHealth`` against the
  first's (goal: at most 10%), and what reading target health costs per pass;
* a ``RegisterTargets`` event on one service: the ELB calls it makes (goal: at most 5) and the
  time to its verdict;
* the peak resident memory (goal: under 64 MB).

The invocations follow one another here; under the schedule one starts each minute, so a pass
of K invocations takes K minutes. `make bench` runs it and writes `target/bench-audit.json`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_functions import peak_rss_mb  # noqa: E402
from bench_runs import finish, scheduled_run  # noqa: E402
from harness import azs  # noqa: E402
from harness.emulator import REGION, Emulator  # noqa: E402
from harness.lambda_host import LambdaHost  # noqa: E402
from harness.scenario import scheduled_event  # noqa: E402

SERVICES = 1000
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CONSUMERS = ("111111111111", "222222222222")
ENDPOINTS_PER_CONSUMER = 50
ELB_SHARE_PER_MINUTE = 0.5 * 10 * 60
RSS_BUDGET_MB = 64
HEALTH = "elasticloadbalancing:DescribeTargetHealth"


def estate(emu: Emulator) -> tuple[azs.Provider, list[tuple[str, str]]]:
    provider = azs.build(emu, azs=ZONES)
    many = azs.services_with_nlbs(emu, SERVICES - 1, azs=ZONES)
    for n, account in enumerate(CONSUMERS):
        ec2 = emu.client("ec2", account)
        vpc = ec2.create_vpc(CidrBlock=f"10.{60 + n}.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{60 + n}.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
                   for i, az in enumerate(ZONES)]
        for _, service_id in many[n * ENDPOINTS_PER_CONSUMER:(n + 1) * ENDPOINTS_PER_CONSUMER]:
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.vpce.{REGION}.{service_id}",
                                    VpcEndpointType="Interface", SubnetIds=subnets)
    return provider, many


def a_pass(fn: LambdaHost, emu: Emulator) -> dict:
    """Scheduled invocations until one completes a pass: their count, time and calls."""
    calls: dict[str, int] = {}
    invocations, wall, opened = 0, 0.0, 0
    while True:
        body, seconds, counted = scheduled_run(fn, emu)
        invocations += 1
        wall += seconds
        opened += len(body["opened"])
        for op, c in counted.items():
            calls[op] = calls.get(op, 0) + c["count"]
            if c.get("throttled"):
                calls[f"{op} (throttled)"] = calls.get(f"{op} (throttled)", 0) + c["throttled"]
        if body["pass"]["complete"]:
            return {"invocations": invocations, "wall_s": round(wall, 1), "opened": opened, "calls": calls}


def elb_calls(calls: dict[str, int]) -> int:
    return sum(n for op, n in calls.items() if op.startswith("elasticloadbalancing:") and "(throttled)" not in op)


def main() -> int:
    with Emulator() as emu:
        provider, _ = estate(emu)
        emu.settings(elb_rate=True, ec2_rate=True)
        env = {**provider.env, "AUDIT_PERIOD_MINUTES": "0"}
        with LambdaHost(azs.FUNCTION, env, profile="release", timeout=120) as fn:
            first = a_pass(fn, emu)
            second = a_pass(fn, emu)
            emu.reset_calls()
            started = time.perf_counter()
            event = {**scheduled_event(), "detail-type": "AWS API Call via CloudTrail", "source": "aws.elasticloadbalancing",
                     "detail": {"eventSource": "elasticloadbalancing.amazonaws.com", "eventName": "RegisterTargets",
                                "awsRegion": REGION, "requestParameters": {
                                    "targetGroupArn": provider.target_group,
                                    "targets": [{"id": provider.instances["us-east-1a"][0]}]}}}
            verdict = fn.invoke(event, log_grace=0)
            event_s = time.perf_counter() - started
            if not verdict.ok:
                raise RuntimeError(f"RegisterTargets audit failed: {verdict.error_message or verdict.body}")
            event_calls = {op: c["count"] for op, c in emu.calls().items()}
            rss = peak_rss_mb(fn.process.pid)

    per_minute = elb_calls(first["calls"]) / (first["wall_s"] / 60)
    besides_health = lambda p: sum(n for op, n in p["calls"].items() if op != HEALTH and "(throttled)" not in op)  # noqa: E731
    share = besides_health(second) / max(besides_health(first), 1)
    print(f"audit of {SERVICES} services (NLB and target group each, {len(ZONES)} AZs), "
          f"{len(CONSUMERS)} consumer accounts with {ENDPOINTS_PER_CONSUMER} endpoints each; "
          "ELB and EC2 rates on; release binary, 120 s timeout")
    print()
    print("| operation | first pass | second pass, nothing changed | RegisterTargets event |")
    print("| --- | ---: | ---: | ---: |")
    for op in sorted(set(first["calls"]) | set(second["calls"]) | set(event_calls)):
        print(f"| {op} | {first['calls'].get(op, 0)} | {second['calls'].get(op, 0)} | {event_calls.get(op, 0)} |")
    print()
    print(f"first pass: {first['invocations']} invocations, {first['wall_s']} s of work, "
          f"{first['opened']} findings opened, ELB {per_minute:.0f} calls/min (share: {ELB_SHARE_PER_MINUTE:.0f})")
    print(f"second pass: {second['invocations']} invocations, {second['wall_s']} s; calls besides target health "
          f"{besides_health(second)} = {share:.1%} of the first's {besides_health(first)} (goal <= 10%); "
          f"target health: {second['calls'].get(HEALTH, 0)} DescribeTargetHealth calls a pass")
    event_elb = elb_calls(event_calls)
    print(f"RegisterTargets on one service: {event_elb} ELB calls (goal <= 5), verdict in {event_s:.2f} s")
    print(f"peak RSS {rss:.1f} MB (budget < {RSS_BUDGET_MB} MB)")
    print(f"at one scheduled invocation a minute, a pass through {SERVICES} services takes about "
          f"{first['invocations']} minutes the first time and {second['invocations']} after")

    problems = []
    if per_minute > ELB_SHARE_PER_MINUTE * 1.05:
        problems.append(f"ELB calls at {per_minute:.0f}/min, over the share of {ELB_SHARE_PER_MINUTE:.0f}")
    if share > 0.10:
        problems.append(f"the second pass made {share:.1%} of the first's calls besides target health (goal <= 10%)")
    if second["calls"].get(HEALTH, 0) != SERVICES:
        problems.append(f"DescribeTargetHealth {second['calls'].get(HEALTH, 0)} times in a pass of {SERVICES} services")
    if second["opened"]:
        problems.append(f"the unchanged second pass opened {second['opened']} findings")
    if event_elb > 5:
        problems.append(f"RegisterTargets made {event_elb} ELB calls (goal <= 5)")
    if rss >= RSS_BUDGET_MB:
        problems.append(f"peak RSS {rss:.1f} MB (budget < {RSS_BUDGET_MB})")
    figures = {"services": SERVICES, "zones": len(ZONES), "consumers": len(CONSUMERS),
               "first_pass": first, "second_pass": second, "elb_calls_per_minute": round(per_minute),
               "second_pass_share_besides_health": round(share, 4),
               "register_targets": {"elb_calls": event_elb, "seconds": round(event_s, 2), "calls": event_calls},
               "peak_rss_mb": round(rss, 1)}
    return finish("audit", figures, problems)


if __name__ == "__main__":
    sys.exit(main())
