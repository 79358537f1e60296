"""Every function measured the way Lambda runs it: its release binary under the local Lambda
Runtime API, on the emulator.

Per function: the stripped binary's size for x86_64 (`target/release`) and arm64 (the
`.aws-sam/build/<Function>/bootstrap` that `make build` makes); its init (process start to the
first request for an event, median and max of 20 starts after a discarded first one, SDK clients
built; beside it the same with SSL_CERT_FILE naming the system's one CA bundle, and the same
measure of a shell asking at once, the harness's own share); the first
and the warm invocation's latency on a representative event; the process's peak resident memory.
Budgets:
init under 10 ms median, peak RSS under 32 MB, arm64 bootstrap at most 6 MB; a miss is flagged and
fails the run. Figures are for this machine and the local stand-ins, not for AWS; `make bench`.
Writes the table to standard output and the figures to `target/bench-functions.json`.
"""

from __future__ import annotations

import copy
import json
import platform
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import azs, scenario, zones  # noqa: E402
from harness.cloudformation import ResponseSink, request  # noqa: E402
from harness.emulator import Emulator  # noqa: E402
from harness.lambda_host import ROOT, LambdaHost, binary  # noqa: E402
from harness.slack import SlackStub, secret_env  # noqa: E402

STARTS = 20
WARM = 20
INIT_BUDGET_MS = 10
RSS_BUDGET_MB = 32
ARM64_BUDGET_MB = 6
# The system's root certificates as one PEM bundle (Debian's path). Unless SSL_CERT_FILE names one
# file, the SDK's root loader reads this bundle and every hash-named file of /etc/ssl/certs too.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# The template's logical id of each function: where `sam build` puts its bootstrap.
LOGICAL = {
    "accept-endpoint-connections": "AcceptEndpointConnections",
    "associate-private-zones": "AssociatePrivateZones",
    "audit-availability-zones": "AuditAvailabilityZones",
    "notify-slack": "NotifySlack",
    "connection-notifications": "ConnectionNotificationsFunction",
}


@dataclass
class Scenario:
    """What a function needs: its environment, and a fresh representative event per call."""
    env: dict[str, str]
    event: Callable[[], dict]
    about: str


@dataclass
class Figures:
    function: str
    event: str
    x86_64_mb: float | None
    arm64_mb: float | None
    init_ms_median: float
    init_ms_max: float
    init_one_bundle_ms_median: float | None
    first_ms: float
    warm_ms_median: float
    peak_rss_mb: float


def acceptor(emu: Emulator, _stack) -> Scenario:
    world = scenario.build(emu)
    world.put_policy(world.policy("reject"))

    def event() -> dict:
        world.create_endpoint(scenario.ALLOWED)  # one connection to accept per sweep
        return scenario.scheduled_event()
    return Scenario(world.function_env(), event, "scheduled sweep accepting one new connection")


def associator(emu: Emulator, _stack) -> Scenario:
    hub = zones.build(emu)
    hub.put_rules(hub.rules())
    return Scenario(hub.function_env(), lambda: zones.create_vpc_event(zones.SPOKE, hub.create_vpc(zones.SPOKE)),
                    "CreateVpc in a spoke: authorize, associate, clean up, announce")


def auditor(emu: Emulator, _stack) -> Scenario:
    provider = azs.build(emu)
    return Scenario(provider.env, scenario.scheduled_event, "scheduled audit of one service, nothing changed")


def notifier(emu: Emulator, stack) -> Scenario:
    sink = stack.enter_context(SlackStub())
    table = scenario.create_table(emu, "deliveries")
    env = secret_env(emu, sink, "bot", table, "critical=#privatelink-oncall,default=#privatelink")
    samples = [json.loads(p.read_text()) for p in sorted((ROOT / "events" / "slack").glob("sns-*.json"))]
    count = iter(range(10**6))

    def event() -> dict:
        e = copy.deepcopy(samples[next(count) % len(samples)])
        e["Records"][0]["Sns"]["MessageId"] = str(uuid.uuid4())
        return e
    return Scenario(env, event, "an alert posted to Slack (bot token)")


def custom_resource(emu: Emulator, stack) -> Scenario:
    world = scenario.build(emu)
    sink = stack.enter_context(ResponseSink())
    topic, _ = scenario.topic_with_queue(emu, "stack-connection-requests")
    physical = f"connection-notifications:{topic}"
    flip = iter(range(10**6))

    def event() -> dict:
        services = [world.service_id] if next(flip) % 2 == 0 else []
        return request(sink, "Update", {"TopicArn": topic, "ServiceIds": services}, physical)
    return Scenario(emu.function_env(), event, "CloudFormation Update adding or removing one notification")


SCENARIOS = {
    "accept-endpoint-connections": acceptor,
    "associate-private-zones": associator,
    "audit-availability-zones": auditor,
    "notify-slack": notifier,
    "connection-notifications": custom_resource,
}


def size_mb(path: Path) -> float | None:
    return round(path.stat().st_size / 2**20, 2) if path.exists() else None


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def starts(name: str, env: dict[str, str], command: list[str] | None = None) -> list[float]:
    """ms from process start to the first request for an event, STARTS times after a discarded
    first start (which also reads the binary from disk)."""
    times = []
    for _ in range(STARTS + 1):
        with LambdaHost(name, env, profile="release", command=command) as fn:
            times.append(fn.wait_ready() * 1000)
    return times[1:]


def timed(fn: LambdaHost, event: dict) -> float:
    started = time.perf_counter()
    result = fn.invoke(event, log_grace=0)
    elapsed = (time.perf_counter() - started) * 1000
    if not result.ok:
        raise RuntimeError(f"{fn.name} failed: {result.body}\n" + "\n".join(result.logs))
    return elapsed


def measure(name: str) -> Figures:
    with ExitStack() as stack:
        emu = stack.enter_context(Emulator())
        s = SCENARIOS[name](emu, stack)
        inits = starts(name, s.env)
        bundle = starts(name, {**s.env, "SSL_CERT_FILE": str(CA_BUNDLE)}) if CA_BUNDLE.exists() else None
        with LambdaHost(name, s.env, profile="release") as fn:
            first = timed(fn, s.event())
            warm = [timed(fn, s.event()) for _ in range(WARM)]
            rss = peak_rss_mb(fn.process.pid)
    return Figures(
        function=name,
        event=s.about,
        x86_64_mb=size_mb(binary(name, "release")),
        arm64_mb=size_mb(ROOT / ".aws-sam" / "build" / LOGICAL[name] / "bootstrap"),
        init_ms_median=round(statistics.median(inits), 2),
        init_ms_max=round(max(inits), 2),
        init_one_bundle_ms_median=round(statistics.median(bundle), 2) if bundle else None,
        first_ms=round(first, 1),
        warm_ms_median=round(statistics.median(warm), 1),
        peak_rss_mb=round(rss, 1),
    )


def start_floor() -> float:
    """Median ms from starting a process to its first request for an event when that process is a
    shell asking at once over /dev/tcp: what the measurement itself costs on this machine."""
    ask = ("h={api}; exec 3<>/dev/tcp/${h%:*}/${h#*:}; "
           "printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; read -r line <&3")
    return round(statistics.median(starts("shell", {}, ["bash", "-c", ask])), 2)


def misses(f: Figures) -> list[str]:
    out = []
    if f.init_ms_median >= INIT_BUDGET_MS:
        out.append(f"init {f.init_ms_median} ms (budget < {INIT_BUDGET_MS})")
    if f.peak_rss_mb >= RSS_BUDGET_MB:
        out.append(f"peak RSS {f.peak_rss_mb} MB (budget < {RSS_BUDGET_MB})")
    if f.arm64_mb is None:
        out.append("no arm64 bootstrap: run `make build`")
    elif f.arm64_mb > ARM64_BUDGET_MB:
        out.append(f"arm64 {f.arm64_mb} MB (budget <= {ARM64_BUDGET_MB})")
    return out


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {cores} cores, Linux {platform.release()}"


def main() -> int:
    floor = start_floor()
    results = [measure(name) for name in SCENARIOS]
    print(f"Release binaries under a local Lambda Runtime API, on the emulator ({machine()})")
    print(f"init: process start to first /runtime/invocation/next, {STARTS} starts after one discarded; "
          f"warm: median of {WARM}")
    print(f"the same measure of a shell asking at once (the harness's own share): {floor:.1f} ms; "
          f"'one CA bundle': init with SSL_CERT_FILE={CA_BUNDLE}\n")
    print("| function | x86_64 | arm64 | init median / max | init, one CA bundle | first | warm | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for f in results:
        def mb(v):
            return "—" if v is None else f"{v:.2f} MB"
        bundle = "—" if f.init_one_bundle_ms_median is None else f"{f.init_one_bundle_ms_median:.1f} ms"
        print(f"| {f.function} | {mb(f.x86_64_mb)} | {mb(f.arm64_mb)} | {f.init_ms_median:.1f} / {f.init_ms_max:.1f} ms "
              f"| {bundle} | {f.first_ms:.1f} ms | {f.warm_ms_median:.1f} ms | {f.peak_rss_mb:.1f} MB |")
    print()
    for f in results:
        print(f"- {f.function}: {f.event}")
    out = ROOT / "target" / "bench-functions.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "start_floor_ms": floor,
                               "functions": [asdict(f) for f in results]}, indent=2) + "\n")
    print(f"\nfigures written to {out.relative_to(ROOT)}")
    missed = {f.function: misses(f) for f in results if misses(f)}
    for name, why in missed.items():
        print(f"BUDGET MISSED {name}: {'; '.join(why)}")
    if not missed:
        print(f"every budget met: init < {INIT_BUDGET_MS} ms median, peak RSS < {RSS_BUDGET_MB} MB, arm64 <= {ARM64_BUDGET_MB} MB")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
