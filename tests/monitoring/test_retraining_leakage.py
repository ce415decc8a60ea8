"""A retrain refused by a leakage check names the option that works for a retrain."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.features.leakage import LeakageDetected
from stead.monitoring.retraining.spec import choose_spec, with_spec_advice
from tests.features.realistic import CREDIT_TRAINING, credit_frame, credit_workspace


def test_a_contaminated_retrain_of_productions_spec_names_current_spec(ws_dir: Path) -> None:
    statements = credit_frame()
    first_month = statements[statements["month"] == statements["month"].min()]
    training = {**CREDIT_TRAINING, "split": {"method": "random"}}
    # Production trained on one statement per customer; the retrain's data has months of
    # them, so customers recur across a random split.
    with credit_workspace(ws_dir, training=training, frame=first_month) as ws:
        production = ws.runs.train().run
        ws.datasets.snapshot(statements, name="statements")
        chosen = choose_spec(ws.runs, production, use="production")
        with pytest.raises(LeakageDetected) as caught:
            ws.runs.train(snapshot="statements@2", spec=chosen.spec)
        advised = with_spec_advice(caught.value, chosen)
        assert isinstance(advised, LeakageDetected)
        # The stead.toml settings the check suggests, and how a retrain gets to use them.
        assert '[training.split] method = "time"' in advised.message
        assert f"the spec recorded with production run {production.id}" in advised.message
        assert "--current-spec" in advised.message
        assert advised.details["option"] == "--current-spec"
        # Retraining the current spec reads stead.toml, whose advice then applies as is.
        current = choose_spec(ws.runs, production, use="current")
        assert with_spec_advice(caught.value, current) is caught.value
