"""Generated data shaped like public datasets where leaks and bad defaults were found.

- :func:`bike_frame`: hourly bike rentals (regression), where ``bikers = casual +
  registered`` and a "bikers_estimate" column is the target with noise (|r| ≈ 0.977).
- :func:`credit_frame`: monthly statements of recurring customers (binary), about 3 %
  defaults, with a ``month`` time column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stead.workspace import Workspace

from ..training.projects import PROJECT, write_project

PASSTHROUGH_FEATURES = """\
from sklearn.compose import ColumnTransformer

from columns import NUMERIC


def build():
    return ColumnTransformer([("num", "passthrough", NUMERIC)])
"""

BIKE_HONEST = ["hr", "temp", "hum", "windspeed", "workingday", "weathersit", "season"]
BIKE_PROJECT: dict[str, Any] = {
    **PROJECT,
    "name": "bikes",
    "task": "regression",
    "problem": "Predict the bikes rented in an hour.",
}
BIKE_TRAINING: dict[str, Any] = {
    "snapshot": "hourly",
    "estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
    "params": {"max_iter": 60},
    "seed": 3,
}
CREDIT_FEATURES = ["limit_bal", "age", "pay_delay", "bill_amt", "pay_amt"]
CREDIT_TRAINING: dict[str, Any] = {
    "snapshot": "statements",
    "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
    "params": {"max_iter": 40},
    "seed": 5,
}


def bike_frame(hours: int = 2400, seed: int = 0) -> pd.DataFrame:
    """Hourly rentals from weather, hour and working day; noise like real counts."""
    rng = np.random.default_rng(seed)
    when = pd.date_range("2011-01-01", periods=hours, freq="h")
    hr = when.hour.to_numpy()
    day = np.arange(hours) / 24.0
    season_temp = 0.5 - 0.3 * np.cos(2 * np.pi * (day - 20) / 365)
    daily = 0.08 * np.sin(2 * np.pi * (hr - 9) / 24)
    temp = np.clip(season_temp + daily + rng.normal(0, 0.06, hours), 0.02, 1.0)
    hum = np.clip(rng.normal(0.62, 0.18, hours), 0.1, 1.0)
    windspeed = np.clip(rng.gamma(2.0, 0.09, hours), 0.0, 0.85)
    workingday = (when.day_of_week.to_numpy() < 5).astype(int)
    weather = rng.choice([1, 2, 3], hours, p=[0.66, 0.26, 0.08])
    commute = np.exp(-((hr - 8) ** 2) / 2.0) + 0.9 * np.exp(-((hr - 17.5) ** 2) / 3.0)
    leisure = np.exp(-((hr - 14) ** 2) / 12.0)
    mood = (1.2 * temp - 0.5 * hum - 0.4 * (weather - 1) + 0.3).clip(0.05)
    registered = rng.poisson(40 + 700 * commute * workingday * mood + 180 * leisure * mood)
    casual = rng.poisson(5 + 320 * leisure * mood * (1.6 - workingday))
    frame = pd.DataFrame(
        {
            "when": when,
            "season": (when.month.to_numpy() % 12) // 3 + 1,
            "hr": hr,
            "workingday": workingday,
            "weathersit": weather,
            "temp": temp.round(3),
            "hum": hum.round(3),
            "windspeed": windspeed.round(3),
            "casual": casual,
            "registered": registered,
        }
    )
    frame["bikers"] = frame["casual"] + frame["registered"]
    # An "estimate" recorded with the count: the target plus noise, |r| ≈ 0.977.
    noise = np.random.default_rng(seed + 1).normal(0.0, 0.215 * frame["bikers"].std(), hours)
    frame["bikers_estimate"] = (frame["bikers"] + noise).round()
    return frame


def bike_workspace(
    root: Path,
    features: list[str],
    *,
    training: dict[str, Any] | None = None,
    columns: dict[str, Any] | None = None,
) -> Workspace:
    write_project(
        root,
        columns=columns or {"target": "bikers", "time": "when"},
        project=BIKE_PROJECT,
        training=training or BIKE_TRAINING,
        modules={"features.py": PASSTHROUGH_FEATURES, "columns.py": f"NUMERIC = {features!r}\n"},
    )
    ws = Workspace.open(root)
    ws.datasets.snapshot(bike_frame(), name="hourly")
    return ws


def credit_frame(customers: int = 500, months: int = 12, seed: int = 0) -> pd.DataFrame:
    """Monthly statements per customer; a default (about 3 %) follows payment delays."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(1000, 1000 + customers), months)
    month = np.tile(pd.date_range("2005-01-01", periods=months, freq="MS").to_numpy(), customers)
    limit = np.repeat(rng.choice([20, 50, 80, 120, 200, 360], customers) * 1000.0, months)
    age = np.repeat(rng.integers(21, 70, customers), months)
    habit = np.repeat(rng.normal(0.0, 1.0, customers), months)
    rows = customers * months
    pay_delay = np.clip(np.round(habit + rng.normal(0.0, 0.8, rows)), -1, 8)
    bill = np.clip(limit * rng.beta(2, 3, rows), 0, None).round()
    pay_amt = (bill * rng.beta(2, 5, rows) * (pay_delay <= 0)).round()
    logit = -3.7 + 0.9 * pay_delay - 0.4 * (limit / 100_000) + rng.normal(0.0, 0.5, rows)
    default = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "month": month,
            "limit_bal": limit,
            "age": age,
            "pay_delay": pay_delay,
            "bill_amt": bill,
            "pay_amt": pay_amt,
            "default": default,
        }
    )


def credit_workspace(
    root: Path,
    *,
    training: dict[str, Any] | None = None,
    frame: pd.DataFrame | None = None,
) -> Workspace:
    write_project(
        root,
        columns={"id": "customer_id", "target": "default", "time": "month"},
        training=training or CREDIT_TRAINING,
        modules={
            "features.py": PASSTHROUGH_FEATURES,
            "columns.py": f"NUMERIC = {CREDIT_FEATURES!r}\n",
        },
    )
    ws = Workspace.open(root)
    ws.datasets.snapshot(credit_frame() if frame is None else frame, name="statements")
    return ws
