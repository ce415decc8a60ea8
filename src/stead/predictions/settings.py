"""``[serving.log]``: where and how predictions are logged.

The table sits under ``[serving]`` in ``stead.toml`` (the server is what writes the log),
but its class lives with the log, so the log stage reads its settings without importing
serving; :class:`~stead.serving.settings.ServingSettings` nests it as ``log``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stead.core.settings import STATE_DIR, at_least


@dataclass(frozen=True, kw_only=True)
class PredictionLogSettings:
    """``[serving.log]``: where and how predictions are logged."""

    # The log root, relative to the workspace unless absolute.
    dir: str = f"{STATE_DIR}/predictions"
    # "journal": respond once the record is in the crash journal (write(); a process
    # crash loses nothing, a machine crash at most sync_interval); "sync": respond only
    # once the record is in a fsync'd Parquet file; "async": memory only until the
    # flush (a crash loses up to flush_interval).
    mode: Literal["journal", "async", "sync"] = "journal"
    # Write as soon as this many records wait, or after flush_interval seconds.
    batch_size: int = 10_000
    flush_interval: float = 1.0
    # Journal mode: seconds between fsyncs of the journal.
    sync_interval: float = 0.2
    # Records held in memory before log() blocks, and for how long it blocks before the
    # record is dropped and counted (async) or the request fails (sync).
    capacity: int = 100_000
    full_timeout: float = 1.0
    # PII input columns ([columns] pii): replaced by a keyed hash, or dropped.
    pii: Literal["hash", "drop"] = "hash"
    # The secret HMAC key for "hash", created with mode 0600 on first use.
    pii_key_path: str = f"{STATE_DIR}/pii_hash_key"

    def __post_init__(self) -> None:
        at_least("batch_size", self.batch_size, 1)
        at_least("capacity", self.capacity, self.batch_size)
        at_least("full_timeout", self.full_timeout, 0.0)
        for name in ("flush_interval", "sync_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"{name} = {getattr(self, name)!r} is not allowed; expected more than 0"
                )
