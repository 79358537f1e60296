"""Where a function's bytes go, in an unstripped release binary: first by section (code, constant
data, unwind tables, relocations), then the code and data that carry a symbol, by crate (Rust paths
by their first segment, ring's C and assembly by its function names). What no symbol names
(string constants, unwind tables, relocations) is "(no symbol)".

`make size-breakdown FUNCTION=<name>` builds the function for arm64 as `make build` does, keeping
its symbols, and runs this on it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

# ring's C and assembly (its functions have C names, not Rust paths).
RING_C = ("ring_core_", "OPENSSL_", "ecp_nistz", "nistz", "ChaCha20", "aes_", "_vpaes", "vpaes_", "fe_", "ge_",
          "x25519", "sha256_block", "sha512_block", "bn_", "gcm_", "poly1305", "LIMBS_", "limbs_", "CRYPTO_",
          "table_select", "__ecp_")
GENERIC = re.compile(r"^(?:<)?(?:\w+ as )?([A-Za-z_][A-Za-z0-9_]*)::")


def crate_of(symbol: str) -> str:
    if symbol.startswith(RING_C):
        return "ring (C/asm)"
    # Trait impls read `<aws_sdk_ec2::X as core::fmt::Debug>::fmt`: the implementing type's crate.
    m = GENERIC.match(symbol.lstrip("<").replace("&", "").replace("mut ", "").strip())
    if m:
        return m.group(1)
    return "(other symbols)"


def sections(path: Path) -> dict[str, int]:
    """Bytes of each section a process loads (not symbols, strings of symbols or debug info)."""
    out = subprocess.run(["size", "-A", str(path)], capture_output=True, text=True, check=True).stdout
    skip = (".comment", ".symtab", ".strtab", ".shstrtab")
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and not parts[0].startswith(".debug") and parts[0] not in skip:
            found[parts[0]] = int(parts[1])
    return found


def table(title: str, rows: list[tuple[str, int]], total: int) -> None:
    print(f"| {title} | KB | share |")
    print("| --- | ---: | ---: |")
    for name, size in rows:
        print(f"| {name} | {size / 1024:.0f} | {100 * size / total:.1f}% |")
    print()


def main() -> int:
    path = Path(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    nm = subprocess.run(["nm", "-S", "--size-sort", "-C", str(path)], capture_output=True, text=True, check=True).stdout
    by_crate: Counter[str] = Counter()
    for line in nm.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4:
            by_crate[crate_of(parts[3])] += int(parts[1], 16)
    by_section = sections(path)
    loaded = sum(by_section.values())
    by_crate["(no symbol)"] = max(0, loaded - sum(by_crate.values()))
    print(f"{path}: {loaded / 2**20:.2f} MB loaded\n")
    big = sorted(((n, b) for n, b in by_section.items() if b >= 10240), key=lambda r: -r[1])
    table("section", big + [("(smaller sections)", loaded - sum(b for _, b in big))], loaded)
    rows = by_crate.most_common(top)
    rest = sum(size for _, size in by_crate.most_common()[top:])
    table("crate", rows + ([("(the rest)", rest)] if rest else []), loaded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
