"""No raw personal value is stored or printed anywhere after stead's whole lifecycle.

The demo workspace's applicants carry names and e-mails (``[columns] pii``) in the
snapshotted data and in every request it serves. After the demo's lifecycle (snapshot,
train, register, serve, canary, feedback, monitor, retrain, report, audit) and
retention, every file stead wrote (raw bytes, Parquet and zip members decoded), every
database row and the ``--json`` output of the commands that show data hold none of
those values. The one file left out is the user's own source CSV, which stead reads
and never writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stead.demo.credit import FIRST_NAMES, LAST_NAMES, generate_applications
from stead.workspace import Workspace
from tests.conftest import Cli
from tests.demo.demo_run import DemoRun, copy_of
from tests.security.pii_scan import Values, scan_database, scan_files

SOURCE = "applications_m1_6.csv"  # the demo's input file, written as a user's would be


def personal_values() -> list[Values]:
    # Every month the demo draws applicants from (1-6 snapshotted, 7-9 served).
    frame = generate_applications(months=range(1, 13), per_month=600)
    return [
        Values(frame["email"], r"[a-z]+\.[a-z]+\d+@example\.com"),
        Values(frame["name"], "(?:{}) (?:{})".format("|".join(FIRST_NAMES), "|".join(LAST_NAMES))),
    ]


@pytest.mark.slow
def test_no_raw_pii_in_any_file_row_or_json_output_after_the_lifecycle(
    demo_run: DemoRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_of(demo_run, tmp_path / "demo")  # retention below changes the workspace
    facts = demo_run.facts
    values = personal_values()
    # The check can fail: the source the user gave holds the values.
    assert all(scan_files(root, v).get(SOURCE) for v in values)

    monkeypatch.setenv("STEAD_RETENTION_PREDICTIONS", "3650d")
    monkeypatch.setenv("STEAD_RETENTION_FEEDBACK", "3650d")
    cli = Cli(root)
    with Workspace.open(root) as ws:
        snapshots = [s.ref for s in ws.datasets.list()]
        versions = [v.ref for v in ws.models.list()]
    commands: list[list[str]] = [
        ["retention", "apply"],
        ["data", "list"],
        *(["data", "show", ref] for ref in snapshots),
        ["data", "diff", snapshots[-1], snapshots[0]],
        ["data", "validate", "credit@1", str(root / SOURCE)],
        ["models", "list"],
        *(["models", "show", ref] for ref in versions),
        *(["models", "card", ref] for ref in versions),
        ["endpoints", "show", "credit"],
        ["monitor", "show", "credit"],
        ["alerts", "list"],
        ["retrain", "list"],
        ["runs", "list"],
        ["audit", "log"],
        ["audit", "verify"],
        ["predictions", "tail", "credit"],
        ["lineage", facts["request_id"]],
    ]
    outputs = {}
    for args in commands:
        _, out, err = cli(*args, "--json", expect=None)
        outputs[" ".join(args)] = out + err
    assert json.loads(outputs["data show credit@1"])["pii_storage"] == "keyed_hash"

    db = f"sqlite:///{root / '.stead' / 'stead.db'}"
    for found in values:
        assert scan_files(root, found, skip=[root / SOURCE]) == {}
        assert scan_database(db, found) == {}
        printed = {cmd: sorted(found.findall(out)) for cmd, out in outputs.items()}
        assert {cmd: hits for cmd, hits in printed.items() if hits} == {}
