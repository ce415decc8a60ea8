"""A process that logs predictions until it is stopped; the crash tests kill it.

    python log_child.py DIRECTORY async|sync|journal

async: one thread logs record after record (request ids ``req-<n>`` in order) and
prints ``handed <n> written <m>`` whenever the writer's count of durable records
changes. On SIGTERM it stops, closes the log and prints ``closed handed <n> written <m>``,
as a server does on a graceful shutdown.

sync and journal: four threads log; each prints ``acked <request id>`` once ``log()``
returned, that is once the record is durable (sync) or in the journal (journal).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import UTC, datetime

from stead.predictions.record import PredictionRecord
from stead.predictions.writer import PredictionLog

stop = threading.Event()
out = threading.Lock()


def say(line: str) -> None:
    with out:
        print(line, flush=True)


def record(request_id: str) -> PredictionRecord:
    return PredictionRecord(
        request_id=request_id,
        timestamp=datetime.now(UTC),
        endpoint="credit",
        revision=1,
        model_version="credit@1",
        role="production",
        feature_set_version="fs-1",
        snapshot="credit@1",
        inputs={"age": 41, "income": 1234.5, "city": "Paris"},
        outputs={"prediction": "yes", "probabilities": {"no": 0.3, "yes": 0.7}},
        latency_ms=1.2,
    )


def run_async(plog: PredictionLog) -> None:
    handed = written = 0
    while not stop.is_set():
        plog.log(record(f"req-{handed:09d}"))
        handed += 1
        if handed % 20 == 0:
            now = plog.stats().written
            if now != written:
                written = now
                say(f"handed {handed} written {written}")
            time.sleep(0.0005)  # a steady stream, not a flood
    stats = plog.close()
    say(f"closed handed {handed} written {stats.written}")


def run_sync(plog: PredictionLog) -> None:
    def caller(k: int) -> None:
        n = 0
        while not stop.is_set():
            request_id = f"req-{k}-{n:09d}"
            plog.log(record(request_id))
            say(f"acked {request_id}")
            n += 1

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    plog.close()


def main() -> None:
    directory, mode = sys.argv[1], sys.argv[2]
    # Large batches: in async mode every write before the end comes from the interval.
    plog = PredictionLog(
        directory,
        mode=mode,  # type: ignore[arg-type]
        flush_interval=0.05,
        batch_size=1_000_000,
        capacity=1_000_000,
    )
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    say("ready")
    if mode == "async":
        run_async(plog)
    else:
        run_sync(plog)


if __name__ == "__main__":
    main()
