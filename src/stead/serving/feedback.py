"""``ws.feedback``: labels and KPI values that arrive after a prediction, by request id.

Feedback is checked against the prediction log before it is stored: a request id the
endpoint never logged is *reported* (listed in the outcome, printed by the CLI, counted in
the audit event) and **not stored**, because a label that joins to no prediction cannot
measure anything, and storing it would let typos and ids of another endpoint pile up
unseen. Sending it again once the prediction is logged works (an answer given moments ago
may still be in the log writer's queue for up to ``[serving.log] flush_interval``).

Each stored row keeps the prediction's time and model version, copied from the log, so a
window of feedback is found by prediction time without reading the log. Rows are never
updated: a different label for a request id is a correction, stored as a new row that
supersedes the old one; the same label again is a no-op, so re-sending a file is safe.
KPI values accumulate: a later value of a KPI replaces the earlier one, others are kept.

Storage is the metadata database (table ``feedback``), not Parquet: feedback is at most
one row per prediction and usually far fewer, it must be unique per request id under
concurrent writers, and each call is audited in the same transaction as its rows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from stead.core.artifacts import sha256_file
from stead.core.clock import utcnow
from stead.core.errors import DataError, NotFound, UsageError
from stead.core.ids import new_id
from stead.data.reader import read_table
from stead.serving.log_reader import TimeBound, read_prediction_table
from stead.serving.outcome_tables import FeedbackRow
from stead.serving.predictions import PredictionService
from stead.serving.record import check_endpoint
from stead.serving.request_lookup import find_predictions

if TYPE_CHECKING:
    from stead.core.context import Context

REQUEST_ID = "request_id"
LABEL = "label"
KPI_PREFIX = "kpis."
# The answer a label measures: the version that responded, not a shadow copy.
_ANSWERING = ("production", "canary", "fallback")
_SHOWN_UNKNOWN = 20
_IN_CHUNK = 500


@dataclass(frozen=True)
class FeedbackOutcome:
    """What one ``record`` or ``ingest`` call did.

    Attributes:
        received: distinct request ids in the call.
        stored: new rows (first labels and corrections).
        corrected: of ``stored``, how many replaced a different earlier label.
        unchanged: repeats of what was already stored (nothing written for them).
        unknown: request ids the endpoint never logged; reported and not stored.
    """

    endpoint: str
    source: str
    received: int
    stored: int
    corrected: int
    unchanged: int
    unknown: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        text = (
            f"{self.endpoint}: {self.received} request id(s) received, {self.stored} stored "
            f"({self.corrected} corrected), {self.unchanged} unchanged"
        )
        if self.unknown:
            shown = ", ".join(self.unknown[:_SHOWN_UNKNOWN])
            more = (
                f" and {len(self.unknown) - _SHOWN_UNKNOWN} more"
                if len(self.unknown) > _SHOWN_UNKNOWN
                else ""
            )
            text += (
                f"; {len(self.unknown)} unknown request id(s) NOT stored (never logged by "
                f"endpoint {self.endpoint}): {shown}{more}"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "source": self.source,
            "received": self.received,
            "stored": self.stored,
            "corrected": self.corrected,
            "unchanged": self.unchanged,
            "unknown": self.unknown,
            "message": self.message,
        }


@dataclass(frozen=True)
class _Item:
    request_id: str
    label: Any
    kpis: dict[str, Any]


class FeedbackService:
    """Feedback of a workspace's endpoints (``ws.feedback``)."""

    def __init__(self, context: Context) -> None:
        self._ctx = context
        self._predictions = PredictionService(context)

    def record(
        self,
        endpoint: str,
        request_id: str,
        *,
        label: Any,
        kpis: dict[str, Any] | None = None,
    ) -> FeedbackOutcome:
        """Record the label (and KPI values) of one logged prediction.

        Raises:
            NotFound: ``endpoint`` never logged ``request_id`` (nothing is stored).
            UsageError: a bad endpoint name, a missing label, or a label or KPI value
                that is not a number, text or true/false.
        """
        check_endpoint(endpoint)
        item = _Item(
            _request_id(request_id), _scalar(label, what="label"), _kpis(kpis or {}, row=None)
        )
        if item.label is None:
            raise UsageError(f"request {request_id}: the label is missing; send a value")
        answers = self._answers(endpoint, [item.request_id])
        if not answers:
            raise NotFound(
                f"endpoint {endpoint} has logged no prediction with request id {request_id!r}; "
                "nothing was stored. Check the endpoint and the id (a prediction answered "
                "moments ago may still be on its way to the log: retry in a few seconds)",
                details={"endpoint": endpoint, "request_id": request_id},
            )
        return self._store(endpoint, [item], answers, action="feedback.record", source="api")

    def ingest(self, endpoint: str, path: str | os.PathLike[str]) -> FeedbackOutcome:
        """Ingest a CSV or Parquet file with ``request_id``, ``label`` and KPI columns.

        Every column other than ``request_id`` and ``label`` is a KPI (empty cells are
        skipped). Request ids the endpoint never logged are reported in the outcome and
        not stored. One audit event records the whole call.

        Raises:
            DataError: the file cannot be read, lacks ``request_id`` or ``label``, has
                empty labels, or gives one request id two different labels.
        """
        check_endpoint(endpoint)
        file = Path(path)
        frame = read_table(file)
        source = f"{file.resolve()} (sha256 {sha256_file(file)[:12]})"
        return self.ingest_frame(endpoint, frame, source=source)

    def ingest_frame(
        self, endpoint: str, frame: pd.DataFrame, *, source: str = "a DataFrame"
    ) -> FeedbackOutcome:
        """:meth:`ingest` for a DataFrame already in memory."""
        check_endpoint(endpoint)
        items = _items(frame, where=source)
        answers = self._answers(endpoint, [i.request_id for i in items])
        return self._store(endpoint, items, answers, action="feedback.ingest", source=source)

    def _store(
        self,
        endpoint: str,
        items: list[_Item],
        answers: dict[str, tuple[datetime, str]],
        *,
        action: str,
        source: str,
    ) -> FeedbackOutcome:
        unknown = [i.request_id for i in items if i.request_id not in answers]
        known = [i for i in items if i.request_id in answers]
        stored = corrected = unchanged = 0
        with self._ctx.store.change(action, f"endpoint:{endpoint}") as change:
            latest = _latest(change.session, endpoint, [i.request_id for i in known])
            now = utcnow()
            for item in known:
                previous = latest.get(item.request_id)
                if previous is not None and _same(previous, item):
                    unchanged += 1
                    continue
                predicted_at, model_version = answers[item.request_id]
                kpis = {**(previous.kpis if previous is not None else {}), **item.kpis}
                change.session.add(
                    FeedbackRow(
                        id=new_id("fb"),
                        endpoint=endpoint,
                        request_id=item.request_id,
                        label=item.label,
                        kpis=kpis,
                        predicted_at=predicted_at,
                        model_version=model_version,
                        source=source,
                        recorded_at=now,
                        recorded_by=change.actor,
                    )
                )
                stored += 1
                if previous is not None and _label_key(previous.label) != _label_key(item.label):
                    corrected += 1
            change.details.update(
                {
                    "source": source,
                    "received": len(items),
                    "stored": stored,
                    "corrected": corrected,
                    "unchanged": unchanged,
                    "unknown": len(unknown),
                    "unknown_ids": unknown[:_SHOWN_UNKNOWN],
                }
            )
        return FeedbackOutcome(
            endpoint=endpoint,
            source=source,
            received=len(items),
            stored=stored,
            corrected=corrected,
            unchanged=unchanged,
            unknown=unknown,
        )

    def _answers(self, endpoint: str, request_ids: list[str]) -> dict[str, tuple[datetime, str]]:
        """For each logged id: when it was predicted and which version answered."""
        table = find_predictions(
            self._predictions.directory,
            request_ids,
            endpoint=endpoint,
            columns=["timestamp", "model_version", "role"],
        )
        answers: dict[str, tuple[datetime, str]] = {}
        shadows: dict[str, tuple[datetime, str]] = {}
        for row in table.to_pylist():
            target = answers if row.get("role") in _ANSWERING else shadows
            target.setdefault(row["request_id"], (row["timestamp"], row["model_version"]))
        return {**shadows, **answers}

    def read(self, endpoint: str, since: TimeBound = None, until: TimeBound = None) -> pd.DataFrame:
        """Predictions of ``endpoint`` made in ``[since, until)`` that have feedback.

        The window is the *prediction's* time, as for ``ws.predictions.read``, so the
        performance of a window is measured on the predictions made in it whenever
        their labels arrived.

        Returns:
            One row per logged prediction with feedback (shadow predictions of a request
            get its label too; filter on ``role``): ``request_id``, ``timestamp``,
            ``endpoint``, ``revision``, ``model_version``, ``role``, ``latency_ms``,
            ``error``, ``entity_key``, the ``outputs.*`` columns, then ``label``, one
            ``kpis.<name>`` column per KPI and ``feedback_at``. Inputs are left out
            (join on ``request_id`` with ``ws.predictions.read`` when needed).

        Raises:
            UsageError: a bad endpoint name or time.
        """
        check_endpoint(endpoint)
        table = read_prediction_table(self._predictions.directory, endpoint, since, until)
        keep = [c for c in table.column_names if not c.startswith(("inputs.", "explanation."))]
        predictions = table.select(keep).to_pandas()
        labels = self._labels(endpoint, predictions[REQUEST_ID].unique().tolist())
        joined = predictions.merge(labels, on=REQUEST_ID, how="inner")
        return joined.sort_values(["timestamp", REQUEST_ID], kind="stable").reset_index(drop=True)

    def _labels(self, endpoint: str, request_ids: Sequence[str]) -> pd.DataFrame:
        rows: dict[str, FeedbackRow] = {}
        with self._ctx.store.read() as session:
            for start in range(0, len(request_ids), _IN_CHUNK):
                chunk = list(request_ids[start : start + _IN_CHUNK])
                found = session.scalars(
                    select(FeedbackRow)
                    .where(FeedbackRow.endpoint == endpoint, FeedbackRow.request_id.in_(chunk))
                    .order_by(FeedbackRow.recorded_at, FeedbackRow.id)
                )
                for row in found:
                    rows[row.request_id] = row  # the newest row wins
        kpi_names = sorted({name for row in rows.values() for name in row.kpis})
        data: dict[str, list[Any]] = {REQUEST_ID: [], LABEL: []}
        data.update({KPI_PREFIX + name: [] for name in kpi_names})
        data["feedback_at"] = []
        for request_id, row in rows.items():
            data[REQUEST_ID].append(request_id)
            data[LABEL].append(row.label)
            for name in kpi_names:
                data[KPI_PREFIX + name].append(row.kpis.get(name))
            data["feedback_at"].append(row.recorded_at)
        frame = pd.DataFrame(data)
        frame[REQUEST_ID] = frame[REQUEST_ID].astype("string")
        frame["feedback_at"] = pd.to_datetime(frame["feedback_at"], utc=True)
        return frame

    def history(self, endpoint: str, request_id: str) -> list[dict[str, Any]]:
        """Every feedback row of one request id, oldest first (corrections included)."""
        with self._ctx.store.read() as session:
            rows = session.scalars(
                select(FeedbackRow)
                .where(FeedbackRow.endpoint == endpoint, FeedbackRow.request_id == request_id)
                .order_by(FeedbackRow.recorded_at, FeedbackRow.id)
            )
            return [
                {
                    "label": r.label,
                    "kpis": r.kpis,
                    "model_version": r.model_version,
                    "predicted_at": r.predicted_at.isoformat(),
                    "recorded_at": r.recorded_at.isoformat(),
                    "recorded_by": r.recorded_by,
                    "source": r.source,
                }
                for r in rows
            ]


def _latest(session: Any, endpoint: str, request_ids: list[str]) -> dict[str, FeedbackRow]:
    latest: dict[str, FeedbackRow] = {}
    for start in range(0, len(request_ids), _IN_CHUNK):
        chunk = request_ids[start : start + _IN_CHUNK]
        rows = session.scalars(
            select(FeedbackRow)
            .where(FeedbackRow.endpoint == endpoint, FeedbackRow.request_id.in_(chunk))
            .order_by(FeedbackRow.recorded_at, FeedbackRow.id)
        )
        for row in rows:
            latest[row.request_id] = row
    return latest


def _same(previous: FeedbackRow, item: _Item) -> bool:
    return _label_key(previous.label) == _label_key(item.label) and all(
        previous.kpis.get(k) == v for k, v in item.kpis.items()
    )


def _label_key(value: Any) -> tuple[str, Any]:
    # 1 and True compare equal in Python; as labels they are different classes.
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("text", value)


def _request_id(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise UsageError(f"request id {value!r} is not allowed; give the id a response carried")


def _scalar(value: Any, *, what: str) -> Any:
    """A JSON scalar, or ``None`` for missing (NaN, NA)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | str):
        if isinstance(value, float) and math.isinf(value):
            raise UsageError(f"{what} {value!r} is not a finite number")
        return value
    raise UsageError(
        f"{what} {value!r} is a {type(value).__name__}; use a number, text or true/false"
    )


def _kpis(values: dict[str, Any], *, row: int | None) -> dict[str, Any]:
    where = "" if row is None else f" in row {row}"
    kpis: dict[str, Any] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise UsageError(f"KPI name {name!r}{where} is not allowed; use text")
        scalar = _scalar(value, what=f"KPI {name!r}{where}")
        if scalar is not None:
            kpis[name] = scalar
    return kpis


def _items(frame: pd.DataFrame, *, where: str) -> list[_Item]:
    missing = [c for c in (REQUEST_ID, LABEL) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where} has no {' or '.join(repr(c) for c in missing)} column; feedback needs "
            f"'request_id' and 'label' (every other column is a KPI). Its columns are: "
            f"{', '.join(map(str, frame.columns))}"
        )
    ids = frame[REQUEST_ID]
    bad_ids = np.flatnonzero(ids.isna().to_numpy())
    if len(bad_ids):
        raise DataError(f"{where}: request_id is empty in rows {_rows(bad_ids)}; fill or drop them")
    no_label = np.flatnonzero(frame[LABEL].isna().to_numpy())
    if len(no_label):
        raise DataError(
            f"{where}: label is empty in {len(no_label)} row(s) ({_rows(no_label)}); "
            "drop them or fill in the label"
        )
    kpi_columns = [c for c in frame.columns if c not in (REQUEST_ID, LABEL)]
    items: dict[str, _Item] = {}
    for position, row in enumerate(frame.to_dict("records")):
        request_id = str(row[REQUEST_ID])
        try:
            label = _scalar(row[LABEL], what=f"label in row {position}")
            kpis = _kpis({c: row[c] for c in kpi_columns}, row=position)
        except UsageError as error:
            raise DataError(f"{where}: {error.message}") from error
        item = _Item(request_id, label, kpis)
        earlier = items.get(request_id)
        if earlier is not None and earlier != item:
            raise DataError(
                f"{where}: request id {request_id!r} appears twice with different feedback "
                f"(row {position} and an earlier row); keep one"
            )
        items[request_id] = item
    return list(items.values())


def _rows(positions: np.ndarray) -> str:
    shown = ", ".join(str(int(p)) for p in positions[:5])
    return shown + (", ..." if len(positions) > 5 else "")
