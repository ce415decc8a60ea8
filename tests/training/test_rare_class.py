"""A binary target with a rare class: metrics of the positive class, a telling gate metric."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from stead.core.errors import SpecError

from ..features.realistic import CREDIT_TRAINING, credit_frame, credit_workspace


def labelled_frame() -> pd.DataFrame:
    """The credit statements with the outcome as text: "default" sorts before "paid"."""
    frame = credit_frame()
    frame["default"] = frame["default"].map({1: "default", 0: "paid"})
    return frame


def test_positive_class_is_the_class_the_metrics_are_of(ws_dir: Path) -> None:
    training = {**CREDIT_TRAINING, "positive_class": "default"}
    frame = labelled_frame()
    share = float((frame["default"] == "default").mean())
    with credit_workspace(ws_dir, training=training, frame=frame) as ws:
        run = ws.runs.train().run
        assert run.spec.positive_class == "default"
        # The prior baseline's average precision is the positive class's share in the
        # evaluation rows: about 3 % for "default" (it would be about 97 % for "paid").
        assert run.baseline_metrics["average_precision"] < 2 * share
        assert run.metrics["average_precision"] > 3 * run.baseline_metrics["average_precision"]
        assert run.metrics["roc_auc"] > 0.6


def test_without_the_setting_the_second_sorted_class_is_positive(ws_dir: Path) -> None:
    with credit_workspace(ws_dir, frame=labelled_frame()) as ws:
        run = ws.runs.train().run
        assert run.baseline_metrics["average_precision"] > 0.9  # "paid" is positive


def test_a_positive_class_the_target_lacks_is_refused_naming_the_classes(
    ws_dir: Path,
) -> None:
    training = {**CREDIT_TRAINING, "positive_class": "defaulted"}
    with credit_workspace(ws_dir, training=training, frame=labelled_frame()) as ws:
        with pytest.raises(SpecError) as caught:
            ws.runs.train()
        message = caught.value.message
        assert "[training] positive_class = 'defaulted' is not a class of the target" in message
        assert "'default'" in message and "'paid'" in message
        assert ws.runs.list() == []


def test_the_gate_compares_with_the_baseline_on_a_metric_that_shows_the_difference(
    ws_dir: Path,
) -> None:
    # The run computed no ROC AUC: the gate must not fall back to accuracy, where a model
    # and the prior baseline look alike at 3 % positives.
    training = {**CREDIT_TRAINING, "metrics": ["accuracy", "average_precision"]}
    with credit_workspace(ws_dir, training=training) as ws:
        run = ws.runs.train().run
        ref = ws.models.register(run.id, name="credit").version.ref
        item = {i.key: i for i in ws.models.checklist(ref).items}["beats_baseline"]
        assert item.facts is not None and item.facts["metric"] == "average_precision"
        assert item.status == "pass", item.detail
