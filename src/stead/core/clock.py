"""Time: one place that says what "now" is, always timezone-aware UTC."""

from __future__ import annotations

import os
from datetime import UTC, datetime

FAKE_NOW_ENV = "STEAD_NOW"


def utcnow() -> datetime:
    """Now in UTC. ``STEAD_NOW`` (ISO 8601) pins it, for demos that replay history."""
    pinned = os.environ.get(FAKE_NOW_ENV)
    if pinned:
        return parse_time(pinned)
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time; a time without a zone is taken as UTC.

    Raises:
        ValueError: with the text that did not parse.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_utc(value: datetime) -> datetime:
    """A stored time made timezone-aware (SQLite returns naive UTC values)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
