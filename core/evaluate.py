"""Evaluation on held-out test queries: one function ranks, scores (ranx), stores and compares.

``evaluate`` is the only evaluation code path: the Evaluate page, the command line
(``qurate evaluate``), the HTML report and the benchmarks (``bench/quality.py``) all call
it or read the ``Leaderboard`` it returns. Every system reorders the same first-stage
pool: the top ``k`` of BM25 + MiniLM fusion (the fusion's order continues below the pool,
so Recall@100 is that of the first stage). Qrels name documents; a document's score is
the best score of its passages.
"""

import time
from dataclasses import dataclass, field
from typing import Callable

import duckdb
import numpy as np
import pandas as pd

from core.errors import InvalidInput, NotFound
from core.retrieve import DEPTH, FIRST_STAGE_K, first_stage, passage_texts
from core.systems import BASELINE, System
from core.vocabulary import HEADLINE, METRICS, USERS
from storage import corpora
from storage import evaluations as store
from storage.evaluations import breakdown, test_set_data, training_size_curve  # noqa: F401  (re-exported for pages)

QUERY_BATCH = 256


@dataclass
class Row:
    """One system's latest run on a test set, compared with the baseline's (None for the baseline)."""

    system: str
    label: str
    run_id: int
    metrics: dict[str, float]
    difference: float | None = None
    p_value: float | None = None
    wins: int | None = None
    ties: int | None = None
    losses: int | None = None
    dev_difference: float | None = None  # a fine-tuned model's Δ nDCG@10 on training's dev split, as predicted

    @property
    def dev_disagrees(self) -> bool:
        """Whether training's dev split and this test set disagree on the sign of the model's gain."""
        return (
            self.dev_difference is not None
            and self.difference is not None
            and self.dev_difference * self.difference < 0
        )


@dataclass
class Leaderboard:
    """Every system's latest run on a test set, the baseline first."""

    test_set: int
    queries: int
    k: int
    rows: list[Row] = field(default_factory=list)
    pool_recall: float | None = None  # share of the judged documents inside the first-stage pool

    @property
    def baseline(self) -> Row | None:
        return next((r for r in self.rows if r.system == BASELINE), None)

    def row(self, system: "str | System") -> Row:
        name = str(System.parse(system))
        found = next((r for r in self.rows if r.system == name), None)
        if found is None:
            raise NotFound(f"{name} has not been evaluated on test set {self.test_set}")
        return found

    def frame(self) -> pd.DataFrame:
        """A table: system, the metrics, and Δ nDCG@10, p-value, wins/ties/losses against the baseline, and what
        training's dev split predicted that Δ to be (fine-tuned models)."""
        records = []
        for r in self.rows:
            record = {"system": r.label, **{m: r.metrics.get(m) for m in METRICS + ["judged@10"]}}
            if r.difference is not None:
                record.update(
                    {
                        "Δ nDCG@10 vs baseline": r.difference,
                        "p-value": r.p_value,
                        "wins/ties/losses": f"{r.wins}/{r.ties}/{r.losses}",
                        "Δ on dev split": r.dev_difference,
                    }
                )
            records.append(record)
        frame = pd.DataFrame(records)
        compared = ["Δ nDCG@10 vs baseline", "Δ on dev split", "p-value", "wins/ties/losses"]
        first = ["system", HEADLINE] + [
            c for c in compared if c in frame.columns
        ]  # the gain beside the headline metric
        return frame[first + [c for c in frame.columns if c not in first]]

    def text(self, only: "list[str | System] | None" = None) -> str:
        """A plain-text table, for the command line and benchmark logs: every system's row, or the baseline's and
        those of ``only``."""
        lines = [
            f"test set {self.test_set}: {self.queries:,} queries, every system reorders the fused top {self.k}"
            + (f" (pool recall {self.pool_recall:.3f})" if self.pool_recall is not None else "")
        ]
        lines.append(
            f"{'system':<48} {'nDCG@10':>8} {'MRR@10':>8} {'R@10':>6} {'Δ':>7} {'p':>8}  {'w/t/l':<11} {'dev Δ':>7}"
        )
        shown = None if only is None else {BASELINE} | {str(System.parse(x)) for x in only}
        for r in self.rows:
            if shown is not None and r.system not in shown:
                continue
            extra = (
                f"{r.difference:>+7.3f} {r.p_value:>8.2g}  {f'{r.wins}/{r.ties}/{r.losses}':<11} "
                + (f"{r.dev_difference:>+7.3f}" if r.dev_difference is not None else f"{'-':>7}")
                if r.difference is not None
                else ""
            )
            lines.append(
                f"{r.label[:48]:<48} {r.metrics['ndcg@10']:>8.3f} {r.metrics['mrr@10']:>8.3f} "
                f"{r.metrics['recall@10']:>6.3f} {extra}"
            )
        return "\n".join(lines)


def evaluate(
    con: duckdb.DuckDBPyConnection,
    test_set: int,
    systems: list["str | System"],
    k: int = FIRST_STAGE_K,
    progress: Callable[[float, str], None] | None = None,
) -> Leaderboard:
    """Rank a test set's queries with each system, score them with ranx, store the runs.

    Args:
        systems: names or Systems; the baseline (``dense``) is always evaluated too, so
            every other system has something to be compared with.
        k: the first-stage pool every system reorders.

    Returns:
        The test set's leaderboard (latest run of every system evaluated on it).

    Raises:
        NotFound: no such test set, a test set with no judged query, or a deleted model.
        ValueError: a malformed system name or k < 1.

    >>> board = evaluate(con, test_set, ["bm25", "rerank:3"])  # doctest: +SKIP
    >>> board.row("rerank:3").difference  # doctest: +SKIP
    0.041
    """
    from ranx import Qrels

    if k < 1:
        raise InvalidInput(f"the first-stage pool needs k >= 1, got {k}")
    parsed = list(dict.fromkeys([System(BASELINE)] + [System.parse(s) for s in systems]))
    progress = progress or (lambda fraction, message: None)
    corpus, queries, qrels = store.test_set_data(con, test_set)
    ids = sorted(q for q in queries if qrels.get(q))
    if not ids:
        raise NotFound(f"test set {test_set} has no judged queries")
    passage_ids, texts = passage_texts(con, corpus)
    doc_of = corpora.passage_records(con, corpus)
    docs = np.array([doc_of[p][0] for p in passage_ids], dtype=object)
    qrels_obj = Qrels({q: qrels[q] for q in ids})
    runs: dict[System, dict[str, dict[str, float]]] = {s: {} for s in parsed}
    tops: dict[System, dict[str, list[tuple[str, float]]]] = {s: {} for s in parsed}
    seconds = {s: 0.0 for s in parsed}
    pool_hits = 0.0
    for start in range(0, len(ids), QUERY_BATCH):
        batch = ids[start : start + QUERY_BATCH]
        texts_q = [queries[q] for q in batch]
        progress(start / len(ids), f"first stage for queries {start + 1:,}-{start + len(batch):,} of {len(ids):,}")
        scores_first = first_stage(con, corpus, texts_q)
        order = np.argsort(-scores_first["fused"], axis=1, kind="stable")[:, :DEPTH]
        pools = order[:, :k]
        pool_hits += sum(len(set(docs[p]) & set(qrels[q])) / len(qrels[q]) for q, p in zip(batch, pools))
        for index, system in enumerate(parsed):
            progress((start + len(batch) * index / len(parsed)) / len(ids), f"ranking with {system.label(con)}")
            t = time.perf_counter()
            scores = system.score(con, texts_q, pools, texts, scores_first)
            seconds[system] += time.perf_counter() - t
            for row, q in enumerate(batch):
                ranked = np.argsort(-scores[row], kind="stable")
                runs[system][q] = _doc_run(list(pools[row][ranked]) + list(order[row, k:]), docs)
                tops[system][q] = [(passage_ids[pools[row][i]], float(scores[row][i])) for i in ranked[:10]]
    progress(0.95, "scoring with ranx")
    for system in parsed:
        _store_run(con, test_set, system, k, ids, qrels, runs[system], tops[system], qrels_obj, seconds[system])
    progress(1.0, "done")
    board = leaderboard(con, test_set)
    board.pool_recall = pool_hits / len(ids)
    return board


def _doc_run(ranked: list[int], docs: np.ndarray) -> dict[str, float]:
    """Document id -> a score falling with rank (ranx orders by score), each document at its best passage's rank."""
    run: dict[str, float] = {}
    for rank, i in enumerate(ranked):
        run.setdefault(docs[i], float(len(ranked) - rank))
    return run


def _store_run(
    con,
    test_set: int,
    system: System,
    k: int,
    ids: list[str],
    qrels: dict,
    runs: dict,
    tops: dict,
    qrels_obj,
    seconds: float,
) -> int:
    from ranx import Run
    from ranx import evaluate as ranx_evaluate

    per_query = ranx_evaluate(
        qrels_obj, Run({q: runs[q] for q in ids}), METRICS, return_mean=False, make_comparable=True
    )
    order = list(qrels_obj.keys())
    judged = [sum(d in qrels[q] for d in list(runs[q])[:10]) / 10 for q in order]
    results = [(q, m, float(per_query[m][i])) for m in METRICS for i, q in enumerate(order)]
    results += [(q, "judged@10", judged[i]) for i, q in enumerate(order)]
    means = {m: float(np.mean(per_query[m])) for m in METRICS} | {"judged@10": float(np.mean(judged))}
    rankings = [(q, pid, rank + 1, score) for q in ids for rank, (pid, score) in enumerate(tops[q])]
    return store.save_run(
        con, test_set, str(system), {"k": k, "seconds": seconds, "queries": len(ids)}, means, results, rankings
    )


def leaderboard(con: duckdb.DuckDBPyConnection, test_set: int) -> Leaderboard:
    """The latest run of every system on a test set, each compared with the baseline's latest run."""
    runs = store.latest_runs(con, test_set)
    settings = store.run_settings(con, int(runs["id"].iloc[0])) if not runs.empty else {}
    board = Leaderboard(test_set, int(settings.get("queries", 0)), int(settings.get("k", FIRST_STAGE_K)))
    base = runs[runs["system"] == BASELINE]
    base_id = int(base["id"].iloc[0]) if not base.empty else None
    runs = pd.concat([base, runs[runs["system"] != BASELINE]])
    for _, run in runs.iterrows():
        try:
            system = System.parse(run["system"])
            label, dev = system.label(con), system.dev_difference(con)
        except ValueError:
            label, dev = run["system"], None
        row = Row(
            run["system"],
            label,
            int(run["id"]),
            {m: float(run[m]) for m in METRICS + ["judged@10"] if pd.notna(run[m])},
            dev_difference=dev,
        )
        if base_id is not None and row.run_id != base_id:
            c = compare_runs(con, base_id, row.run_id)
            row.difference, row.p_value, row.wins, row.ties, row.losses = (
                c["difference"],
                c["p_value"],
                c["wins"],
                c["ties"],
                c["losses"],
            )
        board.rows.append(row)
    return board


def compare_runs(con: duckdb.DuckDBPyConnection, run_a: int, run_b: int, metric: str = HEADLINE) -> dict:
    """Paired comparison of two runs on the same test set: mean difference (b - a), wins, ties, losses
    and the p-value of a paired t-test (scipy) over the per-query values."""
    return paired(store.per_query(con, run_a, metric), store.per_query(con, run_b, metric))


def paired(a: dict[str, float], b: dict[str, float]) -> dict:
    """The comparison of ``compare_runs`` on two {query id: value} maps (their common queries)."""
    from scipy.stats import ttest_rel

    common = sorted(set(a) & set(b))
    x, y = np.array([a[q] for q in common]), np.array([b[q] for q in common])
    diff = y - x
    p = float(ttest_rel(y, x).pvalue) if len(common) > 1 and np.any(diff != 0) else 1.0
    return {
        "queries": len(common),
        "mean_a": float(x.mean()) if common else 0.0,
        "mean_b": float(y.mean()) if common else 0.0,
        "difference": float(diff.mean()) if common else 0.0,
        "wins": int((diff > 1e-9).sum()),
        "ties": int((np.abs(diff) <= 1e-9).sum()),
        "losses": int((diff < -1e-9).sum()),
        "p_value": p,
        "per_query": dict(zip(common, diff.tolist())),
    }


def showcase_query(con: duckdb.DuckDBPyConnection, test_set: int, system: "str | System") -> tuple[str, float] | None:
    """The test query whose nDCG@10 the system raised most over the baseline in their latest runs, with the gain;
    None when no query gained (then there is nothing to show off, and the page says so)."""
    board = leaderboard(con, test_set)
    name = str(System.parse(system))
    if board.baseline is None or not any(r.system == name for r in board.rows) or name == BASELINE:
        return None
    gains = compare_runs(con, board.baseline.run_id, board.row(name).run_id)["per_query"]
    best = max(gains, key=lambda q: (gains[q], q), default=None)
    return (best, gains[best]) if best is not None and gains[best] > 1e-9 else None


def side_by_side(
    con,
    corpus: int,
    query: str,
    left: "str | System",
    right: "str | System",
    qrels: dict[str, int] | None = None,
    n: int = 10,
    k: int = FIRST_STAGE_K,
) -> dict:
    """Two systems' top ``n`` for one query (each reordering the fused top ``k``), with relevance marks
    and each right-hand passage's move.

    Returns:
        {"left": rows, "right": rows, "seconds"}; a row has rank, passage_id, doc_id, title, text,
        score, relevance (None when unjudged) and, on the right, moved (positions gained vs left,
        None when the left system did not rank it in its top 100).
    """
    started = time.perf_counter()
    passage_ids, texts = passage_texts(con, corpus)
    info = corpora.passage_records(con, corpus)
    scores_first = first_stage(con, corpus, [query])
    order = np.argsort(-scores_first["fused"], axis=1, kind="stable")[:, :DEPTH]
    result = {}
    for side, system in (("left", left), ("right", right)):
        scores = System.parse(system).score(con, [query], order[:, :k], texts, scores_first)[0]
        ranked = list(order[0, :k][np.argsort(-scores, kind="stable")]) + list(order[0, k:])
        by_index = dict(zip(order[0, :k], scores))
        rows = []
        for rank, i in enumerate(ranked):
            pid = passage_ids[i]
            doc, title, text = info[pid]
            rows.append(
                {
                    "rank": rank + 1,
                    "passage_id": pid,
                    "doc_id": doc,
                    "title": title,
                    "text": text,
                    "score": float(by_index.get(i, scores_first["fused"][0, i])),
                    "relevance": (qrels or {}).get(doc) if qrels is not None else None,
                }
            )
        result[side] = rows
    left_rank = {r["passage_id"]: r["rank"] for r in result["left"]}
    for row in result["right"]:
        row["moved"] = left_rank[row["passage_id"]] - row["rank"] if row["passage_id"] in left_rank else None
    result["left"], result["right"] = result["left"][:n], result["right"][:n]
    result["seconds"] = time.perf_counter() - started
    return result


def learnt_from(con: duckdb.DuckDBPyConnection, system: str) -> str | None:
    """What a fine-tuned model's training data held, in words (generated queries, your users' queries, expert
    grades on them); None for a system that was not trained here."""
    from storage.models import get_model

    model_id = System.parse(system).model_id
    model = get_model(con, model_id) if model_id is not None else None
    counts = model["data_counts"] if model else {}
    if not counts:
        return None
    generated = sum(n for t, n in counts.get("by_type", {}).items() if t != USERS)
    return (
        f"{generated:,} generated queries, {counts.get('users_queries', 0):,} of your users' queries with a passage "
        f"graded relevant, {counts.get('expert_grades', 0):,} expert grades on your users' queries"
    )
