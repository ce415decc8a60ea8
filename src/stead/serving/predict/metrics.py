"""Prometheus metrics of the server, at ``GET /metrics``.

- ``stead_requests_total{endpoint, version, role}``: answered requests per version that
  answered (``role``: production, canary or fallback).
- ``stead_predictions_total{endpoint, version, role}``: records predicted.
- ``stead_request_errors_total{endpoint, code}``: refused or failed requests, by the
  error's stable code (``contract_violation``, ``not_found`` ...).
- ``stead_request_latency_seconds{endpoint, version}``: a histogram, from the request
  reaching the endpoint to its answer.
- ``stead_fallbacks_total{endpoint, version, reason}``: answers the fallback gave because
  ``version`` raised (``error``) or exceeded the latency budget (``latency``).
- ``stead_shadow_predictions_total``, ``stead_shadow_disagreements_total`` and
  ``stead_shadow_errors_total{endpoint, version}``: shadow records compared with what
  production answered, those that differed, and shadow failures.
- ``stead_endpoint_revision{endpoint}``: the revision this process serves.
- ``stead_prediction_log_quarantined_total{endpoint}``: predictions the log writer could
  not store as Parquet (kept in the log's ``quarantine/`` with the reason).

With several worker processes (``stead serve --workers N``) every worker writes its
values to ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up (prometheus-client's
multiprocess mode), so a scrape sees the whole server, whichever worker answers it.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class ServingMetrics:
    """The server's metrics, in their own registry (so several apps in one process,
    as in tests, do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        answered = ["endpoint", "version", "role"]
        self.requests = Counter(
            "stead_requests", "Answered prediction requests", answered, registry=r
        )
        self.predictions = Counter("stead_predictions", "Predicted records", answered, registry=r)
        self.errors = Counter(
            "stead_request_errors",
            "Refused or failed requests, by error code",
            ["endpoint", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "stead_request_latency_seconds",
            "Time from a request reaching its endpoint to its answer",
            ["endpoint", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "stead_fallbacks",
            "Answers the fallback gave instead of the routed version",
            ["endpoint", "version", "reason"],
            registry=r,
        )
        shadow = ["endpoint", "version"]
        self.shadows = Counter(
            "stead_shadow_predictions",
            "Shadow records compared with production",
            shadow,
            registry=r,
        )
        self.disagreements = Counter(
            "stead_shadow_disagreements",
            "Shadow records whose prediction differed from production's",
            shadow,
            registry=r,
        )
        self.shadow_errors = Counter(
            "stead_shadow_errors", "Shadow requests that failed", shadow, registry=r
        )
        self.revision = Gauge(
            "stead_endpoint_revision",
            "The deployment revision served",
            ["endpoint"],
            registry=r,
            multiprocess_mode="max",
        )
        self.quarantined = Counter(
            "stead_prediction_log_quarantined",
            "Predictions the log writer could not store, kept in its quarantine",
            ["endpoint"],
            registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def answered(
        self, endpoint: str, version: str, role: str, *, records: int, seconds: float
    ) -> None:
        key = ("answered", endpoint, version, role)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(endpoint, version, role),
                self.predictions.labels(endpoint, version, role),
                self.latency.labels(endpoint, version),
            )
            self._children[key] = children
        children[0].inc()
        children[1].inc(records)
        children[2].observe(seconds)

    def failed(self, endpoint: str, code: str) -> None:
        self.errors.labels(endpoint, code).inc()

    def fell_back(self, endpoint: str, version: str, reason: str) -> None:
        self.fallbacks.labels(endpoint, version, reason).inc()

    def shadowed(self, endpoint: str, version: str, *, compared: int, differed: int) -> None:
        self.shadows.labels(endpoint, version).inc(compared)
        if differed:
            self.disagreements.labels(endpoint, version).inc(differed)

    def shadow_failed(self, endpoint: str, version: str) -> None:
        self.shadow_errors.labels(endpoint, version).inc()

    def log_quarantined(self, endpoint: str, reason: str) -> None:
        """One prediction the log writer quarantined (called from its thread)."""
        self.quarantined.labels(endpoint).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text, summed over worker processes in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
