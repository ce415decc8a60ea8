"""stead deploy, stead rollback, stead endpoints list|show|history (and serve's checks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stead.core.errors import Conflict, GateFailed, PermissionDenied, UsageError
from tests.conftest import Cli
from tests.serving.deployed import LOGISTIC, TREES, WEAK_TREES
from tests.serving.test_server_process import free_port


@pytest.fixture
def stead(dep_dir: Path) -> Cli:
    return Cli(dep_dir)


def test_deploy_canary_shadow_promote_and_roll_back(stead: Cli) -> None:
    _, out, _ = stead("deploy", "credit", TREES, "--reason", "first model")
    assert "credit revision 1 (deploy): production credit@1, fallback credit@1:baseline" in out
    _, out, _ = stead("deploy", "credit", "--canary", LOGISTIC, "--share", "10")
    assert "canary credit@2 at 10%" in out
    _, out, _ = stead("deploy", "credit", "--shadow", LOGISTIC, expect=Conflict.exit_code)
    _, out, err = stead("deploy", "credit", "--canary", WEAK_TREES, expect=GateFailed.exit_code)
    assert "checklist item(s) do not pass" in err and "--override --reason" in err
    _, out, _ = stead("models", "promote", LOGISTIC, "--to", "production", "--reason", "canary ok")
    _, out, _ = stead("deploy", "credit", "--promote-canary", "--json")
    promoted = json.loads(out)
    assert promoted["deployment"]["policy"]["production"] == LOGISTIC
    assert promoted["deployment"]["revision"] == 3
    _, out, _ = stead("rollback", "credit", "--reason", "latency regression")
    assert "revision 4 (rollback)" in out and "restores revision 2" in out
    _, out, _ = stead("endpoints", "show", "credit")
    assert "canary" in out and "credit@2" in out and "rollback by tester" in out
    _, out, _ = stead("endpoints", "history", "credit", "--json")
    assert [d["action"] for d in json.loads(out)] == [
        "deploy",
        "canary",
        "promote_canary",
        "rollback",
    ]
    _, out, _ = stead("endpoints", "history", "credit")
    assert "latency regression" in out and "rollback → 2" in out
    _, out, _ = stead("endpoints", "list", "--json")
    [endpoint] = json.loads(out)
    assert (endpoint["name"], endpoint["revision"]) == ("credit", 4)


def test_wrong_uses_are_refused_with_their_exit_codes(stead: Cli, dep_dir: Path) -> None:
    stead("deploy", "credit", expect=UsageError.exit_code)
    stead("deploy", "credit", TREES, "--canary", LOGISTIC, expect=UsageError.exit_code)
    stead("deploy", "credit", TREES, "--share", "5", expect=UsageError.exit_code)
    stead("rollback", "credit", expect=3)  # no such endpoint
    stead("deploy", "credit", TREES)
    stead("rollback", "credit", expect=Conflict.exit_code)
    old = os.environ.get("STEAD_ACTOR")
    os.environ["STEAD_ACTOR"] = "mallory"
    try:
        _, _, err = stead(
            "deploy", "credit", "--shadow", LOGISTIC, expect=PermissionDenied.exit_code
        )
    finally:
        os.environ["STEAD_ACTOR"] = old or "tester"
    assert "'mallory' may not change endpoint credit" in err
    _, _, err = stead("serve", "--workers", "0", expect=UsageError.exit_code)
    assert "--workers" in err


def test_show_warns_when_a_served_version_left_the_stage_its_role_needs(stead: Cli) -> None:
    stead("deploy", "credit", TREES, "--reason", "first model")
    _, out, _ = stead("endpoints", "show", "credit", "--json")
    assert json.loads(out)["warnings"] == []
    # Promoting another version of the model moves TREES out of production, but the
    # endpoint still serves it.
    stead("models", "promote", LOGISTIC, "--to", "production", "--reason", "better")
    _, out, _ = stead("endpoints", "show", "credit", "--json")
    [warning] = json.loads(out)["warnings"]
    assert warning.startswith(f"{TREES} serves as production but is in ")
    assert "deploy another version" in warning
    _, out, _ = stead("endpoints", "show", "credit")
    assert f"warning: {TREES} serves as production" in out


@pytest.mark.slow  # a real server process: about 20 s
def test_serve_json_says_where_and_what_it_serves(stead: Cli, dep_dir: Path) -> None:
    stead("deploy", "credit", TREES)
    _, refused, _ = stead("serve", "--workers", "0", "--json", expect=UsageError.exit_code)
    assert json.loads(refused)["error"]["code"] == "usage_error"
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "stead", "serve", "--port", str(port), "--workers", "1"),
            *("--log-level", "warning", "--json", "-w", str(dep_dir)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "STEAD_ACTOR": "tester"},
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or lines[-1] != "}\n":  # print_json's one object, indented
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            lines.append(line)
        start = json.loads("".join(lines))
        url = f"http://127.0.0.1:{port}"
        assert start["url"] == url and start["workers"] == 1 and start["auth"] is False
        assert start["root"] == str(dep_dir.resolve())
        assert start["health"]["ready"] == f"{url}/readyz"
        [endpoint] = start["endpoints"]
        assert endpoint["name"] == "credit" and endpoint["production"] == TREES
        assert endpoint["predict"] == f"{url}/v1/endpoints/credit/predict"
        deadline = time.monotonic() + 60
        while True:  # what it says is where it answers
            try:
                if httpx.get(start["health"]["live"], timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.stdout.read() == ""  # nothing but the one object on stdout
