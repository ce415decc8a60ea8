"""``stead monitor run|watch|show|report`` and ``stead alerts test|list`` (``stead retrain``
and ``stead retention``: see ``retraining.py`` and ``retention.py``)."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from stead.cli.output import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    print_json,
    print_json_line,
    print_table,
    say,
    say_err,
    say_trigger,
)
from stead.cli.session import open_workspace
from stead.core.clock import parse_time
from stead.core.errors import UsageError

if TYPE_CHECKING:
    from stead.monitoring.history import MonitorState
    from stead.monitoring.monitor_run import MonitorRun, WindowOutcome

monitor_app = typer.Typer(
    rich_markup_mode=None,
    help="Monitors: drift, schema, performance, system and KPIs per window.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(
    rich_markup_mode=None, help="Alerts: where they go, and proof that they get there."
)

WINDOW_OPTION = typer.Option(
    None, "--window", help="1h, 1d, 7d ... (clock-aligned) or a count such as 10000."
)
STATUS_STYLE = {
    "ok": "green",
    "alert": "bold red",
    "insufficient_data": "dim",
    "awaiting_labels": "yellow",
    "unavailable": "dim",
}


# The ``monitor`` and ``alerts`` groups.
app = typer.Typer(rich_markup_mode=None)
app.add_typer(monitor_app, name="monitor")
app.add_typer(alerts_app, name="alerts")


def _time(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from exc


def _status(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    label = status.replace("_", " ")
    return f"[{style}]{label}[/]" if style else label


@monitor_app.command()
def run(
    endpoint: str = typer.Argument(..., help="The endpoint to monitor."),
    window: str | None = WINDOW_OPTION,
    since: str | None = typer.Option(None, "--since", help="Evaluate windows from this time."),
    until: str | None = typer.Option(None, "--until", help="Up to this time (default: now)."),
    force: bool = typer.Option(False, "--force", help="Evaluate windows again."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Evaluate the complete windows not evaluated yet; alert and trigger as the policy says."""
    with open_workspace(workspace, as_json=as_json) as ws:
        outcome = ws.monitors.run(
            endpoint,
            window=window,
            since=_time(since, "--since"),
            until=_time(until, "--until"),
            force=force,
        )
    if as_json:
        print_json(outcome.to_dict())
        return
    _print_run(outcome)


def _print_run(outcome: MonitorRun) -> None:
    from stead.monitoring.records import SIGNALS
    from stead.monitoring.report.headlines import SIGNAL_TITLES

    if outcome.windows:
        print_table(
            f"{escape(outcome.endpoint)}: {outcome.spec} windows",
            ["window", "model", *[SIGNAL_TITLES[s] for s in SIGNALS], "decisions"],
            [_window_row(w) for w in outcome.windows],
        )
    say(escape(outcome.message))
    for trigger in outcome.triggers:
        say_trigger(trigger)
    for ref in outcome.evidence:
        say(f"evidence recorded: {escape(ref)}")


def _window_row(outcome: WindowOutcome) -> list[str]:
    from stead.monitoring.records import SIGNALS
    from stead.monitoring.report.headlines import headline

    by_signal = {r.signal: r for r in outcome.results}
    cells = []
    for signal in SIGNALS:
        result = by_signal.get(signal)
        cells.append(
            "" if result is None else f"{_status(result.status)} {escape(headline(result))}"
        )
    label = outcome.window.label + (" (labels)" if outcome.recheck else "")
    kinds = ", ".join(d.kind.replace("_", " ") for d in outcome.decisions)
    return [label, escape(outcome.model_version or ""), *cells, escape(kinds)]


@monitor_app.command()
def watch(
    endpoint: str = typer.Argument(..., help="The endpoint to monitor."),
    every: str = typer.Option("5m", "--every", help="Pause between runs: 30s, 5m, 1h ..."),
    window: str | None = WINDOW_OPTION,
    iterations: int | None = typer.Option(
        None, "--iterations", help="Stop after this many runs (default: until Ctrl-C)."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Run the monitor again and again; Ctrl-C stops it cleanly between two runs.

    With --json, stdout is JSON Lines: one object per window evaluated, as each run
    ends (the run's number, endpoint and window spec beside what `monitor run --json`
    says of the window); the other lines go to stderr.
    """
    stop = threading.Event()
    tell = say_err if as_json else say
    runs = 0

    def on_run(outcome: MonitorRun) -> None:
        nonlocal runs
        runs += 1
        if not as_json:
            say(escape(outcome.message))
            return
        for w in outcome.windows:
            print_json_line(
                {"run": runs, "endpoint": outcome.endpoint, "spec": outcome.spec, **w.to_dict()}
            )

    with open_workspace(workspace, as_json=as_json) as ws:
        tell(f"watching {escape(endpoint)} every {escape(every)}; Ctrl-C stops")
        try:
            done = ws.monitors.watch(
                endpoint,
                every=every,
                window=window,
                iterations=iterations,
                stop=stop,
                on_run=on_run,
            )
        except KeyboardInterrupt:
            stop.set()
            tell("stopped")
            return
    tell(f"stopped after {done} run(s)")


@monitor_app.command()
def show(
    endpoint: str = typer.Argument(..., help="The endpoint."),
    window: str | None = WINDOW_OPTION,
    last: int = typer.Option(8, "--last", help="How many windows the trend shows."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """The latest window's signals, the trend over the last windows, decisions, triggers."""
    with open_workspace(workspace, as_json=as_json) as ws:
        state = ws.monitors.state(endpoint, window=window, last=last)
    if as_json:
        print_json(state.to_dict())
        return
    _print_state(state)


def _print_state(state: MonitorState) -> None:
    from stead.monitoring.records import SIGNALS
    from stead.monitoring.report.headlines import SIGNAL_TITLES, headline

    latest = state.latest
    if latest is None:
        say(f"{escape(state.endpoint)} has no monitor results yet: run `stead monitor run`")
        return
    say(
        f"[bold]{escape(state.endpoint)}[/]  window {escape(latest.key)} "
        f"({latest.start:%Y-%m-%d %H:%M} – {latest.end:%Y-%m-%d %H:%M} UTC), "
        f"model {escape(latest.model_version or '?')}"
    )
    print_table(
        None,
        ["signal", "status", "headline", "detail"],
        [
            [
                SIGNAL_TITLES[s],
                _status(latest.results[s].status),
                escape(headline(latest.results[s])),
                escape(latest.results[s].message),
            ]
            for s in SIGNALS
            if s in latest.results
        ],
    )
    print_table(
        f"trend: last {len(state.windows)} window(s)",
        ["window", *[SIGNAL_TITLES[s] for s in SIGNALS]],
        [
            [
                w.key,
                *[
                    f"{_status(w.results[s].status)} {escape(headline(w.results[s]))}"
                    if s in w.results
                    else ""
                    for s in SIGNALS
                ],
            ]
            for w in state.windows
        ],
    )
    if state.decisions:
        print_table(
            "recent decisions",
            ["window", "decision", "action", "message"],
            [
                [d.window_key, d.kind.replace("_", " "), d.action, escape(d.message)]
                for d in state.decisions[:10]
            ],
        )
    for trigger in state.triggers:
        say_trigger(trigger)


@monitor_app.command()
def report(
    endpoint: str = typer.Argument(..., help="The endpoint."),
    out: Path = typer.Option(Path("report.html"), "--out", help="Where to write the HTML."),
    window: str | None = WINDOW_OPTION,
    last: int = typer.Option(30, "--last", help="How many windows to include."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Write a self-contained HTML report (opens offline: inline charts and styles)."""
    with open_workspace(workspace, as_json=as_json) as ws:
        path = ws.monitors.report(endpoint, out, window=window, last=last)
    if as_json:
        print_json({"report": str(path.resolve())})
    else:
        say(f"wrote {escape(str(path))}")


@alerts_app.command("test")
def test_alerts(
    endpoint: str | None = typer.Argument(
        None, help="Record the evidence for this endpoint's production version (default: all)."
    ),
    model: str | None = typer.Option(None, "--model", help="Record it for NAME@N instead."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Send a test alert through every sink; exits 1 if any sink failed.

    Which sinks delivered is recorded as the checklist's alerts_tested evidence.
    """
    with open_workspace(workspace, as_json=as_json) as ws:
        test = ws.monitors.test_alerts(endpoint, model=model)
    if as_json:
        print_json(test.to_dict())
    else:
        print_table(
            f"test alert {test.alert.id}",
            ["sink", "delivered", "attempts", "error"],
            [
                [
                    escape(d.sink),
                    "[green]yes[/]" if d.delivered else "[bold red]no[/]",
                    str(d.attempts),
                    escape(d.error or ""),
                ]
                for d in test.alert.deliveries
            ],
        )
        for ref in test.evidence_for:
            say(f"alerts_tested evidence recorded for {escape(ref)}")
    if not test.ok:
        raise typer.Exit(1)


@alerts_app.command("list")
def list_alerts(
    endpoint: str | None = typer.Argument(None, help="Only this endpoint's alerts."),
    limit: int = typer.Option(20, "--limit", help="How many, newest first."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Recent alerts and whether each reached its sinks."""
    with open_workspace(workspace, as_json=as_json) as ws:
        alerts = ws.monitors.alerts(endpoint, limit=limit)
    if as_json:
        print_json([a.to_dict() for a in alerts])
        return
    print_table(
        "alerts",
        ["when", "endpoint", "signal", "severity", "window", "title", "delivered"],
        [
            [
                f"{a.created_at:%Y-%m-%d %H:%M}",
                escape(a.endpoint),
                a.signal,
                a.severity,
                escape(a.window_key or ""),
                escape(a.title),
                ", ".join(d.sink for d in a.deliveries if d.delivered) or "[red]none[/]",
            ]
            for a in alerts
        ],
    )
