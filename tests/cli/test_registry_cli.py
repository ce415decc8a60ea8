from __future__ import annotations

import json
from pathlib import Path

from stead.registry.signing import MANIFEST_FORMAT
from tests.conftest import Cli, run_stead
from tests.registry.governed import Runs


def test_register_card_lineage_checklist_promote_from_the_command_line(
    reg_dir: Path, runs: Runs
) -> None:
    cli = Cli(reg_dir)
    _, out, _ = cli("models", "register", runs.good, "--name", "credit")
    assert f"registered credit@1 from run {runs.good} as a candidate, owned by risk-team" in out

    _, out, _ = cli("models", "card", "credit@1")
    assert out.startswith("# Model card: credit@1") and "## Intended use" in out
    cli("models", "card", "credit@1", "--format", "html", "--output", "card.html")
    assert (reg_dir / "card.html").read_text().startswith("<!DOCTYPE html>")

    _, out, _ = cli("lineage", "credit@1", "--brief")
    assert out.splitlines()[0].startswith("model version credit@1 (candidate, owner risk-team)")
    assert "├── snapshot apps@1" in out and "└── environment Python" in out

    # Not reproduced yet: the checklist says so and exits 6, like the gate.
    _, out, _ = cli("checklist", "credit@1", expect=6)
    assert "reproducible training" in out and "pending" in out
    assert "[monitoring] configured" in out  # user text is shown, not read as markup
    _, out, err = cli("models", "promote", "credit@1", "--to", "production", expect=6)
    assert "error (gate_failed): credit@1 cannot be promoted to production" in err

    cli("reproduce", runs.good)
    _, out, _ = cli("checklist", "credit@1", "--json")
    checklist = json.loads(out)
    assert checklist["ready"] is True and checklist["blocking"] == []
    _, out, _ = cli("models", "promote", "credit@1", "--to", "production", "--reason", "ok")
    assert "credit@1: candidate → production" in out

    _, out, _ = cli("models", "history", "credit", "--json")
    assert [c["to"] for c in json.loads(out)["changes"]] == ["candidate", "production"]
    _, out, _ = cli("models", "list", "--json")
    assert [(v["ref"], v["stage"]) for v in json.loads(out)] == [("credit@1", "production")]
    _, out, _ = cli("models", "show", "credit@production", "--json")
    shown = json.loads(out)
    assert json.loads(shown["manifest"])["format"] == MANIFEST_FORMAT
    assert [c["name"] for c in shown["contract"]["columns"]] == ["income", "age", "region"]
    _, out, _ = cli("models", "verify", "credit@1")
    assert "manifest signature verifies" in out
    _, out, _ = cli(
        "models", "evidence", "credit@1", "rollback_verified", "--pass", "--evidence", "drill ok"
    )
    assert "recorded passing evidence for rollback_verified of credit@1" in out


def test_refusals_come_with_their_exit_codes_and_json(reg_dir: Path, runs: Runs) -> None:
    cli = Cli(reg_dir)
    cli("models", "register", runs.good, "--name", "credit")
    _, out, _ = cli("models", "promote", "credit@1", "--to", "production", "--json", expect=6)
    error = json.loads(out)["error"]
    assert error["code"] == "gate_failed" and "reproducible" in error["details"]["failing"]
    _, _, err = cli("models", "promote", "credit@1", "--to", "live", expect=2)
    assert "stage 'live' is not one of candidate, staging, production, retired" in err
    _, _, err = cli("models", "show", "credit@9", expect=3)
    assert "credit has no version 9" in err
    _, _, err = cli("lineage", "nothing-here", expect=3)
    assert "lineage starts from: NAME@N (a model version)" in err

    # A real process, as a user outside the owning team would run it.
    done = run_stead("models", "retire", "credit@1", cwd=reg_dir, env={"STEAD_ACTOR": "mallory"})
    assert done.returncode == 7
    assert "'mallory' may not retire credit@1" in done.stderr


def test_models_card_json_is_the_cards_sections(reg_dir: Path, runs: Runs) -> None:
    cli = Cli(reg_dir)
    cli("models", "register", runs.good, "--name", "credit")
    _, out, _ = cli("models", "card", "credit@1", "--json")
    card = json.loads(out)
    assert card["model"] == "credit@1"
    sections = {s["title"]: s for s in card["sections"]}
    assert "Intended use" in sections
    assert all(set(s) == {"title", "text", "facts", "bullets", "table"} for s in sections.values())
    # The same card as --format json (generated_at aside).
    _, same, _ = cli("models", "card", "credit@1", "--format", "json")
    assert {**json.loads(same), "generated_at": None} == {**card, "generated_at": None}
    _, refused, err = cli("models", "card", "credit@1", "--json", "--format", "html", expect=2)
    assert json.loads(refused)["error"]["code"] and "--json and --format html" in err
    _, missing, _ = cli("models", "card", "credit@9", "--json", expect=3)
    assert json.loads(missing)["error"]["code"] == "not_found"
