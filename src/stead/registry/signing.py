"""Signed model manifests: what a version is, sealed with the workspace's Ed25519 key.

On registration the registry writes a *manifest* (the artifact hashes, the run id, the
snapshot hash, the feature-set version, the input-contract hash, the trusted types) as
canonical JSON and signs those exact bytes. Every load verifies the signature with the
workspace key before trusting any hash in it, so editing the manifest, its signature,
or an artifact's bytes is refused.

The private key lives at ``[signing] key_path`` (``.stead/signing_key.pem`` by default,
created by ``stead init`` with mode 0600). Verification uses the public half of that same
key: someone who can rewrite the metadata database cannot forge a signature without the
key file. Keep the key outside the workspace (and out of backups of the database) in
production.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stead.core.errors import IntegrityError, SettingsError

MANIFEST_FORMAT = "stead.model-manifest/1"


def canonical(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """The SHA-256 of a value's canonical JSON (used for the contract hash)."""
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def create_key(path: Path) -> bool:
    """Create a new Ed25519 private key at ``path`` (mode 0600) unless one exists.

    Returns:
        Whether a key was created.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # O_EXCL: two processes creating the key at once must not overwrite each other.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def load_key(path: Path) -> Ed25519PrivateKey:
    """The private key at ``path``.

    Raises:
        IntegrityError: the file is missing or is not an Ed25519 private key (without it
            no manifest can be signed or verified).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise IntegrityError(
            f"the signing key {path} ([signing] key_path) is missing, so model manifests "
            "cannot be signed or verified; restore it from where you keep it"
        ) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{path} ([signing] key_path) is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingsError(
            f"{path} ([signing] key_path) holds a {type(key).__name__}; stead signs with Ed25519"
        )
    return key


@dataclass(frozen=True)
class Signer:
    """Signs and verifies manifests with one workspace key."""

    key: Ed25519PrivateKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key.public_key())

    def sign(self, manifest: dict[str, Any]) -> tuple[str, str]:
        """The manifest's canonical text and its signature (hex)."""
        text = canonical({"format": MANIFEST_FORMAT, **manifest})
        return text, self.key.sign(text.encode("utf-8")).hex()

    def verify(self, text: str, signature: str, *, label: str, signed_by: str) -> dict[str, Any]:
        """The manifest, after checking that this key signed exactly ``text``.

        Raises:
            IntegrityError: the signature does not match (the manifest or the signature
                was altered), or another key signed it.
        """
        if signed_by != self.fingerprint:
            raise IntegrityError(
                f"{label} was signed by key {signed_by}, but the workspace key "
                f"([signing] key_path) is {self.fingerprint}; its manifest cannot be "
                "verified: restore the key it was signed with"
            )
        try:
            self.key.public_key().verify(bytes.fromhex(signature), text.encode("utf-8"))
        except (InvalidSignature, ValueError) as exc:
            raise IntegrityError(
                f"{label}: the manifest signature does not verify; the manifest or its "
                "signature was altered after registration. Refusing to trust it: restore "
                "the database from a backup, or register the run again"
            ) from exc
        try:
            manifest: dict[str, Any] = json.loads(text)
        except ValueError as exc:  # a valid signature over invalid JSON: never written by us
            raise IntegrityError(f"{label}: the signed manifest is not JSON: {exc}") from exc
        if manifest.get("format") != MANIFEST_FORMAT:
            raise IntegrityError(f"{label}: unknown manifest format {manifest.get('format')!r}")
        return manifest
