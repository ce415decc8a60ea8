"""``stead train``, ``stead runs list|show|compare``, ``stead reproduce`` and
``stead features list|show``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from stead.cli.output import (
    JSON_OPTION,
    WORKSPACE_OPTION,
    notice,
    print_json,
    print_table,
    progress,
    say,
)
from stead.cli.session import open_workspace

if TYPE_CHECKING:
    from stead.training.run import TrainingRun

runs_app = typer.Typer(
    rich_markup_mode=None, help="Training runs: list, show and compare.", no_args_is_help=True
)
features_app = typer.Typer(
    rich_markup_mode=None, help="Feature sets: the current version and recorded ones."
)


# ``stead train`` and ``stead reproduce``, and the ``runs`` and ``features`` groups.
app = typer.Typer(rich_markup_mode=None)
app.add_typer(runs_app, name="runs")
app.add_typer(features_app, name="features")


@contextmanager
def _steps(description: str, total: int, *, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A progress bar that advances as the service reports each step."""
    seen: list[str] = []
    with progress(description, total=total, quiet=quiet) as advance:

        def on_step(name: str) -> None:
            if seen:
                advance(1)
            seen.append(name)

        yield on_step
        advance(total - max(0, len(seen) - 1))


@app.command()
def train(
    snapshot: str | None = typer.Option(
        None, "--snapshot", "-s", help="NAME or NAME@V instead of [training] snapshot."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Instead of [training] seed."),
    force: bool = typer.Option(
        False, "--force", help="Train anew even if a run with the same inputs succeeded."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Recorded in the audit trail."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Train the [training] spec: leakage checks, fit, evaluate, record a reproducible run."""
    from stead.training.service import TRAIN_STEPS

    with (
        open_workspace(workspace, as_json=as_json) as ws,
        _steps("training", len(TRAIN_STEPS), quiet=as_json) as on_step,
    ):
        outcome = ws.runs.train(
            snapshot=snapshot, seed=seed, force=force, reason=reason, on_step=on_step
        )
    if as_json:
        print_json(outcome.to_dict())
        return
    if outcome.leakage is not None:
        for finding in outcome.leakage.warnings:
            notice(f"leakage ({finding.check}): {escape(finding.message)}")
    say(escape(outcome.message))
    _metrics_table(outcome.run)


def _metrics_table(run: TrainingRun) -> None:
    if not run.metrics:
        return
    print_table(
        f"evaluation on {run.split.get('eval_rows', '?')} rows",
        ["metric", "model", "baseline"],
        [
            (name, _num(run.metrics.get(name)), _num(run.baseline_metrics.get(name)))
            for name in run.spec.metrics
        ],
    )


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@app.command()
def reproduce(
    run_id: str = typer.Argument(..., help="The run id (or a unique prefix)."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Re-run RUN from its recorded inputs; exit 9 unless predictions match bit for bit.

    A mismatch lists environment differences, source differences and the size of the
    prediction difference; success or not, the attempt is recorded.
    """
    with (
        open_workspace(workspace, as_json=as_json) as ws,
        _steps("reproducing", 3, quiet=as_json) as on_step,
    ):
        verification = ws.runs.reproduce(run_id, on_step=on_step)
    if as_json:
        print_json(verification.to_dict())
        return
    run = verification.run_id
    say(
        f"run {run} reproduced: evaluation predictions are bit-identical "
        f"(sha256 {str(verification.predictions_hash)[:16]}) and metrics are equal; "
        f"recorded as verification {verification.id}"
    )
    env = verification.differences.get("environment", [])
    if env:
        say(f"environment differences that did not matter ({len(env)}):")
        for diff in env[:10]:
            say(escape(f"  {diff['kind']} {diff['name']}: {diff['recorded']} → {diff['current']}"))


@runs_app.command("list")
def list_runs(
    status: str | None = typer.Option(
        None, "--status", help="running, succeeded, failed or interrupted."
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", help="At most this many runs."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """List training runs, newest first."""
    with open_workspace(workspace, as_json=as_json) as ws:
        runs = ws.runs.list(status=status, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    rows = []
    for r in runs:
        first = next(iter(r.spec.metrics), None)
        metric = f"{first} {_num(r.metrics.get(first))}" if first and r.metrics else ""
        baseline = _num(r.baseline_metrics.get(first)) if first and r.baseline_metrics else ""
        rows.append(
            (
                r.id,
                r.status,
                r.snapshot_ref,
                r.feature_set_ref,
                r.seed,
                metric,
                baseline,
                r.started_at.strftime("%Y-%m-%d %H:%M"),
            )
        )
    print_table(
        "training runs",
        ["run", "status", "snapshot", "features", "seed", "metric", "baseline", "started"],
        rows,
    )


@runs_app.command("show")
def show_run(
    run_id: str = typer.Argument(..., help="The run id (or a unique prefix)."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Show a run: inputs, code, environment summary, metrics, artifacts and status."""
    with open_workspace(workspace, as_json=as_json) as ws:
        run = ws.runs.get(run_id)
        verifications = ws.runs.verifications(run.id)
    if as_json:
        print_json({**run.to_dict(), "verifications": [v.to_dict() for v in verifications]})
        return
    env = run.environment
    say(f"[bold]{run.id}[/]  {run.status}  project {run.project} ({run.spec.task})")
    if run.error:
        say(f"[red]error:[/] {escape(run.error)}")
    say(f"snapshot {run.snapshot_ref}  features {run.feature_set_ref}  seed {run.seed}")
    say(escape(f"estimator {run.spec.estimator} {run.spec.params}"))
    say(escape(f"baseline {run.spec.baseline_estimator} {run.spec.baseline_params}"))
    say(escape(f"input columns: {', '.join(run.input_columns)}"))
    say(escape(f"code {run.code_version.describe()}: {', '.join(run.code_version.files)}"))
    say(
        f"environment: python {env.get('python', {}).get('version')}, "
        f"{env.get('platform', {}).get('platform')}, {len(env.get('packages', {}))} packages, "
        f"scikit-learn {env.get('packages', {}).get('scikit-learn')}"
    )
    say(
        f"split {run.split.get('method')}: {run.split.get('train_rows')} train / "
        f"{run.split.get('eval_rows')} eval rows"
    )
    for finding in run.leakage:
        message = escape(finding["message"])
        say(f"[yellow]leakage {finding['severity']}[/] ({finding['check']}): {message}")
    _metrics_table(run)
    if run.model_artifact:
        say(f"model {run.model_artifact}  baseline {run.baseline_artifact}")
        say(f"eval predictions sha256 {run.predictions_hash}")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
    if timing:
        say(f"timings: {timing}")
    for v in verifications:
        say(f"reproduction {v.status} at {v.checked_at:%Y-%m-%d %H:%M} by {v.checked_by}")


@runs_app.command("compare")
def compare_runs(
    a: str = typer.Argument(..., help="The first run."),
    b: str = typer.Argument(..., help="The second run."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Compare two runs: metrics, params, data, features, code and environment."""
    with open_workspace(workspace, as_json=as_json) as ws:
        comparison = ws.runs.compare(a, b)
    if as_json:
        print_json(comparison.to_dict())
        return
    print_table(
        f"{comparison.a} → {comparison.b}",
        ["metric", "a", "b", "delta", "baseline a", "baseline b"],
        [
            (m.name, _num(m.a), _num(m.b), _num(m.delta), _num(m.baseline_a), _num(m.baseline_b))
            for m in comparison.metrics
        ],
    )
    for section in ("params", "data", "features", "code"):
        diffs = comparison.section(section)
        if not diffs:
            say(f"{section}: same")
            continue
        print_table(section, ["name", "a", "b"], [(d.name, d.a, d.b) for d in diffs])
    if comparison.environment:
        print_table(
            "environment",
            ["kind", "name", "a", "b"],
            [(e.kind, e.name, e.recorded, e.current) for e in comparison.environment],
        )
    else:
        say("environment: same")


@features_app.command("show")
def show_features(
    ref: str | None = typer.Argument(
        None, help="NAME@VERSION of a recorded feature set; default: the current definition."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Show a feature set's version and sources (the current code's when REF is omitted)."""
    with open_workspace(workspace, as_json=as_json) as ws:
        if ref is None:
            current = ws.features.current()
            recorded = [f for f in ws.features.list(current.name) if f.version == current.version]
            body: dict[str, Any] = {
                "ref": current.ref,
                "name": current.name,
                "version": current.version,
                "definition": current.definition,
                "params": current.params,
                "sklearn_version": current.sklearn_version,
                "source_hash": current.source_hash,
                "sources": current.sources.file_hashes(),
                "recorded": bool(recorded),
            }
        else:
            body = ws.features.get(ref).to_dict()
    if as_json:
        print_json(body)
        return
    state = "" if ref else (" (recorded)" if body["recorded"] else " (not yet used by a run)")
    definition = escape(f"{body['definition']} {body['params']}")
    say(f"[bold]{body['ref']}[/]{state}  {definition}")
    say(f"scikit-learn {body['sklearn_version']}, source hash {body['source_hash'][:16]}")
    print_table(None, ["source", "sha256"], list(body["sources"].items()))


@features_app.command("list")
def list_features(
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """List recorded feature set versions, newest first."""
    with open_workspace(workspace, as_json=as_json) as ws:
        sets = ws.features.list()
    if as_json:
        print_json([f.to_dict() for f in sets])
        return
    print_table(
        "feature sets",
        ["ref", "definition", "params", "scikit-learn", "files", "recorded"],
        [
            (
                f.ref,
                f.definition,
                f.params,
                f.sklearn_version,
                len(f.sources),
                f.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for f in sets
        ],
    )
