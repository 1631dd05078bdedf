"""What review tells about the judge: agreement, Cohen's kappa, the spot-check accuracy."""

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from core.vocabulary import RELEVANT
from storage.queries import query_types  # noqa: F401  (re-exported for pages)
from storage.reviews import (  # noqa: F401  (re-exported for pages)
    QUEUES,
    history,
    latest_review_id,
    queue,
    record_bulk,
    record_review,
    review_counts,
    reviewed_pairs,
)


def agreement(con: duckdb.DuckDBPyConnection, corpus: int) -> dict:
    """Judge-vs-human agreement on relevance (grade >= 2), overall and per query type.

    Returns:
        {"overall": {...}, "by_type": DataFrame, "spot_check": {...}}; each figure set has
        n, agreement, kappa (sklearn's Cohen's kappa on relevant / not relevant; None when
        undefined). spot_check estimates the judge's accuracy from the random spot-check
        sample, with a 95% Wilson interval (scipy).
    """
    from scipy.stats import binomtest
    from sklearn.metrics import cohen_kappa_score

    pairs = reviewed_pairs(con, corpus)

    def figures(frame: pd.DataFrame) -> dict:
        if frame.empty:
            return {"n": 0, "agreement": None, "kappa": None}
        judge = (frame["llm_grade"] >= RELEVANT).astype(int)
        human = (frame["human_grade"] >= RELEVANT).astype(int)
        kappa = cohen_kappa_score(judge, human) if judge.nunique() > 1 or human.nunique() > 1 else None
        return {
            "n": len(frame),
            "agreement": float((judge == human).mean()),
            "kappa": None if kappa is None or kappa != kappa else float(kappa),
        }

    by_type = (
        pd.DataFrame([{"qtype": t, **figures(part)} for t, part in pairs.groupby("qtype")])
        if not pairs.empty
        else pd.DataFrame()
    )
    sample = pairs[pairs["spot_check"]]
    spot = {"n": len(sample), "accuracy": None, "low": None, "high": None}
    if len(sample):
        correct = int(((sample["llm_grade"] >= RELEVANT) == (sample["human_grade"] >= RELEVANT)).sum())
        interval = binomtest(correct, len(sample)).proportion_ci(confidence_level=0.95, method="wilson")
        spot = {
            "n": len(sample),
            "accuracy": correct / len(sample),
            "low": float(interval.low),
            "high": float(interval.high),
        }
    return {"overall": figures(pairs), "by_type": by_type, "spot_check": spot}


def freeze_reviewed_queries(con: duckdb.DuckDBPyConnection, corpus: int, name: str = "reviewed queries") -> dict:
    """Make a held-out test set of the queries experts reviewed, judged by their latest decisions.

    Each query with a human grade of 2 or more on some passage becomes a test query; its
    reviewed passages become qrels (grade 0 kept as judged not relevant). The queries then
    leave training, since training drops any query whose text is a test query.

    Returns:
        The test set summary (id, name, n_queries, n_qrels, n_missing_docs).

    Raises:
        QurateError: no reviewed query has a relevant passage yet.
    """
    from core.errors import QurateError
    from storage import corpora
    from storage.db import transaction
    from storage.reviews import latest_decisions

    rows = latest_decisions(con, corpus)
    queries, qrels = {}, {}
    for query_id, text, qtype, doc, grade in rows:
        key = f"reviewed-{query_id}"
        queries[key] = (text, {"qtype": qtype, "origin": "reviewed"})
        qrels.setdefault(key, {})[doc] = max(int(grade), qrels.get(key, {}).get(doc, 0))
    keep = {q for q, docs in qrels.items() if max(docs.values()) >= RELEVANT}
    if not keep:
        raise QurateError("no reviewed query has a passage graded relevant yet: review some pairs first")
    with transaction(con):
        return corpora.create_test_set(
            con, corpus, name, "reviewed queries", {q: queries[q] for q in keep}, {q: qrels[q] for q in keep}
        )


def query_texts(con: duckdb.DuckDBPyConnection, corpus: int) -> dict[int, str]:
    """Every query's effective text by id (the bulk editor's query column)."""
    from storage.queries import query_records

    return {i: q["text"] for i, q in query_records(con, corpus).items()}


@dataclass
class Decision:
    """A recorded review decision, and what others decided on the same pair while the reviewer looked at it."""

    review_id: int
    overtaken: list[str] = field(default_factory=list)


def decide(
    con: duckdb.DuckDBPyConnection,
    query_id: int,
    passage_id: str | None,
    reviewer: str,
    action: str,
    note: str = "",
    queue: str | None = None,  # noqa: F811  (the name of the queue a decision came from)
    seen: int | None = None,
) -> Decision:
    """Record a reviewer's decision on the pair they were shown.

    ``seen`` is the newest decision on the pair when it was shown (``latest_review_id``). Every
    decision is kept (the audit trail is append-only) and the latest is effective; decisions
    other reviewers made since ``seen`` come back as sentences, so the page can tell the reviewer.
    """
    from storage.reviews import decisions_between

    review_id = record_review(con, query_id, passage_id, reviewer, action, note, queue=queue)
    if seen is None:
        return Decision(review_id)
    others = [
        d for d in decisions_between(con, query_id, passage_id, seen, review_id) if d["reviewer"] != reviewer.strip()
    ]
    return Decision(
        review_id,
        [
            f"{d['reviewer']} decided “{d['action']}” on this pair at {d['created_at']:%H:%M:%S} "
            "while you were looking at it; both decisions are kept and yours, the later, is effective."
            for d in others
        ],
    )
