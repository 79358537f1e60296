"""Seeds for the fuzz targets, from the samples in events/: every event for `envelope` and the
three decoders (`connection_events`, `zone_events`, `audit_events`), the Chatbot
documents inside the SNS samples for `chatbot`, the sample policy and zone rules for `policy` and
`rules`. Usage: fuzz_seeds.py CORPUS_DIR (one folder per target is filled)."""

import json
import sys
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[1] / "events"


def main(out: Path) -> None:
    decoders = ("envelope", "connection_events", "zone_events", "audit_events")
    seeds: dict[str, list[bytes]] = {t: [] for t in (*decoders, "chatbot", "policy", "rules")}
    for path in sorted(EVENTS.rglob("*.json")):
        data = path.read_bytes()
        if path.parent.name == "documents":
            seeds["rules" if "rules" in path.name else "policy"].append(data)
            continue
        for target in decoders:
            seeds[target].append(data)
        doc = json.loads(data)
        for record in doc.get("Records", []) if isinstance(doc, dict) else []:
            message = record.get("Sns", {}).get("Message")
            if message:
                seeds["chatbot"].append(message.encode())
    for target, items in seeds.items():
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(items):
            (folder / f"seed-{i:03d}.json").write_bytes(data)
        print(f"{target}: {len(items)} seeds")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
