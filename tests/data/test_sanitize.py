"""PII never reaches the prediction log raw: hashed with the workspace key, or dropped."""

from __future__ import annotations

import hashlib
import hmac
import stat
import threading
from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.data.sanitize import Sanitizer, load_or_create_key
from stead.predictions.reader import read_predictions
from stead.predictions.writer import PredictionLog
from tests.predictions.records import make_record

KEY = bytes(range(32))
RAW = ["user0@example.com", "user1@example.com", "customer-42"]


def all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def log_with_pii(directory: Path, sanitizer: Sanitizer, compression: str) -> None:
    with PredictionLog(directory, sanitizer=sanitizer, compression=compression) as plog:
        plog.log(make_record(0, entity_key="customer-42"))
        plog.log(
            make_record(
                1,
                entity_key="customer-42",
                error="unseen value 'user1@example.com' in column email",
            )
        )


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_hashed_pii_never_appears_raw_in_the_files(tmp_path: Path, compression: str) -> None:
    sanitizer = Sanitizer(["email", "customer_id"], key=KEY, entity_key_is_pii=True)
    log_with_pii(tmp_path, sanitizer, compression)

    # Uncompressed files show every stored byte; compressed ones still keep statistics
    # and the footer in clear, where a leak would show too.
    stored = all_bytes(tmp_path)
    for raw in RAW:
        assert raw.encode() not in stored

    frame = read_predictions(tmp_path, "credit")
    expected = [hmac.digest(KEY, raw.encode(), hashlib.sha256).hex() for raw in RAW[:2]]
    assert list(frame["inputs.email"]) == expected
    assert list(frame["entity_key"]) == [expected_hash("customer-42")] * 2
    assert frame["error"][1] == "unseen value '[pii]' in column email"
    assert list(frame["inputs.city"]) == ["Paris", "Paris"]  # other columns untouched


def expected_hash(value: str) -> str:
    return hmac.digest(KEY, value.encode(), hashlib.sha256).hex()


def test_the_same_value_always_gets_the_same_hash_so_joins_still_work(tmp_path: Path) -> None:
    sanitizer = Sanitizer(["email"], key=KEY)
    with PredictionLog(tmp_path, sanitizer=sanitizer) as plog:
        for i in range(4):
            plog.log(make_record(i, inputs={"email": "same@example.com", "age": i}))
    assert read_predictions(tmp_path, "credit")["inputs.email"].nunique() == 1


def test_dropped_pii_leaves_no_column_and_no_trace(tmp_path: Path) -> None:
    sanitizer = Sanitizer(["email", "customer_id"], mode="drop", entity_key_is_pii=True)
    log_with_pii(tmp_path, sanitizer, "none")
    stored = all_bytes(tmp_path)
    for raw in RAW:
        assert raw.encode() not in stored
    frame = read_predictions(tmp_path, "credit")
    assert "inputs.email" not in frame.columns
    assert frame["entity_key"].isna().all()


def test_pii_columns_match_whatever_their_case(tmp_path: Path) -> None:
    sanitizer = Sanitizer(["email"], key=KEY)
    with PredictionLog(tmp_path, sanitizer=sanitizer, compression="none") as plog:
        plog.log(make_record(0, inputs={"Email": "ann@example.com", "EMAIL": "bob@example.com"}))
    stored = all_bytes(tmp_path)
    assert b"ann@example.com" not in stored and b"bob@example.com" not in stored


def test_the_key_is_created_once_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "pii_hash_key"
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_or_create_key(path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == keys[0]
    assert [p.name for p in path.parent.iterdir()] == ["pii_hash_key"]  # no temp files left


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pii_hash_key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match=r"chmod 600"):
        load_or_create_key(path)


def test_a_damaged_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pii_hash_key"
    path.write_text("not a key")
    path.chmod(0o600)
    with pytest.raises(SettingsError, match="does not hold a PII hash key"):
        load_or_create_key(path)


def test_hashing_without_a_key_is_refused() -> None:
    with pytest.raises(SettingsError, match="needs a key"):
        Sanitizer(["email"], mode="hash")
