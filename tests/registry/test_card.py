from __future__ import annotations

import re

from stead.workspace import Workspace
from tests.training.projects import PROJECT

from .governed import Runs, ready


def test_the_card_tells_a_reviewer_everything_from_records(reg: Workspace, runs: Runs) -> None:
    ref = ready(reg, runs.good)
    card = reg.models.card(ref)
    md = card.to_markdown()

    assert md.startswith("# Model card: credit@1\n")
    for heading in (
        "Problem statement",
        "Intended use",
        "Assumptions",
        "Limitations",
        "Training data",
        "Features and input contract",
        "Evaluation",
        "Reproducibility",
        "Environment",
        "Production-readiness checklist",
        "Overrides",
        "Stage history",
    ):
        assert f"\n## {heading}\n" in md
    assert PROJECT["problem"] in md and PROJECT["intended_use"] in md
    assert PROJECT["limitations"][0] in md
    assert dict(card.section("Summary").facts)["Owner"] == "risk-team"
    data = dict(card.section("Training data").facts)
    assert data["Snapshot"].startswith("apps@1 (content sha256 ")
    assert data["Rows"] == "400 × 6 columns"
    assert data["Split"] == "random: 320 training rows, 80 evaluation rows"
    assert card.section("Training data").rows == [["0", "204", "51.0%"], ["1", "196", "49.0%"]]
    assert dict(card.section("Features and input contract").facts)["Feature-set version"]
    metrics = {row[0]: row for row in card.section("Evaluation").rows}
    assert metrics["roc_auc (primary)"][1:4] == ["0.8505", "0.5000", "+0.3505"]
    assert metrics["log_loss"][4] == "lower is better"
    repro = dict(card.section("Reproducibility").facts)
    assert repro["Seed"] == "7"
    assert repro["Reproduction status"].startswith("verified at ")
    assert "scikit-learn" in dict(card.section("Environment").facts)["Key packages"]
    assert "ready for production: 8 pass, 0 fail, 4 pending" in md
    assert "No checklist item was ever overridden." in md


def test_the_html_card_is_one_self_contained_readable_page(reg: Workspace, runs: Runs) -> None:
    ref = reg.models.register(
        runs.good, name="credit", description="<script>alert('x')</script> & friends"
    ).version.ref
    page = reg.models.card(ref).to_html()

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<style>" in page and "<h2>Intended use</h2>" in page
    # Record text is escaped, never markup; nothing is fetched from elsewhere.
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp; friends" in page
    assert not re.search(r"(src|href)\s*=", page)
    assert '<td class="pending">pending</td>' in page
