"""Benchmark: every time estimate the product shows, beside the time the step then took on this machine.

    python -m bench.estimates [--corpus sample,cisi] [--local-passages 40] [--local-judge-pairs 60]

Per corpus, in a fresh workspace: the rules write the queries (the estimate the Queries page shows), mining encodes
the corpus and ranks every query (the home page's), the default training job runs to its end (the Train page's:
the job's whole time, export to recorded model, against the estimate), and on a seeded sample of passages the
bundled local model writes queries and judges pairs of
the top 5 candidates until about 60 are judged (the model's loading and calibration calls included). Prints a table of
estimate, measured and their ratio, and writes bench/results/estimates.json.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def run_corpus(name: str, local_passages: int, local_judge_pairs: int) -> list[dict]:
    os.environ["QURATE_WORKSPACE"] = tempfile.mkdtemp(prefix=f"qurate-estimates-{name}-")
    from bench import DATA
    from core import rates
    from core.embed import expected_precision
    from core.generate import GenerationSettings, default_in_turn, default_types, generate_queries, select_passages
    from core.ingest import ingest_path, load_sample_corpus
    from core.judge import JudgeSettings, judge_candidates
    from core.llm import LOCAL, LLMConfig
    from core.localmodel import model_file
    from core.mine import mine_candidates
    from core.settings import database_path
    from core.training.data import build_training_data
    from core.training.jobs import launch_job, wait_for
    from core.training.spec import TrainSpec, estimate_seconds, training_precision
    from storage.db import connect

    con = connect(database_path())
    corpus = (load_sample_corpus(con) if name == "sample" else ingest_path(con, name, DATA / name)).corpus_id
    rows = []
    progress = {"done": 0}

    def row(step: str, estimate: float | None, started: float, detail: str) -> None:
        measured = time.perf_counter() - started
        rows.append(
            {
                "corpus": name,
                "step": step,
                "detail": detail,
                "estimate_s": round(estimate, 1) if estimate is not None else None,
                "measured_s": round(measured, 1),
                "ratio": round(measured / estimate, 2) if estimate else None,
            }
        )
        print(rows[-1], flush=True)

    passages = select_passages(con, corpus, "all")
    settings = GenerationSettings(per_type=default_types(True), in_turn=default_in_turn(True), llm=LLMConfig())
    started = time.perf_counter()
    made = generate_queries(con, corpus, passages, settings).made
    row("generate, rules", rates.generation_seconds(made, "rules"), started, f"{made:,} queries")

    precision = expected_precision()
    started = time.perf_counter()
    report = mine_candidates(con, corpus)
    row(
        "mine",
        rates.mining_seconds(len(passages), report.queries, precision),
        started,
        f"{len(passages):,} passages encoded, {report.queries:,} queries ({precision})",
    )
    judge_candidates(con, corpus, JudgeSettings())  # the rules: instant, not an estimate anyone plans by

    spec = TrainSpec()
    train_queries = len(build_training_data(con, corpus, spec.group_size, dev_fraction=spec.dev_fraction).groups)
    estimate = estimate_seconds(spec, train_queries, precision=training_precision())
    started = time.perf_counter()
    job = wait_for(con, launch_job(con, corpus, spec), timeout_s=3600)
    row("train, defaults", estimate, started, f"{train_queries:,} training queries, {job['status']}")

    model_file()  # assembled once per workspace, outside the timing
    local = LLMConfig(model=LOCAL, temperature=0.2, max_tokens=32)
    sample = select_passages(con, corpus, "sample", local_passages, seed=1)
    started = time.perf_counter()
    made = generate_queries(
        con, corpus, sample, GenerationSettings(per_type=default_types(True), in_turn=True, llm=local)
    ).made
    row("generate, local model", rates.generation_seconds(made, "local"), started, f"{made:,} queries")

    target = local_judge_pairs
    started = time.perf_counter()
    judged = judge_candidates(
        con,
        corpus,
        JudgeSettings(max_candidates=5, llm=local),
        progress=lambda meter: progress.update(done=meter.done),
        should_stop=lambda: progress["done"] >= target,
    )
    pairs = judged.labelled + judged.failed
    row("judge, local model", rates.judging_seconds(pairs, "local"), started, f"{pairs:,} pairs")
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="sample,cisi")
    parser.add_argument("--local-passages", type=int, default=40)
    parser.add_argument("--local-judge-pairs", type=int, default=60)
    args = parser.parse_args()
    from bench import machine

    rows = [r for name in args.corpus.split(",") for r in run_corpus(name, args.local_passages, args.local_judge_pairs)]
    print(f"\n{'corpus':<8} {'step':<22} {'estimate':>9} {'measured':>9} {'ratio':>6}  detail")
    for r in rows:
        print(
            f"{r['corpus']:<8} {r['step']:<22} {r['estimate_s'] or '-':>9} {r['measured_s']:>9} {r['ratio'] or '-':>6}  "
            f"{r['detail']}"
        )
    out = Path("bench/results/estimates.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "date": time.strftime("%Y-%m-%d"), "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
