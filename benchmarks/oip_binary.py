"""A 1,000-row Open Inference Protocol request, binary tensor data vs JSON: server time.

The model: a ``LogisticRegression`` on 6 float, 2 integer and 2 text features (the text
one-hot encoded), trained, registered, reproduced, promoted and deployed with stead as
endpoint ``oip``. One request carries 1,000 rows as one input per column, built by
``tritonclient.http`` (``InferenceServerClient.generate_request_body``):

- ``binary``: tritonclient's default, binary inputs, every output asked as binary;
- ``json``: ``binary_data=False`` on every input and output.

Three figures per mode, the modes interleaved, each run ``--requests`` requests, repeated
``--repeat`` times; the table shows the median of the runs' medians and their range:

- ``in-process``: the serving app called as ASGI in this process, from the body handed
  over to the answer sent: parsing, validating, predicting, queueing the log records,
  encoding. That is the server's own time, without HTTP parsing and the socket.
- ``loopback``: a real ``stead serve --workers 1``, one keep-alive connection, the
  pre-built body sent and the response read (not decoded): the server's time plus HTTP
  and the loopback transfer.
- ``codec``: the part the two modes do differently, alone: the body to each input's
  values, and the answer (1,000 labels and 2,000 probabilities) to its bytes.

Both modes' answers are checked to decode (with tritonclient) to the same arrays. On a
busy machine the absolute figures move; the ratio between interleaved modes holds better.

    .venv/bin/python benchmarks/oip_binary.py [--requests 50] [--repeat 5] [--modes binary,json]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tritonclient.http as triton
from deployed import deploy_workspace  # benchmarks/deployed.py

from stead.server import create_app
from stead.serving.http import oip_binary
from stead.serving.http.responses import dump, load

ENDPOINT = "oip"
INFER = f"/v2/models/{ENDPOINT}/infer"
FLOATS = [f"x{i}" for i in range(6)]
COUNTS = ["n0", "n1"]
TEXTS = ["city", "plan"]
CITIES = np.array(["north", "south", "east", "west", "centre"])
PLANS = np.array(["basic", "plus", "premium"])
ROWS = 1_000


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FLOATS))).round(6), columns=FLOATS)
    frame["n0"] = rng.integers(0, 100, rows)
    frame["n1"] = rng.integers(0, 10, rows)
    frame["city"] = rng.choice(CITIES, rows)
    frame["plan"] = rng.choice(PLANS, rows)
    score = frame[FLOATS].sum(axis=1) + (frame["plan"] == "premium") - frame["n1"] / 10
    frame["target"] = (score + rng.normal(size=rows) > 0).astype(int)
    return frame


def prepare_workspace(root: Path, frame: pd.DataFrame) -> None:
    features = f"""
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OneHotEncoder

        def build():
            return ColumnTransformer([
                ("num", "passthrough", {FLOATS + COUNTS!r}),
                ("text", OneHotEncoder(handle_unknown="ignore"), {TEXTS!r}),
            ])
        """
    deploy_workspace(
        root,
        frame,
        name="oip",
        endpoint=ENDPOINT,
        features=features,
        problem="A synthetic binary problem for the OIP benchmark.",
    )


def request(frame: pd.DataFrame, *, binary: bool) -> tuple[bytes, dict[str, str]]:
    """The body and headers tritonclient sends for ``frame``'s rows."""
    inputs = []
    for name in [*FLOATS, *COUNTS, *TEXTS]:
        values = frame[name].to_numpy()
        datatype = "FP64" if name in FLOATS else "INT64" if name in COUNTS else "BYTES"
        if datatype == "BYTES":
            values = values.astype(np.object_)
        tensor = triton.InferInput(name, [len(frame)], datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    outputs = None
    if not binary:
        outputs = [
            triton.InferRequestedOutput(name, binary_data=False)
            for name in ("predict", "predict_proba")
        ]
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs, outputs)
    headers = {"Content-Type": "application/octet-stream" if binary else "application/json"}
    if json_size is not None:
        headers["Inference-Header-Content-Length"] = str(json_size)
    return body, headers


def decoded(content: bytes, headers: dict[str, str]) -> dict[str, np.ndarray]:
    length = headers.get("inference-header-content-length")
    result = triton.InferenceServerClient.parse_response_body(
        content, header_length=None if length is None else int(length)
    )
    return {name: result.as_numpy(name) for name in ("predict", "predict_proba")}


async def asgi_call(app: Any, body: bytes, headers: dict[str, str]) -> tuple[float, bytes, dict]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": INFER,
        "raw_path": INFER.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    delivered = False
    chunks: list[bytes] = []
    answer: dict[str, str] = {}

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status = message["status"]
            if status != 200:
                raise RuntimeError(f"the server answered {status}: {message}")
            answer.update((k.decode(), v.decode()) for k, v in message["headers"])
        else:
            chunks.append(message.get("body", b""))

    started = time.perf_counter()
    await app(scope, receive, send)
    return time.perf_counter() - started, b"".join(chunks), answer


async def in_process(
    root: Path, requests: dict[str, tuple[bytes, dict[str, str]]], runs: int, count: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """The server time per run and mode, each mode's decoded answer, and one JSON answer."""
    app = create_app(root)
    medians: dict[str, list[float]] = {mode: [] for mode in requests}
    answers: dict[str, dict[str, np.ndarray]] = {}
    rendered: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        for mode, (body, headers) in requests.items():  # warm up, and keep one answer
            for _ in range(5):
                _, content, answer = await asgi_call(app, body, headers)
            answers[mode] = decoded(content, answer)
            if oip_binary.HEADER not in answer:
                rendered = json.loads(content)
        for _ in range(runs):
            for mode, (body, headers) in requests.items():
                times = [(await asgi_call(app, body, headers))[0] for _ in range(count)]
                medians[mode].append(statistics.median(times) * 1000.0)
    return medians, answers, rendered


def codec(
    requests: dict[str, tuple[bytes, dict[str, str]]],
    answer: dict[str, Any],
    runs: int,
    count: int,
) -> dict[str, list[float]]:
    def json_mode(body: bytes, headers: dict[str, str]) -> bytes:
        payload = load(body)
        assert all(isinstance(t["data"], list) for t in payload["inputs"])
        return dump(answer)

    def binary_mode(body: bytes, headers: dict[str, str]) -> bytes:
        payload, tensors = oip_binary.read_header(body, headers["Inference-Header-Content-Length"])
        oip_binary.read_inputs(payload["inputs"], tensors)
        wanted = oip_binary.binary_outputs(payload)
        assert wanted is not None
        return oip_binary.encode(answer, wanted)[0]

    work = {"json": json_mode, "binary": binary_mode}
    medians: dict[str, list[float]] = {mode: [] for mode in requests}
    for _ in range(runs):
        for mode, (body, headers) in requests.items():
            times = []
            for _ in range(count):
                started = time.perf_counter()
                work[mode](body, headers)
                times.append(time.perf_counter() - started)
            medians[mode].append(statistics.median(times) * 1000.0)
    return medians


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "stead", "serve", "--port", str(port), "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--log-level", "warning", "-w", str(root)], stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stead serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("stead serve did not become ready in 120 s")


def loopback(
    root: Path, requests: dict[str, tuple[bytes, dict[str, str]]], runs: int, count: int
) -> dict[str, list[float]]:
    port = free_port()
    process = start_server(root, port)
    medians: dict[str, list[float]] = {mode: [] for mode in requests}
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def post(body: bytes, headers: dict[str, str]) -> float:
            started = time.perf_counter()
            connection.request("POST", INFER, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"stead serve answered {response.status}")
            return time.perf_counter() - started

        for body, headers in requests.values():
            for _ in range(5):
                post(body, headers)
        for _ in range(runs):
            for mode, (body, headers) in requests.items():
                times = [post(body, headers) for _ in range(count)]
                medians[mode].append(statistics.median(times) * 1000.0)
        connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="requests per run and mode")
    parser.add_argument("--repeat", type=int, default=5, help="runs per mode, interleaved")
    parser.add_argument("--modes", default="binary,json", help="binary, json or both")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="stead-bench-oip-"))
    root = work / "ws"
    if root.exists():
        shutil.rmtree(root)
    work.mkdir(parents=True, exist_ok=True)
    print(f"preparing the workspace in {root} ...", file=sys.stderr)
    frame = make_frame(5_000)
    prepare_workspace(root, frame)
    rows = frame.head(ROWS)  # within the contract's ranges, which come from these rows
    modes = [m.strip() for m in args.modes.split(",")]
    requests = {mode: request(rows, binary=mode == "binary") for mode in modes}

    local, answers, rendered = asyncio.run(in_process(root, requests, args.repeat, args.requests))
    first = answers[modes[0]]
    for mode in modes[1:]:
        for name, array in first.items():
            if not np.array_equal(array, answers[mode][name]):
                raise RuntimeError(f"{name} differs between {modes[0]} and {mode}")
    if len(modes) > 1:
        print(f"{' and '.join(modes)} decode to the same answers", file=sys.stderr)
    remote = loopback(root, requests, args.repeat, args.requests)
    # The codec needs a JSON answer to encode, so only with the json mode.
    parts = codec(requests, rendered, args.repeat, args.requests) if rendered else None

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{ROWS:,} rows × {len(FLOATS) + len(COUNTS) + len(TEXTS)} columns; "
        f"{args.repeat} runs of {args.requests} requests per mode"
    )
    print()
    print(
        "| mode | request body | server time, in-process (ms) | round trip, loopback (ms) "
        "| codec alone (ms) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for mode in modes:
        size = len(requests[mode][0])
        print(
            f"| {mode} | {size / 1024:.1f} KiB | {cell(local[mode])} | {cell(remote[mode])} "
            f"| {cell(parts[mode]) if parts else '-'} |"
        )


if __name__ == "__main__":
    main()
