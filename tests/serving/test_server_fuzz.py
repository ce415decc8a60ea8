"""Fuzzing a real ``stead serve`` on loopback: every operation of its OpenAPI document,
a few hundred generated requests, every schemathesis check: no server error, and every
answer as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.workspace import Workspace
from tests.serving.deployed import (  # noqa: F401  (fixtures)
    TREES,
    _dep_dir,
    _deployable_template,
)
from tests.serving.fuzzing import fuzz
from tests.serving.test_server_process import server

pytestmark = pytest.mark.slow


def test_generated_requests_meet_no_server_error_and_no_undocumented_answer(
    dep_dir: Path,
) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with server(dep_dir, workers=1) as url:
        tally = fuzz(url, examples=8, endpoint="credit")
    assert tally.cases >= 300
    assert not tally.failures, tally.report()
