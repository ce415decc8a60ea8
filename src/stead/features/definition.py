"""Feature sets: a user function that builds a scikit-learn transformer, versioned by content.

A feature set is declared in ``stead.toml``::

    [features]
    definition = "features:build"      # module:function, found in the workspace root
    name = "credit"                    # optional; defaults to [project] name
    params = { max_categories = 20 }   # optional keyword arguments for the function

The function returns an unfitted transformer (a ``ColumnTransformer`` or a ``Pipeline``
whose first step selects columns). Its **version** is a hash of the definition's source
(its module and every project-local module that imports, see :mod:`.sources`), its
parameters and the scikit-learn version, so unchanged code gives the same version and any
change gives a new one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from stead.core.errors import SpecError
from stead.features.imports import ImportPath
from stead.features.settings import FeatureSettings as FeatureSettings
from stead.features.sources import SourceBundle, importing

VERSION_LENGTH = 12


def _installed_sklearn_version() -> str:
    # Imported here: the entities of this module are read by commands that never fit a
    # transformer (`stead runs list`), and scikit-learn takes a second to import.
    import sklearn

    return str(sklearn.__version__)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def feature_set_hash(
    *, definition: str, params: dict[str, Any], sources: SourceBundle, sklearn_version: str
) -> str:
    """The full SHA-256 a feature set's version is taken from."""
    body = {
        "definition": definition,
        "params": params,
        "sklearn": sklearn_version,
        "sources": sources.file_hashes(),
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


@dataclass(frozen=True)
class FeatureDefinition:
    """A feature set as the workspace code defines it now (or as a run stored it).

    Nothing is recorded until a training run uses it (see ``FeatureService.register``).
    """

    name: str
    definition: str
    params: dict[str, Any]
    sources: SourceBundle
    root: Path
    sklearn_version: str = field(default_factory=_installed_sklearn_version)

    @property
    def source_hash(self) -> str:
        return feature_set_hash(
            definition=self.definition,
            params=self.params,
            sources=self.sources,
            sklearn_version=self.sklearn_version,
        )

    @property
    def version(self) -> str:
        return self.source_hash[:VERSION_LENGTH]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def build(self) -> Any:
        """Call the definition and return its (unfitted) transformer.

        Must run inside :func:`stead.features.sources.importing` for ``self.sources``
        when the caller keeps using the object (fitting may import lazily); calling it
        alone imports the bundle just for the call.

        Raises:
            SpecError: the function is missing, raises, or returns no transformer.
        """
        with importing(self.sources, root=self.root):
            return build_transformer(self.definition, self.params)


def build_transformer(definition: str, params: dict[str, Any]) -> Any:
    """Import and call a ``module:function`` feature definition; check what it returns.

    Raises:
        SpecError: the function is missing, not callable, raises, or returns no transformer.
    """
    where = "[features] definition"
    path = ImportPath.parse(definition, where=where)
    function = path.resolve(where=where)
    if not callable(function):
        raise SpecError(f"{where} = {definition!r} is a {type(function).__name__}, not a function")
    try:
        transformer = function(**params)
    except TypeError as exc:
        raise SpecError(
            f"{where} = {definition!r} could not be called with [features] params "
            f"{sorted(params)}: {exc}"
        ) from exc
    except Exception as exc:
        raise SpecError(
            f"{where} = {definition!r} raised {type(exc).__name__}: {exc}; "
            "fix the feature function (it must return an unfitted scikit-learn transformer)"
        ) from exc
    if not is_transformer(transformer):
        raise SpecError(
            f"{where} = {definition!r} returned {type(transformer).__name__}, not a "
            "scikit-learn transformer; return an object with fit and transform, such as a "
            "ColumnTransformer or a Pipeline"
        )
    return transformer


def is_transformer(value: Any) -> bool:
    return all(callable(getattr(value, name, None)) for name in ("fit", "transform", "get_params"))


@dataclass(frozen=True)
class FeatureSet:
    """A recorded feature set version (recorded when a run first uses it)."""

    id: str
    name: str
    version: str
    definition: str
    params: dict[str, Any]
    sklearn_version: str
    source_hash: str
    sources: dict[str, str]
    sources_artifact: str
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "definition": self.definition,
            "params": self.params,
            "sklearn_version": self.sklearn_version,
            "source_hash": self.source_hash,
            "sources": self.sources,
            "sources_artifact": self.sources_artifact,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }
