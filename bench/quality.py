"""Benchmark: does fine-tuning help, on real held-out queries, measured by the product's own evaluation?

    python -m bench.quality --corpus medquad|cisi|all [--quick] [--variants synthetic,oracle] [--retriever [--teacher reranker]] [--spec JSON]

For each corpus (a BEIR folder under ../shared/data):
1. ingests its corpus.jsonl into a bench workspace (embeddings cached there across runs);
2. makes a test set of its real queries: a seeded sample (500 by default) or all of them;
3. picks the training passages: every passage no evaluation query points to, or every
   passage when holding those out would leave less than half the corpus (say so);
4. generates offline queries (no LLM) for them, mines candidates, judges offline;
5. trains through ``core.training.jobs.launch_job`` (the app's own job code) and
6. evaluates with ``core.evaluate.evaluate``: every system reorders the same fused top 30,
   ranx metrics, paired t-tests against the baseline MiniLM.
The ``users`` variant is the product's path for a team with a query log: the offline queries as above, plus real
queries that are not in the test set stored as users' queries (``core.userqueries``, no source labels): a seeded
sample of ``--log-queries``; a simulated expert (``--expert K``) grades the top 10 candidates of K of them, taken in
the order of the review queue "your users' queries", from the collection's judgments (a judged document 3, any
other 0), through the review code; training weighs them by ``--spec '{"users_weight": W}'``.
The ``oracle`` variant (where real queries are left over; a diagnostic, never a product path)
trains the same pipeline on the real questions of the training passages only, the ceiling an
excellent query generator could reach with this trainer. Writes
bench/results/quality-<corpus>[-name].json (each system's nDCG@10 per query too, for ``bench.compare``) and
prints the leaderboards.
"""

import argparse
import json
import os
import random
import time
from pathlib import Path

from bench import DATA, machine
from core import review
from core.evaluate import evaluate
from core.generate import GenerationSettings, generate_queries
from core.ingest import IngestOptions, add_test_set, ingest_path
from core.judge import JudgeSettings, judge_candidates
from core.llm import LOCAL, LLMConfig
from core.mine import mine_candidates
from core.prompts import OFFLINE_TYPES, QUERY_TYPES
from core.systems import System
from core.training.jobs import launch_job, wait_for
from core.userqueries import add_user_queries, same_text
from core.workspace import delete_corpus
from storage import corpora
from storage import evaluations as evalstore
from storage import queries as qstore
from storage.db import connect
from storage.models import get_model
from storage.reviews import USERS_TOP

RESULTS = Path("bench/results")


def _beir(folder: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    queries = {r["_id"]: r["text"] for r in map(json.loads, (folder / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, s = line.split("\t")
        if int(s) > 0:
            qrels.setdefault(q, {})[d] = int(s)
    return queries, qrels


def _corpus(con, name: str, folder: Path, keep: set[str], size: int, seed: int) -> int:
    """The bench's copy of a corpus: its documents only (the test set is made below, from a sample).

    ``size`` > 0 cuts the corpus to that many documents: every document in ``keep`` (those the
    evaluation queries point to) plus a seeded sample of the others (--quick: a smaller corpus to
    encode; its figures are a smoke check, not comparable with the full corpus's)."""
    existing = corpora.corpus_id(con, name)
    if existing is not None:
        delete_corpus(con, existing)  # its jobs and model folders too
    source = folder / "corpus.jsonl"
    if size:
        lines = source.read_text().splitlines(keepends=True)
        ids = [json.loads(line)["_id"] for line in lines]
        others = [i for i, d in enumerate(ids) if d not in keep]
        chosen = {i for i, d in enumerate(ids) if d in keep} | set(
            random.Random(seed).sample(others, max(0, min(len(others), size - len(keep))))
        )
        source = Path(os.environ["QURATE_WORKSPACE"]) / f"{name}-corpus.jsonl"
        source.write_text("".join(lines[i] for i in sorted(chosen)))
    return ingest_path(con, name, source, IngestOptions()).corpus_id


def _test_set(con, corpus: int, queries: dict, qrels: dict, ids: list[str]) -> int:
    lines = "".join(json.dumps({"_id": q, "text": queries[q]}) + "\n" for q in ids).encode()
    judged = "".join(f"{q}\t{d}\t{s}\n" for q in ids for d, s in qrels[q].items()).encode()
    return add_test_set(con, corpus, "bench", ("queries.jsonl", lines), ("qrels.tsv", judged))["id"]


def simulated_expert(con, corpus: int, log: dict[str, set[str]], docs: dict[str, str], k: int) -> int:
    """Grade the review queue's first ``k`` users' queries as the collection's judgments say (a passage of a judged
    document 3, any other 0), through the review code as an expert's keys would; returns the pairs graded."""
    items = review.queue(con, corpus, "your users' queries", limit=k * USERS_TOP)
    first = list(dict.fromkeys(items["query_id"]))[:k]
    items = items[items["query_id"].isin(first)]
    changes = [
        (int(q), p, 3 if docs[p] in log[same_text(text)] else 0)
        for q, p, text in zip(items["query_id"], items["passage_id"], items["query"])
    ]
    return review.record_bulk(con, "simulated expert", changes)


def run_corpus(con, name: str, args) -> dict:
    folder = args.data / name
    queries, qrels = _beir(folder)
    judged = sorted(q for q in queries if q in qrels)
    rng = random.Random(args.seed)
    eval_ids = sorted(rng.sample(judged, min(args.eval_queries, len(judged))))
    timings, results = {}, {}
    oracle_possible = len(judged) > len(eval_ids)  # real queries left over to train the diagnostic on
    variants = [
        v for v in args.variants.split(",") if v == "synthetic" or (v in ("oracle", "users") and oracle_possible)
    ]
    for variant in variants:
        t = time.perf_counter()
        corpus = _corpus(
            con,
            f"bench-{name}-{variant}",
            folder,
            {d for q in eval_ids for d in qrels[q]},
            args.corpus_passages,
            args.seed,
        )
        test_set = _test_set(con, corpus, queries, qrels, eval_ids)
        docs = {p: record[0] for p, record in corpora.passage_records(con, corpus).items()}
        held_docs = {d for q in eval_ids for d in qrels[q]}
        unjudged = sorted(p for p, d in docs.items() if d not in held_docs)
        protocol = "unjudged passages" if len(unjudged) >= len(docs) / 2 else "all passages"
        train = unjudged if protocol == "unjudged passages" else sorted(docs)
        if args.train_passages:
            train = sorted(random.Random(args.seed).sample(train, min(args.train_passages, len(train))))
        timings[f"{variant}_ingest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        if variant in ("synthetic", "users"):
            every = [t for t in args.every.split(",") if t]
            if every:  # these types for every passage
                generate_queries(con, corpus, train, GenerationSettings(per_type=dict.fromkeys(every, 1)))
            # and one more query per passage, the types in turn, as the Queries page makes them offline
            llm = LLMConfig(model=LOCAL) if args.generator == "local" else LLMConfig()
            generate_queries(
                con,
                corpus,
                train,
                GenerationSettings(per_type=dict.fromkeys(args.types.split(","), 1), in_turn=True, llm=llm),
            )
        else:  # the diagnostic: real questions of the training passages (never of the evaluation passages)
            by_doc = {}
            for p in train:
                by_doc.setdefault(docs[p], p)
            rows = [
                {
                    "passage_id": by_doc[d],
                    "text": queries[q],
                    "qtype": "question",
                    "origin": "oracle",
                    "generator": "oracle",
                    "prompt_version": "-",
                    "cache_key": f"oracle-{q}",
                    "flags": [],
                }
                for q in judged
                if q not in set(eval_ids)
                for d in qrels[q]
                if d in by_doc
            ][: max(len(train), 1)]
            qstore.insert_queries(con, corpus, rows)
        log = {}
        if variant == "users":  # the log: real queries outside the test set, no source labels
            rest = sorted(set(judged) - set(eval_ids))
            for q in random.Random(args.seed).sample(rest, min(args.log_queries, len(rest))):
                log.setdefault(same_text(queries[q]), set()).update(qrels[q])
            added = add_user_queries(con, corpus, "log.txt", "\n".join(log).encode())
            print(
                f"{name}: {added.added} log queries stored, {len(added.in_test_set)} refused as test queries",
                flush=True,
            )
        timings[f"{variant}_generate_s"] = time.perf_counter() - t
        t = time.perf_counter()
        mining = mine_candidates(con, corpus)
        judge_candidates(con, corpus, JudgeSettings(max_candidates=30, margin=args.margin))
        if log and args.expert:
            graded = simulated_expert(con, corpus, log, docs, args.expert)
            print(f"{name}: the simulated expert graded {graded} pairs", flush=True)
        timings[f"{variant}_mine_judge_s"] = time.perf_counter() - t
        systems = ["bm25", "fused", "hybrid"]
        models = {}
        for method in ["lce"] * args.rounds + (["distill"] if args.retriever else []):
            if method == "lce" and "lce" in models:  # another round: mine again with the reranker just trained
                t = time.perf_counter()
                mine_candidates(
                    con, corpus, model=get_model(con, System.parse(models["lce"]["system"]).model_id)["path"]
                )
                judge_candidates(con, corpus, JudgeSettings(max_candidates=30, margin=args.margin))
                timings[f"{variant}_mine_judge_again_s"] = time.perf_counter() - t
            t = time.perf_counter()
            spec = {
                **args.spec,
                "method": method,
            }  # the product's defaults (core.training.spec.DEFAULTS) unless --spec says otherwise
            if method == "distill" and args.teacher == "reranker":
                spec["teacher"] = models["lce"]["system"]
            job = wait_for(con, launch_job(con, corpus, spec), timeout_s=args.train_timeout)
            timings[f"{variant}_train_{method}_s"] = time.perf_counter() - t
            if job["status"] != "done":
                raise SystemExit(f"{name} {variant} {method}: training {job['status']}: {job.get('error')}")
            kind = "rerank" if method.startswith("lce") else "retrieve"
            systems.append(f"{kind}:{job['model_id']}")
            models[method] = {"system": systems[-1], "metrics": get_model(con, job["model_id"])["metrics"]}
            print(
                f"{name} {variant} {method}: trained in {timings[f'{variant}_train_{method}_s']:.0f} s; "
                f"dev {models[method]['metrics'].get('baseline_dev_ndcg@10')} -> {models[method]['metrics'].get('dev_ndcg@10')}, "
                f"weight mix {models[method]['metrics'].get('weight_mix')}",
                flush=True,
            )
        t = time.perf_counter()
        board = evaluate(con, test_set, systems)
        timings[f"{variant}_evaluate_s"] = time.perf_counter() - t
        print(
            f"\n== {name}, {variant} queries ({protocol}, {len(train):,} training passages)\n{board.text()}\n",
            flush=True,
        )
        results[variant] = {
            "protocol": protocol,
            "log_queries": len(log),
            "expert_queries": args.expert if log else 0,
            "training_passages": len(train),
            "mining_source_in_top30": mining.source_in_top_k,
            "mined_queries": mining.queries,
            "pool_recall": board.pool_recall,
            "queries": board.queries,
            "models": models,
            "table": [
                {
                    "system": r.system,
                    "label": r.label,
                    **r.metrics,
                    "difference": r.difference,
                    "p_value": r.p_value,
                    "wins": r.wins,
                    "ties": r.ties,
                    "losses": r.losses,
                    "dev_difference": r.dev_difference,
                    "per_query": evalstore.per_query(con, r.run_id, "ndcg@10"),
                }
                for r in board.rows
            ],
        }
    return {"results": results, "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="all", help="medquad, cisi, all, or a BEIR folder's name under --data")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--workspace", type=Path, default=RESULTS / "quality-ws")
    parser.add_argument(
        "--eval-queries", type=int, default=500, help="a seeded sample of the real queries (all if fewer)"
    )
    parser.add_argument(
        "--train-passages", type=int, default=0, help="a seeded sample of the training passages (0: all)"
    )
    parser.add_argument(
        "--types",
        default=",".join(OFFLINE_TYPES),
        help=f"offline query types, in turn over the passages (default: the generator's own; any of {QUERY_TYPES})",
    )
    parser.add_argument(
        "--generator",
        default="rules",
        choices=["rules", "local"],
        help="who writes the synthetic queries: the rules (no model) or the bundled local model (llama.cpp)",
    )
    parser.add_argument(
        "--every", default="", help="query types to make for every passage besides the one in turn, e.g. question"
    )
    parser.add_argument(
        "--variants",
        default="synthetic",
        help="synthetic (offline queries: the product) and/or oracle (real questions of the training passages: "
        "a diagnostic, run where real queries are left over after the evaluation sample)",
    )
    parser.add_argument(
        "--log-queries",
        type=int,
        default=2000,
        help="users variant: a seeded sample of the real queries outside the test set, stored as users' queries",
    )
    parser.add_argument(
        "--expert",
        type=int,
        default=0,
        help="users variant: how many log queries the simulated expert grades (top 10 candidates each)",
    )
    parser.add_argument("--retriever", action="store_true", help="also train and evaluate the distilled retriever")
    parser.add_argument(
        "--rounds", type=int, default=1, help="LCE rounds: each after the first mines again with the last reranker"
    )
    parser.add_argument(
        "--teacher",
        default="ensemble",
        choices=["ensemble", "reranker"],
        help="the retriever's distillation teacher: the grades + dense + BM25 ensemble, or the reranker just trained",
    )
    parser.add_argument(
        "--corpus-passages",
        type=int,
        default=0,
        help="cut each corpus to this many documents (those of the evaluation queries kept; 0: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke check: 100 evaluation queries, 1,500 training passages, corpora cut to 5,000 documents",
    )
    parser.add_argument(
        "--spec", type=json.loads, default={}, help="training spec overrides as JSON, e.g. '{\"epochs\": 1}'"
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=JudgeSettings.margin,
        help="the offline judge's margin for possible false negatives (the product's default unless set)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-timeout", type=float, default=3600)
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    if args.quick:
        args.eval_queries, args.train_passages = min(args.eval_queries, 100), args.train_passages or 1500
        args.corpus_passages = args.corpus_passages or 5000
    names = ["medquad", "cisi"] if args.corpus == "all" else [args.corpus]
    args.workspace.mkdir(parents=True, exist_ok=True)
    os.environ["QURATE_WORKSPACE"] = str(args.workspace.resolve())  # job folders live beside the bench database
    con = connect(args.workspace / "qurate.duckdb")
    started = time.perf_counter()
    for name in names:
        t = time.perf_counter()
        output = run_corpus(con, name, args)
        output |= {
            "args": {k: str(v) for k, v in vars(args).items()},
            "seconds": time.perf_counter() - t,
            "date": time.strftime("%Y-%m-%d"),
            "machine": machine(),
        }
        out = RESULTS / f"quality-{name}{'-' + args.name if args.name else ''}.json"
        out.parent.mkdir(parents=True, exist_ok=True)  # a workspace elsewhere leaves bench/results unmade
        out.write_text(json.dumps(output, indent=2))
        print(
            f"{name}: {output['seconds']:.0f} s; timings {', '.join(f'{k} {v:.0f}' for k, v in output['timings'].items())}; "
            f"written to {out}",
            flush=True,
        )
    print(f"all done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
