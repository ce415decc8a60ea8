from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from stead.core.errors import ContractViolation
from stead.predictions.tables import BatchJobRow
from stead.workspace import Workspace
from tests.conftest import Cli
from tests.stores import ON_BOTH_STORES
from tests.training.projects import credit_frame

from .served import TREES


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    path = tmp_path / "applicants.parquet"
    credit_frame(250, seed=11).drop(columns=["default"]).to_parquet(path)
    return path


def _expected(ws: Workspace, frame: pd.DataFrame) -> np.ndarray:
    loaded = ws.models.load(TREES)
    return np.asarray(loaded.pipeline.predict_proba(frame[loaded.input_columns]))


@ON_BOTH_STORES
def test_scoring_a_version_writes_request_ids_and_outputs_and_logs_every_row(
    sws: Workspace, batch: Path, tmp_path: Path
) -> None:
    done: list[int] = []
    outcome = sws.scoring.score(
        TREES, batch, tmp_path / "scores.parquet", chunk_rows=100, on_progress=done.append
    )

    scores = pd.read_parquet(tmp_path / "scores.parquet")
    inputs = pd.read_parquet(batch)
    assert done == [100, 100, 50]
    assert (outcome.rows, outcome.logged, outcome.endpoint, outcome.reused) == (
        250,
        250,
        "credit.batch",
        False,
    )
    assert list(scores.columns[:2]) == ["request_id", "customer_id"]
    assert scores["request_id"].is_unique and scores["request_id"][0].startswith(outcome.job_id)
    assert (scores["customer_id"] == inputs["customer_id"]).all()
    np.testing.assert_array_equal(
        scores[["probabilities.0", "probabilities.1"]].to_numpy(), _expected(sws, inputs)
    )
    log = sws.predictions.read("credit.batch")
    assert sorted(log["request_id"]) == sorted(scores["request_id"])
    assert set(log["role"]) == {"production"} and log["revision"].isna().all()
    assert set(log["model_version"]) == {TREES}
    assert "inputs.email" not in log.columns  # only the model's inputs are logged
    by_id = log.set_index("request_id")["outputs.probabilities.1"]
    assert (by_id[scores["request_id"]].to_numpy() == scores["probabilities.1"].to_numpy()).all()


@ON_BOTH_STORES
def test_the_same_input_and_version_give_the_same_output_and_are_logged_once(
    sws: Workspace, batch: Path, tmp_path: Path
) -> None:
    first = sws.scoring.score(TREES, batch, tmp_path / "a.parquet")
    again = sws.scoring.score(TREES, batch, tmp_path / "a.parquet")
    elsewhere = sws.scoring.score(TREES, batch, tmp_path / "b.parquet")

    assert (again.reused, again.logged, again.job_id) == (True, 0, first.job_id)
    assert elsewhere.logged == 0 and elsewhere.matches_original is True
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert "logged nothing again" in elsewhere.message
    assert len(sws.predictions.read("credit.batch")) == 250
    assert [e.action for e in sws.audit.events(action="batch.")] == [
        "batch.score",
        "batch.score.logged",
    ]
    [job] = sws.scoring.jobs("credit.batch")
    assert job["status"] == "logged" and job["rows"] == 250


@ON_BOTH_STORES
def test_a_job_interrupted_while_logging_logs_only_what_is_missing(
    sws: Workspace, batch: Path, tmp_path: Path
) -> None:
    directory = sws.predictions.directory
    first = sws.scoring.score(TREES, batch, tmp_path / "a.parquet")
    # As if the process died after writing the log but before recording it: every
    # prediction is in the log, the job still says "logging".
    with sws.store.engine.begin() as connection:
        connection.execute(
            update(BatchJobRow).where(BatchJobRow.id == first.job_id).values(status="logging")
        )
    resumed = sws.scoring.score(TREES, batch, tmp_path / "a.parquet")
    assert (resumed.logged, len(sws.predictions.read("credit.batch"))) == (0, 250)

    # As if it died before the log was written: everything is logged, once.
    for part in directory.rglob("part-*.parquet"):
        part.unlink()
    with sws.store.engine.begin() as connection:
        connection.execute(
            update(BatchJobRow).where(BatchJobRow.id == first.job_id).values(status="logging")
        )
    finished = sws.scoring.score(TREES, batch, tmp_path / "a.parquet")
    assert finished.logged == 250 and finished.job_id == first.job_id
    assert len(sws.predictions.read("credit.batch")) == 250


def test_an_input_that_breaks_the_contract_is_refused_before_anything_is_scored(
    sws: Workspace, tmp_path: Path
) -> None:
    frame = credit_frame(20, seed=2)
    frame.loc[[3, 7], "region"] = "atlantis"
    frame = frame.drop(columns=["age"])
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)

    with pytest.raises(ContractViolation) as caught:
        sws.scoring.score(TREES, bad, tmp_path / "out.parquet")

    kinds = {v["kind"]: v for v in caught.value.details["violations"]}
    assert kinds["missing_column"]["column"] == "age"
    assert kinds["unseen_category"]["rows"] == [3, 7]
    assert "(model credit@1)" in caught.value.message
    assert not (tmp_path / "out.parquet").exists()
    assert sws.scoring.jobs() == []


def test_stead_score_reads_csv_and_says_what_it_did(served_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "in.csv"
    credit_frame(30, seed=5).to_csv(csv, index=False)
    cli = Cli(served_dir)

    _, text, _ = cli("score", TREES, str(csv), str(tmp_path / "out.parquet"))
    _, again, _ = cli("score", TREES, str(csv), str(tmp_path / "out.parquet"), "--json")

    assert "scored 30 rows" in text and "logged 30 predictions to endpoint credit.batch" in text
    body = json.loads(again)
    assert body["reused"] is True and body["logged"] == 0 and body["rows"] == 30
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 30


@pytest.fixture(params=[False, True], ids=["threads", "processes"])
def dask_client(request: pytest.FixtureRequest) -> Iterator[object]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=request.param, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.slow
def test_the_dask_engine_gives_the_local_engines_output_bit_for_bit(
    sws: Workspace, batch: Path, tmp_path: Path, dask_client: object
) -> None:
    local = sws.scoring.score(
        TREES, batch, tmp_path / "local.parquet", chunk_rows=60, log_endpoint="local"
    )
    remote = sws.scoring.score(
        TREES,
        batch,
        tmp_path / "dask.parquet",
        engine="dask",
        dask_client=dask_client,
        chunk_rows=60,
        log_endpoint="dask",
    )

    a = pq.read_table(tmp_path / "local.parquet").drop_columns(["request_id"])
    b = pq.read_table(tmp_path / "dask.parquet").drop_columns(["request_id"])
    assert a.equals(b)
    for name in ("probabilities.0", "probabilities.1"):
        assert a.column(name).to_numpy().tobytes() == b.column(name).to_numpy().tobytes()
    assert (local.logged, remote.logged, remote.engine) == (250, 250, "dask")


def test_scoring_an_endpoint_uses_its_production_version_and_logs_its_revision(
    dws: Workspace, batch: Path, tmp_path: Path
) -> None:
    dws.endpoints.deploy("credit", TREES, reason="first")

    outcome = dws.scoring.score("credit", batch, tmp_path / "out.parquet")

    assert (outcome.model_version, outcome.endpoint, outcome.revision) == (TREES, "credit", 1)
    log = dws.predictions.read("credit")
    assert len(log) == 250 and set(log["revision"]) == {1}
