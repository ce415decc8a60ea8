"""Prediction drift: the same statistics on a model's outputs instead of its inputs.

A probability or score column is compared like a numeric feature (PSI, Wasserstein,
KS); a class column like a categorical one (Jensen–Shannon, unseen classes,
chi-square). The reference is the profile of the model's outputs on its evaluation data,
made once with :func:`profile_outputs` when the model is trained.

Example:
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> reference = profile_outputs(pd.Series(rng.beta(2, 5, 10_000), name="score"))
    >>> detect_prediction_drift(reference, pd.Series(rng.beta(5, 2, 10_000))).drifted
    True
"""

from __future__ import annotations

import pandas as pd

from stead.data.profile import ColumnProfile, profile_column
from stead.monitoring.drift.detect import detect_column_drift
from stead.monitoring.drift.report import ColumnDrift
from stead.monitoring.drift.thresholds import DriftConfig

# Bins of an output profile: the same default as snapshot profiles (settings.data).
OUTPUT_BINS = 20


def profile_outputs(
    outputs: pd.Series, *, categorical: bool | None = None, bins: int = OUTPUT_BINS
) -> ColumnProfile:
    """The reference profile of one model output column.

    Args:
        outputs: the model's outputs on reference data (e.g. its evaluation set).
        categorical: compare as classes rather than numbers; by default floats are
            numeric (probabilities, scores, regression targets) and anything else —
            including integer class labels — is categorical.
        bins: equal-frequency bins for a numeric output.
    """
    if categorical is None:
        categorical = not pd.api.types.is_float_dtype(outputs.dtype)
    if categorical:
        kind = "bool" if pd.api.types.is_bool_dtype(outputs.dtype) else "string"
    else:
        kind = "float"
    return profile_column(outputs, kind, bins=bins)


def detect_prediction_drift(
    reference: ColumnProfile, current: pd.Series, *, config: DriftConfig | None = None
) -> ColumnDrift:
    """Drift of a window of one model output against its reference profile.

    Args:
        reference: from :func:`profile_outputs` (or any column profile).
        current: the window's outputs (e.g. from the prediction log).
        config: thresholds; ``DriftConfig()`` by default.
    """
    return detect_column_drift(reference, current, config=config)
