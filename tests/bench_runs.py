"""What the scale benchmarks share: one timed scheduled run of a function with the emulator's
call counts, and the end of a benchmark (its figures written, its misses printed)."""

from __future__ import annotations

import json
import time

from harness.emulator import Emulator
from harness.lambda_host import ROOT, LambdaHost
from harness.scenario import scheduled_event


def scheduled_run(fn: LambdaHost, emu: Emulator) -> tuple[dict, float, dict]:
    """One scheduled invocation: its report, its wall time in seconds, and the AWS calls the
    emulator counted during it."""
    emu.reset_calls()
    started = time.perf_counter()
    result = fn.invoke(scheduled_event(), log_grace=0)
    wall = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"{fn.name} failed: {result.error_message or result.body}\n" + "\n".join(result.logs[-20:]))
    return result.body, wall, emu.calls()


def finish(name: str, figures: dict, problems: list[str]) -> int:
    """Write ``target/bench-<name>.json``, print each miss; the exit code (1 on any miss)."""
    out = ROOT / "target" / f"bench-{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**figures, "misses": problems}, indent=2) + "\n")
    for p in problems:
        print(f"MISS: {p}")
    return 1 if problems else 0
