"""What an audit event is stored as: every field in the one form the store gives back.

An event's hash must be computed over exactly what the database returns when the event is
read again, or verification cries wolf (a reason given as the number ``499`` hashed as a
number, stored as the text ``'499'``). So every writer's values pass through
:func:`canonical_event` before hashing *and* storing; what it returns is what is hashed,
what is written and, because the database hands these forms back unchanged on SQLite and
PostgreSQL alike, what verification re-hashes later:

- text is Unicode NFC; a lone surrogate (not encodable as UTF-8) and NUL (refused by
  PostgreSQL) become U+FFFD;
- ``reason`` is text: a non-text reason becomes its canonical JSON (``499`` → ``'499'``);
- ``ts`` is an aware UTC time at microsecond precision;
- ``details`` is a JSON object: keys are text, tuples and sets are lists, numpy and
  ``Decimal`` numbers are plain numbers, non-finite floats are the strings ``"NaN"``,
  ``"Infinity"`` and ``"-Infinity"`` (JSON has no such numbers), times are ISO 8601 UTC
  text, anything else is its ``str``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from stead.core.clock import to_utc
from stead.core.errors import UsageError

# Column widths of audit_events: longer text would be refused by PostgreSQL and kept whole
# by SQLite, so both refuse it here, the same way.
FIELD_LIMITS = {"actor": 200, "action": 100, "subject": 400}
REPLACEMENT = "\ufffd"


@dataclasses.dataclass(frozen=True)
class CanonicalEvent:
    ts: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    reason: str | None


def canonical_event(
    *,
    ts: datetime,
    actor: object,
    action: object,
    subject: object,
    details: Mapping[str, Any] | None,
    reason: object,
) -> CanonicalEvent:
    """Every field of an event as the store will return it.

    Raises:
        UsageError: ``actor``, ``action`` or ``subject`` is empty or longer than its column.
    """
    fields = {
        name: canonical_text(value if isinstance(value, str) else _json_text(value))
        for name, value in (("actor", actor), ("action", action), ("subject", subject))
    }
    for name, text in fields.items():
        if not text:
            raise UsageError(f"an audit event needs a non-empty {name}")
        if len(text) > FIELD_LIMITS[name]:
            raise UsageError(
                f"audit event {name} is {len(text)} characters ({text[:40]!r}…); "
                f"at most {FIELD_LIMITS[name]} are stored"
            )
    if reason is None:
        text_reason = None
    else:
        text_reason = canonical_text(reason if isinstance(reason, str) else _json_text(reason))
    return CanonicalEvent(
        ts=canonical_time(ts),
        actor=fields["actor"],
        action=fields["action"],
        subject=fields["subject"],
        details=canonical_object(details or {}),
        reason=text_reason,
    )


def canonical_text(text: str) -> str:
    """NFC text that every backend stores and returns unchanged."""
    if not text.isascii():
        # Lone surrogates cannot be encoded as UTF-8 by any driver: replace them.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        text = unicodedata.normalize("NFC", text)
    return text.replace("\x00", REPLACEMENT)


def canonical_time(ts: datetime) -> datetime:
    """Aware UTC at microsecond precision (what both backends keep)."""
    return to_utc(ts)


def canonical_object(details: Mapping[str, Any]) -> dict[str, Any]:
    value = canonical_value(details)
    assert isinstance(value, dict)
    return value


def canonical_value(value: Any) -> Any:
    """``value`` as the JSON the store gives back (see the module docstring)."""
    if value is None or isinstance(value, bool | str | int | float):
        return _scalar(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[_key(key)] = canonical_value(item)
        return out
    if isinstance(value, list | tuple):
        return [canonical_value(item) for item in value]
    if isinstance(value, set | frozenset):
        items = [canonical_value(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, datetime):
        return to_utc(value).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return canonical_value(int(value) if value == value.to_integral_value() else float(value))
    if isinstance(value, enum.Enum):
        return canonical_value(value.value)
    if isinstance(value, PurePath):
        return canonical_text(str(value))
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return canonical_value(value.tolist())  # numpy scalars and arrays
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return canonical_value(dataclasses.asdict(value))
    return canonical_text(str(value))


def _scalar(value: bool | str | int | float | None) -> Any:
    if isinstance(value, str):
        return canonical_text(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return float(value)  # a float subclass (numpy.float64) becomes a plain float
    if isinstance(value, bool) or value is None:
        return value
    return int(value)


def _key(key: object) -> str:
    # JSON object keys are text; json.dumps would write 1 as "1" and True as "true".
    if isinstance(key, str):
        return canonical_text(key)
    return canonical_text(_json_text(key))


def _json_text(value: object) -> str:
    canonical = canonical_value(value)
    if isinstance(canonical, str):
        return canonical
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
