"""A real ``stead serve`` killed with SIGKILL under concurrent load, three times.

Every request the server answered with 200 (and a request id) must be in the log once
the server has been started again: the default log mode keeps each record in its
journal before it answers, and the next start converts what the dead process left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from stead.workspace import Workspace
from tests.serving.deployed import RECORD, TREES
from tests.serving.test_server_process import free_port

pytestmark = pytest.mark.slow
PREDICT = "/v1/endpoints/credit/predict"
CLIENTS = 16


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    errors = root.parent / f"server-{port}.err"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "stead", "serve", "--port", str(port), "--workers", "1"),
            *("--log-level", "warning", "-w", str(root)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=errors.open("wb"),
        env={**os.environ, "STEAD_ACTOR": "tester"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, errors.read_text()
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not become ready in 60 s"
        time.sleep(0.1)


def load_until_killed(url: str, process: subprocess.Popen[bytes]) -> list[str]:
    """Send requests from CLIENTS threads, SIGKILL the server mid-stream; the ids of
    the requests answered 200."""
    acknowledged: list[str] = []
    lock = threading.Lock()
    started = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            started.wait()
            while True:
                try:
                    response = http.post(PREDICT, json={"records": [RECORD]})
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(response.headers["x-request-id"])

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    started.wait()
    # Kill once answers flow, at no particular moment of the writer's cycle.
    deadline = time.monotonic() + 60
    while len(acknowledged) < 300:
        assert time.monotonic() < deadline, "the server answered too little"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for thread in threads:
        thread.join(timeout=60)
    return acknowledged


def test_no_acknowledged_prediction_is_lost_over_three_kills(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    acknowledged: list[str] = []
    for _ in range(3):
        process, url = start_server(dep_dir)
        acknowledged += load_until_killed(url, process)
        assert process.returncode == -signal.SIGKILL
    # One more start converts what the last kill left; a graceful stop closes the log.
    process, _ = start_server(dep_dir)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)

    with Workspace.open(dep_dir) as ws:
        logged = ws.predictions.read("credit", columns=["request_id", "role"])
    answered = logged[logged["role"] == "production"]["request_id"]
    assert answered.is_unique
    missing = set(acknowledged) - set(answered)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged predictions lost"
    assert not list((dep_dir / ".stead" / "predictions" / ".journal").glob("*.jsonl"))
