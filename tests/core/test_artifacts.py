from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from stead.core.artifacts import ArtifactStore, sha256_bytes
from stead.core.errors import IntegrityError, NotFound
from stead.workspace import Workspace


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "artifacts"))
    return ArtifactStore(f"memory://stead-{uuid.uuid4().hex}")


def test_artifacts_are_named_by_their_content(store: ArtifactStore) -> None:
    digest = store.put_bytes(b"model bytes")
    assert digest == sha256_bytes(b"model bytes")
    assert store.get_bytes(digest) == b"model bytes"
    assert store.put_bytes(b"model bytes") == digest  # write-once: storing again is a no-op


def test_files_are_stored_without_loading_them_whole(store: ArtifactStore, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 3_000_000)
    digest = store.put_file(path)
    assert store.get_bytes(digest) == path.read_bytes()


def test_a_missing_artifact_is_not_found(store: ArtifactStore) -> None:
    with pytest.raises(NotFound, match="missing from the artifact store"):
        store.get_bytes("0" * 64, label="dataset a@1")


def test_a_failed_write_leaves_no_visible_artifact(store: ArtifactStore) -> None:
    def crash(handle: object) -> None:
        handle.write(b"half")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    digest = sha256_bytes(b"whole")
    with pytest.raises(KeyboardInterrupt):
        store._commit(digest, crash)
    assert not store.exists(digest)
    assert not store.fs.ls(f"{store.root}/tmp")  # no temporary file left either


def test_altered_bytes_are_refused_and_the_refusal_is_audited(ws: Workspace) -> None:
    outcome = ws.datasets.snapshot(__import__("pandas").DataFrame({"x": [1, 2, 3]}), name="a")
    path = ws.artifacts.local_path(outcome.snapshot.artifact)
    assert path is not None
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(IntegrityError, match=r"dataset a@1 was altered on disk"):
        ws.datasets.load("a@1")
    events = ws.audit.events(action="artifact.integrity_failure")
    assert [e.subject for e in events] == [f"artifact:{outcome.snapshot.artifact}"]
    assert ws.audit.verify().ok
