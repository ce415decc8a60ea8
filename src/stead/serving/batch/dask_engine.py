"""Batch scoring on a Dask cluster: the same chunks, the same function, other machines.

The client sends each worker the verified model *bytes* (with the run's sources and
trusted types) once, and the chunks; workers rebuild the model with skops, exactly as the
registry loads it, and score with :func:`score_chunk_remote`.
Results are gathered in chunk order, so the output is the local engine's, bit for bit.

The input is read and validated by the client, and results come back to it: the cluster
adds cores for the model, not memory for the input (a file larger than the client's
memory needs workers reading row groups themselves, which this engine does not do yet).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from stead.core.artifacts import sha256_bytes
from stead.core.errors import IntegrityError, UsageError
from stead.features.sources import SourceBundle, importing
from stead.predictions.outputs import score_chunk
from stead.training.persistence import load_model


@dataclass(frozen=True)
class ModelPayload:
    """What a Dask worker needs to rebuild a verified model: bytes, not live objects,
    so that project-local classes load from the run's stored sources on any machine."""

    model_bytes: bytes
    model_sha256: str
    trusted_types: list[str]
    sources: bytes
    output: dict[str, Any]


# Models a worker process has rebuilt, by the SHA-256 of their bytes.
_WORKER_MODELS: dict[str, Any] = {}


def score_chunk_remote(payload: ModelPayload, chunk: pd.DataFrame) -> pa.Table:
    """:func:`~stead.predictions.outputs.score_chunk` on a Dask worker: load once, score."""
    pipeline = _WORKER_MODELS.get(payload.model_sha256)
    if pipeline is None:
        if sha256_bytes(payload.model_bytes) != payload.model_sha256:
            raise IntegrityError("the model bytes sent to this Dask worker were altered")
        bundle = SourceBundle.from_bytes(payload.sources, label="sources of the scored model")
        with importing(bundle, root=Path.cwd()):
            pipeline = load_model(
                payload.model_bytes, trusted_types=payload.trusted_types, label="scored model"
            )
        _WORKER_MODELS[payload.model_sha256] = pipeline
    return score_chunk(pipeline, chunk, payload.output)


def score_on_dask(
    payload: ModelPayload,
    chunks: Sequence[pd.DataFrame],
    *,
    scheduler: str | None = None,
    client: Any = None,
    on_progress: Callable[[int], None] = lambda _n: None,
) -> list[pa.Table]:
    """Score ``chunks`` on a cluster; one table per chunk, in order.

    Args:
        scheduler: a scheduler address (``tcp://host:8786``); ``None`` with no ``client``
            starts a local cluster (one process per core) for this call.
        client: an existing ``distributed.Client``; it is left open.

    Raises:
        UsageError: Dask is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - a dependency; guards a broken install
        raise UsageError(
            "the dask engine needs dask.distributed: pip install 'dask[distributed]'"
        ) from exc
    owned: list[Any] = []
    if client is None:
        try:
            if scheduler is None:
                cluster = LocalCluster(threads_per_worker=1, dashboard_address=None)
                owned.append(cluster)
                client = Client(cluster)
            else:
                client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}; check --scheduler"
            ) from exc
        owned.insert(0, client)
    try:
        model = client.scatter(payload, broadcast=True)
        parts = client.scatter(list(chunks))
        futures = [client.submit(score_chunk_remote, model, part, pure=False) for part in parts]
        rows = {future.key: len(chunk) for future, chunk in zip(futures, chunks, strict=True)}
        for future in as_completed(futures):
            on_progress(rows[future.key])
        tables: list[pa.Table] = client.gather(futures)
        return tables
    finally:
        for resource in owned:
            resource.close()
