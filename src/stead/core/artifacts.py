"""The artifact store: content-addressed, write-once, atomic, verified on every read.

An artifact's name is the SHA-256 of its bytes (``sha256/ab/abcdef...``). Writing goes to
a temporary name and is then moved into place, so a crash mid-write leaves no visible
partial artifact (:meth:`ArtifactStore.clean_temporary`, run when a workspace opens,
removes what it left in ``tmp/``); writing bytes that already exist is a no-op. Reading
checks the hash again and raises :class:`IntegrityError` naming the artifact when the bytes changed.
The location is any fsspec URL (a local directory by default).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from stead.core.errors import IntegrityError, NotFound
from stead.core.ids import new_id

_CHUNK = 1 << 20
# A temporary file untouched this long belongs to a write that died: a live write keeps
# touching its file.
STALE_AFTER = 60.0

# Called with (digest, message) when a read finds altered bytes, so the workspace can
# record the refusal in the audit trail.
IntegrityListener = Callable[[str, str], None]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Content-addressed blobs at an fsspec URL.

    Args:
        url: a local directory or any fsspec URL (``memory://stead``, ``s3://bucket/x``).
        on_integrity_error: told about every altered artifact a read refuses.
    """

    def __init__(self, url: str, *, on_integrity_error: IntegrityListener | None = None) -> None:
        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")
        self._is_local = isinstance(self.fs, LocalFileSystem)
        self.on_integrity_error = on_integrity_error

    def _path(self, digest: str) -> str:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise NotFound(f"{digest!r} is not an artifact id (expected a sha256 hex digest)")
        return f"{self.root}/sha256/{digest[:2]}/{digest}"

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its sha256; storing existing bytes changes nothing."""
        digest = sha256_bytes(data)
        if not self.exists(digest):
            self._commit(digest, lambda handle: handle.write(data))
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a local file's bytes without reading them all into memory."""
        digest = sha256_file(path)
        if not self.exists(digest):

            def copy(handle: BinaryIO) -> None:
                with open(path, "rb") as source:
                    for chunk in iter(lambda: source.read(_CHUNK), b""):
                        handle.write(chunk)

            self._commit(digest, copy)
        return digest

    def clean_temporary(self, *, older_than: float = STALE_AFTER) -> int:
        """Remove what crashed writes left in ``tmp/``; return how many files.

        Only files not modified for ``older_than`` seconds (local stores; elsewhere an
        object appears only once whole, so there is nothing to clean).
        """
        if not self._is_local:
            return 0
        removed = 0
        cutoff = time.time() - older_than
        try:
            entries = list(os.scandir(f"{self.root}/tmp"))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue  # removed meanwhile, or not ours to remove
        return removed

    def _commit(self, digest: str, write: Callable[[BinaryIO], object]) -> None:
        final = self._path(digest)
        temp = f"{self.root}/tmp/{new_id()}.part"
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        try:
            with self.fs.open(temp, "wb") as handle:
                write(handle)
                if self._is_local:
                    handle.flush()
                    os.fsync(handle.fileno())
            # A rename within one filesystem is atomic: readers see all bytes or none.
            self.fs.mv(temp, final)
            if self._is_local:
                os.chmod(final, 0o444)  # write-once: refuse accidental in-place edits
        except BaseException:
            if self.fs.exists(temp):
                self.fs.rm(temp)
            raise

    def discard(self, digest: str) -> bool:
        """Delete an artifact (erasure of personal data); ``False`` if it was not there.

        Artifacts are write-once and nothing else deletes them: only call this for a
        blob no metadata names any more.
        """
        path = self._path(digest)
        if not self.fs.exists(path):
            return False
        self.fs.rm(path)
        return True

    def get_bytes(self, digest: str, *, label: str | None = None) -> bytes:
        """The artifact's bytes, verified against its name.

        Args:
            label: how to name the artifact in errors (``dataset credit@3``).

        Raises:
            NotFound: when no artifact has this digest.
            IntegrityError: when the stored bytes no longer hash to ``digest``.
        """
        path = self._path(digest)
        name = label or f"artifact {digest[:12]}"
        try:
            with self.fs.open(path, "rb") as handle:
                data: bytes = handle.read()
        except FileNotFoundError as exc:
            raise NotFound(
                f"{name} is missing from the artifact store {self.url} (sha256 {digest})"
            ) from exc
        actual = sha256_bytes(data)
        if actual != digest:
            message = (
                f"{name} was altered on disk: expected sha256 {digest}, found {actual}; "
                "restore it from a backup or re-create it"
            )
            if self.on_integrity_error:
                self.on_integrity_error(digest, message)
            raise IntegrityError(message, details={"artifact": digest, "actual": actual})
        return data

    def local_path(self, digest: str) -> Path | None:
        """The file path for a local store (for tools that want one), else ``None``."""
        return Path(self._path(digest)) if self._is_local else None
