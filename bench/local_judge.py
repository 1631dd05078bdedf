"""Benchmark: the local model's P(yes) as a judge of real queries, against the collection's judgments.

    python -m bench.local_judge --corpus cisi [--queries 30] [--top 10] [--seed 0]

A fresh workspace holds the corpus's documents (no test set); a seeded sample of its real test
queries is ranked by the product's first stage (``core.retrieve.rank``: BM25 + MiniLM fused), and
each query's top ``--top`` passages are judged by the bundled local model through the product's
judge requests (``core.judge``: the few-shot yes / no prompt, P(yes) from the first token's
probabilities, calibrated by its P(yes) with no document, graded round(3 P)). Against the qrels (a passage of a judged document is
relevant): how often the judge's relevant (grade >= 2) agrees, its precision and recall, and
nDCG@10 of the same candidates ordered by P(yes), by the fused score and by MiniLM alone.
The offline rules judge cannot grade these queries (they have no source passage), so it has no row.
"""

import argparse
import json
import math
import os
import random
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def ndcg10(order: list[str], relevant: dict[str, int]) -> float:
    gains = [relevant.get(d, 0) for d in order[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["cisi", "medquad"], default="cisi")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("QURATE_WORKSPACE", tempfile.mkdtemp(prefix="qurate-judge-"))
    from bench import machine
    from bench.quality import _beir
    from core.ingest import IngestOptions, ingest_path
    from core.judge import JudgeSettings, _requests, parse_yes_no, prior_of, prior_request
    from core.llm import LOCAL, LLMConfig, run_requests
    from core.retrieve import rank
    from core.settings import database_path
    from storage import corpora
    from storage.db import connect

    folder = SHARED / args.corpus
    queries, qrels = _beir(folder)
    con = connect(database_path())
    corpus = (
        corpora.corpus_id(con, args.corpus)
        or ingest_path(con, args.corpus, folder / "corpus.jsonl", IngestOptions()).corpus_id
    )
    chosen = sorted(random.Random(args.seed).sample(sorted(qrels), args.queries))
    ranked = rank(con, corpus, [queries[q] for q in chosen])
    docs = {pid: doc for pid, (doc, _, _) in corpora.passage_records(con, corpus).items()}
    records = {
        pid: (docs[pid], title, text, digest)
        for pid, title, text, digest in corpora.passages_by_id(con, corpus, list(docs))
    }
    pairs = []
    for row, q in enumerate(chosen):
        for position, i in enumerate(ranked.top("fused", row, args.top)):
            pid = ranked.passage_ids[i]
            doc, title, text, digest = records[pid]
            pairs.append(
                {
                    "query_id": row,
                    "passage_id": pid,
                    "query": queries[q],
                    "text_hash": digest,
                    "passage": f"{title}. {text}" if title else text,
                    "doc": doc,
                    "fused_rank": position,
                    "dense": float(ranked.dense[row, i]),
                }
            )
    settings = JudgeSettings(max_candidates=args.top, llm=LLMConfig(model=LOCAL))
    requests, members = _requests(pairs, settings)
    answers: dict[str, str] = {}

    def keep(results):
        for result in results:
            answers[result.key] = result.text

    started = time.perf_counter()
    meter = run_requests(con, settings.llm, requests, keep)
    query_of = {prior_request(settings, q).key: q for q in {p["query"] for p in pairs}}
    priors: dict[str, float | None] = {}  # the model's P(yes) with no document, per query
    run_requests(
        con,
        settings.llm,
        [prior_request(settings, q) for q in query_of.values()],
        lambda results: priors.update({query_of[r.key]: prior_of(r) for r in results}),
    )
    seconds = time.perf_counter() - started
    for key, group in members.items():
        pair = group[0]
        grade, reason, _ = parse_yes_no(answers.get(key))  # P(yes) as it is
        pair["raw_grade"], pair["p"] = grade, (float(reason.rsplit(" ", 1)[1]) if "P(yes)" in reason else None)
        pair["grade"] = parse_yes_no(answers.get(key), priors.get(pair["query"]))[0]  # calibrated: the product's grade

    def figures(grade_key: str) -> dict:
        judged = [p for p in pairs if p[grade_key] is not None]
        truth = [p["doc"] in qrels[chosen[p["query_id"]]] for p in judged]
        said = [p[grade_key] >= 2 for p in judged]
        tp = sum(a and b for a, b in zip(truth, said))
        return {
            "judged": len(judged),
            "relevant_share_truth": round(sum(truth) / max(len(truth), 1), 3),
            "relevant_share_judge": round(sum(said) / max(len(said), 1), 3),
            "agreement": round(sum(a == b for a, b in zip(truth, said)) / max(len(judged), 1), 3),
            "precision": round(tp / max(sum(said), 1), 3),
            "recall": round(tp / max(sum(truth), 1), 3),
        }

    by = {"P(yes)": [], "fused": [], "MiniLM": []}
    for row, q in enumerate(chosen):
        group = [p for p in pairs if p["query_id"] == row]
        relevant = {d: 1 for d in qrels[q]}
        first_of = lambda ordered: list(dict.fromkeys(p["doc"] for p in ordered))  # noqa: E731  (a document once)
        by["P(yes)"].append(
            ndcg10(first_of(sorted(group, key=lambda p: -(p["p"] if p["p"] is not None else -1))), relevant)
        )
        by["fused"].append(ndcg10(first_of(sorted(group, key=lambda p: p["fused_rank"])), relevant))
        by["MiniLM"].append(ndcg10(first_of(sorted(group, key=lambda p: -p["dense"])), relevant))
    result = {
        "corpus": args.corpus,
        "queries": len(chosen),
        "top": args.top,
        "seed": args.seed,
        "pairs": len(pairs),
        "with_p_yes": sum(p["p"] is not None for p in pairs),
        "calibrated": figures("grade"),
        "uncalibrated": figures("raw_grade"),
        "ndcg@10_within_top": {name: round(sum(v) / len(v), 4) for name, v in by.items()},
        "seconds": round(seconds, 1),
        "pairs_per_s": round(meter.done / seconds, 2) if seconds else None,
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
