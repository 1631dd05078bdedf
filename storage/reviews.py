"""Human review: append-only overrides, review queues, audit history, agreement figures.

The effective label of a pair is the latest human decision, else the judge's label
(storage.labels.EFFECTIVE). Nothing is updated or deleted: undo is a new row.
"""

import duckdb
import pandas as pd

from core.errors import InvalidInput
from core.vocabulary import ACTIONS, RELEVANT, USERS
from storage.labels import EFFECTIVE
from storage.queries import QUERY_TEXT

QUEUES = {
    "your users' queries": "the top 10 candidates of your users' real queries, the queries the teacher (dense + BM25) is "
    "least sure of first: what an expert's decision teaches training most",
    "spot-check": "a random sample of labelled pairs (an honest measure of the judge's accuracy)",
    "low confidence": "middle grades (1, 2) and pairs the judge left unsure",
    "judge vs rank": "graded 0 though ranked in the top 3, or graded 2-3 though ranked below 10",
    "source judged not relevant": "the query's own passage judged not relevant: a bad query?",
    "rescued positives": "other passages the judge found relevant",
    "not yet reviewed": "every labelled pair without a human decision",
}


def record_review(
    con: duckdb.DuckDBPyConnection,
    query_id: int,
    passage_id: str | None,
    reviewer: str,
    action: str,
    note: str = "",
    queue: str | None = None,
) -> int:
    """Append a human decision; returns its id.

    Args:
        action: "relevant", "partially", "not relevant" (a grade for the pair), "bad query"
            (a verdict on the query itself: passage_id None) or "undo" (restores the grade
            the latest decision on this pair replaced).

    Raises:
        ValueError: an unknown action, an empty reviewer, or nothing to undo.
    """
    if not reviewer.strip():
        raise InvalidInput("say who is reviewing (the reviewer name) before recording a decision")
    if action == "bad query":
        passage_id = None
    elif action not in ACTIONS and action != "undo":
        raise InvalidInput(f"unknown action {action!r}; use one of {[*ACTIONS, 'bad query', 'undo']}")
    con.execute("BEGIN TRANSACTION")
    try:
        old = effective_grade(con, query_id, passage_id) if passage_id is not None else None
        if action == "undo":  # takes back the latest decision still standing: the one before it stands again, or none
            standing = []
            for kind, grade in con.execute(
                """SELECT action, new_grade FROM reviews WHERE query_id = ? AND passage_id IS NOT DISTINCT FROM ?
                       ORDER BY id""",
                [query_id, passage_id],
            ).fetchall():
                if kind != "undo":
                    standing.append(grade)
                elif standing:
                    standing.pop()
            if not standing:
                raise InvalidInput("nothing to undo for this pair")
            new = standing[-2] if len(standing) > 1 else None
        else:
            new = ACTIONS.get(action)
        review_id = con.execute(
            """INSERT INTO reviews (query_id, passage_id, reviewer, old_grade, new_grade, action, note, queue)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            [query_id, passage_id, reviewer.strip(), old, new, action, note or None, queue],
        ).fetchone()[0]
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return review_id


def record_bulk(con: duckdb.DuckDBPyConnection, reviewer: str, changes: list[tuple[int, str, int]]) -> int:
    """Record (query, passage, new grade) overrides from the table view; returns how many.

    Raises:
        ValueError: a grade outside 0, 2, 3 (1 "related" is a judge's grade, not a decision).
    """
    by_grade = {grade: action for action, grade in ACTIONS.items()}
    bad = [g for _, _, g in changes if g not in by_grade]
    if bad:
        raise InvalidInput(f"grades must be 0 (not relevant), 2 (partially) or 3 (relevant), got {bad[:3]}")
    for query_id, passage_id, grade in changes:
        record_review(con, query_id, passage_id, reviewer, by_grade[grade], "bulk edit", queue="bulk")
    return len(changes)


def effective_grade(con: duckdb.DuckDBPyConnection, query_id: int, passage_id: str) -> int | None:
    """The latest human grade of a pair, else its latest (non-failed) judge grade."""
    row = con.execute(
        """SELECT coalesce(
               (SELECT new_grade FROM reviews WHERE query_id = ? AND passage_id = ? AND action <> 'bad query' ORDER BY id DESC LIMIT 1),
               (SELECT grade FROM labels WHERE query_id = ? AND passage_id = ? AND status <> 'failed' ORDER BY id DESC LIMIT 1))""",
        [query_id, passage_id, query_id, passage_id],
    ).fetchone()
    return row[0]


def queue(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    name: str,
    *,
    qtype: str | None = None,
    grade: int | None = None,
    limit: int = 50,
    seed: float = 0.42,
    include_reviewed: bool = False,
) -> pd.DataFrame:
    """The items of a review queue (query, passage, labels), unreviewed first unless asked; ``waiting`` on each row
    is how many items the whole queue holds (the rows are its first ``limit``).

    Raises:
        ValueError: an unknown queue name.
    """
    conditions = {
        "your users' queries": f"(l.rank <= {USERS_TOP} AND q.origin = '{USERS}')",
        "spot-check": "l.llm_grade IS NOT NULL",
        "low confidence": "(l.llm_grade IN (1, 2) OR l.status = 'unsure')",
        "judge vs rank": f"((l.llm_grade = 0 AND l.rank <= 3) OR (l.llm_grade >= {RELEVANT} AND l.rank > 10))",
        "source judged not relevant": f"(l.is_source AND l.llm_grade < {RELEVANT})",
        "rescued positives": f"(NOT l.is_source AND l.llm_grade >= {RELEVANT})",
        "not yet reviewed": "(l.llm_grade IS NOT NULL OR l.status = 'unsure')",
    }
    if name not in conditions:
        raise InvalidInput(f"unknown queue {name!r}; use one of {list(conditions)}")
    where = [conditions[name]]
    params: list = [corpus]
    if not include_reviewed or name == "not yet reviewed":
        where.append("l.human_grade IS NULL")
    where.append(f"l.query_id NOT IN ({BAD_QUERIES})")  # a query called bad leaves training: its pairs need no decision
    params.append(corpus)
    if qtype:
        where.append("l.query_id IN (SELECT id FROM queries WHERE corpus_id = ? AND qtype = ?)")
        params += [corpus, qtype]
    if grade is not None:
        where.append("l.grade = ?")
        params.append(grade)
    order = {
        "spot-check": f"hash(l.query_id::VARCHAR || l.passage_id || '{float(seed)}')",
        "your users' queries": "l.margin, l.query_id, l.rank",
    }.get(name, "l.query_id, l.rank")
    # pick the page of items from the effective labels first, then fetch texts for those few rows only
    return con.execute(
        f"""WITH picked AS (SELECT l.*, count(*) OVER () AS waiting
                            FROM ({TEACHER_MARGIN if name == "your users' queries" else EFFECTIVE}) l
                            JOIN queries q ON q.id = l.query_id
                            WHERE {" AND ".join(where)} ORDER BY {order} LIMIT ?)
            SELECT l.query_id, l.passage_id, {QUERY_TEXT} AS query, q.qtype, q.origin, l.rank, l.is_source,
                   l.llm_grade, l.rationale, l.judge, l.human_grade, l.grade, p.title, p.text AS passage, l.waiting
            FROM picked l JOIN queries q ON q.id = l.query_id
            JOIN passages p ON p.corpus_id = q.corpus_id AND p.passage_id = l.passage_id
            ORDER BY {order}""",
        [*params, limit],
    ).df()


USERS_TOP = 10  # the candidates of a user's query an expert is asked about
# The effective labels, each with its query's teacher margin: the gap between the best and the second-best candidate
# by the teacher (dense and BM25 scores min-max normalised within the query's candidates, averaged); a small gap is a
# query whose answer the rankers cannot tell.
TEACHER_MARGIN = f"""
    WITH e AS ({EFFECTIVE}),
    t AS (SELECT query_id, passage_id,
                 0.5 * (coalesce((dense_score - min(dense_score) OVER w) / nullif(max(dense_score) OVER w - min(dense_score) OVER w, 0), 0)
                      + coalesce((bm25_score - min(bm25_score) OVER w) / nullif(max(bm25_score) OVER w - min(bm25_score) OVER w, 0), 0))
                 AS teacher FROM e WINDOW w AS (PARTITION BY query_id)),
    m AS (SELECT query_id, list_sort(list(teacher), 'DESC') AS s FROM t GROUP BY query_id)
    SELECT e.*, coalesce(m.s[1] - m.s[2], 1.0) AS margin FROM e JOIN m USING (query_id)"""


def history(con: duckdb.DuckDBPyConnection, query_id: int, passage_id: str) -> pd.DataFrame:
    """Every judgement and human decision on a pair, oldest first (the audit view)."""
    return con.execute(
        """SELECT created_at AS time, 'judge' AS source, judge AS who, grade AS grade, NULL AS old_grade, status AS action,
                  rationale AS note FROM labels WHERE query_id = ? AND passage_id = ?
           UNION ALL
           SELECT created_at, 'human', reviewer, new_grade, old_grade, action, note FROM reviews
           WHERE query_id = ? AND (passage_id = ? OR passage_id IS NULL)
           ORDER BY time""",
        [query_id, passage_id, query_id, passage_id],
    ).df()


def review_counts(con: duckdb.DuckDBPyConnection, corpus: int) -> dict:
    """Decisions recorded (undos included), the (query, passage) pairs they are on, and the reviewers."""
    row = con.execute(
        """SELECT count(*), count(DISTINCT (r.query_id, r.passage_id)) FILTER (WHERE r.passage_id IS NOT NULL),
                  count(DISTINCT r.reviewer)
           FROM reviews r JOIN queries q ON q.id = r.query_id WHERE q.corpus_id = ?""",
        [corpus],
    ).fetchone()
    return {"decisions": row[0], "pairs": row[1], "reviewers": row[2]}


BAD_QUERIES = """SELECT r.query_id FROM reviews r JOIN queries q ON q.id = r.query_id
           WHERE q.corpus_id = ? AND r.passage_id IS NULL
           QUALIFY row_number() OVER (PARTITION BY r.query_id ORDER BY r.id DESC) = 1 AND r.action = 'bad query'"""


def bad_queries(con: duckdb.DuckDBPyConnection, corpus: int) -> set[int]:
    """Queries whose latest query-level verdict is 'bad query'."""
    return {r[0] for r in con.execute(BAD_QUERIES, [corpus]).fetchall()}


def reviewed_pairs(con: duckdb.DuckDBPyConnection, corpus: int) -> pd.DataFrame:
    """Pairs with both a judge grade and a human grade, with the query type and whether the
    first human decision was made from the random spot-check queue (note 'spot-check')."""
    return con.execute(
        f"""SELECT l.query_id, l.passage_id, q.qtype, l.llm_grade, l.human_grade,
                   EXISTS (SELECT 1 FROM reviews r WHERE r.query_id = l.query_id AND r.passage_id = l.passage_id
                           AND r.queue = 'spot-check') AS spot_check
            FROM ({EFFECTIVE}) l JOIN queries q ON q.id = l.query_id
            WHERE l.llm_grade IS NOT NULL AND l.human_grade IS NOT NULL""",
        [corpus],
    ).df()


def latest_decisions(con: duckdb.DuckDBPyConnection, corpus: int) -> list[tuple[int, str, str, str, int]]:
    """(query id, effective query text, query type, document id, grade) of each pair's latest graded review."""
    return con.execute(
        f"""SELECT q.id, {QUERY_TEXT}, q.qtype, p.doc_id, r.new_grade
            FROM reviews r JOIN queries q ON q.id = r.query_id
            JOIN passages p ON p.corpus_id = q.corpus_id AND p.passage_id = r.passage_id
            WHERE q.corpus_id = ? AND r.passage_id IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY r.query_id, r.passage_id ORDER BY r.id DESC) = 1
                AND r.new_grade IS NOT NULL""",
        [corpus],
    ).fetchall()


def latest_review_id(con: duckdb.DuckDBPyConnection, query_id: int, passage_id: str | None) -> int:
    """The id of the newest decision on a pair (0 when none): what a reviewer saw when the item was shown."""
    return con.execute(
        "SELECT coalesce(max(id), 0) FROM reviews WHERE query_id = ? AND passage_id IS NOT DISTINCT FROM ?",
        [query_id, passage_id],
    ).fetchone()[0]


def decisions_between(
    con: duckdb.DuckDBPyConnection, query_id: int, passage_id: str | None, after: int, before: int
) -> list[dict]:
    """The decisions on a pair with ids in (after, before), oldest first."""
    frame = con.execute(
        """SELECT id, reviewer, action, new_grade, created_at FROM reviews
           WHERE query_id = ? AND passage_id IS NOT DISTINCT FROM ? AND id > ? AND id < ? ORDER BY id""",
        [query_id, passage_id, after, before],
    ).df()
    return frame.to_dict("records")
