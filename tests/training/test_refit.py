"""``[training.split] refit``: evaluate on the split, then save a model fitted on all rows."""

from __future__ import annotations

import numpy as np

from stead.workspace import Workspace
from tests.training.projects import TRAINING, set_tables


def test_a_refit_run_keeps_the_split_metrics_saves_a_model_of_all_rows_and_reproduces(
    pws: Workspace,
) -> None:
    plain = pws.runs.train().run
    set_tables(pws.root, {"training": {**TRAINING, "split": {"refit": True}}})
    with Workspace.open(pws.root) as ws:
        refit = ws.runs.train().run
        verification = ws.runs.reproduce(refit.id)
        rows = ws.runs.eval_frame(refit)
        fitted_on_split = ws.runs.load_model(plain.id).predict_proba(rows[plain.input_columns])
        fitted_on_all = ws.runs.load_model(refit.id).predict_proba(rows[refit.input_columns])
    assert refit.id != plain.id and refit.spec.split.refit and not plain.spec.split.refit
    # The same split fit measured the metrics; the saved model also learned the
    # evaluation rows, so it predicts them differently.
    assert refit.metrics == plain.metrics
    assert not np.array_equal(fitted_on_split, fitted_on_all)
    assert verification.verified and refit.split["refit_predictions"]
