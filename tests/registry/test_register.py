from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from stead.core.errors import NotFound, UsageError
from stead.registry.signing import MANIFEST_FORMAT
from stead.workspace import Workspace
from tests.stores import ON_BOTH_STORES
from tests.training.projects import PROJECT, set_tables

from .governed import Runs


@ON_BOTH_STORES
def test_registering_a_run_records_what_serving_and_auditors_need(
    reg: Workspace, runs: Runs
) -> None:
    outcome = reg.models.register(runs.good, name="credit")
    v = outcome.version
    run = reg.runs.get(runs.good)

    assert outcome.created and v.ref == "credit@1" and v.stage == "candidate"
    assert v.run_id == run.id and v.owner == "risk-team"
    assert v.artifacts["model"] == run.model_artifact
    assert v.artifacts["baseline"] == run.baseline_artifact
    assert v.artifacts["eval_rows"] == run.eval_rows_artifact
    # The input contract: the snapshot schema restricted to the feature inputs.
    assert v.contract.names == ["income", "age", "region"] == v.input_columns
    region = v.contract.columns[2]
    assert region.kind == "string" and region.levels == ["east", "north", "south"]
    assert v.output == {
        "task": "binary",
        "target": "default",
        "classes": [0, 1],
        "scores": "probabilities",
    }
    assert v.project["intended_use"] == PROJECT["intended_use"]
    assert v.training_data["class_balance"] == {"0": 204, "1": 196}
    assert v.reference["columns"] == v.input_columns
    # The signed manifest names the run, artifacts, snapshot, features and contract.
    manifest = json.loads(v.manifest)
    assert manifest["format"] == MANIFEST_FORMAT
    assert manifest["run_id"] == run.id and manifest["artifacts"] == v.artifacts
    assert manifest["snapshot"]["content_hash"] == reg.datasets.get("apps@1").content_hash
    assert manifest["feature_set"]["version"] == run.feature_set_version
    assert manifest["contract_hash"] == v.contract_hash
    assert reg.models.verify("credit@1").key_fingerprint == v.key_fingerprint
    [event] = reg.audit.events(action="model.register")
    assert event.subject == "model:credit@1" and event.details["run_id"] == run.id
    assert [c.to_stage for c in reg.models.history("credit")] == ["candidate"]


@ON_BOTH_STORES
def test_the_same_run_registers_once_and_other_runs_get_the_next_number(
    reg: Workspace, runs: Runs
) -> None:
    first = reg.models.register(runs.good, name="credit")
    again = reg.models.register(runs.good[:-2], name="credit")
    assert not again.created and again.version.id == first.version.id
    assert "already registered as credit@1" in again.message
    assert reg.models.register(runs.weak, name="credit").version.ref == "credit@2"
    assert reg.models.register(runs.good, name="other").version.ref == "other@1"
    assert [v.ref for v in reg.models.list("credit")] == ["credit@2", "credit@1"]
    assert reg.models.get("credit").ref == "credit@2"


def test_the_owner_can_be_overridden_and_project_facts_are_frozen_at_registration(
    reg_dir: Path, runs: Runs
) -> None:
    with Workspace.open(reg_dir) as ws:
        version = ws.models.register(runs.good, name="credit", owner="growth").version
    assert version.owner == "growth"
    # Editing stead.toml later does not rewrite what the version says about itself.
    set_tables(reg_dir, {"project": {**PROJECT, "assumptions": ["Something else entirely."]}})
    with Workspace.open(reg_dir) as ws:
        card = ws.models.card("credit@1").to_markdown()
    assert PROJECT["assumptions"][0] in card and "Something else entirely." not in card


def test_unknown_runs_names_and_versions_are_refused_clearly(reg: Workspace, runs: Runs) -> None:
    with pytest.raises(NotFound, match="no training run 'nope'"):
        reg.models.register("nope", name="credit")
    with pytest.raises(UsageError, match="not a valid name"):
        reg.models.register(runs.good, name="bad name")
    reg.models.register(runs.good, name="credit")
    with pytest.raises(NotFound, match="credit has no version 7; versions are 1 to 1"):
        reg.models.get("credit@7")
    with pytest.raises(NotFound, match="no version of credit is in production"):
        reg.models.get("credit@production")
    with pytest.raises(NotFound, match="no model named 'debit'"):
        reg.models.get("debit@1")


def test_init_creates_the_signing_key_readable_by_its_owner_only(ws_dir: Path) -> None:
    key = ws_dir / ".stead" / "signing_key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_an_older_workspace_gets_its_key_on_first_registration(reg_dir: Path, runs: Runs) -> None:
    key = reg_dir / ".stead" / "signing_key.pem"
    key.unlink()
    with Workspace.open(reg_dir) as ws:
        version = ws.models.register(runs.good, name="credit").version
        [event] = ws.audit.events(action="signing.key.create")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert event.details["fingerprint"] == version.key_fingerprint
