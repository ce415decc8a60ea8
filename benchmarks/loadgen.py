"""A small HTTP/1.1 load generator: C keep-alive connections, each sending the next
request as soon as the previous answer arrived (closed loop), for D seconds.

Run as its own process (``benchmarks/serve.py`` does), so it never shares the server's
interpreter or GIL. Raw asyncio streams, no HTTP library: one request costs the
generator a few tens of microseconds, so it is not what limits the measurement.

    python benchmarks/loadgen.py --port 8000 --path /v1/endpoints/bench/predict \
        --bodies bodies.jsonl --concurrency 16 --duration 10

Prints one JSON object: requests, errors, seconds, throughput (requests/s) and latency
percentiles in milliseconds (p50, p90, p99, max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path


def build_requests(host: str, port: int, path: str, bodies: list[bytes]) -> list[bytes]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Connection: keep-alive\r\n"
    )
    return [(head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body for body in bodies]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    if length:
        await reader.readexactly(length)
    return status


async def _client(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            payload = requests[i % len(requests)]
            i += 1
            start = time.perf_counter()
            writer.write(payload)
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def run(
    host: str, port: int, path: str, bodies: list[bytes], concurrency: int, duration: float
) -> dict[str, float]:
    requests = build_requests(host, port, path, bodies)
    # Warm up: a few requests per connection, not measured.
    warm: list[float] = []
    await asyncio.gather(
        *(
            _client(host, port, requests, k, time.perf_counter() + 0.5, warm, [])
            for k in range(concurrency)
        )
    )
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            _client(host, port, requests, k * 997, deadline, latencies, errors)
            for k in range(concurrency)
        )
    )
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0

    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": seconds,
        "throughput": len(latencies) / seconds,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": ordered[-1] * 1000.0,
        "mean_ms": statistics.fmean(latencies) * 1000.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="one JSON body per line")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    bodies = [line.encode() for line in args.bodies.read_text().splitlines() if line.strip()]
    result = asyncio.run(
        run(args.host, args.port, args.path, bodies, args.concurrency, args.duration)
    )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
