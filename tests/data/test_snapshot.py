from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stead.core.errors import DataError, UsageError
from stead.workspace import Workspace

from .frames import small_frame


def test_a_csv_snapshot_records_source_hash_schema_and_profile(
    ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "apps.csv"
    small_frame().to_csv(path, index=False)
    snap = ws.datasets.snapshot_file(path, name="credit").snapshot
    assert snap.ref == "credit@1" and snap.rows == 200
    assert snap.source_path == str(path.resolve())
    assert len(snap.source_hash or "") == 64
    age = snap.schema.column("age")
    assert (age.kind, age.nullable, age.min, age.max) == ("int", False, 18.0, 79.0)
    assert snap.schema.column("region").levels == ["east", "north", "south", "west"]
    assert snap.schema.column("email").levels is None  # 200 distinct values > cap of 50
    income = snap.profile.column("income")
    assert sum(income.bin_counts or []) == 200 and len(income.quantiles or []) == 101
    assert snap.profile.column("region").level_counts is not None


def test_csv_and_parquet_of_the_same_data_are_the_same_content(
    ws: Workspace, tmp_path: Path
) -> None:
    frame = small_frame()
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    first = ws.datasets.snapshot_file(tmp_path / "a.csv", name="d")
    second = ws.datasets.snapshot_file(tmp_path / "a.parquet", name="d")
    assert first.created and not second.created
    assert second.snapshot.ref == "d@1"
    assert "identical data is already d@1" in second.message


def test_snapshots_chain_to_their_parent_and_load_back_exactly(ws: Workspace) -> None:
    one = ws.datasets.snapshot(small_frame(seed=1), name="d").snapshot
    two = ws.datasets.snapshot(small_frame(seed=2), name="d").snapshot
    assert two.parent_id == one.id and one.parent_id is None
    loaded = ws.datasets.load("d@2")
    pd.testing.assert_frame_equal(loaded, small_frame(seed=2), check_dtype=False)
    assert ws.datasets.get("d").ref == "d@2"


def test_roles_come_from_the_settings(tmp_path: Path) -> None:
    root = tmp_path / "w"
    Workspace.init(root)
    settings = root / "stead.toml"
    settings.write_text(
        settings.read_text().replace(
            '# id = "customer_id"', 'id = "customer_id"\npii = ["email"]\ntarget = "defaulted"'
        )
    )
    with Workspace.open(root) as ws:
        snap = ws.datasets.snapshot(small_frame(), name="d").snapshot
    assert snap.schema.with_role("id") == ["customer_id"]
    assert snap.schema.with_role("pii") == ["email"]
    assert snap.schema.with_role("target") == ["defaulted"]


def test_the_time_column_is_parsed_and_bad_timestamps_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "w"
    Workspace.init(root)
    settings = root / "stead.toml"
    settings.write_text(
        settings.read_text().replace('# time = "applied_at"', 'time = "applied_at"')
    )
    frame = pd.DataFrame({"applied_at": ["2026-01-01", "2026-01-02T10:00:00Z"], "x": [1, 2]})
    with Workspace.open(root) as ws:
        snap = ws.datasets.snapshot(frame, name="t").snapshot
        assert snap.schema.column("applied_at").kind == "datetime"
        with pytest.raises(DataError, match=r"'applied_at'.*not timestamps in rows 1"):
            ws.datasets.snapshot(frame.assign(applied_at=["2026-01-01", "soon"]), name="t")


def test_the_code_version_of_a_calling_script_is_recorded(ws: Workspace, tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "make_data.py").write_text(
        "import sys, pandas as pd\nfrom stead.workspace import Workspace\n"
        "with Workspace.open(sys.argv[1]) as ws:\n"
        "    print(ws.datasets.snapshot(pd.DataFrame({'x': [1, 2]}), name='g').snapshot.code_version.commit)\n"
    )
    git = ["git", "-C", str(repo), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "data script"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    import sys

    out = subprocess.run(
        [sys.executable, str(repo / "make_data.py"), str(ws.root)], capture_output=True, text=True
    )
    assert out.stdout.strip() == commit, out.stderr
    snap = ws.datasets.get("g@1")
    assert snap.code_version.commit == commit and snap.code_version.dirty is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"a,b\n", "has columns but no rows"),
        (b"a,a\n1,2\n", "duplicate column names: 'a'"),
        (
            b"age\n1\n2\n3\nabc\n",
            "column 'age' mixes numbers and text: 1 of 4 values are not numbers (rows 3: 'abc')",
        ),
        (b"\xff\xfe\x00\x01garbage", "is not UTF-8"),
    ],
)
def test_bad_files_get_one_clear_error_and_nothing_is_stored(
    ws: Workspace, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = len(ws.audit.events())
    with pytest.raises(DataError) as info:
        ws.datasets.snapshot_file(path, name="bad")
    assert message in str(info.value)
    assert ws.datasets.list() == [] and len(ws.audit.events()) == before


def test_bad_frames_and_names_are_refused(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="mixes types: int \\(2\\), str \\(1\\)"):
        ws.datasets.snapshot(pd.DataFrame({"x": pd.Series([1, "a", 2], dtype=object)}), name="m")
    with pytest.raises(DataError, match="duplicate column names"):
        ws.datasets.snapshot(pd.DataFrame(np.zeros((2, 2)), columns=["a", "a"]), name="m")
    with pytest.raises(UsageError, match="not a valid name"):
        ws.datasets.snapshot(small_frame(), name="../escape")
    with pytest.raises(DataError, match="does not exist"):
        ws.datasets.snapshot_file(tmp_path / "nope.csv", name="m")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
        ws.datasets.snapshot_file(tmp_path / "bad.parquet", name="m")
    assert ws.datasets.list() == []


def test_diff_reports_columns_types_and_distribution_change(ws: Workspace) -> None:
    base = small_frame(2000, seed=1)
    shifted = base.drop(columns=["email"]).assign(
        income=base["income"] * 1.5, channel="web", age=base["age"].astype(float)
    )
    ws.datasets.snapshot(base, name="d")
    ws.datasets.snapshot(shifted, name="d")
    diff = ws.datasets.diff("d@1", "d@2")
    assert diff.added == ["channel"] and diff.removed == ["email"]
    assert diff.type_changes == [{"column": "age", "before": "int", "after": "float"}]
    by_column = {c.column: c.value for c in diff.distribution}
    assert by_column["income"] > 1.0  # a 50% shift in income is a large PSI
    assert by_column["region"] < 0.01 and by_column["customer_id"] < 0.05
