"""Shared fixtures: real workspaces on SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

# Wide tables in captured CLI output, whatever width the runner's terminal reports.
os.environ["COLUMNS"] = "200"
# The tests fit models in-process on a machine the other worker keeps busy: OpenMP
# threads wait passively, as in the stead command (stead.core.openmp), set before
# anything loads scikit-learn.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from stead.cli.main import app
from stead.workspace import Workspace

# The shared workspaces, each built once per session and copied per test, are plugins:
# every test sees their fixtures by name, and no test module imports a fixture.
pytest_plugins = [
    "tests.training.projects",
    "tests.registry.governed",
    "tests.serving.deployed",
    "tests.serving.served",
    "tests.monitoring.monitored",
    "tests.demo.demo_run",
]

POSTGRES_ENV = "STEAD_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "STEAD_REQUIRE_POSTGRES"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's STEAD_* settings; the actor is fixed."""
    for key in list(os.environ):
        if key.startswith("STEAD_") and key not in (POSTGRES_ENV, REQUIRE_POSTGRES_ENV):
            monkeypatch.delenv(key)
    monkeypatch.setenv("STEAD_ACTOR", "tester")


def postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_ENV} is not set")
    return url


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = postgres_url()
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            raise
        pytest.skip(f"PostgreSQL at {base} is not reachable: {exc}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stead.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def backend() -> str:
    """The store of a copied shared workspace (``dep_dir``, ``reg_dir``, ...): SQLite
    unless a test parametrises it with ``tests.stores.ON_BOTH_STORES``."""
    return "sqlite"


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    Workspace.init(root)
    return root


@pytest.fixture
def ws(ws_dir: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(ws_dir)
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture
def any_ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    """A workspace on SQLite and, when configured, on PostgreSQL."""
    root = tmp_path / "ws"
    Workspace.init(root, store_url=store_url)
    workspace = Workspace.open(root)
    try:
        yield workspace
    finally:
        workspace.close()


class Cli:
    """Runs ``stead`` in-process (fast) with the working directory set to a workspace."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int | None = 0) -> tuple[int, str, str]:
        old = Path.cwd()
        os.chdir(self.cwd)
        try:
            result = self.runner.invoke(app, list(args), catch_exceptions=False)
        finally:
            os.chdir(old)
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cli(ws_dir: Path) -> Cli:
    return Cli(ws_dir)


def run_stead(
    *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs ``stead`` as a real subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "stead", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
