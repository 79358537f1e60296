"""Benchmark of the Slack notifier's release binary on the local emulator and Slack sink: cold
start (process start → first message posted, the Secrets Manager read included), the time per
message (claim, post, record: three DynamoDB calls and one POST over local HTTP), and the
process's peak memory against the template's 128 MB. Figures are for this machine and the local
stand-ins, not for AWS and Slack; run with `make bench`."""

from __future__ import annotations

import copy
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.emulator import Emulator  # noqa: E402
from harness.lambda_host import LambdaHost  # noqa: E402
from harness.scenario import create_table  # noqa: E402
from harness.slack import SlackStub, secret_env  # noqa: E402

MESSAGES = 300
EVENTS = Path(__file__).resolve().parent.parent / "events" / "slack"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    samples = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("sns-*.json"))]
    with Emulator() as emu, SlackStub() as sink:
        table = create_table(emu, "deliveries")
        env = secret_env(emu, sink, "bot", table, "critical=#privatelink-oncall,default=#privatelink")
        started = time.perf_counter()
        with LambdaHost("notify-slack", env, profile="release") as fn:
            first = fn.invoke(samples[0], log_grace=0)
            cold = time.perf_counter() - started
            assert first.ok, first.body
            times = []
            for n in range(MESSAGES):
                event = copy.deepcopy(samples[n % len(samples)])
                event["Records"][0]["Sns"]["MessageId"] = str(uuid.uuid4())
                t = time.perf_counter()
                result = fn.invoke(event, log_grace=0)
                times.append((time.perf_counter() - t) * 1000)
                assert result.ok, result.body
            rss = peak_rss_mb(fn.process.pid)
        posted = len(sink.delivered())
    times.sort()
    print(f"notify-slack (release), {MESSAGES} messages, bot-token mode, local emulator and Slack sink")
    print(f"  cold start to first message posted   {cold * 1000:8.1f} ms")
    print(f"  per message, median                  {statistics.median(times):8.1f} ms")
    print(f"  per message, 95th percentile         {times[int(len(times) * 0.95)]:8.1f} ms")
    print(f"  per message, slowest                 {times[-1]:8.1f} ms")
    print(f"  peak resident memory (VmHWM)         {rss:8.1f} MB  (function memory: 128 MB)")
    print(f"  messages posted                      {posted:8d}")
    return 0 if posted == MESSAGES + 1 else 1


if __name__ == "__main__":
    sys.exit(main())
