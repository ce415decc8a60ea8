"""Model persistence with skops: saving and loading never executes arbitrary code.

stead never writes or reads pickles. skops stores an object's *state* and, when loading,
rebuilds only types it trusts; anything else is refused unless it is named explicitly.
Beyond skops' own defaults, stead trusts exactly three groups of types:

1. :data:`REVIEWED_TYPES` below: scikit-learn internals that hold fitted state (tree
   structures, calibrators, neighbour indexes, optimiser state) and plain data types.
   Each was reviewed: rebuilding it runs no user-supplied code. Several index raw node
   arrays without bounds checks (skops warns that a *malicious* file could crash the
   process); stead only loads an artifact whose bytes match the SHA-256 recorded by the
   run that produced it, so a tampered file is refused before skops sees it.
2. Types defined in the run's own project modules (its stored, hashed sources), e.g. a
   custom estimator class. Loading imports those modules from the stored copy.
3. Types listed in ``[training] trusted_types``: a reviewed, recorded decision per
   workspace, kept in the run's spec.

The registry and serving load models through :func:`load_model` with a run's trusted
types (``TrainingRun.trusted_types``), so this list is the one place to review.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from stead.core.errors import IntegrityError, SpecError

REVIEWED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.compose._column_transformer.make_column_selector",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.tree._tree.Tree",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "scipy.interpolate._bsplines.BSpline",
)


def is_project_type(type_name: str, project_modules: Collection[str]) -> bool:
    """Whether ``type_name`` (``module.Class``) is defined in one of the project modules."""
    module = type_name.rpartition(".")[0]
    return any(module == m or module.startswith(m + ".") for m in project_modules)


def dump_model(
    model: Any, *, project_modules: Collection[str], trusted_types: Collection[str] = ()
) -> tuple[bytes, list[str]]:
    """Serialise ``model`` with skops and check that it will load again.

    Returns:
        The bytes, and the types beyond skops' defaults that loading it must trust
        (to be recorded with the run).

    Raises:
        SpecError: the model holds a type that is neither reviewed, project-local nor
            listed in ``[training] trusted_types``.
    """
    import skops.io as sio  # ~1 s to import (it lists every scikit-learn estimator): lazily

    data = sio.dumps(model)
    needed = sorted(sio.get_untrusted_types(data=data))
    refused = [
        t
        for t in needed
        if t not in REVIEWED_TYPES
        and t not in trusted_types
        and not is_project_type(t, project_modules)
    ]
    if refused:
        raise SpecError(
            f"the fitted model contains types stead has not reviewed for safe loading: "
            f"{', '.join(refused)}; after reviewing them, list them in [training] "
            "trusted_types (see training/persistence.py)",
            details={"types": refused},
        )
    return data, needed


def load_model(data: bytes, *, trusted_types: Collection[str], label: str) -> Any:
    """Rebuild a model saved by :func:`dump_model`.

    Args:
        trusted_types: the types the producing run recorded as needed (reviewed,
            project-local or listed in its spec); the caller has already verified the
            bytes against the run's recorded hash.
        label: how to name the artifact in errors.

    Raises:
        IntegrityError: the artifact holds a type its run did not record.
    """
    import skops.io as sio

    needed = set(sio.get_untrusted_types(data=data))
    unexpected = sorted(needed - set(trusted_types))
    if unexpected:
        raise IntegrityError(
            f"{label} contains types its training run did not record as trusted: "
            f"{', '.join(unexpected)}; refusing to load it"
        )
    return sio.loads(data, trusted=sorted(needed))
