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

from storage import reviews
from storage.db import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        con = connect(Path(folder) / "bench.duckdb")
        con.execute("INSERT INTO corpora (name) VALUES ('scale')")
        con.execute("""INSERT INTO passages SELECT 1, 'p' || i, 'p' || i, 'title ' || i, 'text of passage ' || i, md5(i::VARCHAR), 5, 0, 'gen'
                       FROM range(?) t(i)""", [args.queries])
        con.execute("""INSERT INTO queries (corpus_id, passage_id, text, qtype, origin, generator, prompt_version)
                       SELECT 1, 'p' || i, 'query ' || i, ['question', 'web', 'claim'][i % 3 + 1], 'offline', 'gen', 'v'
                       FROM range(?) t(i)""", [args.queries])
        con.execute("INSERT INTO mining_runs (corpus_id, settings) VALUES (1, '{}')")
        con.execute("""INSERT INTO candidates SELECT 1, q.id, 'p' || ((q.id + c) % ?), c + 1, 1.0, 0.5, 0.1, c = 0
                       FROM queries q, range(?) t(c)""", [args.queries, args.candidates])
        con.execute("""INSERT INTO labels (query_id, passage_id, grade, rationale, judge, prompt_version, status)
                       SELECT query_id, passage_id, CASE WHEN is_source THEN 3 ELSE (hash(passage_id) % 3)::INTEGER END,
                              'synthetic', 'bench', 'v', 'ok' FROM candidates""")
        labels = con.execute("SELECT count(*) FROM labels").fetchone()[0]
        print(f"{labels:,} labels, {args.queries:,} queries")
        for name in reviews.QUEUES:
            times = []
            for i in range(20):
                started = time.perf_counter()
                reviews.queue(con, 1, name, limit=50, seed=i / 20)
                times.append((time.perf_counter() - started) * 1000)
            print(f"queue {name!r}: median {statistics.median(times):.0f} ms, worst {max(times):.0f} ms")
        pairs = con.execute("SELECT query_id, passage_id FROM labels USING SAMPLE 20 ROWS").fetchall()
        times = []
        for q, p in pairs:
            started = time.perf_counter()
            reviews.record_review(con, q, p, "bench", "relevant")
            times.append((time.perf_counter() - started) * 1000)
        print(f"record an override: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms")


if __name__ == "__main__":
    main()
