"""Benchmark: ingest the full MedQuAD corpus (a BEIR folder) into a fresh workspace file.

    python -m bench.ingest_speed [--data ../shared/data/medquad] [--repeat 3]

Prints passages per second (the median of the repeats) and the database size. Target:
15,775 passages in under 10 seconds on a 2-core machine.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench import DATA
from core.ingest import ingest_path
from storage.db import checkpoint, connect

DEFAULT_DATA = DATA / "medquad"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl").exists():
        raise SystemExit(f"MedQuAD not found at {args.data}; pass --data")
    seconds, sizes = [], []
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.duckdb"
            con = connect(path)
            started = time.perf_counter()
            report = ingest_path(con, "medquad", args.data)
            checkpoint(con)
            elapsed = time.perf_counter() - started
            con.close()
            seconds.append(elapsed)
            sizes.append(path.stat().st_size)
            print(
                f"run {run + 1}: {report.n_passages:,} passages, {report.test_set['n_queries']:,} test queries in {elapsed:.2f} s"
            )
    median = statistics.median(seconds)
    print(f"median {median:.2f} s = {report.n_passages / median:,.0f} passages/s; database {sizes[-1] / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
