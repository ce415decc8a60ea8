"""PII handling: drop the column, or replace it by a keyed hash.

The prediction log and dataset snapshots share this one mechanism and one key
(``[serving.log] pii_key_path``), so a customer's e-mail hashes the same in a snapshot
and in the log, and joins by it still work.

A keyed hash (HMAC-SHA256) rather than a plain one, because PII values are guessable
(emails, phone numbers): anyone could hash a list of candidates and match a plain
SHA-256. With a secret per-workspace key the hash still joins (the same customer gives
the same hash in every record, so per-entity monitoring works) but cannot be reversed by
someone who has the log without the key. Rotating the key breaks those joins across the
rotation, so the key is created once and kept.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal

from stead.core.errors import SettingsError
from stead.core.ids import new_id

PiiMode = Literal["hash", "drop"]
KEY_BYTES = 32
_BLOCK = 64  # SHA-256 block size
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_REDACTED = "[pii]"
_DIGEST_BYTES = 32
_HEX = frozenset("0123456789abcdef")


def load_or_create_key(path: Path) -> bytes:
    """The workspace's PII hash key, created (mode 0600) if it does not exist yet.

    Creation is atomic and race-free across processes: the key is written to a private
    temporary file and hard-linked into place, so two workers starting together agree on
    one key and nobody reads a half-written one.

    Raises:
        SettingsError: the key file is readable or writable by group or others, or does
            not hold a key, with the command that fixes it.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_id()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_bytes(KEY_BYTES).hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created it first; use theirs
    finally:
        tmp.unlink()
    return _read_key(path)


def is_keyed_hash(value: object) -> bool:
    """Whether ``value`` has the form of :meth:`Sanitizer.hash_value` (64 hex digits)."""
    return (
        isinstance(value, str) and len(value) == 2 * _DIGEST_BYTES and all(c in _HEX for c in value)
    )


def _read_key(path: Path) -> bytes:
    with path.open("rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        text = fh.read().decode("ascii", errors="replace").strip()
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"PII hash key {path} is accessible to other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise SettingsError(
            f"{path} does not hold a PII hash key ({KEY_BYTES * 2} hex digits); restore it "
            "from a backup, or delete it to start a new key (hashes will no longer match "
            "the ones already logged)"
        )
    return key


@dataclass(frozen=True)
class Sanitizer:
    """Drops or hashes PII columns of logged inputs; applied by the log's writer.

    Column names match case-insensitively, so ``Email`` is treated like ``email``:
    the promise is that PII is never stored raw, and a casing slip must not break it.

    Args:
        pii_columns: the input columns that hold PII.
        mode: ``"hash"`` replaces each value by its HMAC-SHA256 (hex); ``"drop"`` removes
            the column.
        key: the HMAC key; required for ``"hash"`` when there are PII columns.
        entity_key_is_pii: the entity key is itself PII (the id column is listed as
            PII), so it is hashed or dropped like the columns.

    Example:
        >>> s = Sanitizer(["email"], mode="hash", key=b"k" * 32)
        >>> s.is_pii("Email"), s.is_pii("age")
        (True, False)
        >>> len(s.hash_value("ann@example.com"))
        64
    """

    pii_columns: Iterable[str]
    mode: PiiMode = "hash"
    key: bytes | None = None
    entity_key_is_pii: bool = False

    _folded: frozenset[str] = field(init=False, repr=False)
    _inner: Any = field(init=False, repr=False)
    _outer: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        columns = tuple(self.pii_columns)  # may be a one-shot iterator
        folded = frozenset(c.casefold() for c in columns)
        object.__setattr__(self, "pii_columns", columns)
        object.__setattr__(self, "_folded", folded)
        if self.mode not in ("hash", "drop"):
            raise SettingsError(f"PII mode {self.mode!r} is not allowed; use 'hash' or 'drop'")
        if self.mode == "hash" and (folded or self.entity_key_is_pii) and not self.key:
            raise SettingsError("PII mode 'hash' needs a key; see load_or_create_key")
        # HMAC (RFC 2104) from two keyed SHA-256 states copied per value: the same
        # digest as hmac.digest(key, value, sha256), without its setup cost per call
        # (about 3x faster, and the writer hashes every PII value it logs).
        key = self.key or b""
        if len(key) > _BLOCK:
            key = sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        object.__setattr__(self, "_inner", sha256(key.translate(_IPAD)))
        object.__setattr__(self, "_outer", sha256(key.translate(_OPAD)))

    @property
    def active(self) -> bool:
        return bool(self._folded) or self.entity_key_is_pii

    def is_pii(self, column: str) -> bool:
        return column.casefold() in self._folded

    def hash_value(self, value: Any) -> str:
        """The keyed hash of one value; text as is, anything else as its JSON text."""
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if not self.key:
            raise SettingsError("PII mode 'hash' needs a key; see load_or_create_key")
        inner = self._inner.copy()
        inner.update(text.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def column(self, values: list[Any]) -> list[Any] | None:
        """A PII column's stored values: hashed, or ``None`` to drop the column."""
        if self.mode == "drop":
            return None
        return [None if v is None else self.hash_value(v) for v in values]

    def entity_key(self, value: str | None) -> str | None:
        if value is None or not self.entity_key_is_pii:
            return value
        return None if self.mode == "drop" else self.hash_value(value)

    def redact(self, text: str, raw_values: Iterable[Any]) -> str:
        """``text`` with every raw PII value in it replaced, for error messages.

        Error messages are free text and may quote an input value; one-character values
        are left alone because replacing them would shred the message and reveal nothing.
        """
        for value in raw_values:
            if value is None:
                continue
            raw = value if isinstance(value, str) else json.dumps(value, default=str)
            if len(raw) > 1 and raw in text:
                text = text.replace(raw, _REDACTED)
        return text


NO_PII = Sanitizer(())
