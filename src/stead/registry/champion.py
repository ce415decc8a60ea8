"""Champion/challenger: the production version scored on the challenger's evaluation rows.

A challenger's metric was recorded at training on its own evaluation rows. To compare on
the *same* data, the champion (the version in production) is loaded, verified, and run
on exactly those rows (read from the challenger's snapshot by its recorded evaluation
row positions), and scored with the same metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from stead.features.sources import importing
from stead.registry.settings import better
from stead.registry.version import ModelVersion
from stead.training.evaluation import evaluate, predict

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.registry.loading import VersionLoader
    from stead.training.service import RunService


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

    @property
    def advantage(self) -> float:
        """How much better the challenger is (negative when worse), in metric units."""
        return better(self.metric, self.challenger_value, self.champion_value)

    def describe(self) -> str:
        return (
            f"on {self.rows} evaluation rows of {self.challenger}: {self.metric} "
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
        }


def compare_with_champion(
    ctx: Context,
    challenger: ModelVersion,
    champion: ModelVersion,
    *,
    metric: str,
    runs: RunService,
    loader: VersionLoader,
) -> ChampionComparison:
    """Score ``champion`` on ``challenger``'s evaluation rows with ``metric``.

    Raises:
        NotComparable: the champion reads columns those rows lack, predicts other
            classes, or the metric is not available for it.
        IntegrityError: the champion's artifacts or manifest were altered.
    """
    run = runs.get(challenger.run_id)
    challenger_value = run.metrics.get(metric)
    if challenger_value is None:
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
    frame = runs.eval_frame(run)
    missing = [c for c in champion.input_columns if c not in frame.columns]
    if missing:
        raise NotComparable(
            f"production {champion.ref} reads columns that {challenger.snapshot_ref} lacks: "
            f"{', '.join(missing)}"
        )
    loaded = loader.load(champion)
    classes = np.asarray(champion_classes if champion_classes is not None else [])
    y = frame[challenger.output["target"]].to_numpy()
    with importing(loader.sources(champion), root=ctx.root):
        predictions = predict(
            loaded.pipeline,
            frame[champion.input_columns],
            task=champion.task,  # type: ignore[arg-type]
            classes=classes,
        )
    value = evaluate(
        y,
        predictions,
        task=champion.task,  # type: ignore[arg-type]
        metrics=[metric],
        classes=classes,
    )[metric]
    if value is None:
        raise NotComparable(f"{metric} cannot be computed for production {champion.ref}")
    return ChampionComparison(
        champion=champion.ref,
        challenger=challenger.ref,
        metric=metric,
        champion_value=value,
        challenger_value=float(challenger_value),
        rows=len(frame),
    )
