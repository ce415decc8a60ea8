"""Signed checkpoints of the audit chain's head, with a key the database does not hold.

The hash chain alone stops naive edits, but anyone who can write the database can rewrite
an event and recompute every hash after it. A *checkpoint* is the chain head (sequence
number and hash) signed with HMAC-SHA256 under a secret key kept in a file outside the
store (``[audit] key_path``, ``.stead/audit.key`` by default, mode 0600). Rewriting,
appending or dropping events then needs a new signature, which only the key's holder can
make. The checkpoint names the key by an id derived from it (never the key itself), so a
trail signed by another key is told apart from a forged one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stead.core.errors import IntegrityError, SettingsError

CHECKPOINT_FORMAT = "stead.audit-checkpoint/1"
KEY_BYTES = 32


@dataclass(frozen=True)
class Checkpoint:
    """A signed head: events ``1..seq`` chain to ``hash``."""

    seq: int
    hash: str
    key_id: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, value: Any) -> Checkpoint | None:
        """The checkpoint stored as ``value``, or ``None`` when it is not one."""
        try:
            return cls(
                seq=int(value["seq"]),
                hash=str(value["hash"]),
                key_id=str(value["key_id"]),
                signature=str(value["signature"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class AuditKey:
    """The secret that signs checkpoints, and where it came from (for messages)."""

    secret: bytes
    path: Path

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, b"stead.audit-key-id", hashlib.sha256).hexdigest()[:16]

    def sign(self, seq: int, head_hash: str) -> Checkpoint:
        return Checkpoint(seq, head_hash, self.key_id, self._mac(seq, head_hash))

    def signed(self, checkpoint: Checkpoint) -> bool:
        """Whether this key made ``checkpoint``'s signature over its seq and hash."""
        expected = self._mac(checkpoint.seq, checkpoint.hash)
        return hmac.compare_digest(expected, checkpoint.signature)

    def _mac(self, seq: int, head_hash: str) -> str:
        message = f"{CHECKPOINT_FORMAT}\n{seq}\n{head_hash}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def create_key(path: Path) -> bool:
    """Create a new random key file at ``path`` (mode 0600) unless one exists.

    Returns:
        Whether a key was created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes creating the key at once must not overwrite each other.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return True


def load_key(path: Path) -> AuditKey | None:
    """The key at ``path``, or ``None`` when there is no file there.

    Raises:
        SettingsError: the file is not a key stead wrote, or others may read it.
    """
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingsError(f"cannot read the audit key {path} ([audit] key_path): {exc}") from exc
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < KEY_BYTES:
        raise SettingsError(
            f"{path} ([audit] key_path) is not an audit key: expected {KEY_BYTES * 2} hex "
            "digits; restore the key file, or point [audit] key_path at it"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SettingsError(
            f"the audit key {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )
    return AuditKey(secret=secret, path=path)


def missing_key_error(path: Path, key_id: str) -> IntegrityError:
    return IntegrityError(
        f"the audit key {path} ([audit] key_path, STEAD_AUDIT_KEY_PATH) is missing on this "
        f"machine, but the audit trail is signed with key {key_id}; copy that key file "
        "here (mode 0600) or point [audit] key_path at it. Changes are refused until then, "
        "so no event is left unsigned"
    )


def wrong_key_error(key: AuditKey, key_id: str) -> IntegrityError:
    return IntegrityError(
        f"the audit key {key.path} ([audit] key_path) is key {key.key_id}, but the audit "
        f"trail is signed with key {key_id}; use the key the trail was signed with "
        "(copy it here, or point [audit] key_path at it). Changes are refused until then"
    )
