"""The serving engine: one prediction request from records to logged answers, whatever
protocol it came in by (native, Open Inference Protocol, MLflow).

For a request to an endpoint it:

1. routes each record (by entity key: the ``X-Entity-Key`` header, else the record's
   ``[columns] id`` value, else the request id) to production or the sticky canary;
2. checks the records against the routed version's input contract (422 before any
   model runs);
3. predicts through the version's micro-batcher, within ``[serving] latency_budget``;
   when the model raises or is too slow, the fallback answers, the answer says so,
   and both the failure and the fallback's answer are logged and counted;
4. after the caller decides the answer is final (idempotency), logs every record and
   mirrors the request to the shadows, off the response path; a shadow's outputs are
   logged with production's under the same request id, with ``agrees`` saying whether
   it gave the same prediction. Nothing a shadow does reaches the response.

A request with one record has one request id. With several, record ``i`` is logged as
``<request id>.<i>`` (and the response says so), so feedback and lineage address one
record.

With ``record_errors`` (``?record_errors=true``), a record that breaks its version's
contract gets its own error and the others are answered; its id is still
``<request id>.<i>`` and it is logged as refused. Only when no record is left is the
request refused as a whole (422), as without the option.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from stead.core.clock import utcnow
from stead.core.errors import ContractViolation, NotFound, SteadError, UsageError
from stead.predictions.group_commit import GroupCommit
from stead.predictions.record import PredictionRecord
from stead.predictions.writer import PredictionLog
from stead.serving.deploy.watcher import DeploymentWatcher, LiveEndpoint
from stead.serving.errors import NotReady, PayloadTooLarge, PredictionFailed
from stead.serving.predict.answer_log import answered_records, record, refused_records, request_ids
from stead.serving.predict.contract import EdgeBatch
from stead.serving.predict.metrics import ServingMetrics
from stead.serving.predict.pool import ModelPool, ServedModel
from stead.serving.predict.request import Answer, Part, PredictRequest, RecordError
from stead.serving.settings import ServingSettings

if TYPE_CHECKING:
    from stead.serving.explain import Explanation

log = logging.getLogger("stead.serving")
ExplainBatch = Callable[[ServedModel, EdgeBatch], "Explanation"]


class ServingEngine:
    """Predicts for every endpoint a server process serves.

    Args:
        watcher: the live routing table.
        pool: the loaded versions.
        prediction_log: where every prediction is logged.
        metrics: the Prometheus metrics.
        settings: ``[serving]``.
        id_column: ``[columns] id``, the entity key in records.
        explainer: explains a batch with a served version (``?explain=true``).
    """

    def __init__(
        self,
        *,
        watcher: DeploymentWatcher,
        pool: ModelPool,
        prediction_log: PredictionLog,
        metrics: ServingMetrics,
        settings: ServingSettings,
        id_column: str | None,
        explainer: ExplainBatch,
    ) -> None:
        self._watcher = watcher
        self._pool = pool
        self._log = prediction_log
        self._group = GroupCommit(prediction_log)
        self._metrics = metrics
        self._settings = settings
        self._id_column = id_column
        self._explainer = explainer
        self._budget = settings.latency_budget or None
        self._tasks: set[asyncio.Task[None]] = set()

    def live(self, endpoint: str) -> LiveEndpoint:
        """What ``endpoint`` serves in this process.

        Raises:
            NotReady: the server is still loading.
            NotFound: no such endpoint is deployed.
        """
        found = self._watcher.table.get(endpoint)
        if found is not None:
            return found
        if not self._watcher.ready:
            raise NotReady("the server is still loading its deployments; retry in a moment")
        problem = self._watcher.problems.get(endpoint)
        if problem:
            raise NotReady(f"endpoint {endpoint} is not loaded: {problem}")
        # Not the list of endpoints: a predictor may not read what else is deployed.
        raise NotFound(
            f"no endpoint named {endpoint!r} is deployed here; a viewer token lists them "
            "(GET /v1/endpoints)"
        )

    # -- answering --------------------------------------------------------------------

    async def predict(self, request: PredictRequest) -> Answer:
        """Route, check, predict (with fallback) and explain; nothing is logged yet.

        Raises:
            NotFound, NotReady: no such endpoint here (yet).
            PayloadTooLarge: more records than ``[serving] max_records``.
            ContractViolation: the records do not satisfy the routed version's contract.
            PredictionFailed: the model and its fallback both failed.
        """
        started = time.perf_counter()
        live = self.live(request.endpoint)
        rows = request.rows
        if rows == 0:
            raise UsageError("the request has no records to predict")
        if rows > self._settings.max_records:
            raise PayloadTooLarge(
                f"{rows} records in one request; at most {self._settings.max_records} "
                "([serving] max_records): split the request",
                details={"records": rows, "max_records": self._settings.max_records},
            )
        keys = self._keys(request, rows)
        groups, shadows = self._route(live, request, keys)
        checked = []
        errors: list[RecordError] = []
        ids = request_ids(request.request_id, rows)
        for ref, role, positions in groups:
            served = self._pool.get(ref)  # held: a switch meanwhile does not take it away
            try:
                batch = self._check(served, request, positions, rows)
            except ContractViolation:
                if not request.record_errors:
                    raise
                good, bad = self._separate(served, request, positions, rows, ids)
                errors += bad
                if not good:
                    if len(errors) == rows:
                        raise
                    continue
                positions, batch = good, self._check(served, request, good, rows)
            checked.append((served, role, positions, batch))
        answers = [
            self._answer(live, request, served, role, positions, batch, rows, started)
            for served, role, positions, batch in checked
        ]
        parts = [await answers[0]] if len(answers) == 1 else await asyncio.gather(*answers)
        if request.explain:
            await self._explain(parts)
        return self._assemble(live, request, keys, shadows, list(parts), rows, ids, errors)

    def _separate(
        self,
        served: ServedModel,
        request: PredictRequest,
        positions: list[int] | None,
        rows: int,
        ids: list[str],
    ) -> tuple[list[int], list[RecordError]]:
        """The records of a refused group that meet the contract, and an error for each
        other, found by checking every record alone (the refusal's path only)."""
        good: list[int] = []
        bad: list[RecordError] = []
        for i in positions if positions is not None else range(rows):
            try:
                self._check(served, request, [i], rows)
            except ContractViolation as refused:
                bad.append(RecordError(i, ids[i], served, refused))
            else:
                good.append(i)
        return good, bad

    def _keys(self, request: PredictRequest, rows: int) -> list[str | None]:
        if request.entity_key is not None:
            return [request.entity_key] * rows
        if self._id_column:
            values = request.field_values(self._id_column)
            if values is not None:
                return [None if v is None else str(v) for v in values]
        return [None] * rows

    def _route(
        self, live: LiveEndpoint, request: PredictRequest, keys: list[str | None]
    ) -> tuple[list[tuple[str, str, list[int] | None]], tuple[str, ...]]:
        router = live.router
        first = router.route(entity_key=keys[0], request_id=request.request_id)
        if not live.deployment.policy.canary or len(set(keys)) == 1:
            return [(first.version, first.role, None)], first.shadows
        chosen: dict[str | None, tuple[str, str]] = {}
        groups: dict[str, tuple[str, list[int]]] = {}
        for i, key in enumerate(keys):
            route = chosen.get(key)
            if route is None:
                r = router.route(entity_key=key, request_id=request.request_id)
                route = chosen[key] = (r.version, r.role)
            groups.setdefault(route[0], (route[1], []))[1].append(i)
        if len(groups) == 1:
            ref, (role, _) = next(iter(groups.items()))
            return [(ref, role, None)], first.shadows
        return [(ref, role, positions) for ref, (role, positions) in groups.items()], first.shadows

    def _check(
        self,
        served: ServedModel,
        request: PredictRequest,
        positions: list[int] | None,
        rows: int,
    ) -> EdgeBatch:
        edge = served.edge
        if request.records is not None:
            if positions is None:
                return edge.check_records(request.records)
            return edge.check_records([request.records[i] for i in positions], positions)
        assert request.columns is not None
        if not isinstance(request.columns, dict):
            raise UsageError("columns must be an object of field → list of values")
        if positions is None:
            return edge.check_columns(request.columns)
        subset = {
            name: [values[i] for i in positions] if isinstance(values, list) else values
            for name, values in request.columns.items()
        }
        return edge.check_columns(subset, positions)

    async def _answer(
        self,
        live: LiveEndpoint,
        request: PredictRequest,
        served: ServedModel,
        role: str,
        positions: list[int] | None,
        batch: EdgeBatch,
        rows: int,
        started: float,
    ) -> Part:
        where = positions if positions is not None else list(range(rows))
        ref = served.ref
        try:
            if self._budget is None:
                outputs = await served.predict(batch)
            else:
                async with asyncio.timeout(self._budget):
                    outputs = await served.predict(batch)
        except TimeoutError:
            reason = "latency"
            failure = (
                f"{ref} did not answer within the latency budget of "
                f"{self._settings.latency_budget * 1000:g} ms"
            )
        except Exception as exc:
            reason = "error"
            failure = f"{ref} raised {type(exc).__name__}: {exc}"
            log.warning("endpoint %s: %s; the fallback answers", live.name, failure)
        else:
            seconds = time.perf_counter() - started
            self._metrics.answered(live.name, ref, role, records=len(where), seconds=seconds)
            return Part(where, ref, role, served, batch, outputs, seconds)
        self._metrics.fell_back(live.name, ref, reason)
        fallback = self._pool.get(live.fallback)
        try:
            if fallback.version.contract_hash == served.version.contract_hash:
                fallback_batch = batch
            else:
                fallback_batch = self._check(fallback, request, positions, rows)
            outputs = await fallback.predict(fallback_batch)
        except Exception as exc:
            raise PredictionFailed(
                f"endpoint {live.name}: {failure}, and its fallback {fallback.ref} failed too: "
                f"{exc}",
                details={"model_version": ref, "fallback": fallback.ref},
            ) from exc
        seconds = time.perf_counter() - started
        self._metrics.answered(
            live.name, fallback.ref, "fallback", records=len(where), seconds=seconds
        )
        return Part(
            where,
            fallback.ref,
            "fallback",
            fallback,
            fallback_batch,
            outputs,
            seconds,
            failure=failure,
            failed=served,
            failed_role=role,
        )

    async def _explain(self, parts: Sequence[Part]) -> None:
        for part in parts:
            if part.role == "fallback":
                continue
            part.explanation = await asyncio.to_thread(self._explainer, part.served, part.batch)

    def _assemble(
        self,
        live: LiveEndpoint,
        request: PredictRequest,
        keys: list[str | None],
        shadows: tuple[str, ...],
        parts: list[Part],
        rows: int,
        ids: list[str],
        errors: list[RecordError],
    ) -> Answer:
        outputs: list[dict[str, Any]] = [{}] * rows
        versions = [""] * rows
        fallback = [False] * rows
        flags: list[tuple[str, ...]] = [()] * rows
        for error in errors:
            versions[error.record] = error.served.ref
        explanations: list[tuple[Explanation, int] | None] | None = (
            [None] * rows if request.explain else None
        )
        warnings: list[dict[str, Any]] = []
        for part in parts:
            for j, i in enumerate(part.positions):
                outputs[i] = part.outputs[j]
                versions[i] = part.ref
                fallback[i] = part.role == "fallback"
                if explanations is not None and part.explanation is not None:
                    explanations[i] = (part.explanation, j)
            for j, names in part.batch.out_of_range.items():
                flags[part.positions[j]] = tuple(names)
            warnings.extend(w.to_dict() for w in part.batch.warnings)
        return Answer(
            request=request,
            revision=live.revision,
            ids=ids,
            outputs=outputs,
            versions=versions,
            fallback=fallback,
            keys=keys,
            shadows=shadows,
            parts=parts,
            warnings=warnings,
            out_of_range=flags,
            errors=sorted(errors, key=lambda e: e.record),
            explanations=explanations,
            timestamp=utcnow(),
        )

    # -- logging and shadows ----------------------------------------------------------

    async def finish(self, answer: Answer) -> None:
        """Log every record of ``answer`` and start its shadows (call it once, for the
        answer actually sent).

        Raises:
            PredictionLogError: sync mode, and the records could not be made durable.
        """
        live = self._watcher.table.get(answer.request.endpoint)
        records = answered_records(answer)
        refused: dict[str, tuple[ServedModel, dict[int, str]]] = {}
        for error in answer.errors:
            refused.setdefault(error.served.ref, (error.served, {}))[1][error.record] = error.reason
        for served, reasons in refused.values():
            records += refused_records(
                answer.request,
                reasons,
                served=served,
                revision=answer.revision,
                timestamp=answer.timestamp,
                ids=answer.ids,
            )
        await self._log_records(records)
        if answer.shadows and live is not None:
            for ref in answer.shadows:
                task = asyncio.get_running_loop().create_task(self._shadow(live, answer, ref))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def log_rejected(self, request: PredictRequest, error: SteadError) -> None:
        """Log every record of a request refused at the edge (role ``rejected``).

        The refusal itself is what the client gets; this keeps the refused inputs
        (sanitised like any other) for the schema monitor.
        """
        live = self._watcher.table.get(request.endpoint)
        if live is None or not request.rows:
            return
        version = error.details.get("model_version") or live.deployment.policy.production
        try:
            served = self._pool.get(str(version))
        except SteadError:
            return
        reason = f"{error.code}: {error.message}"
        records = refused_records(
            request,
            dict.fromkeys(range(request.rows), reason),
            served=served,
            revision=live.revision,
            timestamp=utcnow(),
            ids=request_ids(request.request_id, request.rows),
        )
        await self._log_records(records)

    async def _log_records(self, records: list[PredictionRecord]) -> None:
        """Log the records of one answer (or refusal) as the log's mode needs."""
        if self._log.mode == "sync":  # durable in Parquet: wait off the event loop
            await asyncio.to_thread(self._log.log_many, records)
        elif self._log.mode == "journal":
            await self._group.log(records)  # one journal write() per loop pass
        else:
            self._log.log_many(records)

    async def _shadow(self, live: LiveEndpoint, answer: Answer, ref: str) -> None:
        request = answer.request
        started = time.perf_counter()
        inputs = request.record_dicts()
        rows = len(answer.outputs)
        refused = {e.record for e in answer.errors}
        # A shadow mirrors what production answered: not the records refused on their own.
        at = [i for i in range(rows) if i not in refused] if refused else None
        where = at if at is not None else list(range(rows))
        try:
            served = self._pool.get(ref)
        except KeyError:
            self._metrics.shadow_failed(live.name, ref)
            return
        try:
            batch = self._check(served, request, at, rows)
            outputs = await served.predict(batch)
        except Exception as exc:  # a shadow never affects anything but its own log rows
            self._metrics.shadow_failed(live.name, ref)
            error = exc.message if isinstance(exc, SteadError) else f"{type(exc).__name__}: {exc}"
            latency = (time.perf_counter() - started) * 1000.0
            records = [
                record(answer, i, served, "shadow", inputs[i], {}, latency, error) for i in where
            ]
        else:
            latency = (time.perf_counter() - started) * 1000.0
            agrees = [self._agree(answer.outputs[i], outputs[j]) for j, i in enumerate(where)]
            self._metrics.shadowed(
                live.name, ref, compared=len(where), differed=sum(1 for a in agrees if not a)
            )
            records = [
                record(
                    answer,
                    i,
                    served,
                    "shadow",
                    inputs[i],
                    {**outputs[j], "agrees": agrees[j]},
                    latency,
                    None,
                    out_of_range=tuple(batch.out_of_range.get(j, ())),
                )
                for j, i in enumerate(where)
            ]
        try:
            await asyncio.to_thread(self._log.log_many, records)
        except Exception:
            log.exception("could not log the shadow predictions of %s", ref)

    def _agree(self, production: dict[str, Any], shadow: dict[str, Any]) -> bool:
        if "value" in production and "value" in shadow:
            a, b = float(production["value"]), float(shadow["value"])
            return abs(a - b) <= self._settings.shadow_tolerance * max(1.0, abs(a))
        return bool(production.get("prediction") == shadow.get("prediction"))

    async def close(self, timeout: float = 5.0) -> None:
        """Wait (a little) for shadows still running, so their records are logged."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
