"""What a model answers per record, as columns and as the dicts the prediction log keeps.

A classifier with probabilities answers ``prediction`` (the most probable class, in the
order of the version's ``classes``) and ``probabilities.<class>``; one without answers
``prediction`` only; a regressor answers ``value``. The column names are the log's
``outputs.*`` names without the prefix, so a batch-scoring output file and a window of
the log read the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

PREDICTION = "prediction"
PROBABILITIES = "probabilities"
VALUE = "value"


def predict_table(pipeline: Any, frame: pd.DataFrame, output: dict[str, Any]) -> pa.Table:
    """Run ``pipeline`` on ``frame`` and return one row of outputs per input row.

    Args:
        pipeline: a fitted pipeline taking the version's input columns.
        frame: the input rows.
        output: the version's output description (``task``, ``classes``, ``scores``).
    """
    if output.get("task") == "regression":
        values = np.asarray(pipeline.predict(frame), dtype=np.float64)
        return pa.table({VALUE: pa.array(values, pa.float64())})
    classes = list(output.get("classes") or [])
    if output.get("scores") == "probabilities":
        scores = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
        chosen = np.argmax(scores, axis=1)
        columns: dict[str, pa.Array] = {PREDICTION: pa.array([classes[i] for i in chosen])}
        for position, label in enumerate(classes):
            columns[f"{PROBABILITIES}.{label}"] = pa.array(scores[:, position], pa.float64())
        return pa.table(columns)
    labels = [v.item() if isinstance(v, np.generic) else v for v in pipeline.predict(frame)]
    return pa.table({PREDICTION: pa.array(labels)})


def score_chunk(pipeline: Any, chunk: pd.DataFrame, output: dict[str, Any]) -> pa.Table:
    """:func:`predict_table` under one BLAS thread: a matrix product's summation order then
    does not depend on the machine's thread count, so every engine gives the same bits."""
    with threadpool_limits(limits=1, user_api="blas"):
        return predict_table(pipeline, chunk, output)


def output_dicts(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of a :func:`predict_table` result as the log's ``outputs`` dicts."""
    rows: list[dict[str, Any]] = []
    names = table.column_names
    nested = [n for n in names if n.startswith(PROBABILITIES + ".")]
    flat = [n for n in names if n not in nested]
    columns = {n: table.column(n).to_pylist() for n in names}
    for i in range(table.num_rows):
        row: dict[str, Any] = {n: columns[n][i] for n in flat}
        if nested:
            row[PROBABILITIES] = {n[len(PROBABILITIES) + 1 :]: columns[n][i] for n in nested}
        rows.append(row)
    return rows
