"""Benchmark: how long a training job's data takes to build and write (what "Start training" waits for).

    python -m bench.export_speed --workspace bench/results/ws-local --corpus bench-cisi-synthetic

Opens a copy of an existing workspace's database (a judged corpus: ``bench.quality`` leaves one), then builds the
LCE groups, distillation lists and dev split and writes them, for three settings: the defaults, users' queries
counted five times, another split seed with a 0.2 dev fraction. Prints the seconds of each.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--corpus", required=True, help="the corpus's name in that workspace")
    args = parser.parse_args()
    from bench import machine
    from core.training.data import build_training_data, export
    from storage.corpora import corpus_id
    from storage.db import connect

    scratch = Path(tempfile.mkdtemp(prefix="qurate-export-"))
    shutil.copy(args.workspace / "qurate.duckdb", scratch / "qurate.duckdb")  # the workspace itself stays untouched
    con = connect(scratch / "qurate.duckdb")
    corpus = corpus_id(con, args.corpus)
    if corpus is None:
        raise SystemExit(f"no corpus named {args.corpus!r} in {args.workspace}")
    for name, settings in (
        ("defaults", {}),
        ("users_weight 5", {"users_weight": 5}),
        ("split seed 3, dev 0.2", {"seed": 3, "dev_fraction": 0.2}),
    ):
        started = time.perf_counter()
        data = build_training_data(con, corpus, **settings)
        export(data, scratch / name.replace(" ", "-").replace(",", ""))
        print(
            f"{name}: {time.perf_counter() - started:.2f} s, {len(data.groups):,} groups, {len(data.lists):,} lists, "
            f"{len(data.dev):,} dev queries"
        )
    print(machine())
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
