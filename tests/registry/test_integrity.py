from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from stead.core.errors import GateFailed, IntegrityError
from stead.registry.signing import create_key
from stead.training.evaluation import predict
from stead.workspace import Workspace

from .governed import Runs, alter_artifact, ready


def bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64).view(np.uint64)


def set_column(ws: Workspace, column: str, value: str) -> None:
    """Edit the version's row behind stead's back, as someone with database access could."""
    with ws.store.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE model_versions SET {column} = :v WHERE name = 'credit'"), {"v": value}
        )


def test_a_loaded_version_predicts_exactly_what_its_run_recorded(
    reg: Workspace, runs: Runs
) -> None:
    ref = reg.models.register(runs.good, name="credit").version.ref
    loaded = reg.models.load(ref)
    frame = reg.runs.eval_frame(runs.good)
    X = frame[loaded.input_columns]
    assert reg.datasets.validate(X, loaded.contract).ok
    now = predict(loaded.pipeline, X, task="binary", classes=np.array(loaded.classes))
    assert np.array_equal(bits(now.values), bits(reg.runs.eval_predictions(runs.good)))
    # The fallback baseline predicts the prior for every row.
    fallback = loaded.baseline.predict_proba(X)
    assert np.allclose(fallback, fallback[0])


def test_altered_artifact_bytes_are_refused_naming_the_version_and_audited(
    reg: Workspace, runs: Runs
) -> None:
    version = reg.models.register(runs.good, name="credit").version
    alter_artifact(reg, version.artifacts["model"])

    with pytest.raises(IntegrityError, match="model artifact of model credit@1 was altered"):
        reg.models.load("credit@1")
    [event] = reg.audit.events(action="artifact.integrity_failure")
    assert event.subject == f"artifact:{version.artifacts['model']}"
    assert "credit@1" in event.details["message"]
    signed = {i.key: i for i in reg.models.checklist("credit@1").items}["signed_artifacts"]
    assert signed.status == "fail" and "was altered on disk" in signed.detail
    reg.runs.reproduce(runs.good)
    with pytest.raises(GateFailed, match="signed_artifacts"):
        reg.models.promote("credit@1", to="production")


@pytest.mark.parametrize(
    ("column", "edit"),
    [
        # Point the manifest at another (valid) artifact: the baseline instead of the model.
        ("manifest", lambda v: v.manifest.replace(v.artifacts["model"], v.artifacts["baseline"])),
        # Trust one more type on load.
        (
            "manifest",
            lambda v: v.manifest.replace('"trusted_types":[', '"trusted_types":["os.system",'),
        ),
        # A signature over something else.
        (
            "signature",
            lambda v: v.signature[:-4] + ("0000" if v.signature[-4:] != "0000" else "1111"),
        ),
    ],
    ids=["artifact-hash", "trusted-types", "signature"],
)
def test_an_edited_manifest_or_signature_is_refused_and_audited(
    reg: Workspace, runs: Runs, column: str, edit: object
) -> None:
    version = reg.models.register(runs.good, name="credit").version
    set_column(reg, column, edit(version))  # type: ignore[operator]

    for attempt in (reg.models.load, reg.models.verify, reg.models.contract):
        with pytest.raises(
            IntegrityError, match="credit@1: the manifest signature does not verify"
        ):
            attempt("credit@1")
    events = reg.audit.events(action="model.integrity_failure")
    assert len(events) == 3 and {e.subject for e in events} == {"model:credit@1"}
    assert "signature does not verify" in events[0].details["message"]
    assert reg.audit.verify().ok


def test_a_record_that_disagrees_with_its_signed_manifest_is_refused(
    reg: Workspace, runs: Runs
) -> None:
    version = reg.models.register(runs.good, name="credit").version
    swapped = {**version.artifacts, "model": version.artifacts["baseline"]}
    set_column(reg, "artifacts", json.dumps(swapped))
    with pytest.raises(IntegrityError, match="differs from its signed manifest in artifacts"):
        reg.models.load("credit@1")
    [event] = reg.audit.events(action="model.integrity_failure")
    assert event.details["differing"] == ["artifacts"]


def test_another_signing_key_cannot_vouch_for_a_version(reg_dir: Path, runs: Runs) -> None:
    with Workspace.open(reg_dir) as ws:
        ref = ready(ws, runs.good)
    key = reg_dir / ".stead" / "signing_key.pem"
    key.unlink()
    create_key(key)
    with (
        Workspace.open(reg_dir) as ws,
        pytest.raises(IntegrityError, match="credit@1 was signed by key sha256:"),
    ):
        ws.models.load(ref)
    key.unlink()
    with (
        Workspace.open(reg_dir) as ws,
        pytest.raises(IntegrityError, match=r"signing key .* is missing"),
    ):
        ws.models.load(ref)
