"""Candidates, LLM labels and the counts built on them."""

import json

import duckdb
import pandas as pd

from core.vocabulary import RELEVANT
from storage.corpora import PASSAGE_TEXT
from storage.db import insert_frame
from storage.queries import ACTIVE, QUERY_TEXT


def queries_to_mine(con: duckdb.DuckDBPyConnection, corpus: int) -> list[tuple[int, str, str]]:
    """(query id, source passage id, text) of every kept query of a corpus."""
    return con.execute(
        f"SELECT q.id, q.passage_id, {QUERY_TEXT} FROM queries q WHERE q.corpus_id = ? AND {ACTIVE} ORDER BY q.id",
        [corpus],
    ).fetchall()


def create_mining_run(con: duckdb.DuckDBPyConnection, corpus: int, settings: dict) -> int:
    return con.execute(
        "INSERT INTO mining_runs (corpus_id, settings) VALUES (?, ?) RETURNING id", [corpus, json.dumps(settings)]
    ).fetchone()[0]


def replace_candidates(con: duckdb.DuckDBPyConnection, query_ids: list[int], rows: list[tuple]) -> None:
    """Replace the candidates of these queries by ``rows`` (run, query, passage, rank, bm25, dense, fused, is_source)."""
    con.execute("DELETE FROM candidates WHERE query_id IN (SELECT unnest(?))", [query_ids])
    if rows:
        frame = pd.DataFrame(
            rows,
            columns=[
                "run_id",
                "query_id",
                "passage_id",
                "rank",
                "bm25_score",
                "dense_score",
                "fused_score",
                "is_source",
            ],
        )
        insert_frame(con, "candidates", frame, list(frame.columns))


def add_query_flag(con: duckdb.DuckDBPyConnection, query_ids: list[int], flag: str) -> int:
    """Add ``flag`` to these queries (once); returns how many gained it."""
    if not query_ids:
        return 0
    return con.execute(
        "UPDATE queries SET flags = list_append(flags, ?) WHERE id IN (SELECT unnest(?)) AND NOT list_contains(flags, ?)",
        [flag, query_ids, flag],
    ).fetchone()[0]


def candidates_of(con: duckdb.DuckDBPyConnection, query_id: int) -> pd.DataFrame:
    """A query's candidates, best first, with passage text."""
    return con.execute(
        """SELECT c.passage_id, c.rank, c.bm25_score, c.dense_score, c.fused_score, c.is_source, p.title, p.text
           FROM candidates c JOIN queries q ON q.id = c.query_id
           JOIN passages p ON p.corpus_id = q.corpus_id AND p.passage_id = c.passage_id
           WHERE c.query_id = ? ORDER BY c.rank""",
        [query_id],
    ).df()


def mining_summary(con: duckdb.DuckDBPyConnection, corpus: int) -> dict:
    """Queries with candidates, candidates, and how often the source is in the top 10 / 30."""
    row = con.execute(
        """SELECT count(DISTINCT c.query_id), count(*),
                  count(*) FILTER (WHERE c.is_source AND c.rank <= 10), count(*) FILTER (WHERE c.is_source AND c.rank <= 30)
           FROM candidates c JOIN queries q ON q.id = c.query_id WHERE q.corpus_id = ?""",
        [corpus],
    ).fetchone()
    return {"queries": row[0], "candidates": row[1], "source_top10": row[2], "source_top30": row[3]}


def pairs_to_judge(con: duckdb.DuckDBPyConnection, corpus: int, max_candidates: int) -> list[dict]:
    """The (query, candidate) pairs of kept queries: each query's top n candidates and its source."""
    frame = con.execute(
        f"""SELECT c.query_id, c.passage_id, c.rank, c.is_source, c.dense_score, c.bm25_score,
                   {QUERY_TEXT} AS query, q.passage_id AS source_id,
                   {PASSAGE_TEXT} AS passage, p.text_hash
            FROM candidates c JOIN queries q ON q.id = c.query_id
            JOIN passages p ON p.corpus_id = q.corpus_id AND p.passage_id = c.passage_id
            WHERE q.corpus_id = ? AND {ACTIVE} AND (c.rank <= ? OR c.is_source)
            ORDER BY c.query_id, c.rank""",
        [corpus, max_candidates],
    ).df()
    return frame.to_dict("records")


def judged_pairs(con: duckdb.DuckDBPyConnection, corpus: int, judge: str, version: str) -> set[tuple[int, str]]:
    """Pairs this judge already labelled (or left unsure) with this prompt version; failed ones are not."""
    rows = con.execute(
        """SELECT l.query_id, l.passage_id FROM labels l JOIN queries q ON q.id = l.query_id
           WHERE q.corpus_id = ? AND l.judge = ? AND l.prompt_version = ? AND l.status <> 'failed'""",
        [corpus, judge, version],
    ).fetchall()
    return set(rows)


def source_scores(con: duckdb.DuckDBPyConnection, query_ids: set[int]) -> list[dict]:
    """Each query's source-passage dense and BM25 scores."""
    return (
        con.execute(
            "SELECT query_id, dense_score, bm25_score FROM candidates WHERE is_source AND query_id IN (SELECT unnest(?))",
            [sorted(query_ids)],
        )
        .df()
        .to_dict("records")
    )


LABEL_COLUMNS = [
    "query_id",
    "passage_id",
    "grade",
    "rationale",
    "judge",
    "prompt_version",
    "raw_response",
    "status",
    "error",
]


def insert_labels(con, rows: list[tuple]) -> None:
    """Label rows (query_id, passage_id, grade, rationale, judge, prompt_version, raw_response, status, error), in one
    statement. A judge labels a pair once per prompt version: a new answer replaces only a failed one."""
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    frame["grade"] = frame["grade"].astype("Int64")
    insert_frame(
        con,
        "labels",
        frame,
        LABEL_COLUMNS,
        on_conflict="""
        ON CONFLICT (query_id, passage_id, judge, prompt_version) DO UPDATE SET
            grade = excluded.grade, rationale = excluded.rationale, raw_response = excluded.raw_response,
            status = excluded.status, error = excluded.error, created_at = now()::TIMESTAMP
        WHERE labels.status = 'failed'""",
    )


EFFECTIVE = (
    """
    WITH latest_label AS (
        SELECT query_id, passage_id, arg_max(grade, id) AS llm_grade, arg_max(rationale, id) AS rationale,
               arg_max(judge, id) AS judge, arg_max(status, id) AS status
        FROM labels WHERE status <> 'failed' GROUP BY query_id, passage_id),
    latest_review AS (
        SELECT query_id, passage_id, arg_max_null(new_grade, id) AS human_grade, arg_max(reviewer, id) AS reviewer
        FROM reviews WHERE passage_id IS NOT NULL GROUP BY query_id, passage_id)
    SELECT c.query_id, c.passage_id, c.rank, c.is_source, c.dense_score, c.bm25_score, l.llm_grade, l.rationale, l.judge, l.status,
           r.human_grade, r.reviewer, coalesce(r.human_grade, l.llm_grade) AS grade
    FROM candidates c JOIN queries q ON q.id = c.query_id
    LEFT JOIN latest_label l ON l.query_id = c.query_id AND l.passage_id = c.passage_id
    LEFT JOIN latest_review r ON r.query_id = c.query_id AND r.passage_id = c.passage_id
    WHERE q.corpus_id = ? AND """
    + ACTIVE
)


def effective_labels(con: duckdb.DuckDBPyConnection, corpus: int) -> pd.DataFrame:
    """Every candidate of kept queries with its LLM label, its latest human override and the
    effective grade (the latest human decision, else the latest label; NULL when unlabelled)."""
    return con.execute(EFFECTIVE + " ORDER BY c.query_id, c.rank", [corpus]).df()


def training_counts(con: duckdb.DuckDBPyConnection, corpus: int, positive: int = RELEVANT) -> dict:
    """What the labels give training: confirmed sources, bad queries, rescued positives, hard negatives.

    A source graded 0 marks a bad query; another candidate graded ``positive`` or more is an
    extra positive (a false negative rescued); candidates graded 0 are hard negatives.
    """
    row = con.execute(
        f"""SELECT count(DISTINCT query_id) FILTER (WHERE grade IS NOT NULL),
                   count(*) FILTER (WHERE is_source AND grade >= ?),
                   count(*) FILTER (WHERE is_source AND grade = 0),
                   count(*) FILTER (WHERE NOT is_source AND grade >= ?),
                   count(*) FILTER (WHERE NOT is_source AND grade = 0),
                   count(*) FILTER (WHERE grade IS NULL OR (grade > 0 AND grade < ?)),
                   count(*) FILTER (WHERE human_grade IS NOT NULL)
            FROM ({EFFECTIVE})""",
        [positive, positive, positive, corpus],
    ).fetchone()
    keys = [
        "labelled_queries",
        "confirmed_sources",
        "bad_queries",
        "rescued_positives",
        "hard_negatives",
        "unlabelled_or_ambiguous",
        "reviewed",
    ]
    return dict(zip(keys, row))


def failed_labels(con: duckdb.DuckDBPyConnection, corpus: int, limit: int = 100) -> pd.DataFrame:
    """Recent failed judgements with their reasons and raw answers."""
    return con.execute(
        """SELECT l.query_id, l.passage_id, l.judge, l.error, l.raw_response, l.created_at FROM labels l
           JOIN queries q ON q.id = l.query_id WHERE q.corpus_id = ? AND l.status = 'failed'
           ORDER BY l.id DESC LIMIT ?""",
        [corpus, limit],
    ).df()
