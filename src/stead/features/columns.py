"""Which input columns a feature transformer reads, found before it is fitted.

stead needs the answer before training: to refuse a PII or post-prediction column used
as a feature, to check each feature for target leakage, and to give serving an input
contract of exactly the columns the model reads. Columns must be selected by *name*
(strings, lists of strings or ``make_column_selector``); positional selections are refused
because the positions would silently change with the data's column order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import FeatureUnion, Pipeline

from stead.core.errors import SpecError


def input_columns(transformer: Any, frame: pd.DataFrame, *, source: str) -> list[str]:
    """The columns of ``frame`` that ``transformer`` reads, in the frame's order.

    Args:
        transformer: an unfitted transformer from a feature definition.
        frame: the candidate columns (the snapshot without its target).
        source: how to name the data in errors (``snapshot credit@3``).

    Raises:
        SpecError: a selected column is missing from ``frame``, or columns are selected
            by position.
    """
    used = _used(transformer, frame, source=source)
    return [str(c) for c in frame.columns if c in used]


def _used(transformer: Any, frame: pd.DataFrame, *, source: str) -> set[str]:
    if isinstance(transformer, Pipeline):
        for _name, step in transformer.steps:
            if step is None or step == "passthrough":
                continue
            return _used(step, frame, source=source)
        return set(map(str, frame.columns))
    if isinstance(transformer, FeatureUnion):
        used: set[str] = set()
        for _name, part in transformer.transformer_list:
            if part == "drop":
                continue
            used |= _used(part, frame, source=source)
        return used
    if isinstance(transformer, ColumnTransformer):
        return _column_transformer(transformer, frame, source=source)
    # Any other transformer reads every column it is given.
    return set(map(str, frame.columns))


def _column_transformer(ct: ColumnTransformer, frame: pd.DataFrame, *, source: str) -> set[str]:
    used: set[str] = set()
    listed: set[str] = set()
    for name, part, selection in ct.transformers:
        columns = _select(selection, frame, step=name, source=source)
        listed |= columns
        if not (isinstance(part, str) and part == "drop"):
            used |= columns
    remainder = ct.remainder
    if not (isinstance(remainder, str) and remainder == "drop"):
        used |= set(map(str, frame.columns)) - listed
    return used


def _select(selection: Any, frame: pd.DataFrame, *, step: str, source: str) -> set[str]:
    if callable(selection):
        selection = selection(frame)
    if isinstance(selection, str):
        names: Sequence[Any] = [selection]
    elif isinstance(selection, (list, tuple, pd.Index, np.ndarray)):
        names = list(selection)
    else:
        names = [selection]
    if any(not isinstance(n, str) for n in names):
        raise SpecError(
            f"feature step {step!r} selects columns by position or mask ({selection!r}); "
            "select them by name (a list of column names or make_column_selector) so that "
            "stead can check which columns are features"
        )
    missing = [n for n in names if n not in frame.columns]
    if missing:
        available = ", ".join(map(str, frame.columns))
        raise SpecError(
            f"feature step {step!r} uses column(s) {', '.join(map(repr, missing))} that "
            f"{source} does not have (or that is the target); its columns are: {available}"
        )
    return set(names)


def output_columns(fitted: Any) -> list[str] | None:
    """The fitted transformer's output feature names, when it can tell."""
    try:
        return [str(n) for n in fitted.get_feature_names_out()]
    except Exception:  # many transformers cannot name their outputs; that is fine
        return None
