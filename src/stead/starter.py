"""What ``stead init`` writes: a commented ``stead.toml`` with every table the workflow
needs, a starter ``features.py`` and, from a data file, proposed column roles.

The proposal is a reading of names and values, never a decision: every proposed role is
written with the evidence that suggested it, for the user to confirm or change before the
first snapshot (a wrong id or target would be recorded in the snapshot's schema).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

DEFAULT_STORE_URL = "sqlite:///.stead/stead.db"
FEATURES_FILE = "features.py"
# Column names (split into lower-case words) that usually hold the role.
_ID_WORDS = {"id", "uuid", "key"}
_TIME_WORDS = {"date", "time", "timestamp", "datetime", "dteday", "day", "at", "ts"}
_TARGET_NAMES = {
    "target", "label", "y", "class", "outcome", "default", "defaulted", "churn", "churned",
    "fraud", "is_fraud", "purchase", "purchased", "bought", "response", "survived",
    "quality", "price", "sales", "count", "cnt", "demand",
}  # fmt: skip
_PII_WORDS = {
    "email", "mail", "phone", "mobile", "telephone", "address", "street", "ssn",
    "passport", "iban", "surname", "firstname", "lastname", "fullname", "birthdate", "dob",
}  # fmt: skip
_PII_NAMES = {"name", "first_name", "last_name", "full_name", "customer_name", "date_of_birth"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s\-().]{7,20}$")
# A numeric target with more distinct values than this is a regression target.
_MAX_CLASSES = 20


@dataclass(frozen=True)
class RoleProposal:
    """Column roles read from a data file, each with the reason it was proposed."""

    source: str
    id: str | None = None
    time: str | None = None
    target: str | None = None
    task: str | None = None
    target_candidates: list[str] = field(default_factory=list)
    pii: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # free text: not a feature as it is
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [f"proposed column roles from {self.source} (confirm them in stead.toml):"]
        for role in ("id", "time", "target"):
            name = getattr(self, role)
            if name is not None:
                lines.append(f"  {role}: {name} ({self.reasons[name]})")
        for name in self.pii:
            lines.append(f"  pii: {name} ({self.reasons[name]})")
        if self.target is None:
            lines.append("  target: none found; set [columns] target yourself")
        elif self.task is not None:
            lines.append(f"  task: {self.task} ({self.reasons['task']})")
        lines.append(
            f"  features: {len(self.numeric)} numeric, {len(self.categorical)} categorical"
            + (f"; left out (free text): {', '.join(self.left_out)}" if self.left_out else "")
            + " (in features.py)"
        )
        lines.append("next: write [project], then uncomment [features] and [training]")
        return "\n".join(lines)


def propose_roles(frame: pd.DataFrame, *, source: str, max_levels: int = 50) -> RoleProposal:
    """Propose id, time, target, PII and feature columns for ``frame``."""
    reasons: dict[str, str] = {}
    names = [str(name) for name in frame.columns]
    pii = [name for name in names if _pii_reason(name, frame[name], reasons)]
    rest = [name for name in names if name not in pii]

    def id_reason(name: str) -> str | None:
        return _id_reason(name, frame[name])

    def time_reason(name: str) -> str | None:
        return _time_reason(name, frame[name])

    id_column = _pick(rest, id_reason, reasons)
    time_column = _pick([n for n in rest if n != id_column], time_reason, reasons)
    roles = {id_column, time_column} - {None}
    candidates = [n for n in rest if n not in roles and _words(n) & _TARGET_NAMES]
    target = candidates[0] if candidates else None
    task = None
    if target is not None:
        reasons[target] = "its name is a usual name of a target"
        task, reasons["task"] = _task_of(frame[target])
    numeric: list[str] = []
    categorical: list[str] = []
    left_out: list[str] = []
    for name in rest:
        if name in roles or name == target:
            continue
        column = frame[name]
        if pd.api.types.is_bool_dtype(column.dtype):
            categorical.append(name)
        elif pd.api.types.is_numeric_dtype(column.dtype):
            numeric.append(name)
        elif pd.api.types.is_datetime64_any_dtype(column.dtype):
            left_out.append(name)
        elif column.nunique(dropna=True) <= max_levels:
            categorical.append(name)
        else:
            left_out.append(name)
    return RoleProposal(
        source=source,
        id=id_column,
        time=time_column,
        target=target,
        task=task,
        target_candidates=candidates,
        pii=pii,
        numeric=numeric,
        categorical=categorical,
        left_out=left_out,
        reasons=reasons,
    )


def _words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    words = {w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w}
    return words | {name.lower()}


def _pick(
    names: list[str], reason_of: Callable[[str], str | None], reasons: dict[str, str]
) -> str | None:
    for name in names:
        reason = reason_of(name)
        if reason is not None:
            reasons[name] = reason
            return name
    return None


def _pii_reason(name: str, column: pd.Series, reasons: dict[str, str]) -> bool:
    if name.lower() in _PII_NAMES or _words(name) & _PII_WORDS:
        reasons[name] = "its name suggests personal data"
        return True
    if not pd.api.types.is_string_dtype(column.dtype):
        return False
    sample = column.dropna().astype(str).head(200)
    if sample.empty:
        return False
    for pattern, what in ((_EMAIL, "e-mail addresses"), (_PHONE, "phone numbers")):
        matches = sample.str.match(pattern)
        if what == "phone numbers":
            matches &= sample.str.count(r"\d") >= 7
        if matches.mean() >= 0.8:
            reasons[name] = f"{matches.mean():.0%} of its values look like {what}"
            return True
    return False


def _id_reason(name: str, column: pd.Series) -> str | None:
    words = _words(name)
    is_key = pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_string_dtype(
        column.dtype
    )
    if not is_key or not (words & _ID_WORDS or name.lower().endswith("id")):
        return None
    distinct = column.nunique(dropna=True) / max(len(column), 1)
    if distinct == 1.0:
        return "its name ends in id and every value is distinct"
    return f"its name ends in id ({distinct:.0%} of values distinct: an entity seen more than once)"


def _time_reason(name: str, column: pd.Series) -> str | None:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return "it holds timestamps"
    return "its name suggests a time" if _words(name) & _TIME_WORDS else None


def _task_of(column: pd.Series) -> tuple[str, str]:
    distinct = column.nunique(dropna=True)
    if distinct == 2:
        return "binary", "the target has 2 values"
    numeric = pd.api.types.is_numeric_dtype(column.dtype)
    if numeric and (distinct > _MAX_CLASSES or not _whole(column)):
        return "regression", f"the target is numeric with {distinct} values"
    return "multiclass", f"the target has {distinct} values"


def _whole(column: pd.Series) -> bool:
    values = column.dropna()
    return bool((values == values.round()).all())


def settings_text(
    name: str,
    *,
    admin: str,
    store_url: str | None = None,
    proposal: RoleProposal | None = None,
) -> str:
    """The commented ``stead.toml`` of a new workspace; ``admin`` is its first admin."""
    url = json.dumps(store_url or DEFAULT_STORE_URL)
    return _SETTINGS.format(
        name=json.dumps(name),
        admin=json.dumps(admin),
        store_url=url,
        columns=_columns_table(proposal),
        project=_project_table(name, proposal),
        features=_FEATURES_TABLE,
        training=_training_table(proposal),
    )


def features_text(proposal: RoleProposal | None = None) -> str:
    """A starter ``features.py``: scaled numeric and one-hot categorical columns."""
    numeric = proposal.numeric if proposal else []
    categorical = proposal.categorical if proposal else []
    where = f"proposed from {proposal.source}" if proposal else "fill these in"
    return _FEATURES.format(
        where=where, numeric=_py_list(numeric), categorical=_py_list(categorical)
    )


def _py_list(names: list[str]) -> str:
    if not names:
        return "[]"
    return "[\n" + "".join(f"    {json.dumps(n)},\n" for n in names) + "]"


_ROLE_EXAMPLES = {
    "id": ('"customer_id"', "entity key: split contamination checks, sticky canaries"),
    "time": ('"applied_at"', "time-based splits and temporal leakage checks"),
    "target": ('"default"', "what the model predicts"),
    "pii": ('["name", "email"]', "never a feature, never stored or logged raw"),
    "post_prediction": ("[]", "known only after prediction time: never a feature"),
}


def _columns_table(proposal: RoleProposal | None) -> str:
    if proposal is None:
        lines = ["[columns]", "# Roles of columns in your data."]
    else:
        lines = [
            "[columns]",
            f"# Proposed from {proposal.source}: confirm or change each before a snapshot.",
        ]
    for role, (example, meaning) in _ROLE_EXAMPLES.items():
        value = getattr(proposal, role, None)
        if not value:
            lines.append(f"# {role} = {example}  # {meaning}")
        elif role == "pii":
            lines.append(f"pii = {json.dumps(value)}  # {meaning}")
            lines.extend(f"#   {name}: {proposal.reasons[name]}" for name in value)  # type: ignore[union-attr]
        else:
            lines.append(f"{role} = {json.dumps(value)}  # proposed: {proposal.reasons[value]}")  # type: ignore[union-attr]
    if proposal is not None and len(proposal.target_candidates) > 1:
        lines.append(f"# other target candidates: {', '.join(proposal.target_candidates[1:])}")
    return "\n".join(lines)


def _project_table(name: str, proposal: RoleProposal | None) -> str:
    task = proposal.task if proposal and proposal.task else "binary"
    return "\n".join(
        [
            "# [project]",
            "# The problem the model solves; its model cards start from here.",
            f"# name = {json.dumps(name)}",
            '# owner = "risk"                  # a team of [teams], or one identity',
            '# problem = "Predict which applicants default, to route them to manual review."',
            f'# task = "{task}"                 # binary, multiclass or regression',
            '# kpi = "Loss amount on approved loans"',
            '# assumptions = ["Applicants resemble those of the training months."]',
            '# intended_use = "Rank applications for review; never reject automatically."',
        ]
    )


# [features] and [training] need [project] (the task and the target), which only the
# user can write, so all three stay comments until then, with what could be drafted.
_FEATURES_TABLE = (
    "# [features]\n"
    "# The feature set: a function in features.py (next to this file) returning a\n"
    "# scikit-learn ColumnTransformer; `stead init` wrote a starter one.\n"
    '# definition = "features:build"'
)


def _training_table(proposal: RoleProposal | None) -> str:
    snapshot = Path(proposal.source).stem if proposal else "credit"
    task = proposal.task if proposal and proposal.task else "binary"
    kind = "Regressor" if task == "regression" else "Classifier"
    lines = [
        "# [training]",
        f'# snapshot = "{snapshot}"  # a snapshot name (its latest) or NAME@N',
        f'# estimator = "sklearn.ensemble.HistGradientBoosting{kind}"',
        "# seed = 42",
    ]
    if proposal and proposal.time:
        lines += [
            "# [training.split]",
            f"# {proposal.time} is the time column: evaluate on the latest rows.",
            '# method = "time"',
        ]
    return "\n".join(lines)


_SETTINGS = """\
# stead workspace settings. Every key can be overridden by an environment variable
# named STEAD_<TABLE>_<KEY>, e.g. STEAD_STORE_URL. Tables written as comments take their
# defaults (or are not configured yet): uncomment one to set it.

[workspace]
name = {name}

[store]
# The metadata database. SQLite (WAL mode) is the embedded default; for more than one
# machine use PostgreSQL: url = "postgresql+psycopg://user@host:5432/stead"
url = {store_url}
# Seconds a writer waits for another writer before giving up.
lock_timeout = 30.0

[artifacts]
# Content-addressed artifacts: a local directory or any fsspec URL.
url = ".stead/artifacts"

[signing]
# Ed25519 key that signs model manifests; keep it outside the workspace in production.
key_path = ".stead/signing_key.pem"

[audit]
# HMAC key that signs the audit trail's head; keep it off the database's host in production.
key_path = ".stead/audit.key"
# An append-only JSON-lines copy of every audit event, outside the database (optional).
# export = "/var/log/stead/audit.jsonl"

{columns}

[teams]
# Who belongs to which team; a model's owner is a team (or one identity).
# risk = ["alice", "bob"]

[auth]
# Identities allowed to override gates and manage tokens; `stead init` names its creator.
# With no admin, nobody may do either.
admins = [{admin}]
# Token checks on the HTTP server: "auto" = on unless it listens on loopback only.
enabled = "auto"

[data]
# A text column with more distinct values than this is not treated as categorical.
max_levels = 50
# Quantile bins kept per numeric column as the drift reference.
profile_bins = 20
# Snapshots store [columns] pii as keyed hashes; true keeps raw values (see docs/data.md).
keep_raw_pii = false

[validation]
# Widen each column's reference range by this fraction of its span before flagging.
range_tolerance = 0.0
# Out-of-range rows up to this fraction are a warning, above it an error.
max_out_of_range_rate = 0.01
# Text values never seen in the reference: "error" refuses them, "warn" reports them.
unseen_categories = "error"

# [serving]
# A value outside the training range: "warn" answers it, flagged in the answer and the
# prediction log; "error" refuses the request (422). Infinity is refused either way.
# out_of_range = "warn"

{project}

{features}

{training}

# [monitoring]
# The window each monitoring run reads from the prediction log (default "1d").
# window = "1d"
# Features to watch; empty: every input of the production version.
# features = []

# [alerts]
# Where alerts go: "stdout", "log", {{ type = "file", path = "alerts.jsonl" }} or a
# webhook, e.g. {{ type = "webhook", url = "https://hooks.example.com/stead" }}.
# sinks = ["stdout"]
"""

_FEATURES = '''\
"""The feature set: `[features] definition = "features:build"` in stead.toml.

`build()` returns an unfitted scikit-learn ColumnTransformer; stead fits it inside each
training run, so its statistics come from the training rows only.
Column lists: {where}.
"""

from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = {numeric}
CATEGORICAL = {categorical}


def build() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
'''
