"""``ws.feedback``: labels and KPI values that arrive after a prediction, by request id.

Feedback is checked against the prediction log before it is stored: a request id the
endpoint never logged is *reported* (listed in the outcome, printed by the CLI, counted in
the audit event) and **not stored**, because a label that joins to no prediction cannot
measure anything, and storing it would let typos and ids of another endpoint pile up
unseen. Sending it again once the prediction is logged works (an answer given moments ago
may still be in the log writer's queue for up to ``[serving.log] flush_interval``).

**Who may label.** Labels feed monitoring and retraining, so only someone who may act for
the endpoint's owner sends them: a member of the owning team (the CLI's actor, ``[teams]``),
a ``labeler`` token of that team over HTTP, or an admin. An endpoint that was never
deployed has no owner, and only an admin may label it.

**Labels are not overwritten by feedback.** Feedback with a different label for a request
id that already has one is refused as a whole (nothing of the call is stored), naming the
explicit operation that changes a label: :meth:`FeedbackService.correct` (``stead feedback
correct``, or ``"correct": true`` over HTTP), which needs a reason and is audited as
``feedback.correct`` with the label before and after. The same label again is a no-op, so
re-sending a file is safe. KPI values accumulate: a later value of a KPI replaces the
earlier one, others are kept.

Each stored row keeps the prediction's time and model version, copied from the log, so a
window of feedback is found by prediction time without reading the log. Rows are never
updated: a KPI update or a correction is a new row that supersedes the old one, so
:meth:`FeedbackService.history` shows every label a prediction ever had.

Storage is the metadata database (table ``feedback``), not Parquet: feedback is at most
one row per prediction and usually far fewer, it must be unique per request id under
concurrent writers, and each call is audited in the same transaction as its rows, as the
identity that sent it (the API token's over HTTP).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from stead.core.artifacts import sha256_file
from stead.core.errors import Conflict, NotFound, PermissionDenied, UsageError
from stead.data.reader import read_table
from stead.predictions.feedback_input import (
    LABEL,
    REQUEST_ID,
    FeedbackItem,
    items_of,
    kpi_values,
    request_id_of,
    scalar,
)
from stead.predictions.feedback_rows import label_key, latest_rows, new_row, same_feedback
from stead.predictions.lookup import find_predictions
from stead.predictions.reader import TimeBound, read_prediction_table
from stead.predictions.record import check_endpoint
from stead.predictions.tables import FeedbackRow
from stead.security.access import Principal

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.predictions.service import PredictionService
    from stead.security.access import AccessPolicy

KPI_PREFIX = "kpis."
# The answer a label measures: the version that responded, not a shadow copy.
_ANSWERING = ("production", "canary", "fallback")
_SHOWN_UNKNOWN = 20
_SHOWN_RELABELS = 5
_IN_CHUNK = 500


@dataclass(frozen=True)
class FeedbackOutcome:
    """What one ``record``, ``ingest`` or ``correct`` call did.

    Attributes:
        received: distinct request ids in the call.
        stored: new rows (first labels, KPI updates and corrections).
        corrected: of ``stored``, how many changed a label (only ``correct`` does).
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


class FeedbackService:
    """Feedback of a workspace's endpoints (``ws.feedback``).

    Every writing method takes an optional ``principal``: who sends the feedback (the HTTP
    server passes the API token's); by default the workspace's actor.
    """

    def __init__(
        self,
        context: Context,
        *,
        predictions: PredictionService,
        access: AccessPolicy,
        endpoint_owner: Callable[[str], str | None],
    ) -> None:
        self._ctx = context
        self._predictions = predictions
        self._access = access
        # Who owns an endpoint (None: never deployed): serving's records, asked through
        # the composition root since the log stage sits below serving.
        self._endpoint_owner = endpoint_owner

    def record(
        self,
        endpoint: str,
        request_id: str,
        *,
        label: Any,
        kpis: dict[str, Any] | None = None,
        principal: Principal | None = None,
    ) -> FeedbackOutcome:
        """Record the label (and KPI values) of one logged prediction.

        Raises:
            NotFound: ``endpoint`` never logged ``request_id`` (nothing is stored).
            Conflict: the prediction already has a different label (use :meth:`correct`).
            PermissionDenied: the principal may not act for the endpoint's owner.
            UsageError: a bad endpoint name, a missing label, or a label or KPI value
                that is not a number, text or true/false.
        """
        check_endpoint(endpoint)
        item = FeedbackItem(
            request_id_of(request_id),
            scalar(label, what="label"),
            kpi_values(kpis or {}, row=None),
        )
        if item.label is None:
            raise UsageError(f"request {request_id}: the label is missing; send a value")
        who = principal or self._access.principal(self._ctx.actor)
        self._authorize(endpoint, who)
        answers = self._answers(endpoint, [item.request_id])
        if not answers:
            raise _not_logged(endpoint, item.request_id)
        return self._store(endpoint, [item], answers, who, action="feedback.record", source="api")

    def ingest(
        self,
        endpoint: str,
        path: str | os.PathLike[str],
        *,
        principal: Principal | None = None,
    ) -> FeedbackOutcome:
        """Ingest a CSV or Parquet file with ``request_id``, ``label`` and KPI columns.

        Every column other than ``request_id`` and ``label`` is a KPI (empty cells are
        skipped). Request ids the endpoint never logged are reported in the outcome and
        not stored. One audit event records the whole call.

        Raises:
            DataError: the file cannot be read, lacks ``request_id`` or ``label``, has
                empty labels, or gives one request id two different labels.
            Conflict: some predictions already have a different label (nothing is
                stored; use :meth:`correct` for those).
            PermissionDenied: the principal may not act for the endpoint's owner.
        """
        check_endpoint(endpoint)
        file = Path(path)
        frame = read_table(file)
        source = f"{file.resolve()} (sha256 {sha256_file(file)[:12]})"
        return self.ingest_frame(endpoint, frame, source=source, principal=principal)

    def ingest_frame(
        self,
        endpoint: str,
        frame: pd.DataFrame,
        *,
        source: str = "a DataFrame",
        principal: Principal | None = None,
    ) -> FeedbackOutcome:
        """:meth:`ingest` for a DataFrame already in memory."""
        check_endpoint(endpoint)
        items = items_of(frame, where=source)
        who = principal or self._access.principal(self._ctx.actor)
        self._authorize(endpoint, who)
        answers = self._answers(endpoint, [i.request_id for i in items])
        return self._store(endpoint, items, answers, who, action="feedback.ingest", source=source)

    def correct(
        self,
        endpoint: str,
        request_id: str,
        *,
        label: Any,
        reason: str | None,
        principal: Principal | None = None,
    ) -> FeedbackOutcome:
        """Change the label of a prediction that already has one.

        Audited as ``feedback.correct`` with the reason and the label before and after;
        the earlier row is kept (see :meth:`history`). Its KPI values are carried over.
        The same label again changes nothing and writes no event.

        Raises:
            UsageError: no reason, or a missing or malformed label.
            NotFound: ``endpoint`` never logged ``request_id``.
            Conflict: the prediction has no label yet (send it as feedback instead).
            PermissionDenied: the principal may not act for the endpoint's owner.
        """
        check_endpoint(endpoint)
        item = FeedbackItem(request_id_of(request_id), scalar(label, what="label"), {})
        if item.label is None:
            raise UsageError(f"request {request_id}: the corrected label is missing")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(
                "a correction needs a reason: pass --reason '...' (HTTP: \"reason\"); it is "
                "audited with the label before and after"
            )
        who = principal or self._access.principal(self._ctx.actor)
        self._authorize(endpoint, who)
        answers = self._answers(endpoint, [item.request_id])
        if not answers:
            raise _not_logged(endpoint, item.request_id)
        outcome = FeedbackOutcome(
            endpoint=endpoint, source="correction", received=1, stored=0, corrected=0, unchanged=1
        )
        with self._ctx.store.read() as session:
            before = latest_rows(session, endpoint, [item.request_id]).get(item.request_id)
        if before is None:
            raise _nothing_to_correct(endpoint, item.request_id)
        if label_key(before.label) == label_key(item.label):
            return outcome
        with self._ctx.store.change(
            "feedback.correct", f"endpoint:{endpoint}", reason=reason, actor=who.identity
        ) as change:
            # Read again under the write lock: another writer may have changed it since.
            before = latest_rows(change.session, endpoint, [item.request_id]).get(item.request_id)
            if before is None:  # retention deleted it meanwhile
                raise _nothing_to_correct(endpoint, item.request_id)
            change.session.add(
                new_row(
                    endpoint,
                    item,
                    kpis=before.kpis,
                    answer=answers[item.request_id],
                    source="correction",
                    actor=change.actor,
                )
            )
            change.details.update(
                {
                    "request_id": item.request_id,
                    "model_version": answers[item.request_id][1],
                    "before": {
                        "label": before.label,
                        "recorded_by": before.recorded_by,
                        "recorded_at": before.recorded_at.isoformat(),
                    },
                    "after": {"label": item.label},
                }
            )
        return FeedbackOutcome(
            endpoint=endpoint, source="correction", received=1, stored=1, corrected=1, unchanged=0
        )

    def _authorize(self, endpoint: str, who: Principal) -> None:
        """Refuse (and audit the refusal as ``feedback.refused``) unless ``who`` may label
        ``endpoint``: a member (or token) of its owner, or an admin. The refusal names the
        owner, never its members."""
        if who.admin:
            return
        owner = self._endpoint_owner(endpoint)
        if owner is not None and who.may_act_for(owner):
            return
        whose = (
            f"it is owned by {owner!r}; only its members, a labeler token of team {owner!r} "
            "or an admin may"
            if owner is not None
            else "it was never deployed, so it has no owner; only an admin may"
        )
        message = f"{who.identity!r} may not send feedback for endpoint {endpoint}: {whose}"
        # On the record, like a refused deployment: who tried to label what they do not own.
        with self._ctx.store.change(
            "feedback.refused", f"endpoint:{endpoint}", actor=who.identity
        ) as change:
            change.details.update({"refused_by": "permission", "message": message})
        raise PermissionDenied(
            message, details={"actor": who.identity, "endpoint": endpoint, "owner": owner}
        )

    def _store(
        self,
        endpoint: str,
        items: list[FeedbackItem],
        answers: dict[str, tuple[datetime, str]],
        who: Principal,
        *,
        action: str,
        source: str,
    ) -> FeedbackOutcome:
        unknown = [i.request_id for i in items if i.request_id not in answers]
        known = [i for i in items if i.request_id in answers]
        stored = unchanged = 0
        with self._ctx.store.change(action, f"endpoint:{endpoint}", actor=who.identity) as change:
            latest = latest_rows(change.session, endpoint, [i.request_id for i in known])
            relabels = [
                (item, latest[item.request_id])
                for item in known
                if item.request_id in latest
                and label_key(latest[item.request_id].label) != label_key(item.label)
            ]
            if relabels:
                raise _relabel_refused(endpoint, relabels)
            for item in known:
                previous = latest.get(item.request_id)
                if previous is not None and same_feedback(previous, item):
                    unchanged += 1
                    continue
                change.session.add(
                    new_row(
                        endpoint,
                        item,
                        kpis=previous.kpis if previous is not None else {},
                        answer=answers[item.request_id],
                        source=source,
                        actor=change.actor,
                    )
                )
                stored += 1
            change.details.update(
                {
                    "source": source,
                    "received": len(items),
                    "stored": stored,
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
            corrected=0,
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


def _not_logged(endpoint: str, request_id: str) -> NotFound:
    return NotFound(
        f"endpoint {endpoint} has logged no prediction with request id {request_id!r}; "
        "nothing was stored. Check the endpoint and the id (a prediction answered "
        "moments ago may still be on its way to the log: retry in a few seconds)",
        details={"endpoint": endpoint, "request_id": request_id},
    )


def _nothing_to_correct(endpoint: str, request_id: str) -> Conflict:
    return Conflict(
        f"request {request_id} of endpoint {endpoint} has no label yet, so there is nothing "
        "to correct; send it as feedback (`stead feedback ingest`, or "
        f"POST /v1/endpoints/{endpoint}/feedback)",
        details={"endpoint": endpoint, "request_id": request_id},
    )


def _relabel_refused(endpoint: str, relabels: list[tuple[FeedbackItem, FeedbackRow]]) -> Conflict:
    shown = ", ".join(
        f"{item.request_id} ({row.label!r} -> {item.label!r})"
        for item, row in relabels[:_SHOWN_RELABELS]
    )
    more = f" and {len(relabels) - _SHOWN_RELABELS} more" if len(relabels) > _SHOWN_RELABELS else ""
    return Conflict(
        f"{len(relabels)} prediction(s) of endpoint {endpoint} already have a different label: "
        f"{shown}{more}; nothing was stored. Feedback never changes a label: correct each "
        f"one explicitly with `stead feedback correct {endpoint} REQUEST_ID LABEL --reason "
        f"'...'` (HTTP: POST /v1/endpoints/{endpoint}/feedback with \"correct\": true and "
        'a "reason"), which audits the label before and after, or leave them out',
        details={
            "endpoint": endpoint,
            "relabelled": [item.request_id for item, _ in relabels[:_SHOWN_UNKNOWN]],
        },
    )
