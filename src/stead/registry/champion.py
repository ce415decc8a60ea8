"""Champion/challenger: both versions scored on the same rows that neither trained on.

The rows are the challenger's evaluation rows (read from its snapshot by the recorded
positions) minus every row the champion was trained on: a champion scored on its own
training rows would look far better than it is (a retrained challenger usually shares
data with it, and a different random split shares rows too). Rows are matched by the
content of the champion's input columns and the target (see :mod:`stead.registry.rows`).
With a random split, evaluation rows about an entity (``[columns] id``) the challenger
was also trained on are dropped too: a recurring customer's other rows teach the
challenger that customer, which flatters it. (Training refuses such a split by default,
through the ``contamination`` leakage check; accepted as a warning, the comparison still
must not reward it.) The champion's shared entities are kept:
they can only flatter the champion, which makes the gate stricter, never laxer. A time
split needs no such rule: serving a known customer later is what the model will do.
The champion is loaded, verified and run on those rows, and so is the challenger; both
are scored with the same metric.

A challenger refitted on all rows (``[training.split] refit``) has no unseen evaluation
rows, so it is not compared here; a retrain judges it on a backtest instead, recorded as
evidence with the version (see :mod:`stead.monitoring.retraining`), and the checklist
reads that.

A comparison depends only on the two versions (immutable and signed), the metric and
these rules, so its result is remembered in the workspace's state directory
(``.stead/cache/champion/``): ``promote`` and ``deploy`` after a ``checklist`` do not
load and score both models again. A remembered result is used only after both
versions' signatures and artifact hashes verify again, so an artifact altered since is
still refused; a damaged entry is ignored and the comparison recomputed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stead.core.ids import new_id
from stead.core.settings import STATE_DIR
from stead.features.sources import importing
from stead.registry.rows import same_entity, seen_by, training_rows
from stead.registry.settings import better
from stead.registry.version import ModelVersion

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.features.sources import SourceBundle
    from stead.registry.loading import VersionLoader
    from stead.training.service import RunService


# Below this many shared unseen rows a metric comparison says more about noise than models.
MIN_COMPARISON_ROWS = 50


def score_model(
    pipeline: Any,
    sources: SourceBundle,
    rows: pd.DataFrame,
    *,
    input_columns: list[str],
    task: str,
    target: str,
    metric: str,
    classes: np.ndarray,
    root: Path,
    positive: Any = None,
) -> float | None:
    """``metric`` of a loaded ``pipeline`` (run with the feature code of its run,
    ``sources``) on ``rows``; ``None`` when the metric cannot be computed there."""
    # Imported here: scikit-learn costs a metadata command (checklist, promote) a second.
    from stead.training.evaluation import evaluate, predict

    with importing(sources, root=root):
        predictions = predict(
            pipeline,
            rows[input_columns],
            task=task,  # type: ignore[arg-type]
            classes=classes,
        )
    return evaluate(
        rows[target].to_numpy(),
        predictions,
        task=task,  # type: ignore[arg-type]
        metrics=[metric],
        classes=classes,
        positive=positive,
    )[metric]


class NotComparable(Exception):
    """The champion cannot be scored on the challenger's rows (the reason says why)."""


@dataclass(frozen=True)
class ChampionComparison:
    champion: str
    challenger: str
    metric: str
    champion_value: float
    challenger_value: float
    rows: int
    # Which rows: the challenger's evaluation rows, or a retrain's backtest window.
    on: str = ""

    @property
    def advantage(self) -> float:
        """How much better the challenger is (negative when worse), in metric units."""
        return better(self.metric, self.challenger_value, self.champion_value)

    def describe(self) -> str:
        return (
            f"on {self.rows} {self.on or f'evaluation rows of {self.challenger}'}: {self.metric} "
            f"{self.challenger_value:.4f} vs production {self.champion} "
            f"{self.champion_value:.4f} (challenger {self.advantage:+.4f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "metric": self.metric,
            "champion_value": self.champion_value,
            "challenger_value": self.challenger_value,
            "advantage": self.advantage,
            "rows": self.rows,
            "on": self.on,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> ChampionComparison:
        return cls(
            champion=body["champion"],
            challenger=body["challenger"],
            metric=body["metric"],
            champion_value=float(body["champion_value"]),
            challenger_value=float(body["challenger_value"]),
            rows=int(body["rows"]),
            on=str(body.get("on") or ""),
        )


def compare_with_champion(
    ctx: Context,
    challenger: ModelVersion,
    champion: ModelVersion,
    *,
    metric: str,
    runs: RunService,
    loader: VersionLoader,
) -> ChampionComparison:
    """Score both versions with ``metric`` on the challenger's evaluation rows that the
    champion did not train on.

    Raises:
        NotComparable: the champion reads columns those rows lack, predicts other
            classes, too few rows are unseen by both, or the metric is not available.
        IntegrityError: the champion's artifacts or manifest were altered.
    """
    run = runs.get(challenger.run_id)
    if run.spec.split.refit:
        raise NotComparable(
            f"{challenger.ref} was refitted on all rows of {challenger.snapshot_ref}, its "
            "evaluation rows included; it is judged on a backtest against production, and "
            "none is recorded for it (`stead retrain` records one)"
        )
    if run.metrics.get(metric) is None:
        raise NotComparable(f"{challenger.ref} has no recorded {metric}")
    if challenger.task != champion.task:
        raise NotComparable(
            f"production {champion.ref} is a {champion.task} model, {challenger.ref} a "
            f"{challenger.task} one"
        )
    champion_classes = champion.output.get("classes")
    if champion_classes != challenger.output.get("classes"):
        raise NotComparable(
            f"production {champion.ref} predicts classes {champion_classes}, "
            f"{challenger.ref} predicts {challenger.output.get('classes')}"
        )
    cache = ComparisonCache(ctx.root / STATE_DIR / "cache" / "champion")
    key = cache.key(challenger, champion, metric=metric, positive=run.spec.positive_class)
    remembered = cache.get(key)
    if remembered is not None:
        loader.verify(champion)
        loader.verify(challenger)
        return remembered
    frame = runs.eval_frame(run)
    missing = [c for c in champion.input_columns if c not in frame.columns]
    if missing:
        raise NotComparable(
            f"production {champion.ref} reads columns that {challenger.snapshot_ref} lacks: "
            f"{', '.join(missing)}"
        )
    target = challenger.output["target"]
    columns = [*champion.input_columns, target]
    unseen = ~seen_by(frame, training_rows(runs, runs.get(champion.run_id)), columns)
    if run.spec.split.method == "random":
        unseen &= ~same_entity(frame, training_rows(runs, run), run.spec.id_column)
    if unseen.sum() < MIN_COMPARISON_ROWS:
        raise NotComparable(
            f"only {int(unseen.sum())} of {challenger.ref}'s {len(frame)} evaluation rows were "
            f"not used to train production {champion.ref} nor are about an entity "
            f"{challenger.ref} trained on (need {MIN_COMPARISON_ROWS})"
        )
    frame = frame[unseen]
    classes = np.asarray(champion_classes if champion_classes is not None else [])

    def score(version: ModelVersion) -> float:
        value = score_model(
            loader.load(version).pipeline,
            loader.sources(version),
            frame,
            input_columns=version.input_columns,
            task=version.task,
            target=target,
            metric=metric,
            classes=classes,
            root=ctx.root,
            positive=run.spec.positive_class,  # the challenger's metric, of its class
        )
        if value is None:
            raise NotComparable(f"{metric} cannot be computed for {version.ref} on those rows")
        return float(value)

    comparison = ChampionComparison(
        champion=champion.ref,
        challenger=challenger.ref,
        metric=metric,
        champion_value=score(champion),
        challenger_value=score(challenger),
        rows=len(frame),
    )
    cache.put(key, comparison)
    return comparison


class ComparisonCache:
    """Champion comparisons by a key of everything they depend on (see the module)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def key(challenger: ModelVersion, champion: ModelVersion, *, metric: str, positive: Any) -> str:
        parts = [
            challenger.id,
            champion.id,
            metric,
            repr(positive),
            MIN_COMPARISON_ROWS,
            "unseen by content; random split: unseen entities",  # the rows rule
            importlib.metadata.version("stead"),  # the scoring code itself
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def get(self, key: str) -> ChampionComparison | None:
        try:
            text = (self.directory / f"{key}.json").read_text()
            return ChampionComparison.from_dict(json.loads(text))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # none yet, or damaged: compare again

    def put(self, key: str, comparison: ChampionComparison) -> None:
        path = self.directory / f"{key}.json"
        tmp = self.directory / f".{key}.{new_id()}.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(asdict(comparison)))
            os.replace(tmp, path)
        except OSError:  # a read-only workspace still compares, just every time
            tmp.unlink(missing_ok=True)
