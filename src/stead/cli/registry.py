"""``stead models register|list|show|promote|retire|history|card|verify|evidence``,
``stead lineage`` and ``stead checklist``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, print_json, print_table, say
from stead.cli.session import guarded, open_workspace
from stead.core.clock import parse_time
from stead.core.errors import GateFailed, UsageError

if TYPE_CHECKING:
    from stead.registry.checklist import Checklist
    from stead.registry.stages import StageMove
    from stead.registry.version import ModelVersion

models_app = typer.Typer(
    rich_markup_mode=None,
    help="Registered model versions: register, promote, retire, cards, history.",
    no_args_is_help=True,
)


# ``stead lineage`` and ``stead checklist``, and the ``models`` group.
app = typer.Typer(rich_markup_mode=None)
app.add_typer(models_app, name="models")


def _table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    # Cells hold user text such as "[monitoring]": print it, never read it as markup.
    print_table(title, columns, [[escape("" if c is None else str(c)) for c in r] for r in rows])


def _say(text: str) -> None:
    say(escape(text))


@models_app.command("register")
def register_(
    run: str = typer.Argument(..., help="The run id (or a unique prefix of it)."),
    name: str = typer.Option(..., "--name", "-n", help="The model name; versions are NAME@N."),
    owner: str | None = typer.Option(None, "--owner", help="Instead of [project] owner."),
    description: str | None = typer.Option(None, "--description", help="Shown on the card."),
    reason: str | None = typer.Option(None, "--reason", help="Recorded in the audit trail."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Register a succeeded run as NAME@N (a candidate), with a signed manifest."""
    with open_workspace(workspace, as_json=as_json) as ws:
        outcome = ws.models.register(
            run, name=name, owner=owner, description=description, reason=reason
        )
    if as_json:
        print_json(outcome.to_dict())
    else:
        _say(outcome.message)


@models_app.command("list")
def list_(
    name: str | None = typer.Argument(None, help="Only versions of this model."),
    stage: str | None = typer.Option(None, "--stage", help="Only versions in this stage."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """List model versions, newest first per name."""
    with open_workspace(workspace, as_json=as_json) as ws:
        versions = ws.models.list(name, stage=stage)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    _table(
        "models",
        ["model", "stage", "owner", "run", "snapshot", "feature set", "registered", "by"],
        [
            (
                v.ref,
                v.stage,
                v.owner,
                v.run_id,
                v.snapshot_ref,
                v.feature_set_ref,
                f"{v.registered_at:%Y-%m-%d %H:%M}",
                v.registered_by,
            )
            for v in versions
        ],
    )


@models_app.command()
def show(
    ref: str = typer.Argument(..., help="NAME@N, NAME@production or NAME (latest)."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Show a version: stage, owner, artifacts, contract and output."""
    with open_workspace(workspace, as_json=as_json) as ws:
        version = ws.models.get(ref)
    if as_json:
        print_json(version.to_dict(full=True))
        return
    _describe(version)


def _describe(v: ModelVersion) -> None:
    say(f"[bold]{escape(v.ref)}[/]  {v.stage}  owner {escape(v.owner)}  task {v.task}")
    _say(f"run {v.run_id} on {v.snapshot_ref} with features {v.feature_set_ref}")
    _say(f"registered {v.registered_at:%Y-%m-%d %H:%M} UTC by {v.registered_by}")
    _say(f"signed by {v.key_fingerprint}")
    output = v.output
    classes = output.get("classes")
    _say(
        f"output: {output.get('scores')} for {output.get('target')}"
        + (f" (classes {', '.join(map(str, classes))})" if classes else "")
    )
    _table(None, ["artifact", "sha256"], sorted(v.artifacts.items()))
    _table(
        "input contract",
        ["column", "kind", "nullable", "range / levels"],
        [
            (
                c.name,
                c.kind,
                "yes" if c.nullable else "no",
                ", ".join(c.levels) if c.levels is not None else f"{c.min} .. {c.max}",
            )
            for c in v.contract.columns
        ],
    )


@models_app.command()
def promote(
    ref: str = typer.Argument(..., help="NAME@N"),
    to: str = typer.Option(..., "--to", help="staging or production (or staging from production)."),
    reason: str | None = typer.Option(None, "--reason", help="Why; recorded in the audit trail."),
    override: bool = typer.Option(
        False, "--override", help="Admins only: promote past failing checklist items."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Move a version to another stage; production requires the readiness checklist."""
    with open_workspace(workspace, as_json=as_json) as ws:
        move = ws.models.promote(ref, to=to, reason=reason, override=override)
    _moved(move, as_json=as_json)


@models_app.command()
def retire(
    ref: str = typer.Argument(..., help="NAME@N"),
    reason: str | None = typer.Option(None, "--reason", help="Why; recorded in the audit trail."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Retire a version (final): it keeps its artifacts and lineage."""
    with open_workspace(workspace, as_json=as_json) as ws:
        move = ws.models.retire(ref, reason=reason)
    _moved(move, as_json=as_json)


def _moved(move: StageMove, *, as_json: bool) -> None:
    if as_json:
        print_json(move.to_dict())
    else:
        _say(move.message)


@models_app.command()
def history(
    name: str = typer.Argument(..., help="The model name."),
    at: str | None = typer.Option(None, "--at", help="Say which version was live at this time."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Every stage change of a model's versions, oldest first: what was live when."""
    with guarded(as_json=as_json):
        try:
            when = parse_time(at) if at else None
        except ValueError as exc:
            raise UsageError(f"--at: {exc}") from exc
    with open_workspace(workspace, as_json=as_json) as ws:
        changes = ws.models.history(name)
        live = ws.models.live_at(name, when) if when else None
    if as_json:
        body: dict[str, Any] = {"model": name, "changes": [c.to_dict() for c in changes]}
        if when:
            body["at"] = when.isoformat()
            body["live"] = live.ref if live else None
        print_json(body)
        return
    _table(
        f"stage history of {name}",
        ["when", "model", "from", "to", "by", "reason", "override"],
        [
            (
                f"{c.at:%Y-%m-%d %H:%M:%S}",
                c.ref,
                c.from_stage or "—",
                c.to_stage,
                c.actor,
                c.reason or "",
                ", ".join(c.overridden) if c.override else "",
            )
            for c in changes
        ],
    )
    if when:
        _say(f"live at {when:%Y-%m-%d %H:%M:%S} UTC: {live.ref if live else 'no version'}")


@models_app.command()
def card(
    ref: str = typer.Argument(..., help="NAME@N"),
    format_: str = typer.Option("md", "--format", "-f", help="md, html or json."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """The model card, generated from records (Markdown, self-contained HTML or JSON).

    --json is --format json: the card's sections, each with its text, facts, bullets
    and table.
    """
    with guarded(as_json=as_json):
        if format_ not in ("md", "html", "json"):
            raise UsageError(f"--format {format_!r}: expected md, html or json")
        if as_json and format_ not in ("md", "json"):
            raise UsageError(f"--json and --format {format_}: give one of them")
    if as_json:
        format_ = "json"
    with open_workspace(workspace, as_json=format_ == "json") as ws:
        model_card = ws.models.card(ref)
    if format_ == "json":
        if output is None:
            print_json(model_card.to_dict())
            return
        text = json.dumps(model_card.to_dict(), indent=2) + "\n"
    else:
        text = model_card.to_html() if format_ == "html" else model_card.to_markdown()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        _say(f"wrote the card of {model_card.model} to {output}")


@models_app.command()
def verify(
    ref: str = typer.Argument(..., help="NAME@N"),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Check the manifest signature and every artifact hash; exits 8 when altered."""
    with open_workspace(workspace, as_json=as_json) as ws:
        result = ws.models.verify(ref)
    if as_json:
        print_json(result.to_dict())
    else:
        _say(f"{result.model}: {result.describe()}")


@models_app.command()
def evidence(
    ref: str = typer.Argument(..., help="NAME@N"),
    item: str = typer.Argument(
        ..., help="drift_detection, performance_logged, alerts_tested or rollback_verified."
    ),
    passed: bool = typer.Option(..., "--pass/--fail", help="What the evidence shows."),
    text: str = typer.Option(..., "--evidence", help="What was observed, in a sentence."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Record evidence for an after-deployment checklist item (audited)."""
    with open_workspace(workspace, as_json=as_json) as ws:
        record = ws.models.record_evidence(ref, item, passed=passed, evidence=text)
    if as_json:
        print_json(record.to_dict())
    else:
        _say(f"recorded {'passing' if passed else 'failing'} evidence for {item} of {record.model}")


@app.command()
def lineage(
    target: str = typer.Argument(..., help="NAME@N (a model version) or a request id."),
    brief: bool = typer.Option(False, "--brief", help="Only the tree, without each node's facts."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Where a model or one prediction came from: run, data, features, code, environment."""
    from stead.predictions.lineage import START_DESCRIPTION
    from stead.registry.lineage import LineageQuery

    with open_workspace(workspace, as_json=as_json) as ws:
        query = LineageQuery(
            [
                ("NAME@N (a model version)", ws.models.lineage_start),
                (START_DESCRIPTION, ws.lineage.start),
            ]
        )
        tree = query(target)
    if as_json:
        print_json(tree.to_dict())
    else:
        typer.echo(tree.render(facts=not brief))


@app.command()
def checklist(
    ref: str = typer.Argument(..., help="NAME@N"),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """The production-readiness checklist; exits 6 when a before-deployment item does not
    pass."""
    with open_workspace(workspace, as_json=as_json) as ws:
        result = ws.models.checklist(ref)
    if as_json:
        print_json(result.to_dict())
    else:
        _show_checklist(result)
    if not result.ready:
        raise typer.Exit(GateFailed.exit_code)


def _show_checklist(result: Checklist) -> None:
    marks = {"pass": "[green]pass[/]", "fail": "[red]fail[/]", "pending": "[yellow]pending[/]"}
    rows = [(escape(i.title), i.phase, marks[i.status], escape(i.detail)) for i in result.items]
    print_table(
        f"checklist of {result.model}", ["item", "phase", "status", "evidence or reason"], rows
    )
    _say(result.summary())
