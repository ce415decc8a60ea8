"""Verifying and loading a registered version: signature, then hashes, then skops.

The order matters. The manifest's signature is checked first; only then are its artifact
hashes and trusted types believed. The version's database row must agree with the signed
manifest (an edited row is refused too). Each artifact is read through the artifact
store, which re-hashes the bytes and refuses (and audits) any change. The model and the
baseline are then rebuilt with skops, trusting only the types the manifest lists, with
the run's own stored sources importable for project-local classes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stead.core.errors import IntegrityError
from stead.data.contract import Contract
from stead.features.sources import SourceBundle, importing
from stead.registry.signing import Signer, digest
from stead.registry.version import ModelVersion
from stead.training.persistence import load_model

if TYPE_CHECKING:
    from stead.core.context import Context

log = logging.getLogger("stead")


@dataclass(frozen=True)
class LoadedModel:
    """A verified version, ready to predict.

    ``pipeline`` and ``baseline`` are fitted scikit-learn pipelines (features + estimator)
    that take a frame of ``input_columns``; ``contract`` is what that frame must satisfy.
    """

    version: ModelVersion
    pipeline: Any
    baseline: Any
    contract: Contract

    @property
    def input_columns(self) -> list[str]:
        return self.version.input_columns

    @property
    def classes(self) -> list[Any] | None:
        classes: list[Any] | None = self.version.output.get("classes")
        return classes


@dataclass(frozen=True)
class VersionVerification:
    """The outcome of checking a version's signature and every artifact's hash."""

    model: str
    key_fingerprint: str
    artifacts: dict[str, str]

    def describe(self) -> str:
        return (
            f"manifest signature verifies with key {self.key_fingerprint[:23]}; "
            f"{len(self.artifacts)} artifacts match their signed sha256 "
            f"({', '.join(sorted(self.artifacts))})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "ok": True,
            "key_fingerprint": self.key_fingerprint,
            "artifacts": self.artifacts,
        }


class VersionLoader:
    """Verifies and loads versions with the workspace signing key (loaded on first use)."""

    def __init__(self, ctx: Context, signer: Callable[[], Signer]) -> None:
        self._ctx = ctx
        self._signer = signer

    def manifest(self, version: ModelVersion) -> dict[str, Any]:
        """The version's signed manifest, after checking its signature and that the
        version's record agrees with it.

        Raises:
            IntegrityError: naming the version; the refusal is audited.
        """
        label = f"model {version.ref}"
        try:
            manifest = self._signer().verify(
                version.manifest,
                version.signature,
                label=label,
                signed_by=version.key_fingerprint,
            )
            _check_record(version, manifest, label=label)
        except IntegrityError as error:
            self._record_refusal(version, error)
            raise
        return manifest

    def verify(self, version: ModelVersion) -> VersionVerification:
        """Check the signature and re-hash every artifact the manifest names.

        Raises:
            IntegrityError: naming the version and what was altered.
        """
        manifest = self.manifest(version)
        artifacts: dict[str, str] = {
            name: sha for name, sha in manifest["artifacts"].items() if sha
        }
        for name, sha in artifacts.items():
            self._ctx.artifacts.get_bytes(sha, label=f"{name} artifact of model {version.ref}")
        return VersionVerification(
            model=version.ref, key_fingerprint=version.key_fingerprint, artifacts=artifacts
        )

    def load(self, version: ModelVersion) -> LoadedModel:
        """The fitted pipeline and baseline of ``version``, verified.

        Raises:
            IntegrityError: the manifest, its signature or an artifact was altered, or an
                artifact holds a type the manifest does not trust.
        """
        manifest = self.manifest(version)
        artifacts = manifest["artifacts"]
        trusted = manifest["trusted_types"]
        label = f"model {version.ref}"
        store = self._ctx.artifacts
        sources = SourceBundle.from_bytes(
            store.get_bytes(artifacts["sources"], label=f"sources artifact of {label}"),
            label=f"sources of {label}",
        )
        model_bytes = store.get_bytes(artifacts["model"], label=f"model artifact of {label}")
        baseline_bytes = store.get_bytes(
            artifacts["baseline"], label=f"baseline artifact of {label}"
        )
        with importing(sources, root=self._ctx.root):
            pipeline = load_model(model_bytes, trusted_types=trusted, label=f"{label} (model)")
            baseline = load_model(
                baseline_bytes, trusted_types=trusted, label=f"{label} (baseline)"
            )
        return LoadedModel(
            version=version, pipeline=pipeline, baseline=baseline, contract=version.contract
        )

    def sources(self, version: ModelVersion) -> SourceBundle:
        """The version's stored project sources (after verifying the manifest)."""
        sha = self.manifest(version)["artifacts"]["sources"]
        data = self._ctx.artifacts.get_bytes(sha, label=f"sources artifact of {version.ref}")
        return SourceBundle.from_bytes(data, label=f"sources of model {version.ref}")

    def _record_refusal(self, version: ModelVersion, error: IntegrityError) -> None:
        # Never let the audit write hide the integrity error the caller is about to get.
        try:
            with self._ctx.store.change(
                "model.integrity_failure", f"model:{version.ref}"
            ) as change:
                change.details.update(
                    {"version_id": version.id, "message": error.message, **error.details}
                )
        except Exception:
            log.exception("could not record the integrity failure of model %s", version.ref)


def _check_record(version: ModelVersion, manifest: dict[str, Any], *, label: str) -> None:
    """Raise unless the version's database record says what its signed manifest says."""
    expected = {
        "model": version.ref,
        "run_id": version.run_id,
        "task": version.task,
        "artifacts": version.artifacts,
        "trusted_types": version.trusted_types,
        "snapshot.content_hash": version.snapshot_hash,
        "snapshot.id": version.snapshot_id,
        "feature_set.version": version.feature_set_version,
        "input_columns": version.input_columns,
        "contract_hash": version.contract_hash,
        "output": version.output,
    }
    differing = [key for key, value in expected.items() if _lookup(manifest, key) != value]
    if digest(version.contract.to_dict()) != manifest.get("contract_hash"):
        differing.append("contract")
    if differing:
        raise IntegrityError(
            f"{label}: its record in the metadata database differs from its signed manifest "
            f"in {', '.join(differing)}; the database was edited after registration. "
            "Refusing to trust it: restore the database from a backup",
            details={"model": version.ref, "differing": differing},
        )


def _lookup(manifest: dict[str, Any], dotted: str) -> Any:
    value: Any = manifest
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
