"""``stead retrain [run] ENDPOINT``, ``stead retrain list`` and ``stead retrain release``.

``stead retrain ENDPOINT ...`` keeps meaning ``stead retrain run ENDPOINT ...``; ``list``
and ``release`` show and act on the claims (leases) processes hold on triggers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from stead.cli.output import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    print_json,
    print_table,
    say,
    say_trigger,
)
from stead.cli.session import guarded, open_workspace
from stead.core.clock import utcnow
from stead.core.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from stead.monitoring.records import RetrainTrigger


class _EndpointFirst(TyperGroup):
    """Routes ``stead retrain credit ...`` to ``run``; ``list`` and ``release`` are the
    group's other commands (an endpoint with one of those names needs ``run``)."""

    # Any: the Context here is typer's vendored click's, which typer does not export.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="retrain",
    cls=_EndpointFirst,
    rich_markup_mode=None,
    help="Retraining on evidence, and the claims (leases) on its triggers.",
    no_args_is_help=True,
)


@app.command("run")
def retrain(
    endpoint: str = typer.Argument(..., help="The endpoint whose model to retrain."),
    reason: str | None = typer.Option(
        None, "--reason", help="Why (a business change, new data); starts a manual trigger."
    ),
    trigger: str | None = typer.Option(None, "--trigger", help="Process this pending trigger."),
    pending: bool = typer.Option(
        False,
        "--pending",
        help="Process every pending trigger of the endpoint, and reclaim those whose lease "
        "expired.",
    ),
    current_spec: bool = typer.Option(
        False,
        "--current-spec",
        help="Train stead.toml's [training] spec instead of the production run's.",
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Retrain on evidence: snapshot, train, register a candidate, compare, gate, canary.

    Trains the spec recorded with the production version's run, unless --current-spec.

    \b
    stead retrain credit --reason "new lending policy from 2026-07"
    stead retrain credit --pending          the monitor's triggers ([retraining] automatic = false)
    """
    with guarded(as_json=as_json):
        chosen = [
            n
            for n, v in (("--reason", reason), ("--trigger", trigger), ("--pending", pending))
            if v
        ]
        if len(chosen) != 1:
            raise UsageError("give one of --reason '...', --trigger ID or --pending")
    spec = "current" if current_spec else "production"
    with open_workspace(workspace, as_json=as_json) as ws:
        if reason is not None:
            done = [ws.monitors.retrain(endpoint, reason=reason, spec=spec)]
        elif trigger is not None:
            done = [ws.monitors.process(trigger, spec=spec)]
        else:
            done = ws.monitors.process_pending(endpoint, spec=spec)
    if as_json:
        print_json([t.to_dict() for t in done])
    else:
        for t in done:
            say_trigger(t)
            # The spec's and the code's, each also in --json through the evidence.
            for warning in t.evidence.get("warnings", []):
                say(f"  [yellow]warning:[/] {escape(warning)}")
    if any(t.status == "failed" for t in done):
        raise typer.Exit(1)


@app.command("list")
def list_triggers(
    endpoint: str | None = typer.Argument(None, help="Only this endpoint's triggers."),
    status: str | None = typer.Option(
        None, "--status", help="pending, processing, done, no_change or failed."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Retrain triggers: their state, who holds each and until when."""
    with open_workspace(workspace, as_json=as_json) as ws:
        triggers = ws.monitors.triggers(endpoint, status=status)
    now = utcnow()
    if as_json:
        print_json([t.lease_summary(now) for t in triggers])
        return
    print_table(
        "retrain triggers",
        ["trigger", "endpoint", "kind", "status", "lease", "holder", "until", "claims"],
        [
            [
                t.id,
                escape(t.endpoint),
                t.kind,
                t.status,
                _lease_state(t, now),
                escape(t.describe_holder() if t.holder else ""),
                "" if t.expires_at is None else f"{t.expires_at:%Y-%m-%d %H:%M:%S}Z",
                str(t.claims),
            ]
            for t in triggers
        ],
    )


def _lease_state(trigger: RetrainTrigger, now: datetime) -> str:
    state = trigger.lease_state(now)
    if state == "none":
        return ""
    process = {True: "process running", False: "process gone", None: "process unknown"}
    style = "green" if state == "live" else "bold red"
    return f"[{style}]{state}[/] ({process[trigger.holder_alive]})"


@app.command("release")
def release_trigger(
    trigger: str = typer.Argument(..., help="The trigger stuck in processing."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit trail)."),
    force: bool = typer.Option(
        False, "--force", help="Release although the lease is live (you know its holder is gone)."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Hand a trigger stuck in processing back to pending (audited).

    Refused while the holder's lease is live, unless --force.
    """
    with open_workspace(workspace, as_json=as_json) as ws:
        released = ws.monitors.release(trigger, reason=reason, force=force)
    if as_json:
        print_json(released.lease_summary(utcnow()))
        return
    endpoint, trigger_id = released.endpoint, released.id
    say(
        escape(
            f"released retrain trigger {trigger_id} (held by {released.describe_holder()}); "
            f"it is pending: `stead retrain {endpoint} --trigger {trigger_id}` processes it"
        )
    )
