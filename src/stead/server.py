"""``stead serve``: the serving app on uvicorn, with one or more worker processes.

Each worker builds its own app (:func:`app_from_environment`), opens the workspace,
loads what is deployed and follows changes; they share nothing but the metadata store
and the prediction-log directory. With several workers, Prometheus metrics go through
a shared directory so that ``/metrics`` sums them.

This module sits at the root, beside :mod:`stead.workspace`: it composes the serving
app with ``Workspace.open``, so the server runs on the same services as the CLI and
the Python API, and nothing in ``stead.serving`` imports the root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from starlette.applications import Starlette

from stead.serving.http import app as http_app
from stead.serving.predict.metrics import MULTIPROC_ENV
from stead.workspace import Workspace

WORKSPACE_ENV = "STEAD_SERVE_WORKSPACE"
HOST_ENV = "STEAD_SERVE_HOST"
AUTH_ENV = "STEAD_SERVE_AUTH"

# One BLAS/OpenMP thread per worker: requests are batched, not parallelised per call
# (see stead.serving.predict.pool). Set before the workers import NumPy.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def create_app(
    workspace: str | os.PathLike[str], *, host: str = "127.0.0.1", auth: bool | None = None
) -> Starlette:
    """The serving app for the workspace at (or above) ``workspace``, on its services.

    Args:
        workspace: the workspace directory.
        host: the address the server listens on; with ``[auth] enabled = "auto"`` token
            checks are on unless it is loopback.
        auth: force token checks on or off.

    Raises:
        SettingsError: ``stead.toml`` is missing or a setting is wrong.
    """
    return http_app.create_app(workspace, open_workspace=Workspace.open, host=host, auth=auth)


def app_from_environment() -> Starlette:
    """The app for ``stead serve``'s workers: workspace and host from the environment."""
    auth = os.environ.get(AUTH_ENV)
    return create_app(
        os.environ.get(WORKSPACE_ENV, "."),
        host=os.environ.get(HOST_ENV, "127.0.0.1"),
        auth=None if not auth else auth == "true",
    )


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
    import uvicorn  # the server's, not every command's

    try:
        uvicorn.run(
            "stead.server:app_from_environment",
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
