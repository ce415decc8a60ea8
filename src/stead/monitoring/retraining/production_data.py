"""The data a retrain learns from: labelled production predictions as training rows.

Inputs come from the prediction log, labels from feedback. A label counts once per
request (a correction replaces it) and only for a request that a production or canary
model answered without error: a refused or failed request has no answer to learn from,
and a fallback's answer says nothing about the model. The rows are split by the time of
the prediction into those *older* than ``[retraining] evaluation_window`` and the
*window* (the newest ones), the backtest's evaluation rows; every count of what was
used, held out or skipped, and why, is kept with the rows so the retrain can say it
(:meth:`ProductionRows.describe`), naming the setting to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, select

from stead.monitoring.signals.performance import ANSWERED
from stead.predictions.feedback import FeedbackService
from stead.predictions.layout import INPUTS
from stead.predictions.service import PredictionService
from stead.predictions.tables import FeedbackRow
from stead.predictions.window_reader import PRIMARY, LogWindows

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.monitoring.settings import RetrainingSettings
    from stead.registry.version import ModelVersion
    from stead.training.spec import RunSpec

MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class ProductionRows:
    """Labelled production predictions as training rows, and what was left out and why.

    ``older`` and ``window`` hold the rows (the training data's columns, oldest first);
    ``skipped`` maps a reason to how many labelled requests it left out; ``unlabelled``
    counts logged predictions without a label yet.
    """

    older: pd.DataFrame
    window: pd.DataFrame
    window_setting: str
    include_feedback: bool
    skipped: dict[str, int] = field(default_factory=dict)
    unlabelled: int = 0

    @property
    def labelled(self) -> int:
        return len(self.older) + len(self.window)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labelled": self.labelled,
            "older": len(self.older),
            "window": len(self.window),
            "evaluation_window": self.window_setting,
            "include_feedback": self.include_feedback,
            "skipped": dict(self.skipped),
            "unlabelled": self.unlabelled,
        }

    def describe(self, *, backtest: bool, min_rows: int) -> str:
        """What was used, held out and skipped, in a sentence a user can act on."""
        window = f"[retraining] evaluation_window = {self.window_setting}"
        text = f"{self.labelled:,} labelled production rows"
        if not self.include_feedback:
            text += " (none trained on: [retraining] include_feedback = false)"
        if backtest:
            trained = len(self.older) if self.include_feedback else 0
            text += (
                f": {len(self.window):,} newer than {window} held out as the backtest "
                f"window, {trained:,} older ones in the backtest's training data"
            )
            if self.include_feedback:
                text += f"; the registered version was refitted on all {self.labelled:,}"
                if self.older.empty:
                    text += (
                        f" (all are younger than {window}: the backtest candidate learned "
                        "none of them; shorten the window for a backtest that has learned "
                        "from older production rows)"
                    )
        elif self.labelled:
            text += (
                f": only {len(self.window):,} in the last {window} (min "
                f"[retraining] min_evaluation_rows = {min_rows}), too few to backtest on; "
                + ("all were trained on, " if self.include_feedback else "")
                + "and the checklist compares on the candidate's own evaluation rows"
            )
        skipped = [f"{n:,} {why}" for why, n in self.skipped.items() if n]
        if skipped:
            text += "; skipped " + ", ".join(skipped)
        if self.unlabelled:
            text += f"; {self.unlabelled:,} logged predictions have no label yet"
        return text


def read_production_rows(
    ctx: Context,
    endpoint: str,
    production: ModelVersion,
    spec: RunSpec,
    settings: RetrainingSettings,
    *,
    predictions: PredictionService,
    feedback: FeedbackService,
) -> ProductionRows:
    """The labelled production predictions of ``endpoint`` as rows of ``spec``'s data."""
    empty = pd.DataFrame()
    nothing = ProductionRows(
        older=empty,
        window=empty,
        window_setting=settings.evaluation_window,
        include_feedback=settings.include_feedback,
    )
    with ctx.store.read() as session:
        low, high = session.execute(
            select(func.min(FeedbackRow.predicted_at), func.max(FeedbackRow.predicted_at)).where(
                FeedbackRow.endpoint == endpoint
            )
        ).one()
    if low is None:
        return nothing
    until = high + MICROSECOND
    labels = feedback.read(endpoint, low, until)
    requests = labels["request_id"].nunique()
    labels = labels[labels["role"].isin(ANSWERED) & labels["error"].isna()]
    labels = labels.drop_duplicates("request_id", keep="last")[["request_id", "label"]]
    log = LogWindows(predictions.directory, endpoint).read(low, until).to_pandas()
    primary = log[log["role"].isin(PRIMARY)]
    unique = primary.drop_duplicates("request_id", keep="last")
    joined = unique.merge(labels, on="request_id", how="inner")
    skipped = {
        "refused or failed requests (no answer to learn from)": requests - len(labels),
        "answered by the fallback or missing from the log": len(labels) - len(joined),
        "duplicate log entries": int(primary["request_id"].isin(labels["request_id"]).sum())
        - int(unique["request_id"].isin(labels["request_id"]).sum()),
    }
    rows = _as_training_rows(joined, production, spec)
    if rows.empty:
        return ProductionRows(
            older=empty,
            window=empty,
            window_setting=settings.evaluation_window,
            include_feedback=settings.include_feedback,
            skipped=skipped,
            unlabelled=len(unique) - len(joined),
        )
    cut = rows["__time"].max() - settings.evaluation_period
    in_window = rows["__time"] > cut
    return ProductionRows(
        older=rows[~in_window].drop(columns="__time").reset_index(drop=True),
        window=rows[in_window].drop(columns="__time").reset_index(drop=True),
        window_setting=settings.evaluation_window,
        include_feedback=settings.include_feedback,
        skipped=skipped,
        unlabelled=len(unique) - len(joined),
    )


def with_rows(base: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """``base`` plus ``extra`` (production rows) in ``base``'s columns and types."""
    if extra.empty:
        return base
    columns = [c for c in extra.columns if c in base.columns]
    return pd.concat([base[columns], aligned(extra, base)], ignore_index=True)


def aligned(rows: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``rows`` in ``like``'s columns, each cast to ``like``'s type where it fits, so that
    rows with the same values fingerprint alike."""
    columns = [c for c in rows.columns if c in like.columns]
    return pd.DataFrame({c: _cast_like(rows[c], like[c]) for c in columns})


def _as_training_rows(
    joined: pd.DataFrame, production: ModelVersion, spec: RunSpec
) -> pd.DataFrame:
    """Logged inputs and labels as rows of the training data's columns."""
    if joined.empty:
        return pd.DataFrame()
    rows = pd.DataFrame(
        {c: joined[INPUTS + c].to_numpy() for c in production.input_columns if INPUTS + c in joined}
    )
    rows[spec.target] = joined["label"].to_numpy()
    moment = pd.to_datetime(joined["timestamp"], utc=True)
    if spec.time_column and spec.time_column not in rows:
        rows[spec.time_column] = moment.to_numpy()
    if spec.id_column and spec.id_column not in rows:
        # The entity the request was about when the server knew it, else the request.
        keys = joined["entity_key"].where(joined["entity_key"].notna(), joined["request_id"])
        rows[spec.id_column] = keys.astype(str).to_numpy()
    rows["__time"] = moment.to_numpy()
    # A canonical order. The log orders equal timestamps by arrival, which varies from
    # run to run (and a pinned clock makes every timestamp equal); the same labelled rows
    # must give the same snapshot, split and candidate. The id goes last: it may be a
    # request id or a keyed hash, neither of which should decide where a row lands.
    last = [spec.id_column] if spec.id_column and spec.id_column in rows else []
    order = ["__time", *[c for c in rows.columns if c not in ("__time", *last)], *last]
    return rows.sort_values(order, kind="stable", ignore_index=True)


def _cast_like(values: pd.Series, like: pd.Series) -> pd.Series:
    """Production values in the training column's type, when they fit it."""
    dtype = like.dtype
    try:
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pd.to_datetime(values, utc=True).astype(dtype)
        if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
            numbers = pd.to_numeric(values, errors="coerce")
            if pd.api.types.is_integer_dtype(dtype) and numbers.isna().any():
                return numbers
            return numbers.astype(dtype)
        if pd.api.types.is_bool_dtype(dtype):
            return values.map(lambda v: str(v).lower() in ("true", "1")).astype(dtype)
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values
