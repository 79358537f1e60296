"""After `sam build`: every function in template.yaml has its bootstrap under .aws-sam/build, an
arm64 (aarch64) Linux executable, as the template's `Architectures: [arm64]` needs. Prints each
one's size; exits non-zero naming what is missing or wrong."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.template import ROOT, load  # noqa: E402

EM_AARCH64 = 183  # ELF e_machine


def functions(template: Path) -> list[str]:
    resources = load(template)["Resources"]
    return sorted(name for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Function")


def problem(path: Path) -> str | None:
    if not path.is_file():
        return "missing"
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        return "not an ELF executable"
    if int.from_bytes(head[18:20], "little") != EM_AARCH64:
        return "not built for arm64 (aarch64)"
    return None


def main() -> int:
    bad = []
    for name in functions(ROOT / "template.yaml"):
        path = ROOT / ".aws-sam" / "build" / name / "bootstrap"
        why = problem(path)
        if why:
            bad.append(f"{path.relative_to(ROOT)}: {why}")
        else:
            print(f"{path.relative_to(ROOT)}  arm64  {path.stat().st_size / 2**20:.2f} MB")
    for line in bad:
        print(f"make build: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
