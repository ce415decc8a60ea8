"""The audit trail's costs: a change with and without signed checkpoints and the export,
and verifying a long trail.

Each change is an empty ``store.change`` (the audit event is all it writes), so the figure
is the audit's own overhead on top of the one write transaction every change pays.

    python benchmarks/audit.py [--changes 500] [--events 20000] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from stead.core.audit import AuditLog
from stead.workspace import Workspace


def _changes(ws: Workspace, count: int) -> list[float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        with ws.store.change("bench.step", f"bench:{i}", reason="benchmark") as change:
            change.details.update({"i": i, "values": [i, i / 3, "text"]})
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--url", default=None, help="store URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        Workspace.init(root, store_url=args.url)
        with Workspace.open(root) as ws:
            signed = ws.store.audit
            # Unsigned last: events it appends are (rightly) refused by a signed store.
            modes = {
                "signed every change": signed,
                "signed + export": AuditLog(
                    key_path=signed.key_path, export_path=Path(tmp) / "audit.jsonl"
                ),
                "unsigned": AuditLog(),
            }
            _changes(ws, max(0, args.events - 1))
            start = time.perf_counter()
            result = ws.audit.verify()
            took = time.perf_counter() - start
            assert result.ok, result.problems
            print(f"verify {result.events_checked} events: {took:.2f} s")
            print(f"{'mode':<22} {'median ms':>10} {'p95 ms':>8}")
            for name, audit in modes.items():
                ws.store.audit = audit
                times = sorted(_changes(ws, args.changes))
                median = statistics.median(times) * 1000
                p95 = times[int(len(times) * 0.95)] * 1000
                print(f"{name:<22} {median:>10.2f} {p95:>8.2f}")


if __name__ == "__main__":
    main()
