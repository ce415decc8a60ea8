"""Which rows a version's model was fitted on, so that comparisons use only unseen rows.

Rows are matched by content: a fingerprint of the given columns (the model's inputs and
the target), so a row copied into another snapshot (a retrain's source holds the
production snapshot) is still recognised. A run fitted its saved model on its snapshot
minus its evaluation rows, or on every row when it was refitted
(``[training.split] refit``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from stead.training.run import TrainingRun
    from stead.training.service import RunService


def fingerprints(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One hash per row of ``frame``'s ``columns`` (order and dtype as given)."""
    return pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()


def training_rows(runs: RunService, run: TrainingRun) -> pd.DataFrame:
    """The snapshot rows ``run``'s saved model was fitted on."""
    snapshot = runs.snapshot_frame(run)
    if run.spec.split.refit:
        return snapshot
    training = np.ones(len(snapshot), dtype=bool)
    training[runs.eval_row_positions(run)] = False
    return snapshot[training]


def seen_by(frame: pd.DataFrame, fitted_on: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Which rows of ``frame`` appear, by content of ``columns``, in ``fitted_on``.

    A model fitted on other columns cannot have seen these rows (nothing matches).
    """
    if any(c not in fitted_on.columns for c in columns):
        return np.zeros(len(frame), dtype=bool)
    seen: np.ndarray = np.isin(fingerprints(frame, columns), fingerprints(fitted_on, columns))
    return seen


def same_entity(frame: pd.DataFrame, fitted_on: pd.DataFrame, id_column: str | None) -> np.ndarray:
    """Which rows of ``frame`` are about an entity (``[columns] id``) ``fitted_on`` has."""
    if not id_column or id_column not in frame.columns or id_column not in fitted_on.columns:
        return np.zeros(len(frame), dtype=bool)
    shared: np.ndarray = (
        frame[id_column].astype(str).isin(set(fitted_on[id_column].astype(str))).to_numpy()
    )
    return shared
