"""Alert sinks against real HTTP servers on loopback, and the alerts_tested evidence."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.monitoring.sinks import FileSink, WebhookSink
from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT
from tests.stores import ON_BOTH_STORES
from tests.training.projects import set_tables

PAYLOAD = {
    "id": "al1",
    "endpoint": "credit",
    "signal": "investigate",
    "severity": "warning",
    "title": "Drift on credit",
    "message": "income drifted",
    "window": "1d@2026-07-01T00:00:00Z",
}


class Hook:
    """A real webhook receiver: answers ``statuses`` in turn (then the last one), or
    sleeps ``delay`` seconds before answering."""

    def __init__(self, statuses: list[int], delay: float = 0.0) -> None:
        self.statuses = statuses
        self.delay = delay
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                if hook.delay:
                    time.sleep(hook.delay)
                status = hook.statuses[min(len(hook.received), len(hook.statuses)) - 1]
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook([200]) as server:
        yield server


def test_a_webhook_posts_the_alert_as_json(hook: Hook) -> None:
    result = WebhookSink(hook.url, headers={"X-Team": "risk"}).send(PAYLOAD)
    assert result.delivered and result.attempts == 1
    assert hook.received == [PAYLOAD]


def test_a_webhook_retries_a_5xx_and_then_delivers() -> None:
    with Hook([503, 502, 200]) as flaky:
        result = WebhookSink(flaky.url, retries=2, backoff=0.01).send(PAYLOAD)
    assert result.delivered and result.attempts == 3 and len(flaky.received) == 3


def test_a_webhook_that_keeps_failing_is_reported_with_its_status() -> None:
    with Hook([500]) as broken:
        result = WebhookSink(broken.url, retries=1, backoff=0.01).send(PAYLOAD)
    assert not result.delivered and result.attempts == 2
    assert result.error == f"POST {broken.url} answered 500"


def test_a_4xx_is_not_retried() -> None:
    with Hook([404]) as wrong:
        result = WebhookSink(wrong.url, retries=3, backoff=0.01).send(PAYLOAD)
    assert not result.delivered and result.attempts == 1


def test_a_webhook_that_does_not_answer_in_time_fails_with_a_timeout() -> None:
    with Hook([200], delay=1.0) as slow:
        result = WebhookSink(slow.url, timeout=0.2, retries=0).send(PAYLOAD)
    assert not result.delivered and "timed out after 0.2 s" in (result.error or "")


def test_a_file_sink_appends_json_lines(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "alerts" / "out.jsonl")
    assert sink.send(PAYLOAD).delivered and sink.send({**PAYLOAD, "id": "al2"}).delivered
    lines = (tmp_path / "alerts" / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["al1", "al2"]


@ON_BOTH_STORES
def test_alerts_are_deduplicated_per_endpoint_signal_and_window(mws: Workspace, hook: Hook) -> None:
    set_tables(mws.root, {"alerts": {"sinks": [hook.url]}})
    with Workspace.open(mws.root) as ws:
        service = ws.monitors.alert_service
        first, sent = service.raise_alert(
            endpoint=ENDPOINT,
            signal="investigate",
            window="1d@x",
            severity="warning",
            title="t",
            message="m",
        )
        again, sent_again = service.raise_alert(
            endpoint=ENDPOINT,
            signal="investigate",
            window="1d@x",
            severity="warning",
            title="t",
            message="m",
        )
        other, _ = service.raise_alert(
            endpoint=ENDPOINT,
            signal="investigate",
            window="1d@y",
            severity="warning",
            title="t",
            message="m",
        )
    assert sent and not sent_again and again.id == first.id and other.id != first.id
    assert len(hook.received) == 2
    assert first.deliveries[0].sink == "webhook" and first.deliveries[0].delivered


def test_alerts_test_records_which_sinks_delivered_as_checklist_evidence(
    mws: Workspace, hook: Hook, monitored_dir: Path
) -> None:
    with Hook([500]) as broken:
        set_tables(
            monitored_dir,
            {
                "alerts": {
                    "sinks": [
                        "stdout",
                        {"type": "file", "path": "alerts.jsonl"},
                        hook.url,
                        {"type": "webhook", "url": broken.url, "retries": 1, "backoff": 0.01},
                    ]
                }
            },
        )
        with Workspace.open(monitored_dir) as ws:
            test = ws.monitors.test_alerts(ENDPOINT)
            after = {i.key: i for i in ws.models.checklist("credit@1").after}
    assert not test.ok
    outcomes = {d.sink: d.delivered for d in test.alert.deliveries}
    assert outcomes == {"stdout": True, "file": True, "webhook": True, "webhook-2": False}
    assert test.evidence_for == ["credit@1"]
    assert after["alerts_tested"].status == "fail"
    assert "failed: webhook-2" in after["alerts_tested"].detail
    assert hook.received[0]["test"] is True

    set_tables(monitored_dir, {"alerts": {"sinks": [hook.url, "stdout"]}})
    with Workspace.open(monitored_dir) as ws:
        assert ws.monitors.test_alerts(ENDPOINT).ok
        after = {i.key: i for i in ws.models.checklist("credit@1").after}
        events = [e.action for e in ws.audit.events(action="model.evidence")]
    assert after["alerts_tested"].status == "pass"
    assert events.count("model.evidence") == 2


def test_a_bad_sink_is_refused_when_the_workspace_opens(monitored_dir: Path) -> None:
    set_tables(monitored_dir, {"alerts": {"sinks": ["pager"]}})
    with pytest.raises(SettingsError, match=r"sinks\[0\] = 'pager' is not a sink"):
        Workspace.open(monitored_dir)
    set_tables(monitored_dir, {"alerts": {"sinks": [{"type": "webhook", "url": "ftp://x"}]}})
    with pytest.raises(SettingsError, match="a webhook sink needs url"):
        Workspace.open(monitored_dir)
