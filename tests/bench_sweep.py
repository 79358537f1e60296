"""The acceptor's scheduled sweep at estate scale: 1,000 pending connections across 10 endpoint
services, from 10 consumer accounts of which 5 the policy allows (so half are accepted, half
rejected), with the release binary under the local Lambda Runtime API, on the emulator.

Prints the sweep's wall time, the process's peak resident memory, and the AWS calls per operation
as the emulator counted them, beside the floor the APIs allow:

- ``DescribeVpcEndpointConnections``: one page per service (100 connections; a page holds up to
  1,000 — ``MaxResults``, API reference);
- ``AcceptVpcEndpointConnections`` / ``RejectVpcEndpointConnections``: one call per service and
  decision per 100 ids (the acceptor's page; the API documents no maximum);
- ``PublishBatch``: the messages the announcement needs within SNS's 256 KB and Slack's
  3,000-character section (a summary and its parts), ten to a call (``Publish`` for a single one).

Beside it, the same sweep by a plain boto3 acceptor on a fresh copy of the estate (the peer: list
each service's pending connections, accept or reject by account, one message; no outbox, no
memory, no policy document) — the price of what the acceptor adds, in wall time.

Then 10,000 pending connections on one service (a popular service after an outage of the
acceptor): the sweep's wall time and peak RSS against the function's timeout (60 s) and memory
(128 MB) in template.yaml, and the calls it made; budget: one sweep decides and announces all,
within both.

Budget: everything beyond those floor calls (the policy read, the outbox and memory in DynamoDB,
the function's own work) adds less than 20% to the sweep's wall time — measured as the wall time
less what the floor calls took: the emulator's time answering them plus, for each, the round trip
around it (HTTP and the SDK), which the second sweep measures (its wall time less the emulator's
time, per call); peak RSS under 32 MB. A second sweep,
with nothing pending, makes the Describe calls, the policy read and one outbox read, and nothing
that changes or announces anything. Figures are for this machine and the local stand-ins, not for
AWS; `make bench` runs it and writes `target/bench-sweep.json`.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_functions import peak_rss_mb  # noqa: E402
from bench_runs import finish, scheduled_run  # noqa: E402
from harness import scenario  # noqa: E402
from harness.emulator import Emulator  # noqa: E402
from harness.lambda_host import LambdaHost  # noqa: E402

SERVICES = 10
ACCOUNTS = [f"{n:012d}" for n in range(100000000001, 100000000011)]
ALLOWED = ACCOUNTS[:5]
PER_ACCOUNT_AND_SERVICE = 10  # 10 services x 10 accounts x 10 = 1,000
IDS_PER_CALL = 100
PAGE = 1000
OVERHEAD_BUDGET = 0.20
RSS_BUDGET_MB = 32
FLOOR_OPERATIONS = ("ec2:DescribeVpcEndpointConnections", "ec2:AcceptVpcEndpointConnections",
                    "ec2:RejectVpcEndpointConnections", "sns:Publish", "sns:PublishBatch")
MESSAGES_PER_BATCH = 10


def estate(emu: Emulator) -> tuple[scenario.World, list[dict]]:
    world = scenario.build(emu, notification=False)
    emu.client("ec2").modify_vpc_endpoint_service_permissions(
        ServiceId=world.service_id, AddAllowedPrincipals=[f"arn:aws:iam::{a}:root" for a in ACCOUNTS])
    services = [{"ServiceId": world.service_id, "ServiceName": world.service_name}]
    services += [scenario.endpoint_service(emu, f"svc{n}", ACCOUNTS)[0] for n in range(1, SERVICES)]
    for service in services:
        for account in ACCOUNTS:
            world.create_endpoints(account, PER_ACCOUNT_AND_SERVICE, service["ServiceName"])
    rule = {"name": "allowed consumers", "accounts": ALLOWED}
    world.put_policy({"version": 1, "services": {
        s["ServiceId"]: {"allow": [rule], "otherwise": "reject"} for s in services}})
    return world, services


def floor(services: int, per_service: int, accepted_per_service: int, messages: int) -> dict[str, int]:
    rejected = per_service - accepted_per_service
    return {
        "ec2:DescribeVpcEndpointConnections": services * max(1, math.ceil(per_service / PAGE)),
        "ec2:AcceptVpcEndpointConnections": services * math.ceil(accepted_per_service / IDS_PER_CALL),
        "ec2:RejectVpcEndpointConnections": services * math.ceil(rejected / IDS_PER_CALL),
        **({"sns:Publish": 1} if messages == 1 else {"sns:PublishBatch": math.ceil(messages / MESSAGES_PER_BATCH)}),
    }


def peer_sweep() -> float:
    """The plain boto3 acceptor's sweep of a fresh copy of the estate: its wall time."""
    with Emulator() as emu:
        world, services = estate(emu)
        ec2, sns = emu.client("ec2"), emu.client("sns")
        started = time.perf_counter()
        lines = []
        for service in services:
            pending = [c for page in ec2.get_paginator("describe_vpc_endpoint_connections").paginate(
                Filters=[{"Name": "service-id", "Values": [service["ServiceId"]]},
                         {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]}])
                for c in page["VpcEndpointConnections"]]
            accept = [c["VpcEndpointId"] for c in pending if c["VpcEndpointOwner"] in ALLOWED]
            reject = [c["VpcEndpointId"] for c in pending if c["VpcEndpointOwner"] not in ALLOWED]
            for i in range(0, len(accept), IDS_PER_CALL):
                ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=accept[i:i + IDS_PER_CALL])
            for i in range(0, len(reject), IDS_PER_CALL):
                ec2.reject_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=reject[i:i + IDS_PER_CALL])
            lines.append(f"{service['ServiceId']}: {len(accept)} accepted, {len(reject)} rejected")
        sns.publish(TopicArn=world.alert_topic, Message="\n".join(lines))
        return time.perf_counter() - started


TIMEOUT_S, MEMORY_MB = 60, 128


def ten_thousand() -> dict:
    """One service, 10,000 pending connections (half allowed): the release binary's sweep."""
    with Emulator() as emu:
        world = scenario.build(emu, notification=False)
        world.put_policy(world.policy("reject"))
        world.create_endpoints(scenario.ALLOWED, 5000)
        world.create_endpoints(scenario.STRANGER, 5000)
        with LambdaHost(scenario.FUNCTION, world.function_env(), profile="release", timeout=300) as fn:
            report, wall, calls = scheduled_run(fn, emu)
            rss = peak_rss_mb(fn.process.pid)
        messages = len(world.alerts())
    return {"decided": sum(o["status"] == "applied" for o in report["outcomes"]), "announced": report["announced"],
            "messages": messages, "wall_s": round(wall, 3), "peak_rss_mb": round(rss, 1),
            "calls": {op: c["count"] for op, c in sorted(calls.items())}}


def main() -> int:
    with Emulator() as emu:
        world, services = estate(emu)
        with LambdaHost(scenario.FUNCTION, world.function_env(), profile="release", timeout=300) as fn:
            report, wall, calls = scheduled_run(fn, emu)
            rss = peak_rss_mb(fn.process.pid)
            messages = len(world.alerts())
            again, wall_again, calls_again = scheduled_run(fn, emu)
    peer = peer_sweep()
    big = ten_thousand()
    per_service = len(ACCOUNTS) * PER_ACCOUNT_AND_SERVICE
    minimum = floor(len(services), per_service, len(ALLOWED) * PER_ACCOUNT_AND_SERVICE, messages)
    decided = {s: sum(o["status"] == "applied" and o["action"] == s for o in report["outcomes"])
               for s in ("accept", "reject")}
    served_again = sum(c["seconds"] for c in calls_again.values())
    round_trip = (wall_again - served_again) / max(1, sum(c["count"] for c in calls_again.values()))
    floor_calls = sum(calls.get(op, {}).get("count", 0) for op in FLOOR_OPERATIONS)
    floor_seconds = sum(calls.get(op, {}).get("seconds", 0.0) for op in FLOOR_OPERATIONS) + floor_calls * round_trip
    overhead = (wall - floor_seconds) / wall

    print(f"sweep of {len(report['outcomes'])} pending connections, {len(services)} services, "
          f"{len(ACCOUNTS)} accounts ({len(ALLOWED)} allowed): {decided['accept']} accepted, "
          f"{decided['reject']} rejected, {report['announced']} announced in {messages} messages")
    print()
    print("| operation | calls | floor | emulator s |")
    print("| --- | ---: | ---: | ---: |")
    for op in sorted(set(calls) | set(minimum)):
        c = calls.get(op, {"count": 0, "seconds": 0.0})
        print(f"| {op} | {c['count']} | {minimum.get(op, '—')} | {c['seconds']:.3f} |")
    print()
    print(f"wall time {wall:.3f} s; the {floor_calls} floor calls took {floor_seconds:.3f} s of it "
          f"(the emulator's time, plus a {round_trip * 1000:.1f} ms round trip each, from the second sweep); "
          f"everything else {wall - floor_seconds:.3f} s = {overhead:.1%} of the wall time "
          f"(budget < {OVERHEAD_BUDGET:.0%})")
    print(f"peak RSS {rss:.1f} MB (budget < {RSS_BUDGET_MB} MB)")
    print(f"the plain boto3 peer's sweep of the same estate: {peer:.3f} s (the acceptor {wall:.3f} s, "
          f"{wall / peer - 1:+.0%})")
    print()
    changing = {op: c["count"] for op, c in calls_again.items()
                if not op.split(":")[1].startswith(("Describe", "Get", "BatchGet", "List"))}
    print(f"second sweep, nothing pending: {wall_again:.3f} s, {len(again['outcomes'])} decisions, calls: "
          + ", ".join(f"{op} {c['count']}" for op, c in sorted(calls_again.items())))

    print()
    print(f"10,000 pending connections on one service, one sweep: {big['decided']} decided, {big['announced']} announced "
          f"in {big['messages']} messages; {big['wall_s']:.3f} s (the function's timeout {TIMEOUT_S} s), peak RSS "
          f"{big['peak_rss_mb']:.1f} MB (its memory {MEMORY_MB} MB); calls: "
          + ", ".join(f"{op} {n}" for op, n in big["calls"].items()))

    problems = []
    if big["decided"] != 10000 or big["announced"] != 10000:
        problems.append(f"10,000 on one service: {big['decided']} decided, {big['announced']} announced")
    if big["wall_s"] >= TIMEOUT_S or big["peak_rss_mb"] >= MEMORY_MB:
        problems.append(f"10,000 on one service: {big['wall_s']} s, {big['peak_rss_mb']} MB")
    if decided != {"accept": 500, "reject": 500} or report["announced"] != 1000:
        problems.append(f"decisions {decided}, announced {report['announced']}")
    for op, n in minimum.items():
        if calls.get(op, {}).get("count", 0) != n:
            problems.append(f"{op}: {calls.get(op, {}).get('count', 0)} calls, floor {n}")
    if overhead >= OVERHEAD_BUDGET:
        problems.append(f"overhead {overhead:.1%} of the wall time (budget < {OVERHEAD_BUDGET:.0%})")
    if rss >= RSS_BUDGET_MB:
        problems.append(f"peak RSS {rss:.1f} MB (budget < {RSS_BUDGET_MB})")
    if changing:
        problems.append(f"the second sweep changed or announced: {changing}")
    figures = {
        "connections": len(report["outcomes"]), "services": len(services), "messages": messages,
        "wall_s": round(wall, 3), "floor_calls_s": round(floor_seconds, 3), "round_trip_ms": round(round_trip * 1000, 2),
        "overhead_share": round(overhead, 3), "peer_wall_s": round(peer, 3),
        "ten_thousand": big,
        "peak_rss_mb": round(rss, 1), "calls": calls, "floor": minimum,
        "second_sweep": {"wall_s": round(wall_again, 3), "calls": calls_again},     }
    return finish("sweep", figures, problems)


if __name__ == "__main__":
    sys.exit(main())
