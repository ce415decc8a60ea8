"""``stead serve``: the serving app on uvicorn, with one or more worker processes.

Each worker builds its own app (:func:`~stead.serving.http.app.app_from_environment`),
opens the workspace, loads what is deployed and follows changes; they share nothing but
the metadata store and the prediction-log directory. With several workers, Prometheus
metrics go through a shared directory so that ``/metrics`` sums them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from stead.serving.http.app import AUTH_ENV, HOST_ENV, WORKSPACE_ENV, create_app
from stead.serving.metrics import MULTIPROC_ENV

# One BLAS/OpenMP thread per worker: requests are batched, not parallelised per call
# (see stead.serving.served). Set before the workers import NumPy.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve(
    workspace: Path,
    *,
    host: str,
    port: int,
    workers: int,
    auth: bool | None = None,
    log_level: str = "info",
) -> None:
    """Run the server until it is stopped (SIGINT or SIGTERM end it gracefully: every
    queued prediction is logged before the process exits).

    Raises:
        SettingsError: a setting is wrong (checked before any worker starts).
    """
    root = Path(workspace).resolve()
    create_app(root, host=host, auth=auth)  # reads stead.toml: fail here, not per worker
    os.environ[WORKSPACE_ENV] = str(root)
    os.environ[HOST_ENV] = host
    if auth is not None:
        os.environ[AUTH_ENV] = "true" if auth else "false"
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        metrics_dir = tempfile.mkdtemp(prefix="stead-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        uvicorn.run(
            "stead.serving.http.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            # The prediction log is the record of requests; uvicorn's access log would
            # be a second, slower one. Forwarded-for headers are not used (no client
            # addresses are kept), so uvicorn need not parse them per request.
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=30,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
