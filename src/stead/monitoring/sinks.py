"""Alert sinks: where alerts go. ``[alerts] sinks`` lists them::

    [alerts]
    sinks = [
        "stdout",                                          # a line on standard output
        "log",                                             # the "stead.alerts" logger
        { type = "file", path = ".stead/alerts.jsonl" },   # JSON lines ("jsonl" too), fsynced
        { type = "webhook", url = "https://hooks.example.com/stead", timeout = 5.0,
          retries = 2, headers = { Authorization = "Bearer ${PAGER_TOKEN}" } },
    ]

A bare ``"file"`` is the file sink at its default path, a bare ``"https://..."`` a
webhook with default timeout and retries. Header values expand ``${VAR}`` from the
environment when sent, so secrets stay out of ``stead.toml``.

A webhook is an HTTP POST of the alert as JSON. A 2xx answer is delivered; a 5xx
answer, a timeout or a connection error is retried ``retries`` times with exponential
backoff; a 4xx answer is not retried (the request itself is wrong).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from stead.core.errors import SettingsError
from stead.core.settings import Settings, at_least, build_dataclass, stage_values

DEFAULT_FILE = ".stead/alerts.jsonl"
log = logging.getLogger("stead.alerts")


@dataclass(frozen=True, kw_only=True)
class SinkSettings:
    """One sink of ``[alerts] sinks``."""

    # "jsonl" is another name for "file".
    type: Literal["file", "jsonl", "webhook", "stdout", "log"]
    name: str | None = None
    path: str | None = None
    url: str | None = None
    timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        at_least("timeout", self.timeout, 0.001)
        at_least("retries", self.retries, 0)
        at_least("backoff", self.backoff, 0.0)
        if self.type == "webhook" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError(f'a webhook sink needs url = "http(s)://...", got {self.url!r}')


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """``[alerts]``: each sink a name (``"stdout"``, ``"log"``, ``"file"``, a webhook URL)
    or a table (:class:`SinkSettings`)."""

    sinks: list[Any] = field(default_factory=list)

    def specs(self, where: str = "stead.toml [alerts]") -> list[SinkSettings]:
        """Every sink as a :class:`SinkSettings` (checked when the settings were read)."""
        return [_sink(entry, f"{where} sinks[{i}]") for i, entry in enumerate(self.sinks)]


@dataclass(frozen=True)
class SendResult:
    delivered: bool
    attempts: int
    error: str | None = None


class Sink(Protocol):
    """Somewhere an alert can be sent."""

    name: str

    def send(self, payload: Mapping[str, Any]) -> SendResult: ...


class StdoutSink:
    """One readable line per alert on standard output."""

    def __init__(self, name: str = "stdout") -> None:
        self.name = name

    def send(self, payload: Mapping[str, Any]) -> SendResult:
        window = f" [{payload['window']}]" if payload.get("window") else ""
        line = (
            f"ALERT {payload['severity']} {payload['endpoint']} {payload['signal']}{window}: "
            f"{payload['title']} — {payload['message']}\n"
        )
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except (OSError, ValueError) as exc:
            return SendResult(False, 1, f"cannot write to standard output: {exc}")
        return SendResult(True, 1)


class LogSink:
    """The ``stead.alerts`` logger, at WARNING (INFO for ``info`` alerts)."""

    def __init__(self, name: str = "log") -> None:
        self.name = name

    def send(self, payload: Mapping[str, Any]) -> SendResult:
        level = logging.INFO if payload.get("severity") == "info" else logging.WARNING
        log.log(level, "%s: %s", payload["title"], payload["message"])
        return SendResult(True, 1)


class FileSink:
    """JSON lines appended to a file and made durable before the alert counts as sent."""

    def __init__(self, path: Path, name: str = "file") -> None:
        self.path = path
        self.name = name

    def send(self, payload: Mapping[str, Any]) -> SendResult:
        line = json.dumps(dict(payload), sort_keys=True, default=str) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            return SendResult(False, 1, f"cannot append to {self.path}: {exc}")
        return SendResult(True, 1)


class WebhookSink:
    """An HTTP POST of the alert as JSON, with a timeout and retries."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.headers = dict(headers or {})

    def send(self, payload: Mapping[str, Any]) -> SendResult:
        # Imported here: [alerts] is checked whenever a workspace opens, and only sending
        # needs an HTTP client.
        import httpx

        headers = {k: os.path.expandvars(v) for k, v in self.headers.items()}
        error = "not attempted"
        attempts = 0
        with httpx.Client(timeout=self.timeout) as client:
            for attempt in range(self.retries + 1):
                attempts = attempt + 1
                if attempt:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                try:
                    response = client.post(self.url, json=dict(payload), headers=headers)
                except httpx.TimeoutException:
                    error = f"POST {self.url} timed out after {self.timeout:g} s"
                    continue
                except httpx.HTTPError as exc:
                    error = f"POST {self.url} failed: {type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    return SendResult(True, attempts)
                error = f"POST {self.url} answered {response.status_code}"
                if response.status_code < 500:
                    break  # the request itself is wrong: sending it again will not help
        return SendResult(False, attempts, error)


def alert_settings(settings: Settings, env: Mapping[str, str] | None = None) -> AlertSettings:
    """``[alerts]`` parsed and checked.

    ``STEAD_ALERTS_SINKS`` replaces the whole list, written as a TOML list
    (``STEAD_ALERTS_SINKS='["stdout", "https://hooks.example.com/a"]'``); sinks are not
    overridden one by one.

    Raises:
        SettingsError: naming the sink and what is allowed.
    """
    found = stage_values(settings, "alerts", AlertSettings, env=env)
    assert found is not None  # not optional: an absent table has its defaults
    table, where = found
    parsed: AlertSettings = build_dataclass(AlertSettings, table, where=where)
    parsed.specs(where)
    return parsed


def build_sinks(settings: Settings) -> list[Sink]:
    """The configured sinks, each with a unique name (``webhook``, ``webhook-2`` ...)."""
    sinks: list[Sink] = []
    seen: dict[str, int] = {}
    for spec in alert_settings(settings).specs():
        base = spec.name or ("file" if spec.type == "jsonl" else spec.type)
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}-{seen[base]}"
        if spec.type == "stdout":
            sinks.append(StdoutSink(name))
        elif spec.type == "log":
            sinks.append(LogSink(name))
        elif spec.type in ("file", "jsonl"):
            sinks.append(FileSink(settings.resolve_path(spec.path or DEFAULT_FILE), name))
        else:
            assert spec.url is not None
            sinks.append(
                WebhookSink(
                    spec.url,
                    name=name,
                    timeout=spec.timeout,
                    retries=spec.retries,
                    backoff=spec.backoff,
                    headers=spec.headers,
                )
            )
    return sinks


def _sink(entry: Any, where: str) -> SinkSettings:
    if isinstance(entry, str):
        return _shorthand(entry, where)
    if isinstance(entry, dict):
        spec: SinkSettings = build_dataclass(SinkSettings, entry, where=where)
        return spec
    raise SettingsError(f"{where} = {entry!r} is not a sink; use a name or a table")


def _shorthand(text: str, where: str) -> SinkSettings:
    if text in ("stdout", "log", "file", "jsonl"):
        return SinkSettings(type=text)  # type: ignore[arg-type]
    if text.startswith(("http://", "https://")):
        return SinkSettings(type="webhook", url=text)
    raise SettingsError(
        f'{where} = {text!r} is not a sink; use "stdout", '
        '"log", "file", a webhook URL "https://...", or a table such as { type = "file", '
        'path = "alerts.jsonl" }'
    )
