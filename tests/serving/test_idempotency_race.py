"""Two processes answering the same idempotency keys at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stead.workspace import Workspace

KEYS = 40
RACER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from stead.serving.predict.idempotency import ResponseStore, StoredResponse
    from stead.workspace import Workspace

    root, tag, keys, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    with Workspace.open(root) as ws:
        responses = ResponseStore(ws.store, ttl=600)
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.001)
        for i in range(keys):
            mine = StoredResponse(status=200, body=f"{tag}-{i}", request_id=f"{tag}-{i}")
            sent, ours = responses.put("credit", f"key-{i}", "same-request", mine)
            print(json.dumps([i, ours, sent.request_id]), flush=True)
    """
)


@pytest.mark.slow  # two real processes, as tests/core/test_concurrency.py
def test_one_process_wins_each_key_and_both_send_the_winners_response(
    any_ws: Workspace, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(any_ws.root), tag, str(KEYS), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
    time.sleep(0.05)
    go.touch()
    answers = []
    for racer in racers:
        out, _ = racer.communicate(timeout=120)
        assert racer.returncode == 0
        answers.append({i: (ours, sent) for i, ours, sent in map(json.loads, out.splitlines())})

    a, b = answers
    assert sorted(a) == sorted(b) == list(range(KEYS))
    for i in range(KEYS):
        assert a[i][0] != b[i][0], f"key-{i}: exactly one process stores its response"
        assert a[i][1] == b[i][1], f"key-{i}: both send the stored (winner's) response"
