"""Benchmark: the bundled local model (Gemma 3 270M, llama.cpp in process) as generator and judge, end to end.

    python -m bench.local_throughput [--passages 47] [--judge-top 3] [--slots 8] [--beir FOLDER]

A fresh workspace with the sample corpus (or a BEIR folder's corpus): one query per passage, the rules' two types
in turn (the local model's default), then the yes / no judge on each query's top candidates (``--judge-top 0``:
none). Prints queries/s and pairs/s (the model's loading included, its file assembled beforehand), what the
filters flagged and why, and a few queries. ``--slots``: prompts decoded together (``core.localmodel.SLOTS``).
"""

import argparse
import os
import tempfile
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=47)
    parser.add_argument("--judge-top", type=int, default=3)
    parser.add_argument("--slots", type=int, default=0)
    parser.add_argument("--beir", default="")
    args = parser.parse_args()
    os.environ["QURATE_WORKSPACE"] = tempfile.mkdtemp(prefix="qurate-local-")
    from bench import machine
    from core import localmodel
    from core.generate import GenerationSettings, default_types, generate_queries, list_queries, select_passages
    from core.ingest import ingest_path, load_sample_corpus
    from core.judge import JudgeSettings, effective_labels, judge_candidates
    from core.llm import LOCAL, LLMConfig
    from core.localmodel import model_file
    from core.mine import mine_candidates
    from core.settings import database_path
    from storage.db import connect

    con = connect(database_path())
    corpus = (ingest_path(con, "bench", args.beir) if args.beir else load_sample_corpus(con)).corpus_id
    localmodel.SLOTS = args.slots or localmodel.SLOTS
    model_file()  # assembled once, outside the timing
    config = LLMConfig(model=LOCAL, temperature=0.2, max_tokens=32)
    passages = select_passages(con, corpus, "sample", args.passages)
    started = time.perf_counter()
    report = generate_queries(
        con, corpus, passages, GenerationSettings(per_type=default_types(True), in_turn=True, llm=config)
    )
    seconds = time.perf_counter() - started
    page, _ = list_queries(con, corpus, show="all", limit=100_000)
    rows = [(text, [f for f in flagged.split(", ") if f]) for text, flagged in zip(page["query"], page["flags"])]
    flags = Counter(f for _, fl in rows for f in fl)
    print(
        f"generation: {report.made} queries in {seconds:.1f} s, {report.made / seconds:.2f} queries/s; "
        f"{report.flagged} flagged {dict(flags)}; {len(report.failures)} failed"
    )
    for text, fl in rows[:8]:
        print(f"  {text!r}{' ' + str(fl) if fl else ''}")
    if not args.judge_top:
        print(machine(), f"slots {localmodel.SLOTS}")
        return
    mine_candidates(con, corpus, k=10)
    started = time.perf_counter()
    judged = judge_candidates(con, corpus, JudgeSettings(max_candidates=args.judge_top, llm=config))
    seconds = time.perf_counter() - started
    labels = effective_labels(con, corpus)
    grades = dict(
        Counter(str(int(g)) if g == g else "failed or unsure" for g in labels["llm_grade"][labels["judge"].notna()])
    )
    print(f"judge: {judged.pairs} pairs in {seconds:.1f} s, {judged.pairs / seconds:.2f} pairs/s; grades {grades}")
    print(machine(), f"slots {localmodel.SLOTS}")


if __name__ == "__main__":
    main()
