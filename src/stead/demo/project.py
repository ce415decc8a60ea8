"""The demo's project files: its stead.toml tables and its feature-set code.

They are written into the demo workspace as a user would write them, so the demo
exercises exactly the path a real project takes (feature code versioned from source).
"""

from __future__ import annotations

NUMERIC = [
    "age",
    "income",
    "employment_years",
    "loan_amount",
    "loan_term_months",
    "debt_ratio",
    "credit_history_years",
    "open_accounts",
]
CATEGORICAL = ["region", "channel", "purpose"]
LEAKY = "collections_flag"

PROJECT_SETTINGS = """
[columns]
id = "application_id"
time = "applied_at"
target = "defaulted"
pii = ["name", "email"]
# Known only after the outcome; collections_flag is (wrongly) not listed: the leakage
# check has to catch it.
post_prediction = ["loss_amount", "label_known_at"]

[validation]
# New categories (a new sales channel) are reported and monitored, not refused: the
# one-hot encoder ignores what it has not seen.
unseen_categories = "warn"
# An applicant poorer than any seen before is still answered; the monitor tracks how
# often values fall outside the training range.
max_out_of_range_rate = 1.0

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
assumptions = [
    "Applicants resemble those of the training months.",
    "Income is self-reported and verified for large loans.",
    "Labels arrive 60 days after the application.",
]
intended_use = "Rank applications for manual review; never reject automatically."
limitations = ["Not validated for business loans.", "Trained on six months of history."]

[features]
definition = "features:build"

[training]
snapshot = "credit"
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = {max_iter}, learning_rate = 0.08 }}
seed = 42
metrics = ["roc_auc", "accuracy", "log_loss"]

[training.split]
method = "random"
eval_fraction = 0.25

[training.baseline]
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ C = 0.5, max_iter = 500 }}
"""

MONITORING_SETTINGS = """
[monitoring]
window = "1d"

[monitoring.performance]
min_labels = 100

[retraining]
automatic = true
include_feedback = true
evaluation_window = "20d"
min_evaluation_rows = 100
auto_canary = true
canary_share = 20.0
auto_promote = false

[alerts]
sinks = [
    {{ type = "webhook", url = "{webhook}" }},
    {{ type = "file", path = ".stead/alerts.jsonl" }},
]
"""


def features_source(*, leaky: bool) -> str:
    """The project's ``features.py``; the first draft wrongly uses the leaky column."""
    numeric = [*NUMERIC, LEAKY] if leaky else NUMERIC
    return f'''"""Feature set of the credit-default project."""

from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = {numeric!r}
CATEGORICAL = {CATEGORICAL!r}


def build():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
'''
