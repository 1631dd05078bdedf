"""Benchmark: training throughput (queries and texts per second) of each method.

    python -m bench.train_throughput [--steps 10] [--methods lce distill]
    python -m bench.train_throughput --job FOLDER [--spec '{"tune": "full"}'] [--out rows.jsonl]

Without ``--job``: builds training data from the sample corpus (offline queries and judge),
then runs core.training.run in this process for a fixed number of steps at the default settings.

With ``--job``: trains a copy of a job folder that Qurate wrote (``qurate train CORPUS
--prepare-only``, or one of bench.quality's workspace jobs) with its own spec and the
overrides of ``--spec``, to the end unless the spec says ``max_steps``, and reports the
seconds, the rates and the dev split's nDCG@10 before and after. This is how a GPU run is
timed: the folder travels, the corpus and DuckDB stay behind. Runs on CUDA when present.
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench import machine
from core.training.methods import LISTS, METHODS
from core.training.run import run
from core.training.spec import DEFAULTS, TrainSpec, device_summary, texts_per_query


def time_job(source: Path, overrides: dict) -> dict:
    """Train a copy of the job folder ``source`` with ``overrides`` on its spec; seconds, rates and dev scores."""
    with tempfile.TemporaryDirectory() as scratch:
        job = Path(scratch) / "job"
        shutil.copytree(
            source,
            job,
            ignore=shutil.ignore_patterns("model", "checkpoints", "result.json", "progress.jsonl", "cancel"),
        )
        spec = {**json.loads((job / "spec.json").read_text()), **overrides}
        (job / "spec.json").write_text(json.dumps(spec))
        spec = TrainSpec.load(job)
        started = time.perf_counter()
        result = run(job)
        elapsed = time.perf_counter() - started
        logs = [json.loads(line) for line in (job / "progress.jsonl").read_text().splitlines()]
        start = next(p for p in logs if p.get("event") == "start")
        runtime = next(p["train_runtime"] for p in logs if "train_runtime" in p)
        metrics = result.get("metrics", {})
        queries = min(start["total_steps"] * spec.batch_size, metrics.get("train_examples", 0) * spec.epochs)
    return {
        "job": str(source),
        "overrides": overrides,
        "device": start["device"],
        "precision": start["precision"],
        "method": spec.method,
        "tune": spec.tune,
        "batch_size": spec.batch_size,
        "max_length": spec.max_length,
        "train_examples": metrics.get("train_examples"),
        "steps": metrics.get("steps"),
        "queries": round(queries),
        "train_seconds": round(runtime, 1),
        "total_seconds": round(elapsed, 1),
        "queries_per_s": round(queries / runtime, 1),
        "texts_per_s": round(queries * texts_per_query(spec) / runtime, 1),
        "baseline_dev_ndcg@10": metrics.get("baseline_dev_ndcg@10"),
        "dev_ndcg@10": metrics.get("dev_ndcg@10"),
        "weight_mix": metrics.get("weight_mix"),
        "status": result["status"],
    }


def sample_steps(steps: int, methods: list[str]) -> None:
    from core.generate import GenerationSettings, generate_queries, select_passages
    from core.ingest import load_sample_corpus
    from core.judge import JudgeSettings, judge_candidates
    from core.mine import mine_candidates
    from core.training.data import build_training_data, export
    from storage.db import connect

    with tempfile.TemporaryDirectory() as folder:
        con = connect(Path(folder) / "bench.duckdb")
        corpus = load_sample_corpus(con).corpus_id
        generate_queries(
            con,
            corpus,
            select_passages(con, corpus),
            GenerationSettings(per_type={t: 1 for t in ("question", "keywords", "web", "casual")}),
        )
        mine_candidates(con, corpus)
        judge_candidates(con, corpus, JudgeSettings(max_candidates=30))
        data = build_training_data(con, corpus, dev_fraction=0.0)
        print(f"device: {device_summary()}; {len(data.groups)} training queries")
        for method in methods:
            job = Path(folder) / method
            export(data, job)
            (job / "spec.json").write_text(json.dumps({"method": method, "max_steps": steps}))
            started = time.perf_counter()
            result = run(job)
            elapsed = time.perf_counter() - started
            logs = [json.loads(line) for line in (job / "progress.jsonl").read_text().splitlines()]
            runtime = next(p["train_runtime"] for p in logs if "train_runtime" in p)
            per_query = DEFAULTS["list_size"] if METHODS[method].data == LISTS else DEFAULTS["group_size"]
            pairs = steps * DEFAULTS["batch_size"] * per_query
            print(
                f"{method}: {steps} steps in {runtime:.1f} s of training ({elapsed:.1f} s with loading and saving) "
                f"-> {pairs / runtime:,.1f} pairs/s, {steps * DEFAULTS['batch_size'] / runtime:.2f} queries/s; {result['status']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--methods", nargs="+", default=["lce", "distill"])
    parser.add_argument("--job", type=Path, help="a job folder to train a copy of, to the end")
    parser.add_argument("--spec", default="{}", help='overrides of the job\'s spec as JSON, e.g. \'{"tune": "full"}\'')
    parser.add_argument("--out", type=Path, help="append the job's figures to this JSON-lines file")
    args = parser.parse_args()
    if args.job is None:
        sample_steps(args.steps, args.methods)
        return
    print(f"device: {device_summary()}", flush=True)
    row = {**time_job(args.job, json.loads(args.spec)), "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    print(json.dumps(row), flush=True)
    if args.out:
        with args.out.open("a") as handle:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
