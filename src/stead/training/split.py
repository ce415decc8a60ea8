"""Dividing a snapshot's rows into training and evaluation rows, reproducibly."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from stead.core.errors import IntegrityError, SpecError
from stead.training.project import Task
from stead.training.settings import SplitSettings


@dataclass(frozen=True)
class Split:
    """Row positions (into the snapshot) of the training and evaluation rows, ascending."""

    train: np.ndarray
    eval: np.ndarray
    method: str
    eval_start: pd.Timestamp | None = None

    def eval_rows_bytes(self) -> bytes:
        """The evaluation positions as deterministic ``.npy`` bytes (an artifact)."""
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(self.eval, dtype=np.int64), allow_pickle=False)
        return buffer.getvalue()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "train_rows": len(self.train),
            "eval_rows": len(self.eval),
            "eval_start": None if self.eval_start is None else self.eval_start.isoformat(),
        }


def eval_rows_from_bytes(data: bytes) -> np.ndarray:
    try:
        rows: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise IntegrityError(f"the stored evaluation rows are not a NumPy array: {exc}") from exc
    return rows


def split_rows(
    frame: pd.DataFrame,
    *,
    settings: SplitSettings,
    task: Task,
    target: str,
    time_column: str | None,
    seed: int,
) -> Split:
    """Split ``frame``'s rows as ``settings`` say, with ``seed`` for the random split.

    Raises:
        SpecError: a time split without a usable time column, a class too small to
            stratify, or a split that leaves one side empty.
    """
    if settings.method == "time":
        split = _time_split(frame, settings.eval_fraction, time_column)
    else:
        split = _random_split(frame, settings, task, target, seed)
    if len(split.train) == 0 or len(split.eval) == 0:
        side = "training" if len(split.train) == 0 else "evaluation"
        raise SpecError(
            f"the {settings.method} split of {len(frame)} rows with eval_fraction "
            f"{settings.eval_fraction} leaves no {side} rows; add rows or change "
            "[training.split] eval_fraction"
        )
    return split


def _random_split(
    frame: pd.DataFrame, settings: SplitSettings, task: Task, target: str, seed: int
) -> Split:
    positions = np.arange(len(frame), dtype=np.int64)
    stratify = frame[target].to_numpy() if task != "regression" and settings.stratify else None
    if stratify is not None:
        counts = frame[target].value_counts()
        small = counts[counts < 2]
        if len(small):
            raise SpecError(
                f"target class {small.index[0]!r} has only {int(small.iloc[0])} row; a "
                "stratified split needs at least 2 rows per class: add rows, or set "
                "[training.split] stratify = false"
            )
    try:
        train, evaluate = train_test_split(
            positions, test_size=settings.eval_fraction, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise SpecError(f"cannot split {len(frame)} rows: {exc}") from exc
    return Split(train=np.sort(train), eval=np.sort(evaluate), method="random")


def _time_split(frame: pd.DataFrame, fraction: float, time_column: str | None) -> Split:
    if not time_column:
        raise SpecError(
            '[training.split] method = "time" needs a time column: set [columns] time '
            "(or [project] time)"
        )
    try:
        times = as_times(frame[time_column], name=time_column)
    except SpecError as exc:
        raise SpecError(
            f"{exc.message}; a time split (the default when [columns] time is set) needs "
            'timestamps: fix them, or set [training.split] method = "random"'
        ) from exc
    missing = np.flatnonzero(times.isna().to_numpy())
    if len(missing):
        rows = ", ".join(map(str, missing[:5]))
        raise SpecError(
            f"time column {time_column!r} is empty in {len(missing)} row(s) ({rows}); a time "
            "split (the default when [columns] time is set) needs a time for every row: "
            'fill them, or set [training.split] method = "random"'
        )
    ordered = np.sort(times.to_numpy())
    cut = ordered[min(len(ordered) - 1, int(np.floor(len(ordered) * (1 - fraction))))]
    # Every row at or after the cut-off time is evaluation, so rows sharing a timestamp
    # never straddle the boundary (which would leak the evaluation period).
    is_eval = (times >= cut).to_numpy()
    positions = np.arange(len(frame), dtype=np.int64)
    return Split(
        train=positions[~is_eval],
        eval=positions[is_eval],
        method="time",
        eval_start=pd.Timestamp(cut),
    )


def as_times(values: pd.Series, *, name: str) -> pd.Series:
    """``values`` as timestamps (parsed when stored as text).

    Raises:
        SpecError: when values are not timestamps.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise SpecError(f"time column {name!r} has values that are not timestamps in rows {rows}")
    return parsed
