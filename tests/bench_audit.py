"""The availability-zone audit at estate scale: 100 endpoint services, each with its NLB and
target group, in 3 AZs, and 2 consumer accounts with endpoints to some of them; the release
binary under the local Lambda Runtime API, on the emulator, with every describe paged at a small
page size (so a call missing its paginator would miss resources, not just cost a call).

Prints the AWS calls per operation as the emulator counted them, the wall time and the peak
resident memory of a first scheduled run and of a second one with nothing changed, which must
publish nothing. Calls grow with the resources (services, load balancers, target groups,
accounts), never with targets or findings: one batched DescribeInstances for every instance
target, DescribeLoadBalancers 20 ARNs at a time. `make bench` runs it and writes
`target/bench-audit.json`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_functions import peak_rss_mb  # noqa: E402
from bench_runs import finish, scheduled_run  # noqa: E402
from harness import azs  # noqa: E402
from harness.emulator import REGION, Emulator  # noqa: E402
from harness.lambda_host import LambdaHost  # noqa: E402

SERVICES = 100
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CONSUMERS = ("111111111111", "222222222222")
ENDPOINTS_PER_CONSUMER = 10
PAGE_SIZE = 20
RSS_BUDGET_MB = 32


def estate(emu: Emulator) -> azs.Provider:
    provider = azs.build(emu, azs=ZONES)
    many = azs.services_with_nlbs(emu, SERVICES - 1, azs=ZONES)
    for n, account in enumerate(CONSUMERS):
        ec2 = emu.client("ec2", account)
        vpc = ec2.create_vpc(CidrBlock=f"10.{60 + n}.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{60 + n}.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
                   for i, az in enumerate(ZONES)]
        for _, service_id in many[:ENDPOINTS_PER_CONSUMER]:
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.vpce.{REGION}.{service_id}",
                                    VpcEndpointType="Interface", SubnetIds=subnets)
    return provider


def main() -> int:
    with Emulator() as emu:
        provider = estate(emu)
        emu.settings(page_size=PAGE_SIZE)
        with LambdaHost(azs.FUNCTION, provider.env, profile="release", timeout=300) as fn:
            first, wall, calls = scheduled_run(fn, emu)
            again, wall_again, calls_again = scheduled_run(fn, emu)
            rss = peak_rss_mb(fn.process.pid)
    print(f"audit of {SERVICES} services (NLB and target group each, {len(ZONES)} AZs), "
          f"{len(CONSUMERS)} consumer accounts with {ENDPOINTS_PER_CONSUMER} endpoints each, "
          f"describes paged {PAGE_SIZE} at a time")
    print()
    print("| operation | first run | second run |")
    print("| --- | ---: | ---: |")
    for op in sorted(set(calls) | set(calls_again)):
        print(f"| {op} | {calls.get(op, {}).get('count', 0)} | {calls_again.get(op, {}).get('count', 0)} |")
    print()
    print(f"first run: {wall:.3f} s, {len(first['opened'])} findings opened; "
          f"second run: {wall_again:.3f} s, {len(again['opened'])} opened, {len(again['resolved'])} resolved, "
          f"{again['still_open']} still open")
    print(f"peak RSS {rss:.1f} MB (budget < {RSS_BUDGET_MB} MB)")

    problems = []
    published_again = calls_again.get("sns:Publish", {}).get("count", 0)
    if published_again:
        problems.append(f"the unchanged second run published {published_again} messages")
    if rss >= RSS_BUDGET_MB:
        problems.append(f"peak RSS {rss:.1f} MB (budget < {RSS_BUDGET_MB})")
    lbs = calls.get("elasticloadbalancing:DescribeLoadBalancers", {}).get("count", 0)
    if lbs < SERVICES / 20:
        problems.append(f"DescribeLoadBalancers called {lbs} times: fewer than the 20-ARN batches need")
    if calls.get("ec2:DescribeInstances", {}).get("count", 0) > 2:
        problems.append("DescribeInstances grows with the target groups")
    figures = {"services": SERVICES, "zones": len(ZONES), "consumers": len(CONSUMERS), "page_size": PAGE_SIZE,
               "first": {"wall_s": round(wall, 3), "opened": len(first["opened"]), "calls": calls},
               "second": {"wall_s": round(wall_again, 3), "calls": calls_again},
               "peak_rss_mb": round(rss, 1)}
    return finish("audit", figures, problems)


if __name__ == "__main__":
    sys.exit(main())
