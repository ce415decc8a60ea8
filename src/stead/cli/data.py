"""``stead data``: snapshot, list, show, diff and validate datasets; erase a subject's PII."""

from __future__ import annotations

from pathlib import Path

import typer

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, print_json, print_table, progress, say
from stead.cli.session import open_workspace
from stead.core.errors import ContractViolation

app = typer.Typer(
    name="data",
    rich_markup_mode=None,
    help="Versioned dataset snapshots, schemas, profiles and contracts.",
    no_args_is_help=True,
)


@app.command()
def snapshot(
    name: str = typer.Argument(..., help="Dataset name; versions are numbered per name."),
    path: Path = typer.Argument(..., help="A CSV or Parquet file."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Snapshot a CSV or Parquet file as NAME@V (identical data reuses the existing version)."""
    with (
        open_workspace(workspace, as_json=as_json) as ws,
        progress(f"snapshotting {path.name}", quiet=as_json),
    ):
        outcome = ws.datasets.snapshot_file(path, name=name)
    if as_json:
        print_json(
            {"created": outcome.created, "message": outcome.message, **outcome.snapshot.to_dict()}
        )
    else:
        say(outcome.message)


@app.command("list")
def list_(
    name: str | None = typer.Argument(None, help="Only versions of this dataset."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """List dataset snapshots, newest version first."""
    with open_workspace(workspace, as_json=as_json) as ws:
        snapshots = ws.datasets.list(name)
    if as_json:
        print_json([s.to_dict() for s in snapshots])
        return
    print_table(
        "datasets",
        ["ref", "rows", "columns", "content", "source", "created", "by"],
        [
            (
                s.ref,
                s.rows,
                len(s.schema.columns),
                s.content_hash[:12],
                s.source_path or "(frame)",
                s.created_at.strftime("%Y-%m-%d %H:%M"),
                s.created_by,
            )
            for s in snapshots
        ],
    )


@app.command()
def show(
    ref: str = typer.Argument(..., help="NAME or NAME@V."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Show a snapshot's schema and profile summary."""
    with open_workspace(workspace, as_json=as_json) as ws:
        snap = ws.datasets.get(ref)
    if as_json:
        print_json(snap.to_dict(full=True))
        return
    say(
        f"[bold]{snap.ref}[/]  {snap.rows} rows  content {snap.content_hash[:16]}  "
        f"code {snap.code_version.describe()}"
    )
    if snap.source_path:
        say(f"source {snap.source_path} (sha256 {snap.source_hash})")
    if snap.pii_storage == "raw":
        say(
            f"PII columns {', '.join(snap.schema.with_role('pii'))} are stored raw; "
            f"`stead data hash-pii {snap.ref}` replaces them by keyed hashes"
        )
    elif snap.pii_storage:
        say(f"PII columns {', '.join(snap.schema.with_role('pii'))} are stored as keyed hashes")
    rows = []
    for col in snap.schema.columns:
        prof = snap.profile.column(col.name)
        if col.levels is not None:
            rng = ", ".join(col.levels[:5]) + (" ..." if len(col.levels) > 5 else "")
        elif col.min is not None:
            rng = f"{col.min} .. {col.max}"
        else:
            rng = ""
        stats = (
            f"mean {prof.mean:.4g} std {prof.std:.4g}"
            if prof.mean is not None
            else f"{prof.unique} unique"
        )
        rows.append(
            (
                col.name,
                col.kind,
                "yes" if col.nullable else "no",
                f"{prof.missing_rate:.1%}",
                rng,
                stats,
                ", ".join(col.roles),
            )
        )
    print_table(
        None, ["column", "kind", "nullable", "missing", "range / levels", "profile", "roles"], rows
    )


@app.command()
def diff(
    a: str = typer.Argument(..., help="NAME@A"),
    b: str = typer.Argument(..., help="NAME@B"),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Compare two snapshots: added/removed columns, type changes, distribution change."""
    with open_workspace(workspace, as_json=as_json) as ws:
        result = ws.datasets.diff(a, b)
    if as_json:
        print_json(result.to_dict())
        return
    say(f"{result.a} ({result.rows[0]} rows) → {result.b} ({result.rows[1]} rows)")
    say(f"added columns: {', '.join(result.added) or 'none'}")
    say(f"removed columns: {', '.join(result.removed) or 'none'}")
    for change in result.type_changes:
        say(f"type change: {change['column']} {change['before']} → {change['after']}")
    print_table(
        "distribution change",
        ["column", "statistic", "value"],
        [
            (c.column, c.statistic, f"{c.value:.4f}")
            for c in sorted(result.distribution, key=lambda c: -c.value)
        ],
    )
    for column, why in result.not_compared.items():
        say(f"not compared: {column}, {why}")


@app.command()
def validate(
    ref: str = typer.Argument(..., help="NAME or NAME@V whose contract to check against."),
    path: Path = typer.Argument(..., help="A CSV or Parquet file to check."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Validate a file against a snapshot's contract; exits non-zero when it fails."""
    with open_workspace(workspace, as_json=as_json) as ws:
        report = ws.datasets.validate(path, ref)
    if as_json:
        print_json(report.to_dict())
    elif report.violations:
        print_table(
            f"{path.name} against {ref}",
            ["column", "violation", "count", "first rows", "severity"],
            [
                (v.column, v.kind, v.count, ", ".join(map(str, v.rows)), v.severity)
                for v in report.violations
            ],
        )
    if report.ok:
        if not as_json:
            say(report.summary() if not report.violations else "passes, with warnings")
        return
    if not as_json:
        say(f"[red]{path.name} fails the contract of {ref}[/]")
    raise typer.Exit(ContractViolation.exit_code)


@app.command()
def erase(
    column: str = typer.Option(..., "--column", help="The column holding the subject's value."),
    value: str = typer.Option(..., "--value", help="The exact value to erase."),
    whole_rows: bool = typer.Option(
        False, "--rows", help="Delete the subject's whole rows, not only the value."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the audit trail)."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Erase one subject's value from every snapshot and the prediction log (audited)."""
    with (
        open_workspace(workspace, as_json=as_json) as ws,
        progress(f"erasing a {column} value", quiet=as_json),
    ):
        outcome = ws.erasure.erase(column=column, value=value, whole_rows=whole_rows, reason=reason)
    if as_json:
        print_json(outcome.to_dict())
    else:
        say(outcome.message)


@app.command("hash-pii")
def hash_pii(
    ref: str | None = typer.Argument(None, help="NAME or NAME@V; default every snapshot."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Replace raw PII in stored snapshots by keyed hashes (snapshots from before hashing)."""
    with open_workspace(workspace, as_json=as_json) as ws:
        refs = ws.erasure.hash_raw_pii(ref=ref)
    if as_json:
        print_json({"hashed": refs})
    else:
        say(
            f"hashed the PII columns of {', '.join(refs)}" if refs else "no snapshot stores raw PII"
        )
