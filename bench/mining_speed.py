"""Benchmark: candidates per second for BM25, dense and fused ranking on the full MedQuAD corpus.

    python -m bench.mining_speed [--queries 1000] [--k 30] [--workspace bench/results/medquad-ws]

The first run is cold (the BM25 index is built and every passage is encoded with the
bundled MiniLM: about 10 minutes on 2 cores); a second run with the same --workspace
reuses the cached embeddings. Queries are a seeded sample of the real MedQuAD questions
(speed only: nothing here trains on them). Also prints Recall@k of each method
against the qrels, as a sanity check of the ranking.
"""

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from bench.ingest_speed import DEFAULT_DATA
from core import embed
from core.ingest import ingest_path
from core.retrieve import bm25_index, passage_texts, rrf
from storage import corpora
from storage.cache import count_vectors
from storage.db import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--workspace", type=Path, default=Path("bench/results/medquad-ws"))
    args = parser.parse_args()
    args.workspace.mkdir(parents=True, exist_ok=True)
    con = connect(args.workspace / "qurate.duckdb")
    corpus = corpora.corpus_id(con, "medquad") or ingest_path(con, "medquad", args.data).corpus_id
    cached = count_vectors(con)
    print(f"workspace {args.workspace}: {cached:,} embeddings cached ({'cached run' if cached else 'cold run'})")

    queries = [json.loads(line) for line in (args.data / "queries.jsonl").open()]
    sample = random.Random(0).sample(queries, args.queries)
    qrels: dict[str, set[str]] = {}
    for line in (args.data / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, _ = line.split("\t")
        qrels.setdefault(q, set()).add(d)
    texts = [q["text"] for q in sample]
    ids, _ = passage_texts(con, corpus)
    n = len(texts) * args.k

    started = time.perf_counter()
    index = bm25_index(con, corpus)
    built = time.perf_counter()
    bm25 = index.scores(texts)
    bm25_done = time.perf_counter()
    print(
        f"bm25: index {built - started:.1f} s, scoring {bm25_done - built:.1f} s -> {n / (bm25_done - started):,.0f} candidates/s"
    )

    started = time.perf_counter()
    _, passage_text = passage_texts(con, corpus)
    passages = embed.encode(
        con, passage_text, progress=lambda f, m: print(f"  {m}", flush=True) if int(f * 100) % 10 == 0 else None
    )
    encoded = time.perf_counter()
    dense = embed.encode(con, texts) @ passages.T
    dense_done = time.perf_counter()
    print(
        f"dense: passages {encoded - started:.1f} s ({len(passage_text) / max(encoded - started, 1e-9):,.0f} passages/s), "
        f"queries + scoring {dense_done - encoded:.1f} s -> {n / (dense_done - started):,.0f} candidates/s"
    )

    started = time.perf_counter()
    fused = rrf(bm25, dense)
    fused_done = time.perf_counter()
    total = (bm25_done - built) + (dense_done - encoded) + (fused_done - started)
    print(
        f"fused (given both): {fused_done - started:.1f} s; all three with cached index and embeddings: "
        f"{total:.1f} s -> {n / total:,.0f} candidates/s"
    )

    for name, scores in (("bm25", bm25), ("dense", dense), ("fused", fused)):
        top = np.argsort(-scores, axis=1)[:, : args.k]
        hits = [
            len({ids[i] for i in row} & qrels.get(q["_id"], set())) / max(len(qrels.get(q["_id"], ())), 1)
            for q, row in zip(sample, top)
        ]
        print(f"Recall@{args.k} {name}: {np.mean(hits):.3f}")


if __name__ == "__main__":
    main()
