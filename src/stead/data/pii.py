"""PII in snapshots: ``[columns] pii`` stored as keyed hashes, never as the raw values.

A snapshot hashes its PII columns when it is taken, with the prediction log's
:class:`~stead.data.sanitize.Sanitizer` and the workspace's one key, so the same
customer hashes the same in every snapshot and in the log: joins by id, per-entity
splits and contamination checks still work, and nobody holding the Parquet without the
key can read or test guesses against the values. ``[data] keep_raw_pii = true`` keeps
them raw, and ``[retention] raw_pii`` then says how long.

Hashing is idempotent: a value that already has the form of a keyed hash (64 lowercase
hex digits) is kept, so a frame built from hashed snapshots and the log (retraining) is
not hashed twice. A raw value of exactly that form is indistinguishable from a hash and
is stored as given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from stead.data.sanitize import Sanitizer, is_keyed_hash


def pii_columns(frame: pd.DataFrame, sanitizer: Sanitizer) -> list[str]:
    """The frame's columns the sanitizer treats as PII (case-insensitive names)."""
    return [str(c) for c in frame.columns if sanitizer.is_pii(str(c))]


def pseudonymise(frame: pd.DataFrame, sanitizer: Sanitizer) -> pd.DataFrame:
    """``frame`` with every PII column replaced by its keyed hashes (nulls stay null).

    The input frame is not changed; a frame without PII columns is returned as is.
    """
    columns = pii_columns(frame, sanitizer)
    if not columns:
        return frame
    out = frame.copy()
    for name in columns:
        out[name] = hash_series(frame[name], sanitizer)
    return out


def hash_series(series: pd.Series, sanitizer: Sanitizer) -> pd.Series:
    """Each value's keyed hash, computed once per distinct value."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    hashed = [_hashed(plain(v), sanitizer) for v in uniques]
    table = np.array([*hashed, None], dtype=object)  # code -1 (null) reads the last one
    return pd.Series(table[codes], index=series.index, name=series.name, dtype=object)


def _hashed(value: Any, sanitizer: Sanitizer) -> str:
    return value if is_keyed_hash(value) else sanitizer.hash_value(value)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value a JSON request would carry (``5``, not ``5.0``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def stored_forms(value: Any, sanitizer: Sanitizer) -> set[str]:
    """Every text a raw ``value`` may be stored as: itself and its keyed hash.

    Used by erasure to find a subject's cells in snapshots kept raw or hashed and in the
    prediction log (which holds the hash, or the value's JSON text for a non-text value).
    """
    value = plain(value)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return {text, sanitizer.hash_value(value)}


def matches(values: Iterable[Any], forms: set[str]) -> np.ndarray:
    """A mask of the values equal (as text) to one of ``forms``."""
    out = []
    for value in values:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append(False)
            continue
        value = plain(value)
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out.append(text in forms)
    return np.array(out, dtype=bool)
