"""Monitor windows: spans of time aligned to the clock, or runs of N predictions.

A *time* window of ``1h`` holds the predictions made in ``[10:00, 11:00)`` UTC; of
``1d`` those of one UTC day. Windows are aligned to multiples of their length since the
Unix epoch, so every run (and every replica) cuts the same windows and a window has one
key whatever evaluated it. A *count* window of ``10000`` holds the next 10,000 answered
predictions after the previous window, in log order (time, then request id).

Example:
    >>> spec = WindowSpec.parse("1h")
    >>> from datetime import datetime, UTC
    >>> w = spec.containing(datetime(2026, 1, 5, 10, 42, tzinfo=UTC))
    >>> w.key, w.start.hour, w.end.hour
    ('1h@2026-01-05T10:00:00Z', 10, 11)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from stead.core.duration import format_duration, parse_duration
from stead.core.errors import UsageError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WindowKind = Literal["time", "count"]


@dataclass(frozen=True)
class WindowSpec:
    """How a monitor cuts the log: ``time`` windows of ``length`` or ``count`` of ``size``."""

    kind: WindowKind
    length: timedelta | None = None
    size: int | None = None

    @classmethod
    def parse(cls, text: str) -> WindowSpec:
        """``1h``, ``1d``, ``15m`` ... (time) or a whole number such as ``10000`` (count).

        Raises:
            UsageError: anything else, or a count below 1.
        """
        text = str(text).strip()
        if text.isdigit():
            size = int(text)
            if size < 1:
                raise UsageError(f"window {text!r}: a count window holds at least 1 prediction")
            return cls("count", size=size)
        try:
            length = parse_duration(text, what="window")
        except UsageError as exc:
            raise UsageError(f"{exc.message}; or a number of predictions such as 10000") from exc
        day = timedelta(days=1)
        if length < timedelta(minutes=1) or (day % length if length < day else length % day):
            raise UsageError(
                f"window {text!r}: a time window must be at least 1m and divide a day "
                "evenly (1m, 5m, 15m, 1h, 6h, 1d ...), or be whole days (7d)"
            )
        return cls("time", length=length)

    @property
    def name(self) -> str:
        """The spelling used in keys and settings: ``1h``, ``1d``, ``10000``."""
        if self.kind == "count":
            return str(self.size)
        assert self.length is not None
        return format_duration(self.length)

    def containing(self, moment: datetime) -> Window:
        """The time window that holds ``moment``."""
        assert self.kind == "time" and self.length is not None
        index = (moment - EPOCH) // self.length
        start = EPOCH + index * self.length
        return Window(spec=self.name, kind="time", start=start, end=start + self.length)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Window:
    """One window of one spec.

    Attributes:
        spec: the window spec's name (``1h``, ``10000``).
        kind: ``time`` or ``count``.
        start: first instant (time) or the first prediction's time (count).
        end: first instant after (time) or the last prediction's time (count, inclusive).
        index: for count windows, the window's number (0, 1, 2 ...).
        cursor: for count windows, the last prediction's request id (where the next
            window starts).
    """

    spec: str
    kind: WindowKind
    start: datetime
    end: datetime
    index: int | None = None
    cursor: str | None = None

    @property
    def key(self) -> str:
        """Unique per endpoint and spec: ``1h@2026-01-05T10:00:00Z`` or ``10000#3``."""
        if self.kind == "count":
            return f"{self.spec}#{self.index}"
        return f"{self.spec}@{self.start.strftime('%Y-%m-%dT%H:%M:%SZ')}"

    @property
    def label(self) -> str:
        """A short label for tables and charts."""
        if self.kind == "count":
            return f"#{self.index} ({self.start:%Y-%m-%d %H:%M})"
        if self.end - self.start >= timedelta(days=1):
            return f"{self.start:%Y-%m-%d}"
        return f"{self.start:%Y-%m-%d %H:%M}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "spec": self.spec,
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "index": self.index,
            "cursor": self.cursor,
        }
