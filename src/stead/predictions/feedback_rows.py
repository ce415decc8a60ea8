"""Feedback rows: the newest row per request id, and the new row that supersedes it.

Rows are never updated; the newest row of a request id (by ``recorded_at``, then id) is its
feedback, and the ones before it are its history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stead.core.clock import utcnow
from stead.core.ids import new_id
from stead.predictions.feedback_input import FeedbackItem
from stead.predictions.tables import FeedbackRow

_IN_CHUNK = 500


def latest_rows(session: Session, endpoint: str, request_ids: list[str]) -> dict[str, FeedbackRow]:
    """The newest feedback row of each of ``request_ids`` that has one."""
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


def same_feedback(previous: FeedbackRow, item: FeedbackItem) -> bool:
    """Whether ``item`` says nothing ``previous`` does not already hold."""
    return label_key(previous.label) == label_key(item.label) and all(
        previous.kpis.get(k) == v for k, v in item.kpis.items()
    )


def label_key(value: Any) -> tuple[str, Any]:
    """What makes two labels the same label.

    >>> label_key(1) == label_key(1.0), label_key(1) == label_key(True)
    (True, False)
    """
    # 1 and True compare equal in Python; as labels they are different classes.
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("text", value)


def new_row(
    endpoint: str,
    item: FeedbackItem,
    *,
    kpis: dict[str, Any],
    answer: tuple[datetime, str],
    source: str,
    actor: str,
) -> FeedbackRow:
    """A new feedback row: ``item``'s label, ``kpis`` updated with ``item``'s."""
    predicted_at, model_version = answer
    return FeedbackRow(
        id=new_id("fb"),
        endpoint=endpoint,
        request_id=item.request_id,
        label=item.label,
        kpis={**kpis, **item.kpis},
        predicted_at=predicted_at,
        model_version=model_version,
        source=source,
        recorded_at=utcnow(),
        recorded_by=actor,
    )
