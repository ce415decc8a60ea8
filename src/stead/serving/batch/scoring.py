"""``ws.scoring``: batch scoring of a file, validated, chunked, logged once, idempotent.

``score(target, input, output)`` reads a CSV or Parquet file, checks it against the
version's input contract, scores it chunk by chunk (here, or on a Dask cluster), writes a
Parquet file with one row per input row (``request_id``, the ``[columns] id`` column when
the input has it, then the outputs) and logs every prediction to the prediction log like
an online one (role ``production``; revision ``None`` for ``NAME@N``, the endpoint's
revision for an endpoint).

A job is identified by the input's content hash, the model version and the endpoint it
logs to, and recorded in the metadata database (``batch_jobs``). Its request ids are
``<job id>-<row>`` and its timestamp is the job's, so scoring the same bytes with the same
version again gives the same output file and logs nothing. A job interrupted while
logging (status ``logging``) is finished by the next run, which logs only the request ids
missing from the log.

Both engines score the same chunks with the same function under one BLAS thread, so the
Dask engine's output equals the local one's bit for bit.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from stead.core.artifacts import sha256_bytes, sha256_file
from stead.core.clock import utcnow
from stead.core.errors import UsageError
from stead.core.ids import new_id
from stead.data.contract import ValidationReport, validate
from stead.data.reader import read_table
from stead.predictions.lookup import find_predictions
from stead.predictions.outputs import output_dicts, score_chunk
from stead.predictions.record import PredictionRecord, check_endpoint
from stead.predictions.tables import BatchJobRow
from stead.registry.version import ModelVersion
from stead.serving.batch.dask_engine import ModelPayload, score_on_dask

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.predictions.service import PredictionService
    from stead.registry.service import ModelRegistry
    from stead.serving.deploy.endpoints import EndpointService

Engine = Literal["local", "dask"]
ENGINES = ("local", "dask")
DEFAULT_CHUNK_ROWS = 10_000
BATCH_SUFFIX = ".batch"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ScoreOutcome:
    """What a ``score`` call did.

    Attributes:
        reused: the job existed already (same input bytes, version and endpoint).
        logged: predictions written to the log by this call (0 when reused).
        matches_original: for a reused job, whether the output written now has the
            bytes the first run wrote (``None`` when nothing was rewritten).
        warnings: contract warnings (e.g. a few out-of-range values).
    """

    job_id: str
    model_version: str
    endpoint: str
    revision: int | None
    rows: int
    input: str
    input_hash: str
    output: str
    output_hash: str
    engine: str
    reused: bool
    logged: int
    matches_original: bool | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.reused and not self.logged:
            text = (
                f"{self.input} was already scored by {self.model_version} (job {self.job_id}); "
                f"{self.output} holds the same {self.rows} rows; logged nothing again"
            )
            if self.matches_original is False:
                text += (
                    "; WARNING: the output differs from the first run's (the environment changed?)"
                )
            return text
        return (
            f"scored {self.rows} rows of {self.input} with {self.model_version} "
            f"({self.engine} engine, job {self.job_id}); wrote {self.output} and logged "
            f"{self.logged} predictions to endpoint {self.endpoint}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "message": self.message}


class ScoringService:
    """Batch scoring for a workspace (``ws.scoring``)."""

    def __init__(
        self,
        context: Context,
        *,
        models: ModelRegistry,
        endpoints: EndpointService,
        predictions: PredictionService,
    ) -> None:
        self._ctx = context
        self._models = models
        self._endpoints = endpoints
        self._predictions = predictions

    def score(
        self,
        target: str,
        input: str | os.PathLike[str],
        output: str | os.PathLike[str],
        *,
        engine: Engine = "local",
        scheduler: str | None = None,
        dask_client: Any = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        log_endpoint: str | None = None,
        on_progress: Progress | None = None,
    ) -> ScoreOutcome:
        """Score ``input`` with ``target`` and write ``output`` (Parquet).

        Args:
            target: ``NAME@N`` (or ``NAME@production``), or an endpoint name (its
                production version and revision).
            input: a CSV or Parquet file holding the version's input columns (other
                columns are allowed and ignored, except the ``[columns] id`` column,
                which is copied to the output and logged as the entity key).
            output: the Parquet file to write.
            engine: ``"local"`` or ``"dask"``.
            scheduler: the Dask scheduler address; ``None`` starts a local cluster.
            dask_client: an existing ``distributed.Client`` to use instead.
            chunk_rows: rows per chunk (one model call, one log file).
            log_endpoint: the endpoint name to log under; by default the endpoint, or
                ``NAME.batch`` for a model version.
            on_progress: called with the number of rows each finished chunk scored.

        Raises:
            ContractViolation: the input fails the contract; the report is attached.
            DataError: the input cannot be read.
            NotFound: no such model version or endpoint.
            UsageError: a bad engine, chunk size or endpoint name.
        """
        if engine not in ENGINES:
            raise UsageError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        if chunk_rows < 1:
            raise UsageError(f"chunk_rows = {chunk_rows} must be at least 1")
        version, endpoint, revision = self._resolve(target)
        endpoint = check_endpoint(log_endpoint or endpoint)
        source = Path(input)
        frame = read_table(source, strict=False)
        input_hash = sha256_file(source)
        report = self._validate(frame, version)
        job = self._job(input_hash, version, endpoint)
        out = Path(output)
        if job is not None and job.status == "logged" and _hash_or_none(out) == job.output_hash:
            if on_progress:
                on_progress(job.rows)
            return self._outcome(job, source, out, engine, reused=True, logged=0, same=True)
        started = time.perf_counter()
        table = self._compute(
            frame, version, engine, scheduler, dask_client, chunk_rows, on_progress
        )
        # Per record, the share of the scoring time (the log's latency_ms).
        latency_ms = (time.perf_counter() - started) * 1000 / max(len(frame), 1)
        if job is None:
            job = self._start(input_hash, source, version, endpoint, revision, len(frame), engine)
        result = _with_ids(table, frame, job.id, self._ctx.settings.columns.id)
        output_hash = _write_parquet(result, out)
        if job.status == "logged":
            same = output_hash == job.output_hash
            return self._outcome(job, source, out, engine, reused=True, logged=0, same=same)
        logged = self._log(job, frame, table, result, version, latency_ms)
        job = self._finish(job, output_hash, logged)
        return self._outcome(job, source, out, engine, reused=False, logged=logged, report=report)

    def jobs(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Recorded batch jobs (of one endpoint, or all), newest first."""
        query = select(BatchJobRow).order_by(BatchJobRow.scored_at.desc(), BatchJobRow.id.desc())
        if endpoint is not None:
            query = query.where(BatchJobRow.endpoint == endpoint)
        with self._ctx.store.read() as session:
            return [_job_dict(row) for row in session.scalars(query)]

    # -- steps ------------------------------------------------------------------------

    def _resolve(self, target: str) -> tuple[ModelVersion, str, int | None]:
        if "@" in target:
            version = self._models.get(target)
            return version, f"{version.name}{BATCH_SUFFIX}", None
        endpoint = self._endpoints.get(target)
        version = self._models.get(endpoint.active.production)
        return version, str(endpoint.name), int(endpoint.revision)

    def _validate(self, frame: pd.DataFrame, version: ModelVersion) -> ValidationReport:
        # Columns beyond the contract (ids, e-mails, the label) are normal in a batch
        # file: the model reads only its inputs, so they are allowed here.
        contract = dataclasses.replace(version.contract, allow_extra=True)
        report = validate(frame, contract, policy=self._ctx.settings.validation)
        if not report.ok:
            report = dataclasses.replace(
                report,
                violations=[
                    dataclasses.replace(v, message=f"{v.message} (model {version.ref})")
                    for v in report.violations
                ],
            )
        report.raise_for_errors()
        return report

    def _job(self, input_hash: str, version: ModelVersion, endpoint: str) -> BatchJobRow | None:
        with self._ctx.store.read() as session:
            return session.scalars(
                select(BatchJobRow).where(
                    BatchJobRow.input_hash == input_hash,
                    BatchJobRow.version_id == version.id,
                    BatchJobRow.endpoint == endpoint,
                )
            ).first()

    def _compute(
        self,
        frame: pd.DataFrame,
        version: ModelVersion,
        engine: Engine,
        scheduler: str | None,
        dask_client: Any,
        chunk_rows: int,
        on_progress: Progress | None,
    ) -> pa.Table:
        inputs = frame[version.input_columns]
        bounds = [(s, min(s + chunk_rows, len(inputs))) for s in range(0, len(inputs), chunk_rows)]
        advance = on_progress or (lambda _n: None)
        if engine == "dask":
            payload = self._payload(version)
            chunks = [inputs.iloc[a:b] for a, b in bounds]
            tables = score_on_dask(
                payload, chunks, scheduler=scheduler, client=dask_client, on_progress=advance
            )
        else:
            pipeline = self._models.load(version.ref).pipeline
            tables = []
            for a, b in bounds:
                tables.append(score_chunk(pipeline, inputs.iloc[a:b], version.output))
                advance(b - a)
        return pa.concat_tables(tables) if tables else pa.table({})

    def _payload(self, version: ModelVersion) -> ModelPayload:
        # Verify the signature and hashes here, once; workers re-check the bytes' hash.
        self._models.verify(version.ref)
        artifacts = self._ctx.artifacts
        model_sha = version.artifacts["model"]
        return ModelPayload(
            model_bytes=artifacts.get_bytes(model_sha, label=f"model artifact of {version.ref}"),
            model_sha256=model_sha,
            trusted_types=list(version.trusted_types),
            sources=artifacts.get_bytes(
                version.artifacts["sources"], label=f"sources artifact of {version.ref}"
            ),
            output=dict(version.output),
        )

    def _start(
        self,
        input_hash: str,
        source: Path,
        version: ModelVersion,
        endpoint: str,
        revision: int | None,
        rows: int,
        engine: Engine,
    ) -> BatchJobRow:
        with self._ctx.store.change("batch.score", f"endpoint:{endpoint}") as change:
            # Under the write lock: another process may have started the same job.
            existing = change.session.scalars(
                select(BatchJobRow).where(
                    BatchJobRow.input_hash == input_hash,
                    BatchJobRow.version_id == version.id,
                    BatchJobRow.endpoint == endpoint,
                )
            ).first()
            if existing is not None:
                change.action = "batch.score.reused"
                change.details["job_id"] = existing.id
                return existing
            row = BatchJobRow(
                id=new_id("bj"),
                input_hash=input_hash,
                input_path=str(source.resolve()),
                version_id=version.id,
                model_version=version.ref,
                endpoint=endpoint,
                revision=revision,
                rows=rows,
                status="logging",
                output_hash=None,
                engine=engine,
                scored_at=utcnow(),
                created_by=change.actor,
                finished_at=None,
            )
            change.session.add(row)
            change.details.update(
                {
                    "job_id": row.id,
                    "model": version.ref,
                    "input": row.input_path,
                    "input_hash": input_hash,
                    "rows": rows,
                    "revision": revision,
                    "engine": engine,
                }
            )
            return row

    def _log(
        self,
        job: BatchJobRow,
        frame: pd.DataFrame,
        table: pa.Table,
        result: pa.Table,
        version: ModelVersion,
        latency_ms: float,
    ) -> int:
        request_ids: list[str] = result.column("request_id").to_pylist()
        already: set[str] = set()
        if job.status == "logging":
            # A run that stopped part-way may have logged some chunks: log the rest only.
            found = find_predictions(
                self._predictions.directory, request_ids, endpoint=job.endpoint, columns=[]
            )
            already = set(found.column("request_id").to_pylist())
        outputs = output_dicts(table)
        inputs = frame[version.input_columns]
        id_column = self._ctx.settings.columns.id
        entity = frame[id_column].astype(str).tolist() if id_column in frame else None
        logged = 0
        # Sync mode: the job is marked logged only once every record is durable.
        with self._predictions.open_log(mode="sync") as plog:
            step = DEFAULT_CHUNK_ROWS
            for start in range(0, len(frame), step):
                stop = min(start + step, len(frame))
                rows = inputs.iloc[start:stop].to_dict("records")
                records = [
                    PredictionRecord(
                        request_id=request_ids[i],
                        timestamp=job.scored_at,
                        endpoint=job.endpoint,
                        revision=job.revision,
                        model_version=version.ref,
                        role="production",
                        feature_set_version=version.feature_set_version,
                        snapshot=version.snapshot_ref,
                        inputs={str(k): v for k, v in rows[i - start].items()},
                        outputs=outputs[i],
                        latency_ms=latency_ms,
                        entity_key=None if entity is None else entity[i],
                    )
                    for i in range(start, stop)
                    if request_ids[i] not in already
                ]
                plog.log_many(records)
                logged += len(records)
        return logged

    def _finish(self, job: BatchJobRow, output_hash: str, logged: int) -> BatchJobRow:
        with self._ctx.store.change("batch.score.logged", f"endpoint:{job.endpoint}") as change:
            row = change.session.get(BatchJobRow, job.id)
            assert row is not None, f"batch job {job.id} vanished"
            row.status = "logged"
            row.output_hash = output_hash
            row.finished_at = utcnow()
            change.details.update({"job_id": job.id, "logged": logged, "output_hash": output_hash})
            change.session.flush()
            change.session.expunge(row)
            return row

    def _outcome(
        self,
        job: BatchJobRow,
        source: Path,
        out: Path,
        engine: str,
        *,
        reused: bool,
        logged: int,
        same: bool | None = None,
        report: ValidationReport | None = None,
    ) -> ScoreOutcome:
        return ScoreOutcome(
            job_id=job.id,
            model_version=job.model_version,
            endpoint=job.endpoint,
            revision=job.revision,
            rows=job.rows,
            input=str(source),
            input_hash=job.input_hash,
            output=str(out),
            output_hash=job.output_hash or "",
            engine=engine,
            reused=reused,
            logged=logged,
            matches_original=same if reused else None,
            warnings=[v.message for v in report.warnings] if report else [],
        )


def _with_ids(table: pa.Table, frame: pd.DataFrame, job_id: str, id_column: str | None) -> pa.Table:
    width = max(6, len(str(len(frame))))
    ids = pa.array([f"{job_id}-{i:0{width}d}" for i in range(len(frame))], pa.string())
    columns = {"request_id": ids}
    if id_column and id_column in frame.columns and id_column not in table.column_names:
        columns[id_column] = pa.Array.from_pandas(frame[id_column])
    head = pa.table(columns)
    for name in table.column_names:
        head = head.append_column(name, table.column(name))
    return head


def _write_parquet(table: pa.Table, path: Path) -> str:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_id()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return sha256_bytes(data)


def _hash_or_none(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def _job_dict(row: BatchJobRow) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "job_id": row.id,
        "model_version": row.model_version,
        "endpoint": row.endpoint,
        "revision": row.revision,
        "rows": row.rows,
        "status": row.status,
        "input": row.input_path,
        "input_hash": row.input_hash,
        "output_hash": row.output_hash,
        "engine": row.engine,
        "scored_at": when(row.scored_at),
        "finished_at": when(row.finished_at),
        "created_by": row.created_by,
    }
