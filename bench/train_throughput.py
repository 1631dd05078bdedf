"""Benchmark: training throughput (query-passage pairs per second) of each method.

    python -m bench.train_throughput [--steps 10] [--methods lce distill]

Builds training data from the sample corpus (offline queries and judge), then runs
core.train in this process for a fixed number of steps at the default settings
(batch 16 queries, groups of 8, lists of 20, max length 256). Runs on CUDA when present.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from core.datasets import build_training_data, export
from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import load_sample_corpus
from core.jobs import device_summary
from core.judge import JudgeSettings, judge_candidates
from core.mine import mine_candidates
from core.train import DEFAULTS, run
from storage.db import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--methods", nargs="+", default=["lce", "distill"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        con = connect(Path(folder) / "bench.duckdb")
        corpus = load_sample_corpus(con).corpus_id
        generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type={t: 1 for t in ("question", "keywords", "web", "casual")}))
        mine_candidates(con, corpus, k=30)
        judge_candidates(con, corpus, JudgeSettings(max_candidates=30))
        data = build_training_data(con, corpus, dev_fraction=0.0)
        print(f"device: {device_summary()}; {len(data.groups)} training queries")
        for method in args.methods:
            job = Path(folder) / method
            export(data, job)
            (job / "spec.json").write_text(json.dumps({"method": method, "max_steps": args.steps}))
            started = time.perf_counter()
            result = run(job)
            elapsed = time.perf_counter() - started
            logs = [json.loads(line) for line in (job / "progress.jsonl").read_text().splitlines()]
            runtime = next(p["train_runtime"] for p in logs if "train_runtime" in p)
            per_query = DEFAULTS["group_size"] if method != "distill" else DEFAULTS["list_size"]
            pairs = args.steps * DEFAULTS["batch_size"] * per_query
            print(f"{method}: {args.steps} steps in {runtime:.1f} s of training ({elapsed:.1f} s with loading and saving) "
                  f"-> {pairs / runtime:,.1f} pairs/s, {args.steps * DEFAULTS['batch_size'] / runtime:.2f} queries/s; {result['status']}")


if __name__ == "__main__":
    main()
