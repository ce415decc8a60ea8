"""The demo's live parts: a real ``stead serve`` process, real HTTP traffic to it, and a
local webhook that receives alerts — all on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(root: Path, *, actor: str, now: str | None = None) -> Iterator[str]:
    """``stead serve`` on a free loopback port; yields its base URL, stops it after.

    ``now`` pins the server's clock (``STEAD_NOW``), so the demo can replay a month of
    traffic in seconds and still have it logged in that month.
    """
    port = free_port()
    env = {**os.environ, "STEAD_ACTOR": actor}
    if now is not None:
        env["STEAD_NOW"] = now
    log = (root / ".stead" / "demo-server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "stead", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"stead serve exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"stead serve did not become ready; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()  # SIGTERM: a graceful stop logs every queued prediction
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class Traffic:
    """What the demo's clients sent and got back."""

    responses: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0  # 4xx: the request broke the contract (the client's to fix)
    failures: int = 0  # anything else: the service failed the client

    def versions(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for response in self.responses:
            version = response["model_version"]
            counts[version] = counts.get(version, 0) + 1
        return counts


def send(
    url: str, endpoint: str, records: pd.DataFrame, *, id_column: str, clients: int = 8
) -> Traffic:
    """POST each record as its own request (as live traffic arrives), ``clients`` at once."""
    traffic = Traffic()
    rows = json.loads(records.to_json(orient="records", date_format="iso"))
    lock = threading.Lock()

    def post(chunk: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for row in chunk:
                try:
                    answer = client.post(
                        f"/v1/endpoints/{endpoint}/predict",
                        json={"records": [row]},
                        headers={"X-Entity-Key": str(row[id_column])},
                    )
                except httpx.HTTPError:
                    with lock:
                        traffic.failures += 1
                    continue
                with lock:
                    if answer.status_code == 200:
                        body = answer.json()
                        body["entity"] = str(row[id_column])  # who asked, for stickiness
                        traffic.responses.append(body)
                    elif 400 <= answer.status_code < 500:
                        traffic.refused += 1
                    else:
                        traffic.failures += 1

    chunks = [rows[i::clients] for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, chunks))
    return traffic


class AlertInbox:
    """A webhook receiver on loopback that keeps every alert it is sent."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    inbox.alerts.append(json.loads(self.rfile.read(length) or b"{}"))
                except json.JSONDecodeError:
                    inbox.alerts.append({"raw": True})
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AlertInbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
