"""Synthetic queries: stored once per generation request, edited and deleted softly."""

import duckdb
import pandas as pd

from core.errors import InvalidInput, NotFound
from core.vocabulary import USERS
from storage.db import insert_frame

ACTIVE = "NOT q.deleted AND (len(q.flags) = 0 OR q.restored)"
QUERY_TEXT = "coalesce(q.edited_text, q.text)"  # a query's effective text: the reviewer's edit, else the generator's


def existing_keys(con: duckdb.DuckDBPyConnection, corpus: int) -> set[str]:
    """Cache keys of the queries already made for a corpus (deleted ones included)."""
    rows = con.execute(
        "SELECT cache_key FROM queries WHERE corpus_id = ? AND cache_key IS NOT NULL", [corpus]
    ).fetchall()
    return {r[0] for r in rows}


def kept_texts(con: duckdb.DuckDBPyConnection, corpus: int) -> dict[str, list[str]]:
    """Per passage, the texts of its queries that are not deleted or flagged (for near-duplicate checks)."""
    rows = con.execute(
        f"SELECT q.passage_id, {QUERY_TEXT} FROM queries q WHERE q.corpus_id = ? AND {ACTIVE}", [corpus]
    ).fetchall()
    texts: dict[str, list[str]] = {}
    for passage, text in rows:
        texts.setdefault(passage, []).append(text)
    return texts


def insert_queries(con: duckdb.DuckDBPyConnection, corpus: int, rows: list[dict]) -> None:
    """Store queries: dicts with passage_id, text, qtype, origin, generator, prompt_version, cache_key, flags.
    A query whose (corpus, cache key) is stored already is skipped: it is the same request's answer."""
    if not rows:
        return
    if len(rows) == 1:  # an LLM run's answers often come one at a time: skip the DataFrame
        r = rows[0]
        con.execute(
            """INSERT OR IGNORE INTO queries (corpus_id, passage_id, text, qtype, origin, generator, prompt_version, cache_key, flags)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                corpus,
                r["passage_id"],
                r["text"],
                r["qtype"],
                r["origin"],
                r["generator"],
                r["prompt_version"],
                r["cache_key"],
                r["flags"],
            ],
        )
        return
    frame = pd.DataFrame(rows)
    frame["corpus_id"] = corpus
    insert_frame(
        con,
        "queries",
        frame,
        ["corpus_id", "passage_id", "text", "qtype", "origin", "generator", "prompt_version", "cache_key", "flags"],
        ignore_duplicates=True,
    )


def list_queries(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    *,
    qtypes: list[str] | None = None,
    show: str = "kept",
    contains: str = "",
    passage_id: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[pd.DataFrame, int]:
    """A page of a corpus's queries with their passage title.

    Args:
        show: "kept" (not deleted, not flagged or restored), "flagged", "deleted" or "all".

    Returns:
        (page, number of matching queries).
    """
    where = ["q.corpus_id = ?"]
    params: list = [corpus]
    where.append(
        {
            "kept": ACTIVE,
            "flagged": "NOT q.deleted AND len(q.flags) > 0 AND NOT q.restored",
            "deleted": "q.deleted",
            "all": "true",
        }[show]
    )
    if qtypes:
        where.append("q.qtype IN (SELECT unnest(?))")
        params.append(qtypes)
    if contains.strip():
        where.append(f"{QUERY_TEXT} ILIKE ?")
        params.append(f"%{contains.strip()}%")
    if passage_id:
        where.append("q.passage_id = ?")
        params.append(passage_id)
    sql_where = " AND ".join(where)
    total = con.execute(f"SELECT count(*) FROM queries q WHERE {sql_where}", params).fetchone()[0]
    page = con.execute(
        f"""SELECT q.id, q.passage_id, p.title AS passage_title, {QUERY_TEXT} AS query, q.qtype,
                   q.origin, q.generator, q.prompt_version, array_to_string(q.flags, ', ') AS flags, q.restored, q.deleted
            FROM queries q LEFT JOIN passages p ON p.corpus_id = q.corpus_id AND p.passage_id = q.passage_id
            WHERE {sql_where} ORDER BY q.passage_id, q.qtype, q.id LIMIT ? OFFSET ?""",
        [*params, limit, offset],
    ).df()
    return page, total


def counts_by_type(con: duckdb.DuckDBPyConnection, corpus: int) -> pd.DataFrame:
    """Per query type: kept, flagged and deleted counts."""
    return con.execute(
        f"""SELECT qtype, count(*) FILTER (WHERE {ACTIVE}) AS kept,
                   count(*) FILTER (WHERE NOT q.deleted AND len(q.flags) > 0 AND NOT q.restored) AS flagged,
                   count(*) FILTER (WHERE q.deleted) AS deleted
            FROM queries q WHERE q.corpus_id = ? GROUP BY qtype ORDER BY qtype""",
        [corpus],
    ).df()


def flag_counts(con: duckdb.DuckDBPyConnection, corpus: int) -> dict[str, int]:
    """How many live queries carry each flag."""
    rows = con.execute(
        "SELECT flag, count(*) FROM (SELECT unnest(flags) AS flag FROM queries WHERE corpus_id = ? AND NOT deleted) GROUP BY flag",
        [corpus],
    ).fetchall()
    return dict(rows)


def _update(con, query_id: int, sql: str, params: list) -> None:
    if not con.execute("SELECT 1 FROM queries WHERE id = ?", [query_id]).fetchone():
        raise NotFound(f"no query with id {query_id}; reload the page")
    con.execute(sql, [*params, query_id])


def edit_query(con: duckdb.DuckDBPyConnection, query_id: int, text: str) -> None:
    """Replace a query's text with the user's edit (the generated text is kept)."""
    if not text.strip():
        raise InvalidInput("a query cannot be empty; delete it instead")
    _update(con, query_id, "UPDATE queries SET edited_text = ? WHERE id = ?", [text.strip()])


def delete_query(con: duckdb.DuckDBPyConnection, query_id: int, deleted: bool = True) -> None:
    """Delete (or undelete) a query; it stays in the database, out of every step."""
    _update(con, query_id, "UPDATE queries SET deleted = ? WHERE id = ?", [deleted])


def restore_query(con: duckdb.DuckDBPyConnection, query_id: int, restored: bool = True) -> None:
    """Keep a flagged query despite its flags (or flag it out again)."""
    _update(con, query_id, "UPDATE queries SET restored = ? WHERE id = ?", [restored])


def deleted_count_for_passage(con: duckdb.DuckDBPyConnection, corpus: int, passage_id: str) -> int:
    return con.execute(
        "SELECT count(*) FROM queries WHERE corpus_id = ? AND passage_id = ? AND deleted", [corpus, passage_id]
    ).fetchone()[0]


def query_records(con: duckdb.DuckDBPyConnection, corpus: int) -> dict[int, dict]:
    """Every query of a corpus by id (deleted ones too): effective text, type, provenance and source passage."""
    frame = con.execute(
        f"""SELECT q.id, {QUERY_TEXT} AS text, q.qtype, q.origin, q.generator, q.prompt_version, q.passage_id
            FROM queries q WHERE q.corpus_id = ?""",
        [corpus],
    ).df()
    frame["passage_id"] = (
        frame["passage_id"].astype(object).where(frame["passage_id"].notna(), None)
    )  # users' queries: None
    return {int(r.pop("id")): r for r in frame.to_dict("records")}


def query_types(con: duckdb.DuckDBPyConnection, corpus: int) -> list[str]:
    """The query types present in a corpus."""
    return [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT qtype FROM queries WHERE corpus_id = ? ORDER BY 1", [corpus]
        ).fetchall()
    ]


def live_queries_of_passage(con: duckdb.DuckDBPyConnection, corpus: int, passage_id: str) -> list[int]:
    """The ids of a passage's queries that are not deleted."""
    return [
        r[0]
        for r in con.execute(
            "SELECT id FROM queries WHERE corpus_id = ? AND passage_id = ? AND NOT deleted", [corpus, passage_id]
        ).fetchall()
    ]


def insert_user_queries(con: duckdb.DuckDBPyConnection, corpus: int, rows: list[dict]) -> None:
    """Store users' queries: dicts with text, cache_key and metadata (JSON text or None); they have no source passage."""
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["text", "cache_key", "metadata"])
    frame["corpus_id"], frame["passage_id"] = corpus, None
    frame["qtype"] = frame["origin"] = frame["generator"] = USERS
    frame["prompt_version"], frame["flags"] = "-", [[] for _ in range(len(frame))]
    insert_frame(
        con,
        "queries",
        frame,
        [
            "corpus_id",
            "passage_id",
            "text",
            "qtype",
            "origin",
            "generator",
            "prompt_version",
            "cache_key",
            "flags",
            "metadata",
        ],
        ignore_duplicates=True,
    )


def user_query_counts(con: duckdb.DuckDBPyConnection, corpus: int) -> dict:
    """Users' queries of a corpus: stored (not deleted), with mined candidates, with at least one expert grade."""
    row = con.execute(
        """SELECT count(*),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM candidates c WHERE c.query_id = q.id)),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM reviews r WHERE r.query_id = q.id AND r.new_grade IS NOT NULL))
            FROM queries q WHERE q.corpus_id = ? AND q.origin = ? AND NOT q.deleted""",
        [corpus, USERS],
    ).fetchone()
    return {"queries": row[0], "mined": row[1], "expert_graded": row[2]}
