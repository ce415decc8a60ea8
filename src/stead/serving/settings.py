"""The ``[serving]`` table of ``stead.toml``, parsed and validated like the core tables.

The core loader keeps stage-owned tables raw (``settings.extra["serving"]``); this
module turns that table into frozen dataclasses with :func:`stage_table`, so a wrong
value is reported with its key and what is allowed. Environment variables override keys
as for the core tables: ``[serving.log] mode`` is ``STEAD_SERVING_LOG_MODE``.

Example ``stead.toml``::

    [serving]
    max_records = 1000        # records per request; more is refused with 413
    latency_budget = 0.5      # seconds; slower answers come from the fallback (0: never)
    default_endpoint = "credit"   # what POST /invocations (MLflow's format) serves
    ready_when = "all"        # or "any": ready once at least one endpoint is loaded

    [serving.log]
    mode = "journal"          # "sync": a response waits for Parquet; "async": memory only
    flush_interval = 1.0      # seconds until Parquet; what a crash loses in async mode
    sync_interval = 0.2       # seconds between journal fsyncs: what a machine crash loses
    pii = "hash"              # or "drop"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from stead.core.settings import Settings, at_least, between, stage_table
from stead.predictions.settings import PredictionLogSettings


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    """``[serving]``: the serving stage's settings: the server's, and ``[serving.log]``."""

    log: PredictionLogSettings = field(default_factory=PredictionLogSettings)
    # -- the server (``stead serve``); the command's flags override these three.
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Request limits, checked before any parsing: larger bodies get 413.
    max_body_bytes: int = 1_048_576
    max_records: int = 1_000
    # Seconds the model may take for a request before the fallback answers (0: no budget).
    latency_budget: float = 0.5
    # Micro-batching: most rows per model call, and seconds a call waits for more
    # requests (0: send at once, batch whatever queued while the model was busy).
    max_batch: int = 256
    max_wait: float = 0.0
    # Seconds between two looks at the deployment revision counter.
    poll_interval: float = 0.25
    # The endpoint ``POST /invocations`` (MLflow's scoring format) serves.
    default_endpoint: str | None = None
    # Seconds a response stored under an Idempotency-Key is replayed.
    idempotency_ttl: float = 86_400.0
    # A finite value outside the training range: "warn" answers it, flagged in the
    # answer and the log (a balance above the training maximum is a customer, not a
    # mistake); "error" refuses the request (422). Infinity is refused either way;
    # unseen categories follow [validation] unseen_categories.
    out_of_range: Literal["error", "warn"] = "warn"
    # A regression shadow disagrees when its value differs by more than this fraction.
    shadow_tolerance: float = 1e-6
    # When /readyz and /v2/health/ready say ready: "all" once every deployed endpoint is
    # loaded, "any" once at least one is (a replica that can answer some traffic).
    ready_when: Literal["all", "any"] = "all"

    def __post_init__(self) -> None:
        between("port", self.port, 0, 65_535)
        at_least("workers", self.workers, 1)
        at_least("max_body_bytes", self.max_body_bytes, 1_024)
        at_least("max_records", self.max_records, 1)
        at_least("latency_budget", self.latency_budget, 0.0)
        at_least("max_batch", self.max_batch, 1)
        at_least("max_wait", self.max_wait, 0.0)
        between("poll_interval", self.poll_interval, 0.01, 1.0)
        at_least("idempotency_ttl", self.idempotency_ttl, 0.0)
        at_least("shadow_tolerance", self.shadow_tolerance, 0.0)


def serving_settings(settings: Settings, env: Mapping[str, str] | None = None) -> ServingSettings:
    """The validated ``[serving]`` table of a workspace, with ``STEAD_SERVING_*`` applied.

    Raises:
        SettingsError: naming the key, the bad value and what is allowed.
    """
    return stage_table(settings, "serving", ServingSettings, env=env)
