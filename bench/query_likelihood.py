"""Experiment, not a product path: can the local model judge your users' log by query likelihood?

    python -m bench.query_likelihood --workspace bench/results/ws-st --corpus bench-medquad-users \
        --data ../shared/data/medquad --model 1 [--queries 60] [--seed 0]

The local model's yes / no judge says yes to almost everything (bench.local_judge). Another way a base model can
judge is the likelihood of the query given the passage (Sachan et al., 2022, "Improving Passage Retrieval with
Zero-Shot Question Generation"): the mean log probability of the query's tokens after a passage and a line asking
for a question about it (``core.localmodel.LocalModel.likelihood``). The workspace is one that ``bench.quality``'s
users variant left (``--expert 0``): its users' queries are mined and unlabelled, and ``--model`` is its reranker.
For a seeded sample of those queries, their first 10 candidates (the expert's view) are ordered by mining's
fused score (BM25 + MiniLM, reciprocal rank fusion), by the query likelihood, by the reranker (as evaluation scores
it) and by the sum of the likelihood's and the reranker's z-scores within the list; each order is scored against
the collection's judgments (a passage of a judged document is relevant) by nDCG over the 10 (the ideal: the 10's
relevant ones first) and by whether its first is relevant, over the queries with a relevant passage among the 10. A judge that teaches the reranker must order them better than the reranker does.
The workspace's database is copied first: the experiment writes nothing there.
"""

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--corpus", required=True, help="the stored corpus's name, e.g. bench-cisi-users")
    parser.add_argument("--data", type=Path, required=True, help="the BEIR folder whose judgments score the orders")
    parser.add_argument("--model", type=int, required=True, help="the workspace's reranker (model id)")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ["QURATE_WORKSPACE"] = str(args.workspace.resolve())  # the reranker's folder and the model file
    copy = Path(tempfile.mkdtemp(prefix="qurate-ql-")) / "qurate.duckdb"
    shutil.copy2(args.workspace / "qurate.duckdb", copy)

    import numpy as np

    from bench.local_judge import ndcg10
    from bench.quality import _beir
    from core.localmodel import LocalModel
    from core.prompts import COMPLETION_WORDS
    from core.systems import list_scores
    from core.userqueries import same_text
    from storage import corpora
    from storage import labels as store
    from storage.db import connect
    from storage.queries import query_records

    queries, qrels = _beir(args.data)
    judged = {}
    for q, docs in qrels.items():
        judged.setdefault(same_text(queries[q]), set()).update(docs)
    con = connect(copy)
    corpus = corpora.corpus_id(con, args.corpus)
    records = query_records(con, corpus)
    passages = corpora.passage_records(con, corpus)
    candidates = store.effective_labels(con, corpus)
    lists: dict[int, list[str]] = {}
    for query, passage, rank in zip(candidates["query_id"], candidates["passage_id"], candidates["rank"]):
        if records[query]["passage_id"] is None and rank < 10:  # a users' query's first 10
            lists.setdefault(int(query), []).append(passage)
    ids = sorted(lists)
    random.Random(args.seed).shuffle(ids)
    ids = ids[: args.queries]
    texts = [records[q]["text"] for q in ids]
    reranker = list_scores(con, corpus, f"rerank:{args.model}", texts, [lists[q] for q in ids])
    fused = list_scores(con, corpus, "fused", texts, [lists[q] for q in ids])
    started = time.perf_counter()
    likelihood = []
    with LocalModel(slots=16) as model:
        for q, text in zip(ids, texts):
            pairs = [
                (
                    f"Passage: {passages[p][1]}. {' '.join(passages[p][2].split()[:COMPLETION_WORDS])}\n"
                    "A question a reader of this passage might ask:",
                    " " + text,
                )
                for p in lists[q]
            ]
            likelihood.append(np.array(model.likelihood(pairs)))
    seconds = time.perf_counter() - started
    pairs = sum(len(lists[q]) for q in ids)
    print(f"{pairs} pairs read in {seconds:.0f} s ({pairs / seconds:.2f} pairs/s)")

    def z(x):
        return (x - x.mean()) / (x.std() + 1e-9)

    results: dict[str, list[tuple[float, int]]] = {}
    for q, text, h, ql, r in zip(ids, texts, fused, likelihood, reranker):
        relevant = {p: 1 for p in lists[q] if passages[p][0] in judged.get(same_text(text), set())}
        if not relevant:
            continue
        orders = {"fused (RRF)": h, "query likelihood": ql, "reranker": r, "likelihood + reranker": z(ql) + z(r)}
        for name, scores in orders.items():
            order = [lists[q][i] for i in np.argsort(-scores, kind="stable")]
            results.setdefault(name, []).append((ndcg10(order, relevant), relevant.get(order[0], 0)))
    print(f"{len(results['fused (RRF)'])} of {len(ids)} users' queries have a relevant passage among their first 10")
    print("| order of the first 10 | nDCG | first relevant |\n|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | {np.mean([n for n, _ in rows]):.3f} | {np.mean([f for _, f in rows]):.3f} |")


if __name__ == "__main__":
    main()
