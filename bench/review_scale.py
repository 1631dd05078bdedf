"""Benchmark: review-queue and override latency with 200,000 labels in the workspace.

    python -m bench.review_scale [--queries 10000] [--candidates 20]

Fills a fresh database with synthetic queries, candidates and judge labels (SQL, no
model), then times, as database time, loading each review queue (50 items) and
recording an override, 20 times each; prints the median and the worst.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.review_fixture import fill_review_scale, sample_pairs
from storage import reviews
from storage.db import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        con = connect(Path(folder) / "bench.duckdb")
        labels = fill_review_scale(con, args.queries, args.candidates)
        print(f"{labels:,} labels, {args.queries:,} queries")
        for name in reviews.QUEUES:
            times = []
            for i in range(20):
                started = time.perf_counter()
                reviews.queue(con, 1, name, limit=50, seed=i / 20)
                times.append((time.perf_counter() - started) * 1000)
            print(f"queue {name!r}: median {statistics.median(times):.0f} ms, worst {max(times):.0f} ms")
        pairs = sample_pairs(con, 20)
        times = []
        for q, p in pairs:
            started = time.perf_counter()
            reviews.record_review(con, q, p, "bench", "relevant")
            times.append((time.perf_counter() - started) * 1000)
        print(f"record an override: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms")


if __name__ == "__main__":
    main()
