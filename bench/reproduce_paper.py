"""Benchmark: the whole flow on MedQuAD, offline (no LLM), against the real held-out questions.

    python -m bench.reproduce_paper [--train-queries 800] [--eval-questions 500] [--retriever] [--quick]

1. ingests MedQuAD (reusing bench/results/medquad-ws and its cached embeddings);
2. picks a seeded sample of real questions for evaluation, and training passages among
   the passages those questions do NOT point to;
3. generates synthetic queries for the training passages with the offline generator
   (one query per passage, the six types in turn), mines candidates, judges offline;
4. fine-tunes the LCE reranker (and, with --retriever, the distilled retriever) through
   the same job code as the app (core.train.run on an exported job folder);
5. every system reranks the same first-stage pool (top 30 of BM25 + MiniLM fusion) of
   each evaluation question; nDCG@10, MRR@10, Recall@10 by ranx, paired t-tests by scipy.
The real questions are never used for training. Writes bench/results/reproduce-*.json.
"""

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from bench.ingest_speed import DEFAULT_DATA
from core import embed
from core.datasets import TrainingData, build_training_data, export
from core.generate import GenerationSettings, generate_queries
from core.ingest import ingest_path
from core.judge import JudgeSettings, judge_candidates
from core.mine import mine_candidates
from core.prompts import QUERY_TYPES
from core.retrieve import bm25_index, dense_scores, passage_texts, rrf
from core.train import run as train
from storage import corpora
from storage.db import connect

POOL = 30
CURVE = (100, 200, 400)  # with --curve, smaller training sets besides the full one


def per_query_metrics(qrels: dict, runs: dict) -> dict:
    from ranx import Qrels, Run, evaluate

    q = Qrels(qrels)
    scores = evaluate(q, Run(runs), ["ndcg@10", "mrr@10", "recall@10"], return_mean=False, make_comparable=True)
    return {m: dict(zip(q.keys(), map(float, v))) for m, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workspace", type=Path, default=Path("bench/results/medquad-ws"))
    parser.add_argument("--train-queries", type=int, default=800)
    parser.add_argument("--eval-questions", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--retriever", action="store_true", help="also train and evaluate the distilled retriever")
    parser.add_argument("--reuse", action="store_true", help="evaluate models an earlier run trained instead of training again")
    parser.add_argument("--curve", action="store_true", help="also train on 100, 200 and 400 of the training queries")
    parser.add_argument("--quick", action="store_true", help="200 training queries, 100 questions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="", help="suffix of the output file, to keep several runs")
    parser.add_argument("--spec", type=json.loads, default={}, help='extra training spec as JSON, e.g. \'{"learning_rate": 3e-5}\'')
    args = parser.parse_args()
    if args.quick:
        args.train_queries, args.eval_questions = 200, 100
    timings, started = {}, time.perf_counter()
    args.workspace.mkdir(parents=True, exist_ok=True)
    con = connect(args.workspace / "qurate.duckdb")

    t = time.perf_counter()
    corpus = corpora.corpus_id(con, "medquad") or ingest_path(con, "medquad", args.data).corpus_id
    timings["ingest_s"] = time.perf_counter() - t
    run_name = f"bench-{args.train_queries}-{args.seed}"
    con.execute("DELETE FROM candidates WHERE query_id IN (SELECT id FROM queries WHERE corpus_id = ?)", [corpus])
    con.execute("DELETE FROM labels WHERE query_id IN (SELECT id FROM queries WHERE corpus_id = ?)", [corpus])
    con.execute("DELETE FROM queries WHERE corpus_id = ?", [corpus])

    questions = {r["_id"]: r["text"] for r in map(json.loads, (args.data / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    for line in (args.data / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, s = line.split("\t")
        qrels.setdefault(q, {})[d] = int(s)
    rng = random.Random(args.seed)
    eval_ids = sorted(rng.sample(sorted(q for q in questions if q in qrels), args.eval_questions))
    held_out_passages = {d for q in eval_ids for d in qrels[q]}
    ids, texts = passage_texts(con, corpus)
    train_passages = sorted(rng.sample([p for p in ids if p not in held_out_passages], args.train_queries))

    t = time.perf_counter()
    for index, qtype in enumerate(QUERY_TYPES):  # one query per passage, the types in turn
        part = train_passages[index::len(QUERY_TYPES)]
        generate_queries(con, corpus, part, GenerationSettings(per_type={qtype: 1}))
    timings["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    mining = mine_candidates(con, corpus, k=30)
    timings["mine_s"] = time.perf_counter() - t
    t = time.perf_counter()
    judge_candidates(con, corpus, JudgeSettings(max_candidates=30))
    timings["judge_s"] = time.perf_counter() - t
    data = build_training_data(con, corpus, dev_fraction=0.1, seed=args.seed)
    print(f"training data: {data.counts}; mining: source in top 30 for {mining.source_in_top_k}/{mining.queries}", flush=True)

    source_of = dict(con.execute("SELECT id, passage_id FROM queries WHERE corpus_id = ?", [corpus]).fetchall())
    jobs = [("lce", args.train_queries)] + [("lce", n) for n in CURVE if args.curve and n < args.train_queries]
    jobs += [("distill", args.train_queries)] if args.retriever else []
    models, curve, full_size = {}, {}, {m for m, size in jobs if size == args.train_queries}
    for method, size in jobs:
        keep = set(train_passages[:size])  # nested subsets: the curve's smaller sets lie inside the larger ones
        subset = TrainingData([g for g in data.groups if source_of[g["query_id"]] in keep],
                              [r for r in data.lists if source_of[r["query_id"]] in keep], data.dev)
        name = method if size == args.train_queries else f"{method}-{size}"
        folder = args.workspace / "jobs" / f"{run_name}-{name}"
        done = folder / "result.json"
        if args.reuse and done.exists() and json.loads(done.read_text()).get("status") == "done":
            models[name] = json.loads(done.read_text())  # trained by an earlier run on the same seeded data
            curve.update({size: f"{name} fine-tuned"} if method == "lce" else {})
            print(f"{name}: reusing {done}", flush=True)
            continue
        export(subset, folder)
        (folder / "progress.jsonl").unlink(missing_ok=True)
        (folder / "spec.json").write_text(json.dumps({"method": method, "epochs": args.epochs, "seed": args.seed, **args.spec}))
        t = time.perf_counter()
        result = train(folder)
        timings[f"train_{name}_s"] = time.perf_counter() - t
        print(f"{name}: {len(subset.groups)} groups, {result['status']} in {timings[f'train_{name}_s']:.0f} s; {result.get('metrics')}", flush=True)
        models[name] = result
        if method == "lce":
            curve[size] = f"{name} fine-tuned"

    t = time.perf_counter()
    queries = [questions[q] for q in eval_ids]
    bm25 = bm25_index(con, corpus).scores(queries)
    dense = dense_scores(con, corpus, queries)
    fused = rrf(bm25, dense)
    pools = np.argsort(-fused, axis=1, kind="stable")[:, :POOL]
    doc_of = dict(con.execute("SELECT passage_id, doc_id FROM passages WHERE corpus_id = ?", [corpus]).fetchall())
    systems = {"bm25": lambda row, pool: bm25[row, pool], "dense (baseline)": lambda row, pool: dense[row, pool],
               "fused (RRF)": lambda row, pool: fused[row, pool]}
    for method, result in models.items():
        path = result["model_path"]
        weight = result["metrics"].get("interpolation_weight", 1.0)
        tuned_q = embed.encode(con, queries, path)

        def tuned(row, pool, path=path, tuned_q=tuned_q):
            return embed.encode(con, [texts[i] for i in pool], path) @ tuned_q[row]

        systems[f"{method} fine-tuned"] = tuned
        for w in sorted({weight, 0.5} - {0.0, 1.0}) if method in full_size else []:  # the weight chosen on dev, and the even mix
            systems[f"{method} fine-tuned, interpolated (w={w}{', chosen on dev' if w == weight else ''})"] = (
                lambda row, pool, tuned=tuned, w=w: w * tuned(row, pool) + (1 - w) * dense[row, pool])
    runs = {name: {} for name in systems}
    for row, (qid, pool) in enumerate(zip(eval_ids, pools)):
        for name, score in systems.items():
            run: dict[str, float] = {}
            for i, s in sorted(zip(pool, score(row, pool)), key=lambda x: -x[1]):
                run.setdefault(doc_of[ids[i]], float(s))
            runs[name][qid] = run
    timings["evaluate_s"] = time.perf_counter() - t
    gold = {q: qrels[q] for q in eval_ids}
    results = {name: per_query_metrics(gold, run) for name, run in runs.items()}
    pool_recall = np.mean([len({doc_of[ids[i]] for i in pool} & set(qrels[q])) / len(qrels[q]) for q, pool in zip(eval_ids, pools)])

    from scipy.stats import ttest_rel

    base = results["dense (baseline)"]["ndcg@10"]
    table = []
    for name, metrics in results.items():
        values = [metrics["ndcg@10"][q] for q in eval_ids]
        p = float(ttest_rel(values, [base[q] for q in eval_ids]).pvalue) if name != "dense (baseline)" else None
        table.append({"system": name, **{m: float(np.mean(list(v.values()))) for m, v in metrics.items()}, "p_vs_baseline": p})
    timings["total_s"] = time.perf_counter() - started
    output = {"args": {k: str(v) for k, v in vars(args).items()}, "training_data": data.counts, "pool_recall@30": pool_recall,
              "table": table, "curve": {n: next(r["ndcg@10"] for r in table if r["system"] == s) for n, s in sorted(curve.items())},
              "timings": timings, "models": {m: r.get("metrics") for m, r in models.items()}}
    out = Path("bench/results") / f"reproduce-{args.train_queries}-{args.eval_questions}-seed{args.seed}{'-' + args.name if args.name else ''}.json"
    out.write_text(json.dumps(output, indent=2))
    print(f"\nfirst-stage pool Recall@30: {pool_recall:.3f}")
    print(f"{'system':<45} {'nDCG@10':>8} {'MRR@10':>8} {'R@10':>8} {'p vs baseline':>14}")
    for row in table:
        p = "" if row["p_vs_baseline"] is None else f"{row['p_vs_baseline']:.2g}"
        print(f"{row['system']:<45} {row['ndcg@10']:>8.3f} {row['mrr@10']:>8.3f} {row['recall@10']:>8.3f} {p:>14}")
    if len(output["curve"]) > 1:
        print("training-size curve (nDCG@10): " + ", ".join(f"{n}: {v:.3f}" for n, v in output["curve"].items()))
    print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
