"""What hashing PII at snapshot time costs: keyed hashes per second on one core.

A column of ``--rows`` e-mails (every value distinct, the worst case: each distinct value
is hashed once) is replaced by its keyed hashes as ``ws.datasets.snapshot`` does, with
the prediction log's sanitiser. Reports the median of several runs.

    python benchmarks/pii_hashing.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from stead.data.pii import pseudonymise
from stead.data.sanitize import Sanitizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = pd.DataFrame(
        {
            "email": [f"person{i}@mail.example.com" for i in range(args.rows)],
            "age": range(args.rows),
        }
    )
    sanitizer = Sanitizer(["email"], mode="hash", key=b"k" * 32)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        pseudonymise(frame, sanitizer)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"{args.rows:,} distinct values hashed in {median:.2f} s ({args.rows / median:,.0f}/s)")


if __name__ == "__main__":
    main()
