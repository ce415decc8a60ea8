"""Durations in settings and on the command line: ``30s``, ``5m``, ``1h``, ``1d``, ``2w``.

One spelling everywhere (monitor windows, ``--every``, retention periods), parsed in one
place so that every error names the value and what is allowed.
"""

from __future__ import annotations

import re
from datetime import timedelta

from stead.core.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PATTERN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """A positive duration such as ``90d`` or ``5m``.

    Args:
        text: a number followed by ``s``, ``m``, ``h``, ``d`` or ``w``.
        what: names the setting or option in the error.

    Raises:
        UsageError: the text is not such a duration, or is zero.

    Example:
        >>> parse_duration("90d").days
        90
    """
    match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise UsageError(
            f"{what} {text!r} is not a duration; write a number and a unit, e.g. 30s, 5m, "
            "1h, 1d or 2w"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"{what} {text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of ``value`` in days, hours, minutes or seconds
    (``86400 s`` → ``1d``; a week is ``7d``, as people write windows)."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
