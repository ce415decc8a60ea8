"""``stead predictions tail|compact``: the latest predictions of an endpoint; compaction."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, console, print_json, print_table
from stead.cli.session import guarded, open_workspace
from stead.core.duration import parse_duration

if TYPE_CHECKING:
    import pandas as pd

    from stead.predictions.compaction import CompactionReport

app = typer.Typer(
    name="predictions",
    rich_markup_mode=None,
    help="The prediction log: what endpoints answered.",
    no_args_is_help=True,
)
COLUMNS = ["time (UTC)", "request id", "model", "role", "rev", "answer", "latency ms", "error"]


@app.command("tail")
def tail_(
    endpoint: str = typer.Argument(..., help="The endpoint name."),
    n: int = typer.Option(20, "-n", "--lines", help="How many of the latest predictions."),
    follow_: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new predictions as they are logged."
    ),
    poll: float = typer.Option(1.0, "--poll", help="Seconds between looks for new ones."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Show the latest predictions of ENDPOINT (with --follow, then each new one).

    With --json: a JSON list, or with --follow one JSON object per line.
    """
    from stead.predictions.tail import follow, tail

    with open_workspace(workspace, as_json=as_json) as ws:
        directory = ws.predictions.directory
    if not follow_:
        with guarded(as_json=as_json):
            frame = tail(directory, endpoint, n)
        if as_json:
            print_json(_records(frame))
        else:
            print_table(f"latest predictions of {endpoint}", COLUMNS, _rows(frame))
        return
    try:
        with guarded(as_json=as_json):
            for frame in follow(directory, endpoint, n=n, poll=poll):
                for record in _records(frame):
                    if as_json:
                        sys.stdout.write(json.dumps(record, default=str) + "\n")
                    else:
                        console.print(escape("  ".join(_line(record))), highlight=False)
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass


@app.command("compact")
def compact(
    endpoint: str | None = typer.Argument(None, help="Only this endpoint (default: all)."),
    settle: str = typer.Option(
        "1h", "--settle", help="How long after its end a day counts as closed (e.g. 1h, 1d)."
    ),
    keep_replaced: str = typer.Option(
        "1h",
        "--keep-replaced",
        help="How long merged files stay for readers already reading them; 0 deletes them now.",
    ),
    target_rows: int | None = typer.Option(
        None, "--target-rows", help="Most rows per file (default 5,000,000)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would change."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Merge the small files of closed days of the prediction log into few large ones.

    Readers and a running server are safe meanwhile. Files that were merged are deleted
    by a later run, once --keep-replaced has passed. Run it daily (cron, a scheduler).
    """
    from stead.predictions.compaction import TARGET_ROWS

    with open_workspace(workspace, as_json=as_json) as ws, guarded(as_json=as_json):
        report = ws.predictions.compact(
            endpoint,
            settle=_duration(settle, "--settle"),
            keep_replaced=_duration(keep_replaced, "--keep-replaced"),
            target_rows=TARGET_ROWS if target_rows is None else target_rows,
            dry_run=dry_run,
        )
    _print_compaction(report, as_json=as_json)


def _duration(text: str, what: str) -> timedelta:
    if what == "--keep-replaced" and text.strip() in {"0", "0s"}:
        return timedelta(0)
    return parse_duration(text, what=what)


def _print_compaction(report: CompactionReport, *, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "dry_run": report.dry_run,
                "closed_before": report.closed_before.isoformat(),
                "days": [{**dataclasses.asdict(d), "day": d.day.isoformat()} for d in report.days],
            }
        )
        return
    verb = "dry run: what would change" if report.dry_run else "what changed"
    rows = [
        [
            d.endpoint,
            d.day.isoformat(),
            "busy (another compaction)" if d.busy else f"{d.files_before} → {d.files_after}",
            f"{d.rows:,}",
            f"{d.bytes_before / 1e6:.1f} → {d.bytes_after / 1e6:.1f}" if d.bytes_after else "",
            str(d.vacuumed),
        ]
        for d in report.days
        if d.changed or d.busy
    ]
    for d in report.days:
        for name in d.damaged:
            console.print(
                f"[yellow]damaged[/]: {d.endpoint} {d.day} {escape(name)}: its footer is "
                "unreadable; left out of the merge (readers fail on it too: move it out of "
                "the log)"
            )
    if not rows:
        console.print(
            f"nothing to compact: no closed day (before {report.closed_before}) has small "
            "files left to merge or merged files due for deletion"
        )
        return
    print_table(
        f"prediction log: closed days before {report.closed_before} ({verb})",
        ["endpoint", "day", "files", "rows merged", "MB", "replaced files deleted"],
        rows,
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if frame.empty:
        return []
    import pyarrow as pa

    from stead.predictions.layout import decode

    table = pa.Table.from_pandas(frame, preserve_index=False)
    return [dataclasses.asdict(r) for r in decode(table)]


def _rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[escape(cell) for cell in _line(record)] for record in _records(frame)]


def _line(record: dict[str, Any]) -> list[str]:
    return [
        f"{record['timestamp']:%Y-%m-%d %H:%M:%S.%f}"[:-3],
        record["request_id"],
        record["model_version"],
        record["role"],
        "-" if record["revision"] is None else str(record["revision"]),
        _answer(record["outputs"]),
        f"{record['latency_ms']:.2f}",
        record["error"] or "",
    ]


def _answer(outputs: dict[str, Any]) -> str:
    if "value" in outputs:
        return f"value={outputs['value']:g}"
    text = f"prediction={outputs.get('prediction')}"
    probabilities = outputs.get("probabilities")
    if isinstance(probabilities, dict) and probabilities:
        text += f" (p={max(probabilities.values()):.3f})"
    return text
