"""Drift detection: stead vs the raw NumPy/SciPy math vs Evidently, time and peak memory.

1,000,000 current rows × (50 numeric + 10 categorical) columns against a 1,000,000-row
reference, 10 columns shifted (7 numeric, 3 categorical). Each contender runs in its own
subprocess that reads the same Parquet files, so peak memory is comparable; time is the
median of ``--repeat`` runs of the computation alone (reading Parquet is not timed), and
peak memory is the process's peak resident set size *during* the timed runs (the kernel's
high-water mark is reset after loading, ``/proc/self/clear_refs``), data included.

Contenders:

- ``stead``: ``detect_drift(profile, current)`` with the reference profile precomputed,
  as in production (the profile is what a snapshot stores).
- ``stead+profile``: ``infer_schema`` + ``profile_frame`` on the reference, then
  ``detect_drift``.
- ``raw``: the same decisions written directly in NumPy/SciPy on the window, with the
  reference's bin edges, counts and quantiles precomputed (like-for-like with ``stead``):
  ``np.histogram`` on the reference quantile edges → PSI, ``np.quantile`` → normalised
  Wasserstein, ``value_counts`` → ``scipy.spatial.distance.jensenshannon`` + unseen rate.
- ``raw+reference``: the same including the reference's edges, counts and quantiles
  (like-for-like with ``stead+profile``), and separately ``scipy.stats.ks_2samp`` on
  every numeric column, as the issue lists (reported, not used for verdicts: at a million
  rows its p-value flags noise).
- ``evidently``: ``Report([DataDriftPreset()]).run(current, reference)``, only with
  ``--evidently-python``, at ``--evidently-rows`` rows (default 100,000: at 1M rows it
  takes minutes and GBs); stead and the raw math are then also run at that size so the
  ratio is measured, not extrapolated.

Verdicts: every contender's set of drifted columns is printed; stead's must equal the raw
math's (PSI ≥ 0.2, Wasserstein ≥ 0.1, JS ≥ 0.1, unseen rate ≥ 0.01, as DriftConfig).

Evidently 0.7 does not import with pandas 3, so it runs from its own virtualenv::

    python3 -m venv /tmp/evidently-venv
    /tmp/evidently-venv/bin/pip install 'evidently==0.7.*' 'pandas<3' pyarrow

Run (from the repository root)::

    .venv/bin/python benchmarks/drift.py [--rows 1000000] [--repeat 3] \\
        [--evidently-python /tmp/evidently-venv/bin/python] [--evidently-rows 100000]

``--noise`` instead runs the simulation behind the default thresholds
(docs/monitoring.md): for several column shapes, reference sizes and window sizes, how
many unshifted windows are flagged, how many shifted ones are caught, and the largest
value each effect size reached from noise alone.

``pip install -e '.[bench]'`` installs what this script needs beyond stead's own
dependencies (nothing for stead and the raw math; ``psutil`` is not used).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NUMERIC, CATEGORICAL = 50, 10
SHIFTED_NUMERIC = [f"n{i}" for i in range(7)]
SHIFTED_CATEGORICAL = [f"c{i}" for i in range(3)]
BINS = 20
# The thresholds of stead's DriftConfig(); the raw math and the verdict check use them too.
PSI, WASSERSTEIN, JS, UNSEEN = 0.2, 0.1, 0.1, 0.01


# --- data -------------------------------------------------------------------------------


def make_frame(rows: int, seed: int, *, shifted: bool) -> Any:
    """Mixed numeric columns (normal, log-normal, counts, zero-inflated) and categoricals."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i in range(NUMERIC):
        move = shifted and f"n{i}" in SHIFTED_NUMERIC
        shape = i % 4
        if shape == 0:
            data[f"n{i}"] = rng.normal(10 + i + (0.5 if move else 0.0), 1 + i / 10, rows)
        elif shape == 1:
            data[f"n{i}"] = rng.lognormal(1.0, 0.6 * (1.5 if move else 1.0), rows)
        elif shape == 2:
            data[f"n{i}"] = rng.poisson(3.0 * (1.5 if move else 1.0), rows).astype(np.int64)
        else:
            zero = 0.4 if move else 0.7
            data[f"n{i}"] = np.where(rng.random(rows) < zero, 0.0, rng.exponential(5.0, rows))
    for i in range(CATEGORICAL):
        k = 3 + 3 * i
        levels = np.array([f"c{i}_level_{j}" for j in range(k)])
        shares = 1.0 / np.arange(1, k + 1)
        move = shifted and f"c{i}" in SHIFTED_CATEGORICAL
        if move:
            shares = shares[::-1]
        values = levels[rng.choice(k, rows, p=shares / shares.sum())]
        if move and i == 2:
            values[rng.random(rows) < 0.05] = f"c{i}_new"
        data[f"c{i}"] = pd.array(values, dtype="str")
    return pd.DataFrame(data)


def write_data(directory: Path, rows: int, sizes: list[int]) -> None:
    """``reference-N.parquet`` and ``current-N.parquet`` for each size (smaller = first N)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name, seed, shifted in (("reference", 1, False), ("current", 2, True)):
        if all((directory / f"{name}-{n}.parquet").exists() for n in sizes):
            continue
        table = pa.Table.from_pandas(make_frame(rows, seed, shifted=shifted), preserve_index=False)
        for n in sizes:
            # Separate files, so a smaller run never holds the full table in memory.
            pq.write_table(table.slice(0, n), directory / f"{name}-{n}.parquet")
        del table


def read_frame(directory: Path, name: str, rows: int) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(directory / f"{name}-{rows}.parquet")
    # Column by column with buffers freed as they convert: loading never holds two copies.
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    # Hand the decoder's freed buffers back to the OS, so resident memory is the data.
    pa.default_memory_pool().release_unused()
    return frame


# --- memory -----------------------------------------------------------------------------


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --- contenders (each runs inside a worker subprocess) ------------------------------------


def numeric_names(frame: Any) -> list[str]:
    return [c for c in frame.columns if c.startswith("n")]


def categorical_names(frame: Any) -> list[str]:
    return [c for c in frame.columns if c.startswith("c")]


def raw_reference(reference: Any) -> dict[str, Any]:
    """Reference statistics in plain NumPy: quantile edges, histogram, percentiles, levels."""
    import numpy as np

    grid = np.linspace(0.0, 1.0, 101)
    stats: dict[str, Any] = {}
    for name in numeric_names(reference):
        values = reference[name].to_numpy(dtype=np.float64)
        edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, BINS + 1)[1:-1]))
        bins = np.concatenate([[-np.inf], edges, [np.inf]])
        counts, _ = np.histogram(values, bins)
        percentiles = np.quantile(values, grid)[1:-1]
        stats[name] = {"bins": bins, "counts": counts, "percentiles": percentiles}
    for name in categorical_names(reference):
        stats[name] = reference[name].value_counts()
    return stats


def raw_window(reference_stats: dict[str, Any], current: Any) -> dict[str, dict[str, float]]:
    """PSI, normalised Wasserstein, JS distance and unseen rate in plain NumPy/SciPy."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    grid = np.linspace(0.0, 1.0, 101)
    out: dict[str, dict[str, float]] = {}
    for name in numeric_names(current):
        ref = reference_stats[name]
        values = current[name].to_numpy(dtype=np.float64)
        counts, _ = np.histogram(values, ref["bins"])
        p = np.clip(ref["counts"] / ref["counts"].sum(), 1e-4, None)
        q = np.clip(counts / counts.sum(), 1e-4, None)
        psi = float(np.sum((q - p) * np.log(q / p)))
        gap = np.abs(np.quantile(values, grid)[1:-1] - ref["percentiles"]).mean()
        scale = ref["percentiles"].std() or values.std()
        out[name] = {"psi": psi, "wasserstein": float(gap / scale) if scale else 0.0}
    for name in categorical_names(current):
        ref_counts = reference_stats[name]
        cur_counts = current[name].value_counts()
        levels = ref_counts.index.union(cur_counts.index)
        p = ref_counts.reindex(levels, fill_value=0).to_numpy(dtype=np.float64)
        q = cur_counts.reindex(levels, fill_value=0).to_numpy(dtype=np.float64)
        unseen = float(cur_counts[~cur_counts.index.isin(ref_counts.index)].sum() / q.sum())
        out[name] = {"js_distance": float(jensenshannon(p, q, base=2)), "unseen_rate": unseen}
    return out


def raw_verdicts(result: dict[str, dict[str, float]]) -> list[str]:
    limits = {"psi": PSI, "wasserstein": WASSERSTEIN, "js_distance": JS, "unseen_rate": UNSEEN}
    return sorted(c for c, s in result.items() if any(s[k] >= limits[k] for k in s))


def ks_all(reference: Any, current: Any) -> list[str]:
    """``scipy.stats.ks_2samp`` on every numeric column; the columns with p < 0.01."""
    from scipy.stats import ks_2samp

    return [
        name
        for name in numeric_names(current)
        if ks_2samp(reference[name].to_numpy(), current[name].to_numpy()).pvalue < 0.01
    ]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def preload(name: str) -> None:
    """Imports a contender's libraries, so their memory is measured apart from the data."""
    import importlib

    modules = {
        "stead": ["stead.monitoring", "stead.data.profile", "stead.data.schema"],
        "raw": ["scipy.stats", "scipy.spatial.distance"],
        "evidently": ["evidently", "evidently.presets"],
    }
    for module in ["pandas", "pyarrow.parquet", *modules[name.split("+")[0]]]:
        importlib.import_module(module)


def worker(name: str, data: Path, rows: int, repeat: int) -> dict[str, Any]:
    preload(name)
    imports = current_rss()
    current = read_frame(data, "current", rows)
    data_bytes = int(current.memory_usage(deep=True).sum())
    extra: dict[str, Any] = {}
    if name == "stead":
        from stead.data.profile import Profile
        from stead.monitoring import detect_drift

        profile = Profile.from_dict(json.loads((data / f"profile-{rows}.json").read_text()))
        fn: Callable[[], Any] = lambda: detect_drift(profile, current).drifted_features  # noqa: E731
    elif name == "stead+profile":
        from stead.core.settings import ColumnRoles
        from stead.data.profile import profile_frame
        from stead.data.schema import infer_schema
        from stead.monitoring import detect_drift

        reference = read_frame(data, "reference", rows)

        def fn() -> Any:
            schema = infer_schema(reference, roles=ColumnRoles(), max_levels=1_000)
            profile = profile_frame(reference, schema, bins=BINS)
            return detect_drift(profile, current).drifted_features

    elif name == "raw":
        import pickle

        stats = pickle.loads((data / f"raw-reference-{rows}.pickle").read_bytes())
        fn = lambda: raw_verdicts(raw_window(stats, current))  # noqa: E731
    elif name == "raw+reference":
        reference = read_frame(data, "reference", rows)
        fn = lambda: raw_verdicts(raw_window(raw_reference(reference), current))  # noqa: E731
    elif name == "evidently":
        from evidently import Report
        from evidently.presets import DataDriftPreset

        reference = read_frame(data, "reference", rows)

        def fn() -> Any:
            snapshot = Report([DataDriftPreset()]).run(current, reference)
            drifted = []
            for metric in snapshot.dict()["metrics"]:
                config = metric["config"]
                if "ValueDrift" not in config.get("type", ""):
                    continue
                method, value = config.get("method", "").lower(), metric["value"]
                is_p_value = "p_value" in method or "test" in method
                if (value < config["threshold"]) if is_p_value else (value >= config["threshold"]):
                    drifted.append(config["column"])
            return sorted(drifted)

    else:
        raise SystemExit(f"unknown contender {name!r}")
    baseline = current_rss()
    measured = reset_peak()
    times, drifted = timed(fn, repeat)
    peak = peak_rss()
    if name == "raw+reference":
        # ks_2samp as the issue lists it, timed on its own (it needs both raw columns).
        ks_times, ks_flagged = timed(lambda: ks_all(reference, current), 1)
        extra = {"ks_2samp_seconds": ks_times[0], "ks_2samp_flagged": ks_flagged}
    return {
        "name": name,
        "rows": rows,
        "seconds": times,
        "median": statistics.median(times),
        "peak_rss": peak,
        "rss_imports": imports,
        "rss_before": baseline,
        "peak_is_during_run": measured,
        "data_bytes": data_bytes,
        "drifted": sorted(drifted),
        **extra,
    }


# --- noise: the simulation behind the default thresholds --------------------------------


def noise(seed: int = 1) -> None:
    """False flags on unshifted windows and detections of shifted ones, by size."""
    import numpy as np
    import pandas as pd

    from stead.data.profile import profile_column
    from stead.monitoring import detect_column_drift

    rng = np.random.default_rng(seed)

    def zipf(k: int, reverse: bool) -> Callable[[int], Any]:
        levels = np.array([f"L{i}" for i in range(k)])
        shares = 1.0 / np.arange(1, k + 1)
        if reverse:  # reorder the shares of the most frequent half
            shares[: k // 2 + 1] = shares[: k // 2 + 1][::-1]
        return lambda n: pd.Series(rng.choice(levels, n, p=shares / shares.sum()))

    numeric: dict[str, Callable[[int, bool], Any]] = {
        "normal": lambda n, m: rng.normal(0.5 * m, 1, n),
        "lognormal": lambda n, m: rng.lognormal(0.5 * m, 1, n),
        "poisson": lambda n, m: rng.poisson(2 + 0.5 * m, n).astype(float),
        "zero-inflated": lambda n, m: np.where(
            rng.random(n) < 0.6 - 0.2 * m, 0.0, rng.exponential(1, n)
        ),
        "pareto(1.5)": lambda n, m: rng.pareto(1.5, n) * (1 + 0.5 * m),
    }
    cases: list[tuple[str, str, Callable[[int, bool], Any]]] = [
        (name, "float", draw) for name, draw in numeric.items()
    ]

    def levels(k: int) -> Callable[[int, bool], Any]:
        same, moved = zipf(k, False), zipf(k, True)
        return lambda n, m: (moved if m else same)(n)

    cases += [(f"{k} levels", "string", levels(k)) for k in (3, 10, 200, 500)]
    print("| column | reference | window | unshifted flagged | shifted caught | max noise |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, kind, draw in cases:
        for n_ref in (5_000, 1_000_000):
            reference = profile_column(pd.Series(draw(n_ref, False)), kind, bins=BINS)
            for n in (100, 1_000, 10_000, 100_000, 1_000_000):
                reps = 20 if n <= 10_000 else 2
                flagged, worst = 0, dict[str, float]()
                for _ in range(reps):
                    result = detect_column_drift(reference, pd.Series(draw(n, False)))
                    flagged += result.drifted
                    for stat in result.statistics:
                        if stat.p_value is None and stat.value is not None:
                            worst[stat.name] = max(worst.get(stat.name, 0.0), stat.value)
                caught = sum(
                    detect_column_drift(reference, pd.Series(draw(n, True))).drifted
                    for _ in range(3)
                )
                noisiest = ", ".join(f"{k} {v:.3f}" for k, v in worst.items())
                print(
                    f"| {name} | {n_ref:,} | {n:,} | {flagged}/{reps} | {caught}/3 | {noisiest} |"
                )


# --- driver -----------------------------------------------------------------------------


def prepare(data: Path, rows: int) -> None:
    """Precomputes what production stores: the stead profile and the raw reference stats."""
    import pickle

    from stead.core.settings import ColumnRoles
    from stead.data.profile import profile_frame
    from stead.data.schema import infer_schema

    reference = read_frame(data, "reference", rows)
    schema = infer_schema(reference, roles=ColumnRoles(), max_levels=1_000)
    profile = profile_frame(reference, schema, bins=BINS)
    (data / f"profile-{rows}.json").write_text(json.dumps(profile.to_dict()))
    (data / f"raw-reference-{rows}.pickle").write_bytes(pickle.dumps(raw_reference(reference)))


def run_worker(python: str, name: str, data: Path, rows: int, repeat: int) -> dict[str, Any]:
    command = [python, __file__, "--worker", name, "--data", str(data)]
    command += ["--rows", str(rows), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(results: list[dict[str, Any]], expected: list[str]) -> str:
    lines = [
        "| contender | rows | time, median (runs) | peak RSS | window data "
        "| peak / data | (peak − libraries) / data | drifted columns |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        verdict = "the 10 shifted" if r["drifted"] == expected else f"{r['drifted']}"
        peak, size = r["peak_rss"] / 2**20, r["data_bytes"] / 2**20
        used = (r["peak_rss"] - r["rss_imports"]) / 2**20
        runs = ", ".join(f"{t:.2f}" for t in r["seconds"])
        lines.append(
            f"| {r['name']} | {r['rows']:,} | {r['median']:.2f} s ({runs}) | {peak:,.0f} MiB "
            f"| {size:,.0f} MiB | {peak / size:.2f}× | {used / size:.2f}× | {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--data", type=Path, help="directory for the Parquet files (default: a temporary one)"
    )
    parser.add_argument("--evidently-python", help="python of a virtualenv with evidently 0.7")
    parser.add_argument("--evidently-rows", type=int, default=100_000)
    parser.add_argument("--evidently-repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--noise", action="store_true", help="run the threshold simulation")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.noise:
        noise()
        return

    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.rows, args.repeat)))
        return

    with tempfile.TemporaryDirectory(prefix="stead-drift-bench-") as scratch:
        data = args.data or Path(scratch)
        data.mkdir(parents=True, exist_ok=True)
        sizes = [args.rows]
        if args.evidently_python and args.evidently_rows < args.rows:
            sizes.append(args.evidently_rows)
        write_data(data, args.rows, sizes)
        results = []
        for rows in sizes:
            prepare(data, rows)
            for name in ("stead", "stead+profile", "raw", "raw+reference"):
                results.append(run_worker(sys.executable, name, data, rows, args.repeat))
                print(f"  {name} @ {rows:,}: {results[-1]['median']:.2f} s", file=sys.stderr)
        if args.evidently_python:
            results.append(
                run_worker(
                    args.evidently_python,
                    "evidently",
                    data,
                    args.evidently_rows,
                    args.evidently_repeat,
                )
            )
        report(results, args)


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    expected = sorted(SHIFTED_NUMERIC + SHIFTED_CATEGORICAL)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU(s)"
    print(f"\nmachine: {machine}, Python {platform.python_version()}")
    print(f"shifted columns: {', '.join(expected)}\n")
    print(table(results, expected))
    by = {(r["name"], r["rows"]): r for r in results}
    print()
    for rows in sorted({r["rows"] for r in results}, reverse=True):
        stead, raw = by[("stead", rows)], by[("raw", rows)]
        full, raw_full = by[("stead+profile", rows)], by[("raw+reference", rows)]
        print(f"at {rows:,} rows:")
        print(f"  stead / raw (profile precomputed):  {stead['median'] / raw['median']:.2f}×")
        print(f"  stead / raw (incl. reference):      {full['median'] / raw_full['median']:.2f}×")
        print(f"  verdicts stead == raw:              {stead['drifted'] == raw['drifted']}")
        print(
            f"  stead peak RSS / window data:       {stead['peak_rss'] / stead['data_bytes']:.2f}×"
        )
        ks = raw_full.get("ks_2samp_seconds")
        if ks is not None:
            flagged = raw_full["ks_2samp_flagged"]
            unshifted = sorted(set(flagged) - set(SHIFTED_NUMERIC))
            print(
                f"  scipy ks_2samp on {NUMERIC} columns:      {ks:.2f} s, p < 0.01 on "
                f"{len(flagged)}, of which unshifted: {', '.join(unshifted) or 'none'}"
            )
        if ("evidently", rows) in by:
            ev = by[("evidently", rows)]
            print(f"  evidently / stead:                  {ev['median'] / stead['median']:.0f}×")
            print(f"  evidently / stead+profile:          {ev['median'] / full['median']:.0f}×")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
