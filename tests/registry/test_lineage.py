from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.artifacts import sha256_file
from stead.core.errors import NotFound
from stead.registry.lineage import LineageNode, LineageQuery
from stead.workspace import Workspace
from tests.training.projects import credit_frame

from .governed import Runs


def test_lineage_walks_from_a_version_to_code_data_features_and_environment(
    reg: Workspace, reg_dir: Path
) -> None:
    # A second snapshot from a file, so the tree shows a source file and a parent.
    csv = reg_dir / "apps-2.csv"
    credit_frame(seed=1).to_csv(csv, index=False)
    reg.datasets.snapshot_file(csv, name="apps")
    run = reg.runs.train(snapshot="apps@2").run
    ref = reg.models.register(run.id, name="credit").version.ref

    tree = reg.models.lineage(ref)
    assert tree.kind == "model_version" and tree.label.startswith("model version credit@1")
    [run_node] = tree.children
    assert run_node.id == run.id
    assert [c.kind for c in run_node.children] == [
        "snapshot",
        "feature_set",
        "code_version",
        "environment",
    ]
    snapshot, feature_set, code, env = run_node.children
    assert snapshot.label.startswith("snapshot apps@2")
    assert snapshot.facts["source"] == str(csv.resolve())
    assert snapshot.facts["source_hash"] == sha256_file(csv)
    [parent] = snapshot.children
    assert parent.kind == "parent_snapshot" and parent.label.startswith("parent snapshot apps@1")
    assert feature_set.label == f"feature set {run.feature_set_ref}"
    assert feature_set.facts["input_columns"] == ["income", "age", "region"]
    assert code.facts["sources_hash"] == run.code_version.sources_hash
    assert code.facts["commit"] is None and code.facts["dirty"] is False
    assert env.facts["packages"]["scikit-learn"]

    text = tree.render()
    assert "└── run " in text and "├── snapshot apps@2" in text
    assert "parent snapshot apps@1" in text and "└── environment Python" in text
    assert tree.to_dict()["children"][0]["children"][0]["facts"]["source_hash"]


def test_a_lineage_query_can_start_from_a_prediction_by_prepending_one_node(
    reg: Workspace, runs: Runs
) -> None:
    ref = reg.models.register(runs.good, name="credit").version.ref
    logged = {"req-42": {"model_version": ref, "endpoint": "credit"}}

    def prediction_start(target: str) -> LineageNode | None:
        record = logged.get(target)
        if record is None:
            return None
        return LineageNode(
            "prediction",
            target,
            f"prediction {target}",
            {"endpoint": record["endpoint"]},
            (reg.models.lineage(record["model_version"]),),
        )

    query = LineageQuery(
        [
            ("a request id", prediction_start),
            ("NAME@N (a model version)", reg.models.lineage_start),
        ]
    )
    tree = query("req-42")
    assert [n.kind for n in (tree, tree.children[0], tree.children[0].children[0])] == [
        "prediction",
        "model_version",
        "run",
    ]
    assert query(ref).kind == "model_version"
    with pytest.raises(NotFound, match="lineage starts from: a request id; NAME@N"):
        query("req-7")
    with pytest.raises(NotFound, match="credit has no version 9"):
        query("credit@9")
