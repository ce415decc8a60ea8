"""A monitored credit endpoint: the demo's data, a model trained on months 1–6, deployed,
and months 1–9 of traffic logged through the real prediction log writer.

Months 7–9 drift (incomes fall, a ``mobile`` channel appears) and the relation between
debt ratio and default weakens (concept drift), so the model really gets worse there.
Labels are known 60 days after each application; :func:`ingest_labels` sends those known
at a given time through ``ws.feedback``. Built once per session and copied per test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from stead.demo.credit import generate_applications
from stead.predictions.outputs import output_dicts, predict_table
from stead.predictions.record import PredictionRecord
from stead.workspace import Workspace
from tests.once import once_per_run
from tests.stores import on_backend
from tests.training.projects import set_tables

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = START + timedelta(days=272)  # every month of traffic complete, month 7 labelled
PER_MONTH = 300
ENDPOINT = "credit"
ACTOR = "demo-analyst"
MONITORING: dict[str, Any] = {
    "monitoring": {"window": "150", "grace": "1m"},
    "monitoring.performance": {"min_labels": 100, "estimate_min_rows": 100},
    "policy": {"decay_windows": 2},
    "alerts": {"sinks": [{"type": "file", "path": "alerts.jsonl"}]},
    "retraining": {"automatic": False, "evaluation_window": "20d", "min_evaluation_rows": 50},
    "kpis.loss": {"source": "loss_amount", "aggregate": "sum"},
    # The demo's fallback is a logistic regression, as good as the trees on this little
    # data (and better once the concept drifts): a prior keeps the gate about the model.
    "training.baseline": {"estimator": "sklearn.dummy.DummyClassifier", "params": {}},
}


def applications() -> pd.DataFrame:
    return generate_applications(per_month=PER_MONTH)


# The demo's credit project, kept here so that these tests do not move with the demo.
PROJECT = """
[columns]
id = "application_id"
time = "applied_at"
target = "defaulted"
pii = ["name", "email"]
post_prediction = ["loss_amount", "label_known_at", "collections_flag"]

[teams]
risk = ["demo-analyst", "demo-lead"]

[auth]
admins = ["demo-lead"]
enabled = "auto"

[project]
name = "credit-default"
owner = "risk"
problem = "Predict which loan applicants will default, to route risky ones to manual review."
task = "binary"
kpi = "Loss amount on approved loans"
assumptions = ["Applicants resemble those of the training months."]
intended_use = "Rank applications for manual review; never reject automatically."
limitations = ["Trained on six months of history."]

[features]
definition = "features:build"

[training]
snapshot = "credit"
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = { max_iter = 30, learning_rate = 0.08 }
seed = 42
metrics = ["roc_auc", "accuracy", "log_loss"]

[training.split]
method = "time"
eval_fraction = 0.2
"""
FEATURES = """
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["age", "income", "employment_years", "loan_amount", "loan_term_months",
           "debt_ratio", "credit_history_years", "open_accounts"]
CATEGORICAL = ["region", "channel", "purpose"]


def build():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
"""


def write_settings(root: Path, extra: dict[str, Any] | None = None) -> None:
    """The credit project's tables plus monitoring's, and ``extra``."""
    text = (root / "stead.toml").read_text()
    for table in re.findall(r"^\[([^\].]+)\]", PROJECT, flags=re.MULTILINE):
        text = re.sub(rf"^\[{table}\]\n(?:(?!^\[).*\n?)*", "", text, flags=re.MULTILINE)
    (root / "stead.toml").write_text(text + PROJECT)
    (root / "features.py").write_text(FEATURES)
    set_tables(root, {**MONITORING, **(extra or {})})


def log_traffic(
    ws: Workspace,
    frame: pd.DataFrame,
    *,
    model: str = "credit@1",
    role: str = "production",
    revision: int = 1,
    endpoint: str = ENDPOINT,
    inputs: dict[str, Any] | None = None,
    error: str | None = None,
    outputs: dict[str, Any] | None = None,
) -> list[str]:
    """Predict ``frame`` with ``model`` and log it at each application's time (sync)."""
    loaded = ws.models.load(model)
    rows = frame[loaded.input_columns]
    answers = output_dicts(predict_table(loaded.pipeline, rows, loaded.version.output))
    records = []
    ids = [f"rq-{a}" for a in frame["application_id"]]
    for i, (record, when) in enumerate(
        zip(rows.to_dict("records"), frame["applied_at"], strict=True)
    ):
        records.append(
            PredictionRecord(
                request_id=ids[i],
                timestamp=when.to_pydatetime(),
                endpoint=endpoint,
                revision=revision,
                model_version=model,
                role=role,  # type: ignore[arg-type]
                feature_set_version=loaded.version.feature_set_version,
                snapshot=loaded.version.snapshot_ref,
                inputs={**{str(k): v for k, v in record.items()}, **(inputs or {})},
                outputs=outputs if outputs is not None else answers[i],
                latency_ms=2.0 + i % 5,
                error=error,
                entity_key=str(frame["application_id"].iloc[i]),
            )
        )
    with ws.predictions.open_log(mode="sync") as plog:
        plog.log_many(records)
    return ids


def ingest_labels(ws: Workspace, data: pd.DataFrame, known_by: datetime) -> int:
    """Send the labels (and loss) known by ``known_by``; returns how many."""
    known = data[data["label_known_at"] <= known_by]
    feedback = pd.DataFrame(
        {
            "request_id": "rq-" + known["application_id"],
            "label": known["defaulted"].to_numpy(),
            "loss_amount": known["loss_amount"].to_numpy(),
        }
    )
    ws.feedback.ingest_frame(ENDPOINT, feedback, source="test labels")
    return len(feedback)


@pytest.fixture(scope="session", name="monitored_template")
def _monitored_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory, _ = once_per_run(tmp_path_factory, "monitored", _build_monitored)
    return directory / "ws"


def _build_monitored(directory: Path) -> None:
    root = directory / "ws"
    Workspace.init(root, actor=ACTOR)
    write_settings(root)
    data = applications()
    with Workspace.open(root, actor=ACTOR) as ws:
        ws.datasets.snapshot(data[data["applied_at"] < START + timedelta(days=180)], name="credit")
        run = ws.runs.train().run
        ref = ws.models.register(run.id, name="credit").version.ref
        ws.runs.reproduce(run.id)
        ws.models.promote(ref, to="production", reason="first model")
        ws.endpoints.deploy(ENDPOINT, ref, reason="first deployment")
        log_traffic(ws, data)


@pytest.fixture(name="monitored_dir")
def _monitored_dir(
    monitored_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    request: pytest.FixtureRequest,
) -> Path:
    """A fresh copy, with the clock at the end of month 9 and the demo's actor."""
    target = tmp_path / "ws"
    shutil.copytree(monitored_template, target)
    monkeypatch.setenv("STEAD_NOW", NOW.isoformat())
    monkeypatch.setenv("STEAD_ACTOR", ACTOR)
    return on_backend(target, backend, request)


@pytest.fixture(name="mws")
def _mws(monitored_dir: Path) -> Iterator[Workspace]:
    with Workspace.open(monitored_dir) as ws:
        yield ws


@pytest.fixture(name="data", scope="session")
def _data() -> pd.DataFrame:
    return applications()
