"""Fuzz the HTTP API of a real ``stead serve`` with schemathesis, thousands of cases.

    .venv/bin/python benchmarks/fuzz_api.py [--examples 100] [--seed 0] [--workers 1]

Builds a workspace with the test suite's credit project (a tree model over ``income``,
``age`` and ``region``, deployed as ``credit``), serves it on loopback, and sends
generated requests to every operation of ``/openapi.json``: for each, ``--examples``
cases that fit its schema and as many that do not (path name ``credit``), and as many
fitting ones with generated endpoint names. Every schemathesis check runs on every
answer. Prints the statuses seen, the server errors and the other failures (each kind
with one example) and exits non-zero if there was any. The suite runs the same driver
with a few hundred cases (``tests/serving/test_server_fuzz.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the driver and the project live with the tests

from tests.serving.deployed import GOVERNANCE  # noqa: E402
from tests.serving.fuzzing import fuzz  # noqa: E402
from tests.serving.test_server_process import server  # noqa: E402
from tests.training.projects import credit_frame, set_tables, write_project  # noqa: E402

from stead.workspace import Workspace  # noqa: E402


def prepare(root: Path) -> None:
    Workspace.init(root, actor="tester")
    write_project(root)
    set_tables(root, GOVERNANCE)
    with Workspace.open(root, actor="tester") as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        run = ws.runs.train().run.id
        ref = ws.models.register(run, name="credit").version.ref
        ws.runs.reproduce(run)
        ws.models.promote(ref, to="production", reason="fuzzing")
        ws.endpoints.deploy("credit", ref, reason="fuzzing")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and pass")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="build the workspace here once, and reuse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "ws"
        if not (root / "stead.toml").exists():
            prepare(root)
        with Workspace.open(root, actor="root") as ws:  # an admin may call everything
            token = ws.tokens.create(name=f"fuzz-{time.time_ns()}", role="admin").secret
        started = time.monotonic()
        with server(root, workers=args.workers, options=("--auth",)) as url:
            tally = fuzz(
                url, examples=args.examples, endpoint="credit", token=token, seed=args.seed
            )
        seconds = time.monotonic() - started
    print(tally.report())
    summary = {
        "cases": tally.cases,
        "server_errors": tally.server_errors,
        "other_failures": tally.violations,
        "statuses": dict(sorted(tally.statuses.items())),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(summary))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
