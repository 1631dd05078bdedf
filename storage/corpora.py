"""Corpora, passages, ingested files and held-out test sets."""

import functools
import json

import duckdb
import pandas as pd

from core.errors import NotFound
from storage.db import exclusive, insert_frame, transaction

PASSAGE_TEXT = "CASE WHEN p.title = '' THEN p.text ELSE p.title || '. ' || p.text END"  # what models read: title. text


def corpus_id(con: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """The id of the corpus called ``name``, or None."""
    row = con.execute("SELECT id FROM corpora WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def one_at_a_time(doing: str):
    """A long write step on a corpus (``fn(con, corpus id or name, ...)``) that runs alone: another
    session's step on the same corpus meanwhile gets Busy (``storage.db.exclusive``)."""

    def wrap(fn):
        @functools.wraps(fn)
        def step(con, corpus, *args, **kwargs):
            name = corpus if isinstance(corpus, str) else corpus_name(con, corpus)
            with exclusive(con, f"The corpus {str(name).strip()!r}", doing):
                return fn(con, corpus, *args, **kwargs)

        return step

    return wrap


def corpus_name(con: duckdb.DuckDBPyConnection, corpus: int) -> str:
    """The name of a corpus (its id as text when there is none)."""
    row = con.execute("SELECT name FROM corpora WHERE id = ?", [corpus]).fetchone()
    return row[0] if row else f"#{corpus}"


def create_corpus(con: duckdb.DuckDBPyConnection, name: str, settings: dict) -> int:
    """Create an empty corpus and return its id."""
    return con.execute(
        "INSERT INTO corpora (name, settings) VALUES (?, ?) RETURNING id", [name, json.dumps(settings)]
    ).fetchone()[0]


def list_corpora(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every corpus with its passage, document and test-query counts, oldest first."""
    return con.execute(
        """SELECT c.id, c.name, c.created_at,
                  (SELECT count(*) FROM passages p WHERE p.corpus_id = c.id) AS passages,
                  (SELECT count(DISTINCT doc_id) FROM passages p WHERE p.corpus_id = c.id) AS documents,
                  (SELECT count(*) FROM test_queries q JOIN test_sets t ON q.test_set_id = t.id
                    WHERE t.corpus_id = c.id) AS test_queries
           FROM corpora c ORDER BY c.id"""
    ).df()


def passage_texts(con: duckdb.DuckDBPyConnection, corpus: int) -> tuple[list[str], list[str]]:
    """Passage ids in order and the text models read for each (title. text)."""
    rows = con.execute(
        f"SELECT p.passage_id, {PASSAGE_TEXT} FROM passages p WHERE p.corpus_id = ? ORDER BY p.passage_id", [corpus]
    ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def passage_records(con: duckdb.DuckDBPyConnection, corpus: int) -> dict[str, tuple[str, str, str]]:
    """Per passage id: (document id, title, text)."""
    rows = con.execute("SELECT passage_id, doc_id, title, text FROM passages WHERE corpus_id = ?", [corpus]).fetchall()
    return {r[0]: r[1:] for r in rows}


def title_openers(con: duckdb.DuckDBPyConnection, corpus: int) -> set[str]:
    """Ids of the passages that open a run of passages sharing a title, in the corpus's order (source file,
    document id, position in the document, as the Corpus page lists them): a document's first passage, unless
    the document before it has the same title (the sections of one document, or one document's answers)."""
    return {
        r[0]
        for r in con.execute(
            """SELECT passage_id FROM passages WHERE corpus_id = ?
           QUALIFY lower(trim(title)) IS DISTINCT FROM lag(lower(trim(title))) OVER (ORDER BY source, doc_id, position)""",
            [corpus],
        ).fetchall()
    }


def matching_passages(con: duckdb.DuckDBPyConnection, corpus: int, contains: str = "") -> list[str]:
    """Ids of the passages whose title or text contains a string (all for an empty one), in order."""
    contains = contains.strip()
    return [
        r[0]
        for r in con.execute(
            "SELECT passage_id FROM passages WHERE corpus_id = ? AND (? = '' OR title ILIKE ? OR text ILIKE ?) ORDER BY passage_id",
            [corpus, contains, f"%{contains}%", f"%{contains}%"],
        ).fetchall()
    ]


def passages_by_id(con: duckdb.DuckDBPyConnection, corpus: int, ids: list[str]) -> list[tuple[str, str, str, str]]:
    """(passage id, title, text, content hash) of the given passages (unknown ids are skipped)."""
    return con.execute(
        "SELECT passage_id, title, text, text_hash FROM passages WHERE corpus_id = ? AND passage_id IN (SELECT unnest(?))",
        [corpus, list(ids)],
    ).fetchall()


def held_out_texts(con: duckdb.DuckDBPyConnection, corpus: int) -> set[str]:
    """The texts of every test query of a corpus, lower-cased (training leaves them out)."""
    return {
        t.strip().lower()
        for (t,) in con.execute(
            "SELECT q.text FROM test_queries q JOIN test_sets s ON s.id = q.test_set_id WHERE s.corpus_id = ?", [corpus]
        ).fetchall()
    }


def test_set_name(con: duckdb.DuckDBPyConnection, test_set: int) -> str | None:
    row = con.execute("SELECT name FROM test_sets WHERE id = ?", [test_set]).fetchone()
    return row[0] if row else None


def passage_hashes(con: duckdb.DuckDBPyConnection, corpus: int) -> set[str]:
    """Content hashes of the corpus's passages (to skip duplicates)."""
    return {r[0] for r in con.execute("SELECT text_hash FROM passages WHERE corpus_id = ?", [corpus]).fetchall()}


def passage_ids(con: duckdb.DuckDBPyConnection, corpus: int) -> set[str]:
    """Passage ids already used in the corpus."""
    return {r[0] for r in con.execute("SELECT passage_id FROM passages WHERE corpus_id = ?", [corpus]).fetchall()}


def insert_passages(con: duckdb.DuckDBPyConnection, corpus: int, passages: list) -> None:
    """Bulk-insert passages (objects with the Passage fields) into a corpus."""
    if not passages:
        return
    frame = pd.DataFrame(
        {
            "corpus_id": corpus,
            "passage_id": [p.passage_id for p in passages],
            "doc_id": [p.doc_id for p in passages],
            "title": [p.title for p in passages],
            "text": [p.text for p in passages],
            "text_hash": [p.text_hash for p in passages],
            "n_tokens": [p.n_tokens for p in passages],
            "position": [p.position for p in passages],
            "source": [p.source for p in passages],
        }
    )
    insert_frame(con, "passages", frame, list(frame.columns))


def record_files(con: duckdb.DuckDBPyConnection, corpus: int, files: list[dict]) -> None:
    """Note that files were ingested into a corpus, with what each yielded (dicts of filename, kind, n_bytes,
    n_documents, n_passages), in one statement."""
    if not files:
        return
    frame = pd.DataFrame(files, columns=["filename", "kind", "n_bytes", "n_documents", "n_passages"])
    frame["corpus_id"] = corpus
    insert_frame(
        con, "ingested_files", frame, ["corpus_id", "filename", "kind", "n_bytes", "n_documents", "n_passages"]
    )


def create_test_set(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    name: str,
    origin: str,
    queries: dict[str, tuple[str, dict]],
    qrels: dict[str, dict[str, int]],
) -> dict:
    """Store held-out queries and their judgements. Only judged queries are kept.

    Returns:
        {"id", "name", "n_queries", "n_qrels", "n_missing_docs"}; a name already used in
        the corpus gets a number appended.
    """
    base, number = name, 1
    while con.execute("SELECT 1 FROM test_sets WHERE corpus_id = ? AND name = ?", [corpus, name]).fetchone():
        number += 1
        name = f"{base} ({number})"
    test_set = con.execute(
        "INSERT INTO test_sets (corpus_id, name, origin) VALUES (?, ?, ?) RETURNING id", [corpus, name, origin]
    ).fetchone()[0]
    judged = [q for q in queries if q in qrels]
    query_frame = pd.DataFrame(
        {
            "test_set_id": test_set,
            "query_id": judged,
            "text": [queries[q][0] for q in judged],
            "metadata": [json.dumps(queries[q][1]) for q in judged],
        }
    )
    qrel_rows = [(q, d, g) for q in judged for d, g in qrels[q].items()]
    qrel_frame = pd.DataFrame(
        {
            "test_set_id": test_set,
            "query_id": [r[0] for r in qrel_rows],
            "doc_id": [r[1] for r in qrel_rows],
            "relevance": [r[2] for r in qrel_rows],
        }
    )
    insert_frame(con, "test_queries", query_frame, list(query_frame.columns))
    insert_frame(con, "qrels", qrel_frame, list(qrel_frame.columns))
    missing = con.execute(
        """SELECT count(*) FROM qrels r WHERE r.test_set_id = ?
           AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.corpus_id = ? AND p.doc_id = r.doc_id)""",
        [test_set, corpus],
    ).fetchone()[0]
    return {
        "id": test_set,
        "name": name,
        "n_queries": len(judged),
        "n_qrels": len(qrel_rows),
        "n_missing_docs": missing,
    }


def corpus_summary(con: duckdb.DuckDBPyConnection, corpus: int) -> dict:
    """Counts for one corpus: passages, documents, files, tokens, test sets and test queries."""
    row = con.execute(
        """SELECT c.name, count(p.passage_id), count(DISTINCT p.doc_id), coalesce(sum(p.n_tokens), 0),
                  coalesce(median(p.n_tokens), 0)
           FROM corpora c LEFT JOIN passages p ON p.corpus_id = c.id WHERE c.id = ? GROUP BY c.name""",
        [corpus],
    ).fetchone()
    if row is None:
        raise NotFound(f"no corpus with id {corpus}; pick one from the list")
    files = con.execute("SELECT count(*) FROM ingested_files WHERE corpus_id = ?", [corpus]).fetchone()[0]
    tests = con.execute(
        """SELECT count(DISTINCT t.id), count(q.query_id) FROM test_sets t
           LEFT JOIN test_queries q ON q.test_set_id = t.id WHERE t.corpus_id = ?""",
        [corpus],
    ).fetchone()
    return {
        "name": row[0],
        "passages": row[1],
        "documents": row[2],
        "tokens": int(row[3]),
        "median_tokens": float(row[4]),
        "files": files,
        "test_sets": tests[0],
        "test_queries": tests[1],
    }


# Ids in the order a person counts them: "2" before "10", "doc2" before "doc10" (the text before the first number,
# then that number, then the id as text).
NATURAL = (
    r"regexp_extract({column}, '^\D*'), try_cast(regexp_extract({column}, '\d+') AS BIGINT) NULLS FIRST, "
    "{column}"
)


def search_passages(
    con: duckdb.DuckDBPyConnection, corpus: int, contains: str = "", offset: int = 0, limit: int = 20
) -> tuple[pd.DataFrame, int]:
    """A page of a corpus's passages whose id, title or text contains ``contains`` (any case), file by file, their
    documents in natural order (2 before 10).

    Returns:
        (the page as a DataFrame, the number of matching passages).
    """
    where = "corpus_id = ?"
    params: list = [corpus]
    if contains.strip():
        where += " AND (passage_id ILIKE ? OR title ILIKE ? OR text ILIKE ?)"
        pattern = f"%{contains.strip()}%"
        params += [pattern, pattern, pattern]
    total = con.execute(f"SELECT count(*) FROM passages WHERE {where}", params).fetchone()[0]
    page = con.execute(
        f"""SELECT passage_id, doc_id, title, text, n_tokens, source FROM passages WHERE {where}
            ORDER BY source, {NATURAL.format(column="doc_id")}, position LIMIT ? OFFSET ?""",
        [*params, limit, offset],
    ).df()
    return page, total


def passage_lengths(con: duckdb.DuckDBPyConnection, corpus: int) -> list[int]:
    """Token counts of every passage in a corpus (for the length histogram)."""
    return [r[0] for r in con.execute("SELECT n_tokens FROM passages WHERE corpus_id = ?", [corpus]).fetchall()]


def ingested_files(con: duckdb.DuckDBPyConnection, corpus: int) -> pd.DataFrame:
    """The files ingested into a corpus, newest first."""
    return con.execute(
        """SELECT filename, kind, n_bytes, n_documents, n_passages, ingested_at FROM ingested_files
           WHERE corpus_id = ? ORDER BY ingested_at DESC""",
        [corpus],
    ).df()


def test_sets(con: duckdb.DuckDBPyConnection, corpus: int) -> pd.DataFrame:
    """The held-out test sets of a corpus with their query and judgement counts."""
    return con.execute(
        """SELECT t.id, t.name, t.origin, t.created_at,
                  (SELECT count(*) FROM test_queries q WHERE q.test_set_id = t.id) AS queries,
                  (SELECT count(*) FROM qrels r WHERE r.test_set_id = t.id) AS judgements
           FROM test_sets t WHERE t.corpus_id = ? ORDER BY t.id""",
        [corpus],
    ).df()


# Every table's rows of a corpus, as the condition that selects them (``?``: the corpus id), children before
# their parents. Deleting a corpus deletes exactly these; a test holds it to every table of the schema but SHARED,
# so a migration that adds a table must say here whose rows it holds.
_QUERIES = "SELECT id FROM queries WHERE corpus_id = ?"
_TEST_SETS = "SELECT id FROM test_sets WHERE corpus_id = ?"
_EVAL_RUNS = f"SELECT id FROM eval_runs WHERE test_set_id IN ({_TEST_SETS})"
OWNED = {
    "reviews": f"query_id IN ({_QUERIES})",
    "labels": f"query_id IN ({_QUERIES})",
    "candidates": "run_id IN (SELECT id FROM mining_runs WHERE corpus_id = ?)",
    "mining_runs": "corpus_id = ?",
    "queries": "corpus_id = ?",
    "eval_rankings": f"run_id IN ({_EVAL_RUNS})",
    "eval_results": f"run_id IN ({_EVAL_RUNS})",
    "eval_runs": f"test_set_id IN ({_TEST_SETS})",
    "qrels": f"test_set_id IN ({_TEST_SETS})",
    "test_queries": f"test_set_id IN ({_TEST_SETS})",
    "test_sets": "corpus_id = ?",
    "models": "job_id IN (SELECT id FROM jobs WHERE corpus_id = ?)",
    "jobs": "corpus_id = ?",
    "passages": "corpus_id = ?",
    "ingested_files": "corpus_id = ?",
    "corpora": "id = ?",
}
# Keyed by content, not by corpus: the LLM calls' and the encoder's caches (what makes a corpus uploaded again
# free), the app's settings, the schema's version.
SHARED = {"llm_cache", "embeddings", "app_settings", "schema_migrations"}


def delete_corpus(con: duckdb.DuckDBPyConnection, corpus: int) -> list[str]:
    """Remove a corpus and everything made from it (``OWNED``: its jobs and models included), in one transaction.

    Returns the job folders the rows pointed at: the caller removes them once this has committed.
    """
    with transaction(con):
        folders = [
            r[0]
            for r in con.execute("SELECT folder FROM jobs WHERE corpus_id = ? AND folder <> ''", [corpus]).fetchall()
        ]
        for table, rows in OWNED.items():
            con.execute(f"DELETE FROM {table} WHERE {rows}", [corpus] * rows.count("?"))
    return folders
