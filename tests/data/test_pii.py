"""PII columns at rest: hashed in snapshots, absent from schemas, profiles and messages,
erasable one subject at a time."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from stead.core.errors import UsageError
from stead.core.migrate import current_revision, upgrade
from stead.core.store import MetadataStore
from stead.data.contract import Contract, validate
from stead.workspace import Workspace
from tests.conftest import Cli
from tests.predictions.records import make_record

from .frames import small_frame

EMAIL = "ann.lovelace@pii.example"


def with_pii(ws_dir: Path, extra: str = "") -> None:
    path = ws_dir / "stead.toml"
    settings = path.read_text().replace(
        "[columns]\n", '[columns]\nid = "customer_id"\npii = ["email", "phone"]\n'
    )
    path.write_text(settings + extra)


def people(rows: int = 40) -> pd.DataFrame:
    frame = small_frame(rows)
    frame["email"] = [EMAIL if i % 10 == 3 else f"p{i}@pii.example" for i in range(rows)]
    frame["phone"] = [5550100 + i % 5 for i in range(rows)]
    return frame


def artifact_bytes(ws: Workspace, digest: str) -> bytes:
    return ws.artifacts.get_bytes(digest)


def test_a_snapshot_stores_pii_as_the_logs_keyed_hashes_and_keeps_no_values(
    ws_dir: Path,
) -> None:
    with_pii(ws_dir)
    with Workspace.open(ws_dir) as ws:
        snap = ws.datasets.snapshot(people(), name="people").snapshot
        stored = ws.datasets.load(snap)
        sanitizer = ws.predictions.sanitizer()
        blob = artifact_bytes(ws, snap.artifact)
    # The same value hashes as the prediction log hashes it: joins by it still work.
    assert stored.loc[3, "email"] == sanitizer.hash_value(EMAIL)
    assert stored.loc[0, "phone"] == sanitizer.hash_value(5550100)
    assert stored["age"].tolist() == people()["age"].tolist()
    assert EMAIL not in stored.to_string() and EMAIL.encode() not in blob
    assert snap.pii_storage == "keyed_hash"
    # The schema keeps the raw kind and no values; the profile keeps only counts.
    phone = snap.schema.column("phone")
    assert (phone.kind, phone.min, phone.max, phone.levels) == ("int", None, None, None)
    email = snap.profile.column("email")
    assert (email.count, email.missing, email.unique) == (40, 0, 37)
    assert email.level_counts is None and snap.profile.column("phone").quantiles is None
    assert snap.profile.column("region").level_counts is not None  # not PII: unchanged
    assert EMAIL not in json.dumps(snap.to_dict(full=True))


def test_pii_column_names_match_case_insensitively_like_the_log(ws_dir: Path) -> None:
    with_pii(ws_dir)
    with Workspace.open(ws_dir) as ws:
        snap = ws.datasets.snapshot(people().rename(columns={"email": "Email"}), name="p")
        stored = ws.datasets.load(snap.snapshot)
    assert "pii" in snap.snapshot.schema.column("Email").roles
    assert EMAIL not in stored["Email"].tolist()


def test_contract_messages_never_quote_a_pii_value(ws_dir: Path) -> None:
    with_pii(ws_dir)
    with Workspace.open(ws_dir) as ws:
        snap = ws.datasets.snapshot(people(), name="people").snapshot
    contract = Contract.from_schema(snap.schema)
    assert contract.to_dict()["columns"][-1]["pii"] is True
    bad = people()
    bad["phone"] = bad["phone"].astype(object)
    bad.loc[2, "phone"] = "call 555-0199 after six"
    report = validate(bad, contract)
    message = report.summary()
    assert "column 'phone' expected numbers" in message
    assert "555-0199" not in message and "values not shown: PII column" in message


def test_keep_raw_pii_keeps_values_until_hash_pii_rewrites_them(ws_dir: Path, cli: Cli) -> None:
    with_pii(ws_dir, "")
    path = ws_dir / "stead.toml"
    path.write_text(path.read_text().replace("keep_raw_pii = false", "keep_raw_pii = true"))
    with Workspace.open(ws_dir) as ws:
        snap = ws.datasets.snapshot(people(), name="people").snapshot
        assert snap.pii_storage == "raw"
        assert EMAIL in ws.datasets.load(snap)["email"].tolist()
        old = snap.artifact
    _, out, _ = cli("data", "show", "people@1")
    assert "stored raw" in out and "stead data hash-pii people@1" in out
    _, out, _ = cli("data", "hash-pii", "--json")
    assert json.loads(out) == {"hashed": ["people@1"]}
    with Workspace.open(ws_dir) as ws:
        after = ws.datasets.get("people@1")
        assert after.pii_storage == "keyed_hash" and after.artifact != old
        assert not ws.artifacts.exists(old)  # the raw copy is gone, not only unreferenced
        assert EMAIL not in ws.datasets.load(after)["email"].tolist()
        assert ws.audit.events()[-1].action == "dataset.hash_pii"


def test_erase_removes_one_subject_from_snapshots_and_the_log_with_an_audited_record(
    ws_dir: Path, cli: Cli
) -> None:
    with_pii(ws_dir, '\n[serving.log]\nmode = "sync"\n')
    with Workspace.open(ws_dir) as ws:
        one = ws.datasets.snapshot(people(), name="people").snapshot
        two = ws.datasets.snapshot(people(60), name="people").snapshot
        with ws.predictions.open_log() as plog:
            for i, email in enumerate([EMAIL, "other@pii.example", EMAIL]):
                plog.log(make_record(i, inputs={"email": email, "age": 30 + i}))
        value_hash = ws.predictions.sanitizer().hash_value(EMAIL)
        old_artifacts = [one.artifact, two.artifact]
    _, out, _ = cli(
        "data", "erase", "--column", "email", "--value", EMAIL, "--reason", "request 7", "--json"
    )
    outcome = json.loads(out)
    assert EMAIL not in out
    assert outcome["snapshots"] == {"people@2": 6, "people@1": 4}
    assert outcome["log_cells"] == {"credit": 2} and outcome["value_hash"] == value_hash
    with Workspace.open(ws_dir) as ws:
        for ref, rows in (("people@1", 40), ("people@2", 60)):
            snap = ws.datasets.get(ref)
            frame = ws.datasets.load(snap)
            assert len(frame) == rows and value_hash not in frame["email"].tolist()
            assert frame["email"].isna().sum() == rows // 10
            assert snap.profile.column("email").missing == rows // 10
        assert not any(ws.artifacts.exists(a) for a in old_artifacts)
        logged = ws.predictions.read("credit", "2026-03-01", "2026-03-02")
        assert logged["inputs.email"].isna().tolist() == [True, False, True]
        assert logged["inputs.age"].tolist() == [30, 31, 32]
        event = ws.audit.events()[-1]
    assert (event.action, event.reason) == ("pii.erase", "request 7")
    assert event.details["value_hash"] == value_hash and EMAIL not in json.dumps(event.details)
    for part in (ws_dir / ".stead" / "predictions").rglob("*.parquet"):
        assert value_hash not in json.dumps(pq.read_table(part).to_pylist(), default=str)


def test_erase_whole_rows_drops_the_subjects_rows(ws_dir: Path) -> None:
    with_pii(ws_dir)
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(people(), name="people")
        outcome = ws.erasure.erase(column="phone", value="5550103", whole_rows=True)
        frame = ws.datasets.load("people@1")
        assert outcome.snapshots == {"people@1": 8} and len(frame) == 32
        assert ws.datasets.get("people@1").rows == 32
        assert "erased 8 row(s) of phone in 1 snapshot(s)" in outcome.message


def test_erase_of_an_unknown_column_says_which_columns_exist(ws_dir: Path) -> None:
    with_pii(ws_dir)
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(people(), name="people")
        with pytest.raises(UsageError, match=r"no snapshot has a column 'emial'.*email"):
            ws.erasure.erase(column="emial", value=EMAIL)


def test_the_migration_removes_pii_values_older_snapshots_stored(ws_dir: Path) -> None:
    with_pii(ws_dir)
    with Workspace.open(ws_dir) as ws:
        snap = ws.datasets.snapshot(people(), name="people").snapshot
        schema, profile = snap.schema.to_dict(), snap.profile.to_dict()
    # As an older stead stored it: the PII column's top values and levels in the clear.
    for column in schema["columns"]:
        if column["name"] == "email":
            column["levels"] = [EMAIL]
    for column in profile["columns"]:
        if column["name"] == "email":
            column["level_counts"] = {EMAIL: 4, "__other__": 36}
    db = ws_dir / ".stead" / "stead.db"
    store = MetadataStore(f"sqlite:///{db}", actor="tester")
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0009'"))
        connection.execute(text("ALTER TABLE dataset_snapshots DROP COLUMN pii_storage"))
        connection.execute(
            text("UPDATE dataset_snapshots SET schema = :s, profile = :p"),
            {"s": json.dumps(schema), "p": json.dumps(profile)},
        )
    assert current_revision(store.engine) == "0009"
    upgrade(store.engine)
    store.dispose()
    with Workspace.open(ws_dir) as ws:
        migrated = ws.datasets.get("people@1")
    assert migrated.pii_storage == "raw"  # its artifact predates hashing, as far as it knows
    assert migrated.profile.column("email").level_counts is None
    assert migrated.profile.column("email").unique == 37
    assert migrated.schema.column("email").levels is None
    assert migrated.profile.column("region").level_counts is not None
    assert EMAIL not in json.dumps(migrated.to_dict(full=True))


def test_retention_hashes_raw_pii_older_than_its_period(ws_dir: Path) -> None:
    with_pii(ws_dir, '\n[retention]\nraw_pii = "30d"\n')
    path = ws_dir / "stead.toml"
    path.write_text(path.read_text().replace("keep_raw_pii = false", "keep_raw_pii = true"))
    with Workspace.open(ws_dir) as ws:
        snap = ws.datasets.snapshot(people(), name="people").snapshot
        soon = ws.retention.apply(now=snap.created_at + timedelta(days=29))
        assert soon.raw_pii_hashed == [] and ws.datasets.get("people@1").pii_storage == "raw"
        plan = ws.retention.apply(now=snap.created_at + timedelta(days=31), dry_run=True)
        assert plan.raw_pii_hashed == ["people@1"]
        assert ws.datasets.get("people@1").pii_storage == "raw"  # a dry run changes nothing
        done = ws.retention.apply(now=snap.created_at + timedelta(days=31))
        assert done.raw_pii_hashed == ["people@1"]
        assert "hashed the raw PII of 1 snapshot(s) created before" in done.message
        assert ws.datasets.get("people@1").pii_storage == "keyed_hash"
        assert EMAIL not in ws.datasets.load("people@1")["email"].tolist()
        actions = [e.action for e in ws.audit.events()][-3:]
    assert actions == ["retention.start", "dataset.hash_pii", "retention.apply"]


def test_hashing_and_erasure_on_every_store(any_ws: Workspace) -> None:
    root = any_ws.root
    any_ws.close()
    with_pii(root)
    with Workspace.open(root) as ws:
        snap = ws.datasets.snapshot(people(), name="people").snapshot
        assert snap.pii_storage == "keyed_hash"
        outcome = ws.erasure.erase(column="email", value=EMAIL)
        assert outcome.snapshots == {"people@1": 4}
        after = ws.datasets.get("people@1")
        assert after.artifact != snap.artifact and not ws.artifacts.exists(snap.artifact)
        assert after.profile.column("email").missing == 4
        assert ws.audit.verify().ok
