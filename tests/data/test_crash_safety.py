"""A process killed with SIGKILL in the middle of snapshots leaves the store consistent."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from stead.workspace import Workspace

LOOP = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    from stead.workspace import Workspace

    with Workspace.open(sys.argv[1]) as ws:
        rng = np.random.default_rng(int(sys.argv[2]))
        while True:
            frame = pd.DataFrame(rng.normal(size=(50_000, 8)), columns=[f"c{i}" for i in range(8)])
            ws.datasets.snapshot(frame, name="crashy")
            print("ok", flush=True)
    """
)


@pytest.mark.slow
def test_kill_9_mid_snapshot_leaves_no_metadata_pointing_at_nothing(ws: Workspace) -> None:
    for round_, delay in enumerate((0.6, 0.9, 1.3, 1.7)):
        child = subprocess.Popen(
            [sys.executable, "-c", LOOP, str(ws.root), str(round_)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Wait until it has written at least once, then kill it at an arbitrary point.
        assert child.stdout is not None
        child.stdout.readline()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    snapshots = ws.datasets.list("crashy")
    assert len(snapshots) >= 4
    assert [s.version for s in snapshots] == list(range(len(snapshots), 0, -1))
    for snap in snapshots:
        assert len(ws.datasets.load(snap)) == 50_000  # artifact present and verified
    assert ws.audit.verify().ok
    # The store is not left locked: a new snapshot goes through at once.
    assert ws.datasets.snapshot(pd.DataFrame({"after": [1]}), name="after").created
