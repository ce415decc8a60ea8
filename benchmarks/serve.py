"""Serving latency and throughput: ``stead serve`` vs the same model in-process vs
``mlflow models serve``.

The model: a ``LogisticRegression`` on 20 numeric features behind a passthrough
``ColumnTransformer`` (the shape of a stead feature set), trained, registered,
reproduced, promoted and deployed with stead as endpoint ``bench``. Requests carry one
record each, drawn from 1,000 different training rows.

- ``in-process``: the fitted pipeline's ``LogisticRegression`` on a one-row NumPy
  array, and the whole pipeline on a one-row DataFrame, in this process (median).
- ``stead``: ``stead serve --workers W`` (uvicorn), ``POST /v1/endpoints/bench/predict``
  with ``{"records": [{...}]}``: contract validation and prediction logging (journal
  mode, the default: each record is in the crash journal before the answer) on, as in
  production. ``stead-async`` is the same server with ``[serving.log] mode = "async"``
  (records only in memory until the flush), measured in the same run, interleaved.
- ``kills``: ``--kills N`` times, ``stead serve`` under 32 concurrent clients is killed
  with SIGKILL and started again; every request answered 200 is looked up in the log.

Goals (printed as met or not): 0 acknowledged predictions lost over the kills; the
default mode's single-record throughput at concurrency 64 at least 90 % of async
mode's in the same run; p99 at 64 below 50 ms (on an idle machine).
- ``mlflow``: the same pipeline fitted on the same rows in a separate virtualenv
  (MLflow does not install beside pandas 3), saved with ``mlflow.sklearn`` and served by
  ``mlflow models serve --workers W --env-manager local``, ``POST /invocations`` with
  ``dataframe_split``. The two models' probabilities are checked to agree (1e-9).

Load comes from ``benchmarks/loadgen.py`` in its own process: C keep-alive connections
in a closed loop for ``--duration`` seconds after a warm-up. Each (server, concurrency)
is measured ``--repeat`` times, servers interleaved; the table shows medians. On a
2-core machine the load generator and the server share the cores, on both sides alike.

    python3 -m venv /tmp/mlflow-venv
    /tmp/mlflow-venv/bin/pip install mlflow scikit-learn
    .venv/bin/python benchmarks/serve.py [--workers 1] [--duration 10] [--repeat 3] \\
        [--mlflow-python /tmp/mlflow-venv/bin/python]
"""

from __future__ import annotations

import argparse
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
from deployed import deploy_workspace  # benchmarks/deployed.py

from stead.workspace import Workspace

FEATURES = 20
NAMES = [f"f{i}" for i in range(FEATURES)]
ENDPOINT = "bench"
CONCURRENCY = (1, 16, 64)
HERE = Path(__file__).resolve().parent

MLFLOW_SCRIPT = """
import json, sys
import pandas as pd
import mlflow.sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

data, out, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
frame = pd.read_csv(data)
model = Pipeline([
    ("features", ColumnTransformer([("num", "passthrough", names)])),
    ("model", LogisticRegression(random_state=7)),
]).fit(frame[names], frame["target"])
mlflow.sklearn.save_model(model, out)
probe = pd.read_csv(sys.argv[4])
print(json.dumps(model.predict_proba(probe[names]).tolist()))
"""


def make_frame(rows: int = 5_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, FEATURES)).round(6)
    weights = rng.normal(size=FEATURES)
    frame = pd.DataFrame(X, columns=NAMES)
    frame["target"] = ((X @ weights + rng.normal(size=rows)) > 0).astype(int)
    return frame


def prepare_workspace(root: Path, frame: pd.DataFrame) -> None:
    features = f"""
        from sklearn.compose import ColumnTransformer

        def build():
            return ColumnTransformer([("num", "passthrough", {NAMES!r})])
        """
    deploy_workspace(
        root,
        frame,
        name="bench",
        endpoint=ENDPOINT,
        features=features,
        problem="A synthetic binary problem for the serving benchmark.",
    )


def in_process(root: Path, frame: pd.DataFrame) -> dict[str, float]:
    with Workspace.open(root) as ws:
        loaded = ws.models.load(f"{ENDPOINT}@1")
    estimator = loaded.pipeline[-1]
    array = frame[NAMES].to_numpy()[:1]
    row = frame[NAMES].iloc[:1]

    def median_ms(call: Any, n: int = 2_000) -> float:
        for _ in range(100):
            call()
        times = []
        for _ in range(n):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000.0

    return {
        "numpy_1row_ms": median_ms(lambda: estimator.predict_proba(array)),
        "dataframe_1row_ms": median_ms(lambda: loaded.pipeline.predict_proba(row), 500),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_stead(
    root: Path, port: int, workers: int, mode: str = "journal"
) -> subprocess.Popen[bytes]:
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
        ],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "STEAD_SERVING_LOG_MODE": mode},
    )
    wait_for(f"http://127.0.0.1:{port}/readyz", process)
    return process


def kill_under_load(root: Path, frame: pd.DataFrame, kills: int) -> dict[str, int]:
    """Kill ``stead serve`` with SIGKILL under 32 clients ``kills`` times; count the
    acknowledged requests and those missing from the log after a restart."""
    import threading

    import httpx

    record = {n: float(frame[n].iloc[0]) for n in NAMES}
    acknowledged: list[str] = []
    lock = threading.Lock()
    for _ in range(kills):
        port = free_port()
        process = start_stead(root, port, 1)

        def client(url: str = f"http://127.0.0.1:{port}") -> None:
            with httpx.Client(base_url=url, timeout=10) as http:
                while True:
                    try:
                        r = http.post(
                            f"/v1/endpoints/{ENDPOINT}/predict", json={"records": [record]}
                        )
                    except httpx.TransportError:
                        return
                    if r.status_code == 200:
                        with lock:
                            acknowledged.append(r.headers["x-request-id"])

        threads = [threading.Thread(target=client) for _ in range(32)]
        for t in threads:
            t.start()
        time.sleep(3.0)
        process.send_signal(signal.SIGKILL)
        process.wait()
        for t in threads:
            t.join()
    stop(start_stead(root, free_port(), 1))  # converts what the last kill left
    with Workspace.open(root) as ws:
        logged = set(ws.predictions.read(ENDPOINT, columns=["request_id"])["request_id"])
    lost = sum(1 for rid in acknowledged if rid not in logged)
    return {"kills": kills, "acknowledged": len(acknowledged), "lost": lost}


def training_rows(root: Path) -> pd.DataFrame:
    """The rows stead's run fitted on (its snapshot minus the evaluation rows)."""
    with Workspace.open(root) as ws:
        run = ws.runs.get(ws.models.get(f"{ENDPOINT}@1").run_id)
        snapshot = ws.datasets.load(ws.datasets.get_by_id(run.snapshot_id))
        evaluation = ws.runs.eval_frame(run).index
    return snapshot.drop(index=evaluation)


def prepare_mlflow(
    python: str, frame: pd.DataFrame, train: pd.DataFrame, work: Path, expected: np.ndarray
) -> Path:
    data, probe = work / "train.csv", work / "probe.csv"
    train.to_csv(data, index=False)
    frame.head(200).to_csv(probe, index=False)
    model_dir = work / "mlflow-model"
    shutil.rmtree(model_dir, ignore_errors=True)
    out = subprocess.run(
        [python, "-c", MLFLOW_SCRIPT, str(data), str(model_dir), json.dumps(NAMES), str(probe)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"fitting and saving the MLflow model failed:\n{out.stderr}")
    theirs = np.array(json.loads(out.stdout.strip().splitlines()[-1]))
    gap = float(np.abs(theirs - expected).max())
    if gap > 1e-9:
        raise RuntimeError(f"the MLflow model differs from stead's by {gap:g}")
    print(f"MLflow's model agrees with stead's within {gap:.1e}", file=sys.stderr)
    return model_dir


def start_mlflow(python: str, model_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"file://{model_dir.parent / 'mlruns'}",
        # mlflow starts `uvicorn` by name: its virtualenv's bin must come first.
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    process = subprocess.Popen(
        [
            python,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            str(model_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            str(workers),
            "--env-manager",
            "local",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    wait_for(f"http://127.0.0.1:{port}/ping", process)
    return process


def bodies(frame: pd.DataFrame, kind: str, path: Path) -> Path:
    rows = frame[NAMES].head(1_000).to_dict("records")
    with path.open("w") as fh:
        for row in rows:
            if kind == "stead":
                body: dict[str, Any] = {"records": [row]}
            else:
                body = {"dataframe_split": {"columns": NAMES, "data": [[row[n] for n in NAMES]]}}
            fh.write(json.dumps(body) + "\n")
    return path


def load(
    port: int, path: str, body_file: Path, concurrency: int, duration: float
) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "loadgen.py"),
            "--port",
            str(port),
            "--path",
            path,
            "--bodies",
            str(body_file),
            "--concurrency",
            str(concurrency),
            "--duration",
            str(duration),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mlflow-python", help="python of a virtualenv with mlflow")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs under load (0: none)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="stead-bench-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    frame = make_frame()
    root = work / "ws"
    if root.exists():
        shutil.rmtree(root)
    print(f"preparing the workspace in {root} ...", file=sys.stderr)
    prepare_workspace(root, frame)
    local = in_process(root, frame)
    with Workspace.open(root) as ws:
        expected = ws.models.load(f"{ENDPOINT}@1").pipeline.predict_proba(frame[NAMES].head(200))
    stead_bodies = bodies(frame, "stead", work / "stead.jsonl")
    targets: dict[str, tuple[str, Path]] = {
        "stead": (f"/v1/endpoints/{ENDPOINT}/predict", stead_bodies),
        "stead-async": (f"/v1/endpoints/{ENDPOINT}/predict", stead_bodies),
    }
    model_dir = None
    if args.mlflow_python:
        model_dir = prepare_mlflow(args.mlflow_python, frame, training_rows(root), work, expected)
        targets["mlflow"] = ("/invocations", bodies(frame, "mlflow", work / "mlflow.jsonl"))

    results: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {c: [] for c in CONCURRENCY} for name in targets
    }
    for attempt in range(args.repeat):
        for name, (path, body_file) in targets.items():
            port = free_port()
            if name.startswith("stead"):
                mode = "async" if name == "stead-async" else "journal"
                process = start_stead(root, port, args.workers, mode)
            else:
                assert model_dir is not None and args.mlflow_python
                process = start_mlflow(args.mlflow_python, model_dir, port, args.workers)
            try:
                for c in CONCURRENCY:
                    outcome = load(port, path, body_file, c, args.duration)
                    results[name][c].append(outcome)
                    print(
                        f"[{attempt + 1}/{args.repeat}] {name} c={c}: "
                        f"{outcome['throughput']:.0f} req/s, p50 {outcome['p50_ms']:.2f} ms, "
                        f"p99 {outcome['p99_ms']:.2f} ms, errors {outcome['errors']}",
                        file=sys.stderr,
                    )
            finally:
                stop(process)

    def med(name: str, c: int, key: str) -> float:
        return statistics.median(r[key] for r in results[name][c])

    summary: dict[str, Any] = {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "workers": args.workers,
        "duration_s": args.duration,
        "repeat": args.repeat,
        "in_process": local,
        "servers": {
            name: {
                str(c): {
                    key: med(name, c, key) for key in ("throughput", "p50_ms", "p99_ms", "errors")
                }
                for c in CONCURRENCY
            }
            for name in targets
        },
    }
    if args.kills:
        summary["kills"] = kill_under_load(root, frame, args.kills)
    summary["goals"] = goals(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(table(summary))


def goals(summary: dict[str, Any]) -> dict[str, Any]:
    servers = summary["servers"]
    ratio = servers["stead"]["64"]["throughput"] / servers["stead-async"]["64"]["throughput"]
    p99 = servers["stead"]["64"]["p99_ms"]
    found: dict[str, Any] = {
        "throughput_c64_vs_async": round(ratio, 3),
        "throughput_goal_met": ratio >= 0.90,
        "p99_c64_ms": p99,
        "p99_goal_met": p99 < 50.0,
    }
    if "kills" in summary:
        found["lost_over_kills"] = summary["kills"]["lost"]
        found["kill_goal_met"] = summary["kills"]["lost"] == 0
    return found


def table(summary: dict[str, Any]) -> str:
    local = summary["in_process"]
    lines = [
        f"in-process: LogisticRegression on a 1-row NumPy array {local['numpy_1row_ms']:.3f} ms, "
        f"the pipeline on a 1-row DataFrame {local['dataframe_1row_ms']:.3f} ms (medians)",
        "",
        "| server | p50 c=1 (ms) | p99 c=1 (ms) | req/s c=1 | req/s c=16 | req/s c=64 "
        "| p99 c=64 (ms) | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, by_c in summary["servers"].items():
        errors = sum(int(v["errors"]) for v in by_c.values())
        lines.append(
            f"| {name} | {by_c['1']['p50_ms']:.2f} | {by_c['1']['p99_ms']:.2f} | "
            f"{by_c['1']['throughput']:.0f} | {by_c['16']['throughput']:.0f} | "
            f"{by_c['64']['throughput']:.0f} | {by_c['64']['p99_ms']:.1f} | {errors} |"
        )
    g = summary["goals"]
    lines += [
        "",
        f"default (journal) vs async at c=64: {g['throughput_c64_vs_async']:.1%} of the "
        f"throughput (goal >= 90 %: {'met' if g['throughput_goal_met'] else 'NOT met'}); "
        f"p99 {g['p99_c64_ms']:.1f} ms (goal < 50 ms: {'met' if g['p99_goal_met'] else 'NOT met'})",
    ]
    if "kills" in summary:
        k = summary["kills"]
        lines.append(
            f"kill -9 under load: {k['lost']} of {k['acknowledged']} acknowledged predictions "
            f"lost over {k['kills']} kills (goal 0: {'met' if g['kill_goal_met'] else 'NOT met'})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
