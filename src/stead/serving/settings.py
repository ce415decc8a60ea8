"""The ``[serving]`` table of ``stead.toml``, parsed and validated like the core tables.

The core loader keeps stage-owned tables raw (``settings.extra["serving"]``); this
module turns that table into frozen dataclasses with :func:`build_dataclass`, so a wrong
value is reported with its key and what is allowed. Environment variables override keys
as for the core tables: ``[serving.log] mode`` is ``STEAD_SERVING_LOG_MODE``.

Example ``stead.toml``::

    [serving.log]
    mode = "async"            # or "sync": a response waits until its record is on disk
    flush_interval = 1.0      # seconds; bounds what a crash can lose in async mode
    pii = "hash"              # or "drop"
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from stead.core.errors import SettingsError
from stead.core.settings import SETTINGS_FILE, STATE_DIR, Settings, at_least, build_dataclass

ENV_PREFIX = "STEAD_SERVING"


@dataclass(frozen=True, kw_only=True)
class PredictionLogSettings:
    """``[serving.log]``: where and how predictions are logged."""

    # The log root, relative to the workspace unless absolute.
    dir: str = f"{STATE_DIR}/predictions"
    # "async": log off the response path; "sync": respond only once the record is durable.
    mode: Literal["async", "sync"] = "async"
    # Write as soon as this many records wait, or after flush_interval seconds.
    batch_size: int = 10_000
    flush_interval: float = 1.0
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
        if self.flush_interval <= 0:
            raise ValueError(
                f"flush_interval = {self.flush_interval!r} is not allowed; expected more than 0"
            )


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    """``[serving]``: the serving stage's settings (the server adds its own keys here)."""

    log: PredictionLogSettings = field(default_factory=PredictionLogSettings)


def serving_settings(settings: Settings, env: Mapping[str, str] | None = None) -> ServingSettings:
    """The validated ``[serving]`` table of a workspace, with ``STEAD_SERVING_*`` applied.

    Raises:
        SettingsError: naming the key, the bad value and what is allowed.
    """
    env = os.environ if env is None else env
    raw = settings.extra.get("serving", {})
    where = f"{settings.root / SETTINGS_FILE} [serving]"
    if not isinstance(raw, dict):
        raise SettingsError(f"{where} must be a table, got {raw!r}")
    table = _with_env(ServingSettings, dict(raw), ENV_PREFIX, env, where)
    result: ServingSettings = build_dataclass(ServingSettings, table, where=where)
    return result


def _with_env(
    cls: type, table: dict[str, Any], prefix: str, env: Mapping[str, str], where: str
) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f"{prefix}_{f.name}".upper()
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            sub = table.get(f.name, {})
            if not isinstance(sub, dict):
                raise SettingsError(f"{where} {f.name} must be a table, got {sub!r}")
            sub = _with_env(hint, dict(sub), name, env, f"{where}.{f.name}")  # type: ignore[arg-type]
            if sub:
                table[f.name] = sub
        elif name in env:
            table[f.name] = _parse_env(env[name])
    return table


def _parse_env(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
