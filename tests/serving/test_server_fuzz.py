"""Fuzzing a real ``stead serve`` on loopback, tokens checked: every operation of its
OpenAPI document, a few hundred generated requests, every schemathesis check: no server
error, and every answer as documented (``benchmarks/fuzz_api.py`` sends thousands)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.workspace import Workspace
from tests.serving.deployed import TREES
from tests.serving.fuzzing import fuzz
from tests.serving.test_server_process import server

pytestmark = pytest.mark.slow


def test_generated_requests_meet_no_server_error_and_no_undocumented_answer(
    dep_dir: Path,
) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with Workspace.open(dep_dir, actor="root") as ws:  # an admin may call everything
        token = ws.tokens.create(name="fuzz", role="admin").secret
    with server(dep_dir, workers=1, options=("--auth",)) as url:
        tally = fuzz(url, examples=10, endpoint="credit", token=token)
    assert tally.cases >= 300
    assert not tally.failures, tally.report()
