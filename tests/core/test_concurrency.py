"""Real processes writing to one store at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stead.workspace import Workspace

WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from stead.workspace import Workspace

    root, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Workspace.open(root) as ws:
        for i in range(count):
            frame = pd.DataFrame({"writer": [tag] * 3, "i": [i, i + 1, i + 2]})
            outcome = ws.datasets.snapshot(frame, name="shared")
            print(outcome.snapshot.version, flush=True)
    """
)


@pytest.mark.slow
def test_two_processes_snapshotting_one_dataset_get_distinct_versions(any_ws: Workspace) -> None:
    count = 15
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(any_ws.root), tag, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    versions = sorted(int(v) for out, _ in outputs for v in out.split())
    assert versions == list(range(1, 2 * count + 1))
    stored = [s.version for s in any_ws.datasets.list("shared")]
    assert sorted(stored) == versions
    assert any_ws.audit.verify().ok


@pytest.mark.slow
def test_two_processes_snapshotting_identical_data_share_one_version(
    any_ws: Workspace, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import sys
        import pandas as pd
        from stead.workspace import Workspace
        with Workspace.open(sys.argv[1]) as ws:
            frame = pd.DataFrame({"x": list(range(1000))})
            print(ws.datasets.snapshot(frame, name="same").snapshot.ref)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(any_ws.root)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    refs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert refs == {"same@1"}
    assert [s.ref for s in any_ws.datasets.list("same")] == ["same@1"]
