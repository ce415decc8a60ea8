"""Real servers on loopback: ``stead serve`` with two workers, and a second replica.

Deployments reach every worker of every replica within a second or so (checked with a
functional deadline of a few seconds), a rollback under load fails no request, two
replicas give the same bits, and a graceful stop logs every answered prediction.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from stead.workspace import Workspace
from tests.serving.deployed import LOGISTIC, RECORD, TREES
from tests.training.projects import credit_frame

pytestmark = pytest.mark.slow
PREDICT = "/v1/endpoints/credit/predict"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(root: Path, *, workers: int, options: tuple[str, ...] = ()) -> Iterator[str]:
    port = free_port()
    errors = root.parent / f"server-{port}.err"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stead",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "-w",
            str(root),
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=errors.open("wb"),
        env={**os.environ, "STEAD_ACTOR": "tester"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, errors.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready in 60 s"
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # uvicorn re-raises the signal once it has shut down gracefully (one worker).
        assert process.returncode in (0, -signal.SIGTERM), errors.read_text()


def revision_everywhere(urls: list[str], revision: int, *, timeout: float) -> float:
    """Seconds until a burst of fresh connections to every server all answer ``revision``."""
    started = time.monotonic()
    while True:
        seen = set()
        for url in urls:
            for _ in range(8):  # fresh connections land on either worker
                with httpx.Client(base_url=url, timeout=10) as client:
                    seen.add(client.post(PREDICT, json={"records": [RECORD]}).json()["revision"])
        if seen == {revision}:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"revisions {seen}, waiting for {revision}"
        time.sleep(0.05)


def test_every_worker_of_every_replica_follows_a_deployment(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with server(dep_dir, workers=2) as first, server(dep_dir, workers=1) as second:
        revision_everywhere([first, second], 1, timeout=10)
        with Workspace.open(dep_dir) as ws:
            ws.endpoints.canary("credit", LOGISTIC, share=50, reason="try it")
        # Loading credit@2 happens before the switch; a second covers poll and load.
        assert revision_everywhere([first, second], 2, timeout=5) < 5
        with Workspace.open(dep_dir) as ws:
            ws.endpoints.rollback("credit", reason="back")
        revision_everywhere([first, second], 3, timeout=5)
        # The same record gives the same bits on every replica and worker.
        records = credit_frame()[["income", "age", "region"]].head(20).to_dict("records")
        answers = []
        for url in (first, second, first):
            with httpx.Client(base_url=url) as client:
                answers.append(client.post(PREDICT, json={"records": records}).json())
        assert answers[0]["predictions"][0]["probabilities"]
        strip = [[{**p, "request_id": None} for p in a["predictions"]] for a in answers]
        assert strip[0] == strip[1] == strip[2]


def test_rollback_under_load_fails_no_request_and_logs_every_answer(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    outcomes: list[Any] = []
    stop = threading.Event()

    def load(url: str, key: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(20_000):  # bounded; stopped long before
                if stop.is_set():
                    return
                try:
                    response = client.post(
                        PREDICT,
                        json={"records": [RECORD]},
                        headers={"X-Entity-Key": f"c{key}-{len(outcomes) % 50}"},
                    )
                    outcomes.append((response.status_code, response.json().get("revision")))
                except Exception as exc:  # a refused or dropped connection counts as failed
                    outcomes.append((repr(exc), None))

    with server(dep_dir, workers=2) as url:
        threads = [threading.Thread(target=load, args=(url, k)) for k in range(6)]
        for thread in threads:
            thread.start()
        with Workspace.open(dep_dir) as ws:
            time.sleep(0.5)
            ws.endpoints.canary("credit", LOGISTIC, share=50, reason="canary")
            time.sleep(1.5)
            ws.endpoints.rollback("credit", reason="roll back under load")
            time.sleep(1.5)
            ws.endpoints.rollback("credit", reason="and forward again")
            time.sleep(1.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    failed = [o for o in outcomes if o[0] != 200]
    assert not failed, failed[:5]
    revisions = [revision for _, revision in outcomes]
    assert {1, 2, 3, 4} <= set(revisions)
    assert revisions[-1] == 4
    # The server stopped gracefully (SIGTERM): every answered prediction is in the log.
    with Workspace.open(dep_dir) as ws:
        rows = ws.predictions.read("credit", columns=["request_id", "role"])
    answered = rows[rows["role"].isin(["production", "canary"])]
    assert len(answered) == len(outcomes)
    assert answered["request_id"].is_unique


def test_refused_requests_keep_the_client_connection_open(dep_dir: Path) -> None:
    import http.client
    import json

    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    bodies = [
        ("/v1/endpoints/credit/deployments", b'{"action": {}}'),
        ("/v1/endpoints/credit/deployments", b'{"model": "credit@1", "share": "abc"}'),
        ("/v1/endpoints/credit/rollback", b'{"to": true}'),
        ("/v1/endpoints/credit/rollback", b'{"reason": [1, 2]}'),
        (PREDICT, b'{"columns": {"age": 5}}'),
        (PREDICT, b'{"records": [{"income": 1' + b"0" * 400 + b"}]}"),
        (PREDICT, b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        (PREDICT, b'{"records": [{"income": 41.5, "age": 33, "region": "\\ud800"}]}'),
        ("/v1/endpoints/credit/feedback", b'{"request_id": "r", "label": 1, "kpis": [1]}'),
    ]
    with server(dep_dir, workers=1) as url:
        connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        connection.connect()
        socket_before = connection.sock
        for path, body in bodies:
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert 400 <= response.status < 500, (path, body[:60], answer)
            assert not response.will_close, (path, body[:60])
        connection.request("POST", PREDICT, json.dumps({"records": [RECORD]}), {})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["predictions"]
        assert connection.sock is socket_before  # one connection all along
        connection.close()
