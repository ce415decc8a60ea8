"""The HTML report: self-contained, and it shows what the monitor found."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from stead.core.errors import NotFound
from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT, NOW, ingest_labels


@pytest.mark.slow  # end to end over months of traffic or two trainings; CI runs it
def test_the_report_is_self_contained_and_shows_drift_performance_and_alerts(
    mws: Workspace, data: pd.DataFrame, tmp_path: Path
) -> None:
    ingest_labels(mws, data, NOW)
    mws.monitors.run(ENDPOINT)
    path = mws.monitors.report(ENDPOINT, tmp_path / "out" / "report.html")
    html = path.read_text()
    # Offline: no scripts, no external stylesheets, images or fonts.
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert html.count("<svg") > 20
    assert "Data drift: 2 of 11 inputs drifted in the latest window" in html
    for feature in ("income", "channel", "debt_ratio"):
        assert f"<h3>{feature} " in html  # a card with reference vs current and a trend
    assert "measured roc_auc" in html and "estimated (CBPE, 95% band)" in html
    assert "p99 latency (ms)" in html and "loss (sum)" in html
    assert "What needs attention" in html and "retrain" in html and "investigate" in html
    assert "Retrain triggers" in html


def test_a_report_needs_monitor_results(mws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="run `stead monitor run credit` first"):
        mws.monitors.report(ENDPOINT, tmp_path / "r.html")
