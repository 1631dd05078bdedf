"""Experiment, not a product path: can the reranker teach itself from your users' log, with no judge and no expert?

    python -m bench.quality --corpus medquad --train-passages 3000 --log-queries 2000 --variants users --expert 0 \
        --workspace bench/results/ws-st --name st-r1-s0
    python -m bench.self_training --workspace bench/results/ws-st --model 1 --into bench/results/ws-st-c20 [--confident 0.2]

Round 1 is ``bench.quality``'s users variant with no expert: the rules' queries train the reranker, the log's
queries are mined and left unlabelled. Here the round-1 reranker (as evaluation scores it, BM25 mixed in) grades
each log query's candidates: its top candidate 3, those it ranks from ``--negatives-from`` on 0, for the
``--confident`` share of log queries whose top candidate leads the second by most. It works on a copy of round 1's
database in ``--into`` (a new workspace), so every variant starts from round 1's labels. Round 2 trains with the
product's defaults, then the hybrid and both rounds are evaluated on the same test set, with paired t-tests.
"""

import argparse
import os
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--corpus", default="bench-medquad-users")
    parser.add_argument("--model", type=int, required=True, help="the round-1 reranker's model id")
    parser.add_argument("--into", type=Path, required=True, help="a new workspace for round 2 (round 1's is copied)")
    parser.add_argument("--negatives-from", type=int, default=10)
    parser.add_argument("--confident", type=float, default=1.0)
    args = parser.parse_args()
    if (args.into / "qurate.duckdb").exists():
        raise SystemExit(f"{args.into} already holds a workspace: name a new folder")
    args.into.mkdir(parents=True, exist_ok=True)
    for name in ("qurate.duckdb", "qurate.duckdb.wal"):
        if (args.workspace / name).exists():
            shutil.copy2(args.workspace / name, args.into / name)
    os.environ["QURATE_WORKSPACE"] = str(args.into.resolve())  # round 2's job folder goes there

    import numpy as np
    from scipy.stats import ttest_rel

    from core.evaluate import evaluate
    from core.systems import list_scores
    from core.training.jobs import launch_job, wait_for
    from storage import corpora
    from storage import evaluations as evalstore
    from storage import labels as store
    from storage.db import connect
    from storage.queries import query_records

    con = connect(args.into / "qurate.duckdb")
    corpus = corpora.corpus_id(con, args.corpus)
    records = query_records(con, corpus)
    lists: dict[int, tuple[str, list[str]]] = {}
    candidates = store.effective_labels(con, corpus)  # every candidate of the kept queries, best first
    for query, passage in zip(candidates["query_id"], candidates["passage_id"]):
        if records[query]["passage_id"] is None:  # a users' query
            lists.setdefault(int(query), (records[query]["text"], []))[1].append(passage)
    ids = sorted(lists)
    scores = list_scores(con, corpus, f"rerank:{args.model}", [lists[q][0] for q in ids], [lists[q][1] for q in ids])
    ranked = []
    for query, s in zip(ids, scores):
        order = np.argsort(-s)
        ranked.append((float(s[order[0]] - s[order[1]]), query, [lists[query][1][i] for i in order]))
    ranked.sort(reverse=True)
    kept = ranked[: round(len(ranked) * args.confident)]
    rows = []
    for _, query, passages in kept:
        rows.append((query, passages[0], 3, "the round-1 reranker's top", "self-training", "v0", None, "ok", None))
        rows += [
            (query, p, 0, "ranked low by the round-1 reranker", "self-training", "v0", None, "ok", None)
            for p in passages[args.negatives_from :]
        ]
    store.insert_labels(con, rows)
    print(f"labelled {len(kept)} of {len(ranked)} log queries ({len(rows)} pairs)", flush=True)
    started = time.perf_counter()
    job = wait_for(con, launch_job(con, corpus, {"method": "lce"}), timeout_s=7200)
    print(f"round 2 trained in {time.perf_counter() - started:.0f} s: {job['status']}", flush=True)
    if job["status"] != "done":
        raise SystemExit(job.get("error"))
    test_set = int(corpora.test_sets(con, corpus)["id"].max())
    second = f"rerank:{job['model_id']}"
    board = evaluate(con, test_set, ["hybrid", f"rerank:{args.model}", second])
    print(board.text(), flush=True)
    per = {r.system: evalstore.per_query(con, r.run_id, "ndcg@10") for r in board.rows}
    first, again, hybrid = (
        np.array([per[s][q] for q in sorted(per[s])]) for s in (f"rerank:{args.model}", second, "hybrid")
    )
    print(
        f"round 2 - round 1 {np.mean(again - first):+.4f} (p {ttest_rel(again, first).pvalue:.2g}); "
        f"round 2 - hybrid {np.mean(again - hybrid):+.4f} (p {ttest_rel(again, hybrid).pvalue:.2g})"
    )


if __name__ == "__main__":
    main()
