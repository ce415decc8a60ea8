"""Records the log writer could not store, kept apart with the reason.

One record that cannot be encoded (a lone UTF-16 surrogate in a text, a value Arrow
refuses) must never cost the rest of its batch. The writer retries a failed chunk record
by record and moves each record that still fails here, instead of into the Parquet
layout::

    <log dir>/quarantine/endpoint=<name>/date=YYYY-MM-DD.jsonl

one line of ASCII JSON per record: ``request_id``, ``timestamp``, ``role``,
``model_version``, ``reason`` and the ``record`` itself (PII inputs hashed or dropped as
in the log), so an operator can see what came in and why it was not stored. The
``/metrics`` counter ``stead_prediction_log_quarantined_total`` and the monitoring's
system signal count them.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from stead.core.durable import make_dirs
from stead.data.sanitize import Sanitizer
from stead.predictions.journal import sanitized
from stead.predictions.record import PredictionRecord

QUARANTINE_DIR = "quarantine"


def quarantine_file(directory: Path, endpoint: str, day: date) -> Path:
    return directory / QUARANTINE_DIR / f"endpoint={endpoint}" / f"date={day.isoformat()}.jsonl"


def quarantine(
    directory: Path, record: PredictionRecord, reason: str, sanitizer: Sanitizer
) -> None:
    """Append ``record`` to its day's quarantine file, durably.

    Raises:
        OSError: the file could not be written.
    """
    line = quarantine_line(
        request_id=record.request_id,
        endpoint=record.endpoint,
        timestamp=record.timestamp,
        role=record.role,
        model_version=record.model_version,
        reason=reason,
        record=asdict(sanitized(record, sanitizer)),
    )
    append_line(quarantine_file(directory, record.endpoint, record.day), line)


def quarantine_line(**fields: Any) -> bytes:
    text = json.dumps(fields, default=_text, separators=(",", ":"))  # ASCII: always storable
    return (text + "\n").encode("ascii")


def append_line(path: Path, line: bytes) -> None:
    make_dirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def quarantined(
    directory: str | os.PathLike[str], endpoint: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The quarantined records of ``endpoint`` made in ``[since, until)``."""
    found: list[dict[str, Any]] = []
    day = since.date()
    while day <= until.date():
        path = quarantine_file(Path(directory), endpoint, day)
        with contextlib.suppress(FileNotFoundError):
            for line in path.read_bytes().splitlines():
                try:
                    entry = json.loads(line)
                    moment = datetime.fromisoformat(entry["timestamp"])
                except (ValueError, KeyError, TypeError):
                    continue
                if since <= moment < until:
                    found.append(entry)
        day = date.fromordinal(day.toordinal() + 1)
    return found


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
