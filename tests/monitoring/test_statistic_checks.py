"""The same checks on every drift statistic (like scikit-learn's parametrize_with_checks).

Each statistic gets a scenario — a reference profile, a window from the same distribution
and a clearly shifted window — and must pass every check: parameters kept as given, pure
and deterministic, silent on unshifted data (including a million-row window for the
effect sizes), and loud on shifted data.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stead.data.profile import ColumnProfile, profile_column
from stead.monitoring import (
    PSI,
    ChiSquare,
    DriftStatistic,
    JensenShannon,
    KolmogorovSmirnov,
    UnseenRate,
    Wasserstein,
)
from stead.monitoring.drift.column_pass import (
    CategoricalWindow,
    NumericWindow,
    summarise_categorical,
    summarise_numeric,
)

LEVELS = np.array([f"level_{i}" for i in range(12)])
SHARES = np.linspace(1.0, 3.0, LEVELS.size) / np.linspace(1.0, 3.0, LEVELS.size).sum()


@dataclass(frozen=True)
class Scenario:
    reference: ColumnProfile
    summarise: Callable[[Any], NumericWindow | CategoricalWindow]
    draw: Callable[[np.random.Generator, int, bool], Any]


def _normal(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    return rng.normal(0.5 if shifted else 0.0, 1.0, n)


def _levels(rng: np.random.Generator, n: int, shifted: bool) -> pd.Series:
    shares = SHARES[::-1] if shifted else SHARES
    return pd.Series(rng.choice(LEVELS, size=n, p=shares))


def _levels_with_new(rng: np.random.Generator, n: int, shifted: bool) -> pd.Series:
    values = rng.choice(LEVELS, size=n, p=SHARES).astype(object)
    if shifted:
        values[rng.random(n) < 0.05] = "never_seen"
    return pd.Series(values)


@cache
def _scenario(kind: str) -> Scenario:
    rng = np.random.default_rng(7)
    if kind == "numeric":
        reference = profile_column(pd.Series(_normal(rng, 200_000, False)), "float", bins=20)
        return Scenario(reference, lambda v: summarise_numeric(v, reference), _normal)
    draw = _levels if kind == "categorical" else _levels_with_new
    reference = profile_column(draw(rng, 200_000, False), "string", bins=20)
    return Scenario(reference, lambda v: summarise_categorical(v, reference), draw)


# (statistic, the scenario it reads, window sizes its verdicts are used at). Effect sizes
# decide large windows, so they are checked up to a million rows; tests only small ones.
CASES: list[tuple[DriftStatistic[Any], str, tuple[int, ...]]] = [
    (PSI(threshold=0.2), "numeric", (20_000, 1_000_000)),
    (Wasserstein(threshold=0.1), "numeric", (20_000, 1_000_000)),
    (KolmogorovSmirnov(alpha=0.01), "numeric", (500, 5_000)),
    (JensenShannon(threshold=0.1), "categorical", (20_000, 1_000_000)),
    (UnseenRate(threshold=0.01), "unseen", (20_000, 1_000_000)),
    (ChiSquare(alpha=0.01, min_expected=5.0), "categorical", (500, 5_000)),
]
IDS = [statistic.name for statistic, _, _ in CASES]


@cache
def _window(kind: str, n: int, shifted: bool, seed: int = 11) -> NumericWindow | CategoricalWindow:
    scenario = _scenario(kind)
    return scenario.summarise(scenario.draw(np.random.default_rng(seed + n), n, shifted))


@pytest.mark.parametrize(("statistic", "kind", "sizes"), CASES, ids=IDS)
def test_parameters_are_stored_unchanged(
    statistic: DriftStatistic[Any], kind: str, sizes: tuple[int, ...]
) -> None:
    params = statistic.get_params()
    rebuilt = type(statistic)(**params)
    assert rebuilt == statistic
    assert rebuilt.get_params() == params
    rebuilt.measure(_scenario(kind).reference, _window(kind, sizes[0], True))
    assert rebuilt.get_params() == params
    with pytest.raises(FrozenInstanceError):
        rebuilt.threshold = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(("statistic", "kind", "sizes"), CASES, ids=IDS)
def test_measure_is_pure_and_deterministic(
    statistic: DriftStatistic[Any], kind: str, sizes: tuple[int, ...]
) -> None:
    reference = _scenario(kind).reference
    window = _window(kind, sizes[0], True)
    before = (copy.deepcopy(reference), copy.deepcopy(window))
    first = statistic.measure(reference, window)
    assert statistic.measure(reference, window) == first
    # A window summarised again from the same rows gives the same answer.
    again = _window.__wrapped__(kind, sizes[0], True)
    assert statistic.measure(reference, again) == first
    assert reference == before[0]
    assert _plain(window) == _plain(before[1])


def _plain(window: NumericWindow | CategoricalWindow) -> dict[str, Any]:
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in vars(window).items()}


@pytest.mark.parametrize(("statistic", "kind", "sizes"), CASES, ids=IDS)
def test_unshifted_windows_are_not_flagged(
    statistic: DriftStatistic[Any], kind: str, sizes: tuple[int, ...]
) -> None:
    for n in sizes:
        result = statistic.measure(_scenario(kind).reference, _window(kind, n, False))
        assert not result.crossed, (n, result)


@pytest.mark.parametrize(("statistic", "kind", "sizes"), CASES, ids=IDS)
def test_shifted_windows_are_flagged(
    statistic: DriftStatistic[Any], kind: str, sizes: tuple[int, ...]
) -> None:
    for n in sizes:
        result = statistic.measure(_scenario(kind).reference, _window(kind, n, True))
        assert result.crossed, (n, result)
        assert result.name == statistic.name


@pytest.mark.parametrize(("statistic", "kind", "sizes"), CASES, ids=IDS)
def test_results_are_plain_json(
    statistic: DriftStatistic[Any], kind: str, sizes: tuple[int, ...]
) -> None:
    import json

    result = statistic.measure(_scenario(kind).reference, _window(kind, sizes[0], True))
    body = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert body["name"] == statistic.name
    assert ("p_value" in body) is statistic.is_test


@pytest.mark.parametrize(("statistic", "kind", "sizes"), CASES, ids=IDS)
def test_bad_parameters_are_refused_with_the_setting_named(
    statistic: DriftStatistic[Any], kind: str, sizes: tuple[int, ...]
) -> None:
    from stead.core.errors import SettingsError

    (name,) = [key for key in statistic.get_params() if key in ("threshold", "alpha")]
    with pytest.raises(SettingsError, match=statistic.name):
        type(statistic)(**{name: 0.0})
