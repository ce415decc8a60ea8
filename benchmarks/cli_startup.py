"""CLI start-up: wall time of ``stead`` commands in fresh processes.

Each command runs as a new ``python`` process, as a user runs it: ``stead --help`` and
read-only commands on a prepared workspace (``stead init`` plus a 200-row snapshot),
beside two floors, the bare interpreter (``python -c pass``) and ``python -c "import
pandas"``. Runs are interleaved round-robin so that load on the machine spreads over every
command; the table shows the median and the fastest run.

    python benchmarks/cli_startup.py [--repeat 7]
    python benchmarks/cli_startup.py --tree before=/tmp/before/src --tree after=src

``--tree NAME=SRC`` runs stead from another source directory (through ``PYTHONPATH``),
each tree on a workspace of its own, so that two commits can be compared on one machine.

``--metadata`` adds the commands that change the registry and endpoints (issue 13's goal:
each under 1.5 s on an idle machine) on a workspace made by ``stead demo --fast``:
``checklist`` of a staging version against production, ``promote`` to staging and back
to production, and ``deploy`` (a new revision each time). Each round runs them in that
order, so every round starts from the same state.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
FLOORS = {
    "python -c pass": ["-c", "pass"],
    'python -c "import pandas"': ["-c", "import pandas"],
}
# Read-only commands a user runs many times a day; {ws} is the prepared workspace.
COMMANDS = {
    "stead --help": ["--help"],
    "stead data list": ["data", "list", "-w", "{ws}"],
    "stead audit verify": ["audit", "verify", "-w", "{ws}"],
    "stead endpoints list": ["endpoints", "list", "-w", "{ws}"],
    "stead runs list": ["runs", "list", "-w", "{ws}"],
}

# Governed commands on the demo's workspace, as its lead ({ws}: the workspace).
METADATA = {
    "stead checklist": ["checklist", "credit@2", "-w", "{ws}"],
    "stead models promote (staging)": [
        *("models", "promote", "credit@3", "--to", "staging", "--reason", "bench", "-w", "{ws}")
    ],
    "stead models promote (prod)": [
        *("models", "promote", "credit@3", "--to", "production", "--reason", "bench", "-w", "{ws}")
    ],
    "stead deploy": ["deploy", "credit", "credit@3", "--reason", "bench", "-w", "{ws}"],
}
GOAL_SECONDS = 1.5


def run(python: str, args: list[str], *, src: Path | None) -> float:
    env = {**os.environ, "COLUMNS": "160", "STEAD_ACTOR": "demo-lead"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    start = time.perf_counter()
    done = subprocess.run(
        [python, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return seconds


def prepare(python: str, src: Path, directory: Path) -> Path:
    """A workspace made with ``stead init`` and one small snapshot, by the tree under test."""
    rng = random.Random(0)
    data = directory / "applications.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "age", "income", "region", "default"])
        for i in range(200):
            writer.writerow(
                [i, rng.randint(20, 70), round(rng.uniform(1e4, 1e5), 2), rng.choice("NSEW"), i % 2]
            )
    ws = directory / "ws"
    run(python, ["-m", "stead", "init", str(ws)], src=src)
    run(python, ["-m", "stead", "data", "snapshot", "credit", str(data), "-w", str(ws)], src=src)
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="stead source directory to time (repeatable; default: this checkout's src)",
    )
    parser.add_argument(
        "--metadata",
        action="store_true",
        help="also time checklist, promote and deploy on a demo workspace",
    )
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"stead": str(SRC)}

    with tempfile.TemporaryDirectory(prefix="stead-cli-startup-") as tmp:
        cases: list[tuple[str, str, list[str], Path | None]] = [
            ("floor", label, argv, None) for label, argv in FLOORS.items()
        ]
        for name, src in trees.items():
            directory = Path(tmp) / name
            directory.mkdir()
            ws = prepare(args.python, Path(src).resolve(), directory)
            commands = dict(COMMANDS)
            if args.metadata:
                demo = directory / "demo"
                run(args.python, ["-m", "stead", "demo", "--fast", "--dir", str(demo)], src=src)
                commands.update(
                    {k: [a.replace("{ws}", str(demo)) for a in v] for k, v in METADATA.items()}
                )
            for label, argv in commands.items():
                command = ["-m", "stead", *(a.format(ws=ws) for a in argv)]
                cases.append((name, label, command, Path(src).resolve()))

        times: dict[int, list[float]] = {i: [] for i in range(len(cases))}
        for _, _, argv, src in cases:  # warm the page cache, not timed
            run(args.python, argv, src=src)
        for _ in range(args.repeat):
            for i, (_, _, argv, src) in enumerate(cases):
                times[i].append(run(args.python, argv, src=src))

    version = sys.version.split()[0]
    print(f"{args.repeat} runs each, interleaved; {os.cpu_count()} CPUs; Python {version}")
    print(f"{'tree':<10}{'command':<32}{'median s':>10}{'min s':>8}")
    for i, (name, label, _, _) in enumerate(cases):
        median = statistics.median(times[i])
        goal = ""
        if label in METADATA:
            goal = f"  goal < {GOAL_SECONDS} s: {'met' if median < GOAL_SECONDS else 'MISSED'}"
        print(f"{name:<10}{label:<32}{median:>10.2f}{min(times[i]):>8.2f}{goal}")


if __name__ == "__main__":
    main()
