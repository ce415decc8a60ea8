"""``stead deploy``, ``stead rollback``, ``stead endpoints list|show|history`` and
``stead serve``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, print_json, print_table, say
from stead.cli.session import guarded, open_workspace
from stead.core.errors import UsageError

if TYPE_CHECKING:
    from stead.serving.deploy.deployment import Deployment, DeployOutcome, Endpoint
    from stead.serving.deploy.drill import RollbackDrill

endpoints_app = typer.Typer(
    rich_markup_mode=None,
    help="Endpoints: what each serves, and every deployment revision.",
    no_args_is_help=True,
)


# ``stead deploy``, ``stead rollback`` and ``stead serve``, and the ``endpoints`` group.
app = typer.Typer(rich_markup_mode=None)
app.add_typer(endpoints_app, name="endpoints")


def _say(text: str) -> None:
    say(escape(text))


@app.command()
def deploy(
    endpoint: str = typer.Argument(..., help="The endpoint name (created on first deploy)."),
    model: str | None = typer.Argument(None, help="NAME@N to serve as production."),
    canary: str | None = typer.Option(None, "--canary", help="NAME@N to canary (sticky)."),
    shadow: str | None = typer.Option(None, "--shadow", help="NAME@N to mirror traffic to."),
    share: float | None = typer.Option(
        None, "--share", help="Percent of traffic: canary (default 10), shadow (default 100)."
    ),
    promote_canary: bool = typer.Option(
        False, "--promote-canary", help="Make the canary the production version."
    ),
    end_canary: bool = typer.Option(False, "--end-canary", help="Stop the canary."),
    remove_shadow: str | None = typer.Option(
        None, "--remove-shadow", help="NAME@N: stop mirroring traffic to it."
    ),
    fallback: str | None = typer.Option(
        None, "--fallback", help="NAME@N or NAME@N:baseline (default: production's baseline)."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why; recorded in the audit trail."),
    override: bool = typer.Option(
        False, "--override", help="Admins only: deploy past failing checklist items."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Change what an endpoint serves; every change is a new, audited revision.

    \b
    stead deploy credit credit@3                     production (stage production)
    stead deploy credit --canary credit@4 --share 10 sticky canary (stage staging+)
    stead deploy credit --shadow credit@5 --share 50 mirrored, never answers
    stead deploy credit --promote-canary             the canary becomes production
    """
    chosen = [
        name
        for name, given in (
            ("NAME@N", model),
            ("--canary", canary),
            ("--shadow", shadow),
            ("--promote-canary", promote_canary),
            ("--end-canary", end_canary),
            ("--remove-shadow", remove_shadow),
        )
        if given
    ]
    with guarded(as_json=as_json):
        if len(chosen) != 1:
            raise UsageError(
                "say what to change: one of NAME@N, --canary, --shadow, --promote-canary, "
                f"--end-canary or --remove-shadow (got {', '.join(chosen) or 'none'})"
            )
        if share is not None and not (canary or shadow):
            raise UsageError("--share goes with --canary or --shadow")
        if fallback is not None and not model:
            raise UsageError("--fallback goes with deploying a production version (NAME@N)")
    with open_workspace(workspace, as_json=as_json) as ws:
        service = ws.endpoints
        if model:
            outcome = service.deploy(
                endpoint, model, fallback=fallback, reason=reason, override=override
            )
        elif canary:
            outcome = service.canary(
                endpoint,
                canary,
                share=10.0 if share is None else share,
                reason=reason,
                override=override,
            )
        elif shadow:
            outcome = service.shadow(
                endpoint,
                shadow,
                share=100.0 if share is None else share,
                reason=reason,
                override=override,
            )
        elif promote_canary:
            outcome = service.promote_canary(endpoint, reason=reason)
        elif end_canary:
            outcome = service.end_canary(endpoint, reason=reason)
        else:
            assert remove_shadow is not None
            outcome = service.remove_shadow(endpoint, remove_shadow, reason=reason)
    _changed(outcome, as_json=as_json)


@app.command()
def rollback(
    endpoint: str = typer.Argument(..., help="The endpoint name."),
    to: int | None = typer.Option(None, "--to", help="This revision instead of the previous."),
    reason: str | None = typer.Option(None, "--reason", help="Why; recorded in the audit trail."),
    drill: bool = typer.Option(
        False, "--drill", help="Roll back and forward again, checking both answer (evidence)."
    ),
    url: str | None = typer.Option(None, "--url", help="With --drill: ask this running server."),
    token: str | None = typer.Option(None, "--token", help="With --drill --url: an API token."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Activate the previous revision again; servers switch within about a second.

    The rollback is a new revision copying the old one's policy, so the history keeps
    both; the previous revision's models are kept loaded, so nothing is loaded.
    With --drill it rolls back and forward again, checks both revisions answer recent
    inputs, and records the checklist's rollback_verified evidence.
    """
    if drill:
        with open_workspace(workspace, as_json=as_json) as ws:
            done = ws.monitors.rollback_drill(endpoint, url=url, token=token, sample=50)
        _print_drill(done, as_json=as_json)
        if not done.passed:
            raise typer.Exit(1)
        return
    with open_workspace(workspace, as_json=as_json) as ws:
        outcome = ws.endpoints.rollback(endpoint, to=to, reason=reason)
    _changed(outcome, as_json=as_json)


def _print_drill(drill: RollbackDrill, *, as_json: bool) -> None:
    if as_json:
        print_json(drill.to_dict())
        return
    print_table(
        f"rollback drill of {escape(drill.endpoint)}",
        ["step", "revision", "serves", "answered", "ok", "problem"],
        [
            [
                c.step,
                str(c.revision),
                escape(c.expected),
                str(c.answered),
                "[green]yes[/]" if c.ok else "[bold red]no[/]",
                escape(c.problem or ""),
            ]
            for c in drill.checks
        ],
    )
    say(escape(drill.message))
    say(f"rollback_verified evidence recorded for {escape(drill.production)}")


def _changed(outcome: DeployOutcome, *, as_json: bool) -> None:
    if as_json:
        print_json(outcome.to_dict())
    else:
        _say(outcome.message)


@endpoints_app.command("list")
def list_(as_json: bool = JSON_OPTION, workspace: Path | None = WORKSPACE_OPTION) -> None:
    """Every endpoint and what its active revision serves."""
    with open_workspace(workspace, as_json=as_json) as ws:
        endpoints = ws.endpoints.list()
    if as_json:
        print_json([e.to_dict() for e in endpoints])
        return
    print_table(
        "endpoints",
        ["endpoint", "revision", "owner", "serves", "changed", "by"],
        [_row(e) for e in endpoints],
    )


def _row(e: Endpoint) -> list[str]:
    d = e.active
    return [
        escape(e.name),
        str(e.revision),
        escape(e.owner),
        escape(d.describe()),
        f"{d.created_at:%Y-%m-%d %H:%M}",
        escape(d.actor),
    ]


@endpoints_app.command()
def show(
    name: str = typer.Argument(..., help="The endpoint name."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """An endpoint's active revision: production, canary, shadows, fallback."""
    with open_workspace(workspace, as_json=as_json) as ws:
        endpoint = ws.endpoints.get(name)
        warnings = ws.endpoints.stage_warnings(name)
    if as_json:
        print_json({**endpoint.to_dict(), "warnings": warnings})
        return
    d = endpoint.active
    p = d.policy
    say(f"[bold]{escape(endpoint.name)}[/]  revision {d.revision}  owner {escape(endpoint.owner)}")
    rows = [("production", p.production, "the rest")]
    if p.canary:
        rows.append(("canary", p.canary, f"{p.canary_share:.0%} (sticky by entity key)"))
    rows += [("shadow", s.version, f"{s.share:.0%} mirrored") for s in p.shadows]
    rows.append(("fallback", str(d.fallback), "when the model fails or is too slow"))
    print_table(None, ["role", "serves", "traffic"], [[escape(c) for c in r] for r in rows])
    _say(_changed_by(d))
    for warning in warnings:
        say(f"[yellow]warning:[/] {escape(warning)}")


def _changed_by(d: Deployment) -> str:
    text = f"{d.action.replace('_', ' ')} by {d.actor} at {d.created_at:%Y-%m-%d %H:%M:%S} UTC"
    if d.reason:
        text += f": {d.reason}"
    if d.restores is not None:
        text += f" (restores revision {d.restores})"
    return text


@endpoints_app.command()
def history(
    name: str = typer.Argument(..., help="The endpoint name."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Every revision of an endpoint, oldest first: what served when, who, why."""
    with open_workspace(workspace, as_json=as_json) as ws:
        revisions = ws.endpoints.history(name)
    if as_json:
        print_json([d.to_dict() for d in revisions])
        return
    print_table(
        f"revisions of {escape(name)}",
        ["revision", "when", "action", "serves", "by", "reason", "override"],
        [
            [
                str(d.revision),
                f"{d.created_at:%Y-%m-%d %H:%M:%S}",
                d.action.replace("_", " ") + (f" → {d.restores}" if d.restores is not None else ""),
                escape(d.describe()),
                escape(d.actor),
                escape(d.reason or ""),
                escape(", ".join(sorted({i for v in d.overridden.values() for i in v}))),
            ]
            for d in revisions
        ],
    )


@app.command()
def serve(
    host: str | None = typer.Option(None, "--host", help="Address (default [serving] host)."),
    port: int | None = typer.Option(None, "--port", help="Port (default [serving] port)."),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes (default [serving] workers)."
    ),
    auth: bool | None = typer.Option(
        None, "--auth/--no-auth", help="Force API-token checks on or off (default [auth])."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Serve the deployed endpoints over HTTP: native API, OIP V2 and MLflow's format.

    Every worker follows deployment changes within about a second. With --json the
    start is one JSON object on stdout (URL, workers, auth, endpoints); uvicorn logs
    to stderr.
    """
    from stead.core.settings import find_root, load_settings
    from stead.server import serve as run
    from stead.serving.settings import serving_settings

    with guarded(as_json=as_json):
        root = find_root(workspace)
        loaded = load_settings(root)
        settings = serving_settings(loaded)
        chosen_host = host or settings.host
        chosen_port = settings.port if port is None else port
        count = settings.workers if workers is None else workers
        if count < 1:
            raise UsageError("--workers must be at least 1")
        url = f"http://{chosen_host}:{chosen_port}"
        if as_json:
            from stead.security.settings import auth_settings

            required = auth_settings(loaded).required_for(chosen_host) if auth is None else auth
            with open_workspace(root, as_json=True) as ws:
                endpoints = ws.endpoints.list()
            print_json(_serving_start(root, url, workers=count, auth=required, endpoints=endpoints))
        else:
            _say(f"serving {root} on {url} with {count} worker(s); Ctrl-C stops")
        run(root, host=chosen_host, port=chosen_port, workers=count, auth=auth, log_level=log_level)


def _serving_start(
    root: Path, url: str, *, workers: int, auth: bool, endpoints: list[Endpoint]
) -> dict[str, Any]:
    """What ``stead serve --json`` says at start: where, how, and what it serves."""
    return {
        "root": str(root),
        "url": url,
        "workers": workers,
        "auth": auth,
        "health": {"live": f"{url}/healthz", "ready": f"{url}/readyz"},
        "metrics": f"{url}/metrics",
        "openapi": f"{url}/openapi.json",
        "endpoints": [
            {
                "name": e.name,
                "revision": e.revision,
                "production": e.active.policy.production,
                "canary": e.active.policy.canary,
                "serves": e.active.describe(),
                "predict": f"{url}/v1/endpoints/{e.name}/predict",
                "oip_v2": f"{url}/v2/models/{e.name}/infer",
            }
            for e in endpoints
        ],
    }
