"""Evaluation on held-out test queries: rank with a system, score with ranx, store per query.

Systems, named as strings:
- ``bm25``, ``dense`` (the bundled MiniLM), ``fused`` (their reciprocal rank fusion);
- ``rerank:<model id>``: a fine-tuned reranker reorders the fused top k (a bi-encoder
  reranker's score is mixed with the baseline cosine by the weight its dev split chose);
- ``retrieve:<model id>``: a fine-tuned retriever ranks the whole corpus.
Qrels name documents; a document's score is the best score of its passages.
"""

import time
from dataclasses import dataclass
from typing import Callable

import duckdb
import numpy as np

from core import embed
from core.errors import NotFound
from core.retrieve import bm25_index, dense_scores, passage_texts, rrf
from storage import evaluations as store
from storage.models import get_model

METRICS = ["ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100"]
HEADLINE = "ndcg@10"
FIRST_STAGE_K = 30
DEPTH = 100


@dataclass
class Ranking:
    """Per query: passage indexes best first and their scores, to depth 100."""

    passage_ids: list[str]
    order: list[np.ndarray]
    scores: list[np.ndarray]


def system_label(con, system: str) -> str:
    """A readable name for a system string."""
    if ":" not in system:
        return {"bm25": "BM25", "dense": "MiniLM (baseline)", "fused": "BM25 + MiniLM (RRF)"}.get(system, system)
    kind, model_id = system.split(":", 1)
    model = get_model(con, int(model_id))
    return f"{model['name'] if model else 'model ' + model_id} ({kind})"


def rank_queries(con, corpus: int, queries: list[str], system: str, k: int = FIRST_STAGE_K) -> Ranking:
    """Rank a corpus's passages for each query with one system (batches of 256 queries)."""
    ids, texts = passage_texts(con, corpus)
    order, scores = [], []
    for start in range(0, len(queries), 256):
        batch = queries[start:start + 256]
        matrix = _scores(con, corpus, batch, system, k, texts)
        top = np.argsort(-matrix, axis=1, kind="stable")[:, :DEPTH]
        order += list(top)
        scores += [matrix[i, row] for i, row in enumerate(top)]
    return Ranking(ids, order, scores)


def _scores(con, corpus: int, queries: list[str], system: str, k: int, texts: list[str]) -> np.ndarray:
    if system == "bm25":
        return bm25_index(con, corpus).scores(queries)
    if system == "dense":
        return dense_scores(con, corpus, queries)
    bm25, dense = bm25_index(con, corpus).scores(queries), dense_scores(con, corpus, queries)
    fused = rrf(bm25, dense)
    if system == "fused":
        return fused
    kind, model_id = system.split(":", 1)
    model = get_model(con, int(model_id))
    if model is None:
        raise NotFound(f"no model {model_id}; it may have been deleted")
    if kind == "retrieve":
        return dense_scores(con, corpus, queries, model["path"])
    # rerank: the fused top k get the reranker's score, placed above every other passage
    top = np.argsort(-fused, axis=1, kind="stable")[:, :k]
    out = fused - fused.max() - 10.0
    if model["method"] == "lce-cross-encoder":
        from sentence_transformers import CrossEncoder

        encoder = CrossEncoder(model["path"])
        for row, query in enumerate(queries):
            out[row, top[row]] = encoder.predict([(query, texts[i]) for i in top[row]], show_progress_bar=False)
        return out
    weight = model["metrics"].get("interpolation_weight", 1.0)
    tuned_q = embed.encode(con, queries, model["path"])
    for row in range(len(queries)):
        passages = embed.encode(con, [texts[i] for i in top[row]], model["path"])
        out[row, top[row]] = weight * (passages @ tuned_q[row]) + (1 - weight) * dense[row, top[row]]
    return out


def doc_run(con, corpus: int, ranking: Ranking) -> list[dict[str, float]]:
    """Per query, document id -> score (a document's best passage), in rank order."""
    doc_of = dict(con.execute("SELECT passage_id, doc_id FROM passages WHERE corpus_id = ?", [corpus]).fetchall())
    runs = []
    for order, scores in zip(ranking.order, ranking.scores):
        run: dict[str, float] = {}
        for i, s in zip(order, scores):
            run.setdefault(doc_of[ranking.passage_ids[i]], float(s))
        runs.append(run)
    return runs


def evaluate_system(
    con: duckdb.DuckDBPyConnection, test_set: int, system: str, k: int = FIRST_STAGE_K,
    progress: Callable[[float, str], None] | None = None,
) -> int:
    """Evaluate one system on a test set; store the run, per-query metrics and top-10 rankings.

    Returns:
        The eval run id.
    """
    from ranx import Qrels, Run, evaluate

    started = time.perf_counter()
    corpus, queries, qrels = store.test_set_data(con, test_set)
    if not queries:
        raise NotFound(f"test set {test_set} has no judged queries")
    if progress:
        progress(0.1, f"ranking {len(queries):,} test queries with {system_label(con, system)}")
    ids = sorted(queries)
    ranking = rank_queries(con, corpus, [queries[q] for q in ids], system, k)
    runs = doc_run(con, corpus, ranking)
    if progress:
        progress(0.8, "scoring with ranx")
    qrels_obj = Qrels({q: qrels[q] for q in ids})
    run_obj = Run({q: r for q, r in zip(ids, runs)})
    per_query = evaluate(qrels_obj, run_obj, METRICS, return_mean=False, make_comparable=True)
    order = list(qrels_obj.keys())
    judged = [len([d for d in list(runs[ids.index(q)])[:10] if d in qrels[q]]) / 10 for q in order]
    results = [(q, m, float(per_query[m][i])) for m in METRICS for i, q in enumerate(order)]
    results += [(q, "judged@10", judged[i]) for i, q in enumerate(order)]
    means = {m: float(np.mean(per_query[m])) for m in METRICS} | {"judged@10": float(np.mean(judged))}
    rankings = [(q, ranking.passage_ids[i], rank + 1, float(s))
                for q, o, sc in zip(ids, ranking.order, ranking.scores) for rank, (i, s) in enumerate(zip(o[:10], sc[:10]))]
    run_id = store.save_run(con, test_set, system, {"k": k, "seconds": time.perf_counter() - started,
                                                     "queries": len(ids)}, means, results, rankings)
    if progress:
        progress(1.0, "done")
    return run_id


def compare_runs(con: duckdb.DuckDBPyConnection, run_a: int, run_b: int, metric: str = HEADLINE) -> dict:
    """Paired comparison of two runs on the same test set: mean difference (b - a), wins, ties, losses
    and the p-value of a paired t-test (scipy) over the per-query values."""
    from scipy.stats import ttest_rel

    a, b = store.per_query(con, run_a, metric), store.per_query(con, run_b, metric)
    common = sorted(set(a) & set(b))
    x, y = np.array([a[q] for q in common]), np.array([b[q] for q in common])
    diff = y - x
    p = float(ttest_rel(y, x).pvalue) if len(common) > 1 and np.any(diff != 0) else 1.0
    return {"queries": len(common), "mean_a": float(x.mean()) if common else 0.0, "mean_b": float(y.mean()) if common else 0.0,
            "difference": float(diff.mean()) if common else 0.0, "wins": int((diff > 1e-9).sum()),
            "ties": int((np.abs(diff) <= 1e-9).sum()), "losses": int((diff < -1e-9).sum()), "p_value": p,
            "per_query": dict(zip(common, diff.tolist()))}


def side_by_side(con, corpus: int, query: str, left: str, right: str, qrels: dict[str, int] | None = None, n: int = 10) -> dict:
    """Two systems' top ``n`` for one query, with relevance marks and each right-hand passage's move.

    Returns:
        {"left": rows, "right": rows, "seconds"}; a row has rank, passage_id, doc_id, title, text,
        score, relevance (None when unjudged) and, on the right, moved (positions gained vs left,
        None when the left system did not rank it in its top 100).
    """
    started = time.perf_counter()
    info = {r[0]: r[1:] for r in con.execute("SELECT passage_id, doc_id, title, text FROM passages WHERE corpus_id = ?", [corpus]).fetchall()}
    result = {}
    for side, system in (("left", left), ("right", right)):
        ranking = rank_queries(con, corpus, [query], system)
        rows = []
        for rank, (i, score) in enumerate(zip(ranking.order[0], ranking.scores[0])):
            pid = ranking.passage_ids[i]
            doc, title, text = info[pid]
            rows.append({"rank": rank + 1, "passage_id": pid, "doc_id": doc, "title": title, "text": text, "score": float(score),
                         "relevance": (qrels or {}).get(doc) if qrels is not None else None})
        result[side] = rows
    left_rank = {r["passage_id"]: r["rank"] for r in result["left"]}
    for row in result["right"]:
        row["moved"] = left_rank[row["passage_id"]] - row["rank"] if row["passage_id"] in left_rank else None
    result["left"], result["right"] = result["left"][:n], result["right"][:n]
    result["seconds"] = time.perf_counter() - started
    return result
