"""The audit trail's costs: a change with and without signed checkpoints and the export,
and verifying a long trail, on SQLite.

Each change is an empty ``store.change`` (the audit event is all it writes), so the figure
is the audit's own overhead on top of the one write transaction every change pays.

    python benchmarks/audit.py [--changes 500] [--events 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from stead.core.audit import AuditLog
from stead.workspace import Workspace


def _change(ws: Workspace, i: int) -> float:
    start = time.perf_counter()
    with ws.store.change("bench.step", f"bench:{i}", reason="benchmark") as change:
        change.details.update({"i": i, "values": [i, i / 3, "text"]})
    return time.perf_counter() - start


def _workspace(root: Path, mode: str) -> Workspace:
    Workspace.init(root)
    ws = Workspace.open(root)
    if mode == "unsigned":
        ws.store.audit = AuditLog()
    elif mode == "signed + export":
        ws.store.audit.export_path = root.parent / f"{root.name}.jsonl"
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    modes = ["unsigned", "signed every change", "signed + export"]
    with tempfile.TemporaryDirectory() as tmp:
        # One workspace per mode, changes interleaved round-robin so machine load is shared.
        spaces = {m: _workspace(Path(tmp) / f"ws{i}", m) for i, m in enumerate(modes)}
        times: dict[str, list[float]] = {m: [] for m in modes}
        for i in range(args.changes):
            for mode, ws in spaces.items():
                times[mode].append(_change(ws, i))
        print(f"{'mode':<22} {'median ms':>10} {'p95 ms':>8}")
        for mode in modes:
            ordered = sorted(times[mode])
            median = statistics.median(ordered) * 1000
            p95 = ordered[int(len(ordered) * 0.95)] * 1000
            print(f"{mode:<22} {median:>10.2f} {p95:>8.2f}")
        signed = spaces["signed every change"]
        for i in range(args.events - 1 - args.changes):
            _change(signed, i)
        start = time.perf_counter()
        result = signed.audit.verify()
        took = time.perf_counter() - start
        assert result.ok, result.problems
        print(f"verify {result.events_checked} events: {took:.2f} s")
        for ws in spaces.values():
            ws.close()


if __name__ == "__main__":
    main()
