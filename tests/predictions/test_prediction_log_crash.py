"""A real process logging predictions, stopped with SIGTERM or killed with SIGKILL.

The child (``log_child.py``) reports what it handed to ``log()`` and what the writer
reported durable; these tests count what is on disk afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from stead.predictions.reader import read_prediction_table
from stead.predictions.writer import PredictionLog

CHILD = Path(__file__).with_name("log_child.py")


def start(directory: Path, mode: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(directory), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n", child.stderr.read() if child.stderr else ""
    return child


def read_until(child: subprocess.Popen[str], enough: Callable[[list[str]], bool]) -> list[str]:
    assert child.stdout is not None
    lines: list[str] = []
    while not enough(lines):
        line = child.stdout.readline()
        if not line:
            child.kill()
            pytest.fail(f"the child stopped early: {child.communicate()[1]}")
        lines.append(line.strip())
    return lines


def finish(child: subprocess.Popen[str], sig: signal.Signals) -> list[str]:
    child.send_signal(sig)
    rest, _ = child.communicate(timeout=120)
    return rest.splitlines()


def written_reports(lines: list[str]) -> list[tuple[int, int]]:
    """The (handed, written) pairs the async child printed."""
    return [(int(p[1]), int(p[3])) for p in (line.split() for line in lines) if p[0] == "handed"]


def ids_on_disk(directory: Path) -> list[str]:
    table = read_prediction_table(directory, "credit", columns=["request_id"])
    return sorted(table["request_id"].to_pylist())


@pytest.mark.slow
def test_sigterm_in_async_mode_loses_nothing(tmp_path: Path) -> None:
    child = start(tmp_path, "async")
    read_until(child, lambda lines: len(written_reports(lines)) >= 2)
    rest = finish(child, signal.SIGTERM)

    assert child.returncode == 0
    closing = rest[-1].split()
    assert closing[0] == "closed"
    handed, written = int(closing[2]), int(closing[4])
    assert written == handed > 0
    assert ids_on_disk(tmp_path) == [f"req-{i:09d}" for i in range(handed)]


@pytest.mark.slow
def test_sigkill_in_async_mode_loses_only_what_was_not_yet_flushed(tmp_path: Path) -> None:
    child = start(tmp_path, "async")
    # Batches are far larger than the child ever logs: these writes come from the
    # flush interval, which is what bounds the loss.
    seen = read_until(child, lambda lines: len(written_reports(lines)) >= 3)
    rest = finish(child, signal.SIGKILL)

    assert child.returncode == -signal.SIGKILL
    reports = written_reports(seen + rest)
    last_written = reports[-1][1]
    on_disk = ids_on_disk(tmp_path)
    # Every file is complete and readable; what survived is exactly the first records
    # handed to log(), without gaps or duplicates; the loss is the unflushed tail.
    assert on_disk == [f"req-{i:09d}" for i in range(len(on_disk))]
    # Everything the writer had reported durable is there.
    assert len(on_disk) >= last_written > 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sync", "journal"])
def test_sigkill_loses_nothing_acknowledged(tmp_path: Path, mode: str) -> None:
    child = start(tmp_path, mode)
    seen = read_until(child, lambda lines: len(lines) >= 300)
    rest = finish(child, signal.SIGKILL)

    acked = {line.split()[1] for line in seen + rest if line.startswith("acked ")}
    assert len(acked) >= 300
    # The next log opened on the directory converts what the killed one left.
    stats = PredictionLog(tmp_path).close()
    on_disk = ids_on_disk(tmp_path)
    assert len(on_disk) == len(set(on_disk))
    assert acked <= set(on_disk)
    if mode == "journal":
        assert stats.replayed > 0
        assert not list((tmp_path / ".journal").glob("*.jsonl"))
