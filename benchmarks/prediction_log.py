"""Prediction-log writer throughput: records/s on one core, and the cost of ``log()``.

Realistic records: 20 input features (14 numeric, 5 categorical, 1 PII e-mail hashed
with the workspace key, as the default ``pii = "hash"`` does), a class prediction with
two probabilities, latency, versions. Records are built before timing: the figure is the
writer alone, from the first ``log()`` until ``close()`` returns with every record in a
fsync'd Parquet file. The process is pinned to one CPU, so the caller and the writer
thread share one core (and one GIL), as they would in one server worker.

- async: one caller logs N records as fast as it can; records/s = N / (time until
  close() returns), and N / CPU time of the process (caller and writer together, so
  independent of other load on a shared machine); µs per ``log()`` call = time of the
  caller's loop / N. The caller outruns the writer, so the queue fills and ``log()``
  blocks now and then (the designed back-pressure), which this mean includes.
- async, single calls: the same, with a queue large enough never to fill, each call
  timed alone: p50/p99/p99.99/max of the cost on the request path, GIL contention with
  the writer thread included.
- journal: the same two runs in the default mode, where each ``log()`` also writes the
  record's line to the crash journal before it returns.
- sync, 1 caller: every ``log()`` waits for its own fsync (the worst case).
- sync, T callers: T threads log concurrently; group commit puts everything waiting
  into one file and one fsync.

    python benchmarks/prediction_log.py [--records 200000] [--repeat 3] [--threads 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stead.data.sanitize import Sanitizer
from stead.predictions.record import PredictionRecord
from stead.predictions.writer import PredictionLog

NUMERIC, CATEGORICAL = 14, 5
CITIES = ["Paris", "Lyon", "Lille", "Nantes", "Nice", "Rennes", "Brest", "Metz"]


def make_records(n: int, seed: int = 0) -> list[PredictionRecord]:
    import random

    rng = random.Random(seed)
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    records = []
    for i in range(n):
        inputs: dict[str, object] = {}
        for j in range(NUMERIC):
            inputs[f"n{j}"] = rng.randint(0, 10_000) if j % 2 else rng.gauss(j, 1 + j / 10)
        for j in range(CATEGORICAL):
            inputs[f"c{j}"] = rng.choice(CITIES)
        inputs["email"] = f"customer{rng.randint(0, 10**6)}@example.com"
        p = rng.random()
        records.append(
            PredictionRecord(
                request_id=f"req-{i:012d}",
                timestamp=start + timedelta(microseconds=i * 100),
                endpoint="credit",
                revision=7,
                model_version="credit@3",
                role="canary" if i % 10 == 0 else "production",
                feature_set_version="fs-4f9c2a1e",
                snapshot="credit@2",
                inputs=inputs,
                outputs={
                    "prediction": "yes" if p > 0.5 else "no",
                    "probabilities": {"no": 1 - p, "yes": p},
                },
                latency_ms=rng.uniform(0.5, 3.0),
                entity_key=f"c{rng.randint(0, 10**6)}",
            )
        )
    return records


SANITIZER = Sanitizer(["email"], mode="hash", key=b"benchmark-key-32-bytes-long-....")


def in_tmp(fn: Callable[[Path], dict[str, float]]) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="stead-bench-"))
    try:
        return fn(directory / "predictions")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_async(records: list[PredictionRecord], mode: str = "async") -> dict[str, float]:
    def go(directory: Path) -> dict[str, float]:
        plog = PredictionLog(directory, mode=mode, sanitizer=SANITIZER)  # type: ignore[arg-type]
        cpu = time.process_time()
        start = time.perf_counter()
        for r in records:
            plog.log(r)
        logged = time.perf_counter()
        stats = plog.close()
        end = time.perf_counter()
        cpu = time.process_time() - cpu
        assert stats.written == len(records) and stats.dropped == 0, stats
        size = sum(f.stat().st_size for f in directory.rglob("part-*.parquet"))
        return {
            "records_per_s": len(records) / (end - start),
            "records_per_cpu_s": len(records) / cpu,
            "log_call_us": (logged - start) / len(records) * 1e6,
            "files": stats.files,
            "bytes_per_record": size / len(records),
        }

    return in_tmp(go)


def run_async_call_latency(
    records: list[PredictionRecord], mode: str = "async"
) -> dict[str, float]:
    # Room for every record: this run measures the call itself and its contention for
    # the GIL with the writer thread, not the back-pressure of a full queue (the
    # throughput run above logs ~10x faster than the writer writes, so it fills up).
    def go(directory: Path) -> dict[str, float]:
        plog = PredictionLog(
            directory,
            mode=mode,  # type: ignore[arg-type]
            sanitizer=SANITIZER,
            capacity=len(records),
        )
        clock = time.perf_counter_ns
        durations = []
        for r in records:
            t0 = clock()
            plog.log(r)
            durations.append(clock() - t0)
        plog.close()
        durations.sort()
        q = statistics.quantiles(durations, n=10_000)
        return {
            "p50_us": q[4_999] / 1e3,
            "p99_us": q[9_899] / 1e3,
            "p9999_us": q[9_998] / 1e3,
            "max_us": durations[-1] / 1e3,
            "over_1ms": sum(d > 1_000_000 for d in durations),
        }

    return in_tmp(go)


def run_sync(records: list[PredictionRecord], threads: int) -> dict[str, float]:
    def go(directory: Path) -> dict[str, float]:
        plog = PredictionLog(directory, mode="sync", sanitizer=SANITIZER)
        chunks = [records[i::threads] for i in range(threads)]
        barrier = threading.Barrier(threads + 1)

        def caller(chunk: list[PredictionRecord]) -> None:
            barrier.wait()
            for r in chunk:
                plog.log(r)

        workers = [threading.Thread(target=caller, args=(c,)) for c in chunks]
        for w in workers:
            w.start()
        barrier.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        end = time.perf_counter()
        stats = plog.close()
        assert stats.written == len(records), stats
        return {
            "records_per_s": len(records) / (end - start),
            "files": stats.files,
            "records_per_file": len(records) / stats.files,
        }

    return in_tmp(go)


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--sync-records", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    records = make_records(args.records)
    concurrent = records[: args.sync_records * 10]
    results = {
        "async": median_of([run_async(records) for _ in range(args.repeat)]),
        "async_call": median_of([run_async_call_latency(records) for _ in range(args.repeat)]),
        "journal": median_of([run_async(records, "journal") for _ in range(args.repeat)]),
        "journal_call": median_of(
            [run_async_call_latency(records, "journal") for _ in range(args.repeat)]
        ),
        "sync_1": median_of(
            [run_sync(records[: args.sync_records], 1) for _ in range(args.repeat)]
        ),
        f"sync_{args.threads}": median_of(
            [run_sync(concurrent, args.threads) for _ in range(args.repeat)]
        ),
    }
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus_used": 1,
        "records": args.records,
        "repeat": args.repeat,
    }
    if args.json:
        json.dump({"environment": env, "results": results}, sys.stdout, indent=2)
        print()
        return
    a, c = results["async"], results["async_call"]
    s1, st = results["sync_1"], results[f"sync_{args.threads}"]
    print(f"prediction log writer, one core, median of {args.repeat} ({env['platform']})")
    print(
        f"  async: {a['records_per_s']:>10,.0f} records/s  ({args.records:,} records, "
        f"{a['files']:.0f} files, {a['bytes_per_record']:.0f} bytes/record on disk)"
    )
    print(
        f"         {a['records_per_cpu_s']:>10,.0f} records per CPU-second (caller + writer; "
        "the figure that does not depend on other load on the machine)"
    )
    print(
        f"         log() on the caller's thread: {a['log_call_us']:.2f} µs per call in the "
        "throughput run (a full queue blocks the caller: back-pressure)"
    )
    print(
        f"         single calls, queue never full: p50 {c['p50_us']:.2f} µs, p99 "
        f"{c['p99_us']:.2f} µs, p99.99 {c['p9999_us']:.0f} µs, max {c['max_us'] / 1e3:.1f} ms, "
        f"{c['over_1ms']:.0f} of {args.records:,} calls over 1 ms (GIL held by the writer)"
    )
    j, jc = results["journal"], results["journal_call"]
    print(
        f"  journal (default): {j['records_per_s']:>10,.0f} records/s, "
        f"{j['records_per_cpu_s']:,.0f} per CPU-second "
        f"({j['records_per_cpu_s'] / a['records_per_cpu_s']:.0%} of async's); single calls: "
        f"p50 {jc['p50_us']:.2f} µs, p99 {jc['p99_us']:.2f} µs, max {jc['max_us'] / 1e3:.1f} ms"
    )
    print(
        f"  sync, 1 caller:   {s1['records_per_s']:>10,.0f} records/s "
        f"({s1['records_per_file']:.1f} records per fsync'd file)"
    )
    print(
        f"  sync, {args.threads} callers: {st['records_per_s']:>10,.0f} records/s "
        f"({st['records_per_file']:.1f} records per fsync'd file, group commit)"
    )


if __name__ == "__main__":
    main()
