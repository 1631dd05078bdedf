"""Your users' queries: real queries (a search log, a help-desk inbox, the questions a team answers every
week) stored as training data beside the generated ones.

A user's query has no source passage. It is mined like any query; its candidates get grades from an LLM
judge or an expert (the review queue "your users' queries" puts them first), and the distillation teacher
scores the rest (``core.training.data``). The offline judge, whose rule needs a source, leaves them unlabelled.
"""

import hashlib
import json
from dataclasses import dataclass, field

import duckdb

from core.errors import BadUpload
from core.readers import Fields, decode, kind_of, read_jsonl, read_table, table_columns
from core.training.data import same_text
from storage import queries as store
from storage.corpora import held_out_texts, one_at_a_time
from storage.db import transaction

QUERY_FIELDS = ("query", "text", "question", "search", "q", "keywords")
KINDS = ("txt", "csv", "tsv", "jsonl")


@dataclass
class UserQueriesReport:
    """What an upload of users' queries did.

    Attributes:
        added: queries stored.
        duplicates: queries already stored for this corpus, or repeated in the file.
        in_test_set: queries refused because a held-out test set of the corpus holds the same text
            (training on a test query would make its evaluation meaningless).
    """

    added: int
    duplicates: int
    in_test_set: list[str] = field(default_factory=list)


def read_user_queries(filename: str, data: bytes, text_field: str | None = None) -> list[tuple[str, dict]]:
    """(text, metadata) per query: one per line of a .txt, or one per row of a .csv/.tsv/.jsonl whose text
    column is ``text_field`` (else the first of query, text, question, search, q, keywords); the other
    columns (an id, a count, a date) are kept as metadata.

    Raises:
        BadUpload: another format, no text column, or no query in the file.
    """
    kind = kind_of(filename)
    if kind not in KINDS:
        raise BadUpload(
            f"users' queries come as .txt (one per line), .csv, .tsv or .jsonl, not {kind or 'this type'}; "
            "save them as one of those",
            filename=filename,
        )
    if kind == "txt":
        rows = [(line.strip(), {}) for line in decode(filename, data).splitlines() if line.strip()]
    else:
        columns = table_columns(filename, data)
        chosen = text_field or next((c for c in QUERY_FIELDS if c in columns), None)
        if chosen is None:
            raise BadUpload(
                f"no query column among {columns}; name the column that holds the queries (or rename it to 'query')",
                filename=filename,
            )
        reader = read_jsonl if kind == "jsonl" else read_table
        documents = reader(
            filename, data, Fields(text=chosen, id=next((c for c in columns if c in ("_id", "id")), None))
        )
        records = _records(filename, data, kind)
        rows = []
        for document in documents:
            extra = records.get(document.doc_id, {}) if records else {}
            rows.append((" ".join(str(document.text).split()), {k: v for k, v in extra.items() if k != chosen}))
    if not rows:
        raise BadUpload("holds no query; put one query per line (.txt) or one per row", filename=filename)
    return rows


def _records(filename: str, data: bytes, kind: str) -> dict[str, dict]:
    """The rows of a table by their id column, for the metadata (empty when there is no id column)."""
    import csv
    import io

    text = decode(filename, data)
    if kind == "jsonl":
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if kind == "tsv" else ","))
    key = next((c for c in ("_id", "id") if rows and c in rows[0]), None)
    return {str(r[key]): {k: v for k, v in r.items() if k != key} for r in rows if isinstance(r, dict)} if key else {}


@one_at_a_time("adding users' queries")
def add_user_queries(
    con: duckdb.DuckDBPyConnection, corpus: int, filename: str, data: bytes, text_field: str | None = None
) -> UserQueriesReport:
    """Store the queries of a file as users' queries of a corpus (origin and type ``users``), all or none.

    Repeats (case and spacing aside) and queries already stored are skipped; a query whose text is a
    held-out test query of the corpus is refused and named in the report.

    Raises:
        BadUpload: the file cannot be read as queries (``read_user_queries``).
    """
    rows = read_user_queries(filename, data, text_field)
    held_out = {same_text(t) for t in held_out_texts(con, corpus)}
    stored = store.existing_keys(con, corpus)
    new, refused, duplicates = {}, [], 0
    for text, metadata in rows:
        key = "users:" + hashlib.sha1(same_text(text).encode()).hexdigest()
        if same_text(text) in held_out:
            refused.append(text)
        elif key in stored or key in new:
            duplicates += 1
        else:
            new[key] = {"text": text, "cache_key": key, "metadata": json.dumps(metadata) if metadata else None}
    with transaction(con):
        store.insert_user_queries(con, corpus, list(new.values()))
    return UserQueriesReport(len(new), duplicates, refused)


def user_query_counts(con: duckdb.DuckDBPyConnection, corpus: int) -> dict:
    """Users' queries of a corpus: stored, with candidates, with an expert's grade."""
    return store.user_query_counts(con, corpus)
