"""detect_drift: verdicts per column and per window, and the awkward windows."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from stead.core.errors import SettingsError, UsageError
from stead.data.distribution import bin_counts
from stead.data.profile import Profile, profile_column
from stead.monitoring import (
    ChiSquare,
    DriftConfig,
    DriftInputError,
    detect_column_drift,
    detect_drift,
)
from stead.monitoring.drift.column_pass import cumulative_counts, summarise_categorical

KINDS = {"income": "float", "age": "int", "city": "string", "member": "bool", "seen": "datetime"}


def _frame(rng: np.random.Generator, n: int, *, shift: bool = False) -> pd.DataFrame:
    cities = np.array(["paris", "lyon", "lille", "nice"])
    return pd.DataFrame(
        {
            "income": rng.lognormal(10.5 if shift else 10.0, 0.5, n),
            "age": rng.integers(18, 80, n),
            "city": rng.choice(
                cities, n, p=[0.1, 0.2, 0.3, 0.4] if shift else [0.4, 0.3, 0.2, 0.1]
            ),
            "member": rng.random(n) < 0.3,
            "seen": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86_400, n), "s"),
        }
    )


def _profile(frame: pd.DataFrame) -> Profile:
    return Profile(
        rows=len(frame),
        columns=[profile_column(frame[name], kind, bins=20) for name, kind in KINDS.items()],
    )


@pytest.fixture(scope="module")
def profile() -> Profile:
    return _profile(_frame(np.random.default_rng(0), 100_000))


@pytest.mark.parametrize("n", [2_000, 300_000])
def test_only_the_shifted_columns_are_reported(profile: Profile, n: int) -> None:
    rng = np.random.default_rng(n)
    window = _frame(rng, n)
    shifted = _frame(rng, n, shift=True)
    window["income"], window["city"] = shifted["income"], shifted["city"]

    report = detect_drift(profile, window)

    assert report.drifted_features == ["income", "city"]
    assert [c.column for c in report.columns] == ["income", "age", "city", "member"]
    assert report.column("age").status == "ok"
    assert "psi" in report.column("income").flagged_by
    assert "js_distance" in report.column("city").flagged_by


def test_small_windows_need_a_significant_test_and_large_ones_do_not_run_tests(
    profile: Profile,
) -> None:
    rng = np.random.default_rng(1)
    small = detect_drift(profile, _frame(rng, 2_000, shift=True))
    large = detect_drift(profile, _frame(rng, 300_000, shift=True))

    assert {"psi", "ks"} <= set(small.column("income").flagged_by)
    assert "chi_square" in small.column("city").flagged_by
    names = {s.name for c in large.columns for s in c.statistics}
    assert names == {"psi", "wasserstein", "js_distance", "unseen_rate"}


def test_a_noisy_effect_in_a_small_window_is_not_drift_without_a_significant_test() -> None:
    reference = profile_column(
        pd.Series(np.random.default_rng(2).normal(size=50_000)), "float", bins=20
    )
    edges = np.asarray(reference.bin_edges)
    # 190 values spread evenly over every bin but one: PSI counts the empty bin as a big
    # shift (its share is floored at 1e-4), the KS test sees almost no difference.
    inner = (edges[:-1] + edges[1:]) / 2
    window = pd.Series(np.repeat(np.r_[edges[0] - 1, inner[:-1], edges[-1] + 1], 10).astype(float))

    result = detect_column_drift(reference, window)

    assert result.statistic("psi").crossed
    assert not result.statistic("ks").crossed
    assert result.status == "ok"
    assert result.flagged_by == ()


def test_unseen_categories_are_counted_and_flag_the_column(profile: Profile) -> None:
    window = _frame(np.random.default_rng(3), 50_000)
    window.loc[window.index[:2_500], "city"] = "marseille"

    column = detect_drift(profile, window, columns=["city"]).column("city")

    assert column.statistic("unseen_rate").value == pytest.approx(0.05)
    assert column.drifted
    assert "unseen_rate" in column.flagged_by


def test_unseen_rate_is_unknown_when_the_reference_pooled_rare_levels() -> None:
    rng = np.random.default_rng(4)
    many = pd.Series([f"user_{i}" for i in rng.integers(0, 1_000, 50_000)])
    reference = profile_column(many, "string", bins=20)
    assert reference.level_counts is not None and "__other__" in reference.level_counts

    result = detect_column_drift(reference, pd.Series(["brand_new"] * 500 + list(many[:9_500])))

    assert result.statistic("unseen_rate").value is None


def test_an_all_null_column_has_insufficient_data(profile: Profile) -> None:
    window = _frame(np.random.default_rng(5), 5_000)
    window["income"] = np.nan
    window["city"] = pd.Series([None] * len(window), dtype="str")

    report = detect_drift(profile, window)

    for name in ("income", "city"):
        column = report.column(name)
        assert column.status == "insufficient_data"
        assert column.missing == len(window)
        assert "min_rows" in (column.reason or "")
    assert report.insufficient_features == ["income", "city"]
    assert report.drifted_features == []


def test_an_empty_window_gives_insufficient_data_not_an_error(profile: Profile) -> None:
    report = detect_drift(profile, _frame(np.random.default_rng(6), 0))

    assert report.rows == 0
    assert {c.status for c in report.columns} == {"insufficient_data"}
    assert not report.drifted


def test_too_few_rows_give_insufficient_data(profile: Profile) -> None:
    report = detect_drift(profile, _frame(np.random.default_rng(7), 99, shift=True))
    assert report.insufficient_features == ["income", "age", "city", "member"]
    lowered = detect_drift(
        profile, _frame(np.random.default_rng(7), 99, shift=True), config=DriftConfig(min_rows=50)
    )
    assert "income" in lowered.drifted_features


def test_constant_columns_compare_by_their_bins() -> None:
    reference = profile_column(pd.Series(np.full(10_000, 3.0)), "float", bins=20)

    same = detect_column_drift(reference, pd.Series(np.full(5_000, 3.0)))
    moved = detect_column_drift(reference, pd.Series(np.full(5_000, 4.0)))
    spread = detect_column_drift(reference, pd.Series(np.random.default_rng(8).normal(3, 1, 5_000)))

    assert same.status == "ok"
    assert same.statistic("wasserstein").value is None
    assert moved.drifted and moved.flagged_by[0] == "psi"
    assert spread.drifted


def test_a_constant_window_against_a_varied_reference_is_drift(profile: Profile) -> None:
    window = _frame(np.random.default_rng(9), 20_000)
    window["age"] = 40
    assert detect_drift(profile, window).drifted_features == ["age"]


def test_columns_missing_from_the_window_are_reported_not_drifted(profile: Profile) -> None:
    window = _frame(np.random.default_rng(10), 20_000).drop(columns=["city", "member"])

    report = detect_drift(profile, window)

    assert report.missing_features == ["city", "member"]
    assert report.drifted_features == []
    assert "not in the window" in (report.column("city").reason or "")


def test_a_numeric_column_that_arrives_as_text_is_a_type_mismatch(profile: Profile) -> None:
    window = _frame(np.random.default_rng(11), 2_000)
    window["income"] = window["income"].astype(str)

    column = detect_drift(profile, window).column("income")

    assert column.status == "type_mismatch"
    assert "float" in (column.reason or "")


def test_unknown_and_datetime_columns_are_refused_with_the_known_ones_named(
    profile: Profile,
) -> None:
    window = _frame(np.random.default_rng(12), 500)
    with pytest.raises(DriftInputError, match=r"'salary'.*profiled columns: income"):
        detect_drift(profile, window, columns=["income", "salary"])
    with pytest.raises(DriftInputError, match="datetime") as info:
        detect_drift(profile, window, columns=["seen"])
    assert isinstance(info.value, UsageError)


def test_booleans_with_nulls_match_the_profile_levels(profile: Profile) -> None:
    window = _frame(np.random.default_rng(13), 20_000)
    member = window["member"].astype(object)
    member[:100] = None
    window["member"] = member

    column = detect_drift(profile, window).column("member")

    assert column.status == "ok"
    assert column.statistic("unseen_rate").value == 0.0
    assert column.missing == 100


def test_a_small_reference_keeps_the_tests_even_for_a_large_window() -> None:
    rng = np.random.default_rng(14)
    reference = profile_column(pd.Series(rng.normal(size=3_000)), "float", bins=20)

    result = detect_column_drift(reference, pd.Series(rng.normal(size=500_000)))

    assert result.status == "ok"
    assert "ks" in {s.name for s in result.statistics}


def test_chi_square_is_two_sample_where_goodness_of_fit_flags_noise() -> None:
    rng = np.random.default_rng(15)
    levels, shares = np.array(list("abcdef")), np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    reference = profile_column(pd.Series(rng.choice(levels, 3_000, p=shares)), "string", bins=20)
    window = summarise_categorical(pd.Series(rng.choice(levels, 400_000, p=shares)), reference)
    counts = reference.level_counts or {}
    observed = np.array([window.level_counts[k] for k in counts])
    expected = np.array(list(counts.values())) / sum(counts.values()) * observed.sum()

    # Treating the reference's shares as exact calls this unshifted window drifted ...
    assert stats.chisquare(observed, expected).pvalue < 0.01
    # ... the contingency test knows the reference is a sample too.
    assert not ChiSquare(alpha=0.01).measure(reference, window).crossed


def test_discrete_numeric_columns_are_not_flagged_by_ks() -> None:
    rng = np.random.default_rng(16)
    reference = profile_column(pd.Series(rng.poisson(1.5, 100_000)), "int", bins=20)
    for seed in range(5):
        window = pd.Series(np.random.default_rng(seed).poisson(1.5, 3_000))
        result = detect_column_drift(reference, window)
        assert not result.statistic("ks").crossed, result


def test_bin_counts_match_the_profile_arithmetic_including_ties_at_edges() -> None:
    rng = np.random.default_rng(17)
    values = np.round(rng.normal(size=20_000), 1)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, 21)[1:-1]))
    assert np.array_equal(cumulative_counts(values, edges), bin_counts(values, edges))
    many = np.linspace(-3, 3, 200)
    assert np.array_equal(cumulative_counts(values, many), bin_counts(values, many))


def test_the_report_is_plain_json_with_the_thresholds_used(profile: Profile) -> None:
    config = DriftConfig(psi=0.25)
    report = detect_drift(
        profile, _frame(np.random.default_rng(18), 1_000, shift=True), config=config
    )

    body = json.loads(json.dumps(report.to_dict(), allow_nan=False))

    assert body["config"]["psi"] == 0.25
    assert body["drifted_features"] == report.drifted_features
    assert body["columns"][0]["statistics"][0]["name"] == "psi"


def test_a_million_row_window_is_quiet_and_needs_little_extra_memory() -> None:
    rng = np.random.default_rng(19)
    reference = pd.DataFrame({"a": rng.normal(size=1_000_000), "b": rng.gamma(2.0, size=1_000_000)})
    profile = Profile(
        rows=len(reference), columns=[profile_column(reference[c], "float", bins=20) for c in "ab"]
    )
    window = pd.DataFrame({"a": rng.normal(size=1_000_000), "b": rng.gamma(2.0, size=1_000_000)})

    tracemalloc.start()
    try:
        report = detect_drift(profile, window)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert report.drifted_features == []
    # Working memory on top of the window stays below the window's own size (peak < 2×).
    assert peak < window.memory_usage(deep=True).sum()


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"psi": 0}, "psi"),
        ({"p_value": 1.5}, "alpha"),
        ({"min_rows": 0}, "min_rows"),
        ({"unseen_rate": 2.0}, "unseen_rate"),
    ],
)
def test_bad_settings_are_refused_when_read(settings: dict[str, float], match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        DriftConfig.from_dict(settings)


def test_unknown_settings_are_refused_with_the_known_ones_named() -> None:
    with pytest.raises(SettingsError, match=r"psi_threshold.*known: js_distance"):
        DriftConfig.from_dict({"psi_threshold": 0.3})


def test_a_reference_without_values_gives_insufficient_data() -> None:
    reference = profile_column(pd.Series([np.nan] * 100), "float", bins=20)

    result = detect_column_drift(reference, pd.Series(np.arange(500.0)))

    assert result.status == "insufficient_data"
    assert "reference has no values" in (result.reason or "")


def test_infinite_values_count_as_missing_not_as_a_shift() -> None:
    rng = np.random.default_rng(20)
    reference = profile_column(pd.Series(rng.normal(size=50_000)), "float", bins=20)
    window = rng.normal(size=20_000)
    window[:300] = np.inf

    result = detect_column_drift(reference, pd.Series(window))

    assert result.missing == 300
    assert result.status == "ok"
