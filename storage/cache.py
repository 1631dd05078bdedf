"""Caches that save repeated work: LLM answers by request key, embeddings by (model, text hash)."""

import json

import duckdb
import numpy as np
import pandas as pd

from storage.db import insert_frame


def cached_answers(con: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[str, str]:
    """The successful cached LLM responses among ``keys``."""
    if not keys:
        return {}
    rows = con.execute(
        "SELECT key, response FROM llm_cache WHERE key IN (SELECT unnest(?)) AND response IS NOT NULL", [keys]
    ).fetchall()
    return dict(rows)


def store_answer(con: duckdb.DuckDBPyConnection, key: str, model: str, messages, text: str | None, error: str | None,
                 tokens_in: int, tokens_out: int, cost: float | None) -> None:
    """One LLM call's outcome (an answer or its error), replacing an earlier one under the same key."""
    con.execute(
        """INSERT OR REPLACE INTO llm_cache (key, model, request, response, error, tokens_in, tokens_out, cost_usd)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [key, model, json.dumps(messages), text, error, tokens_in, tokens_out, cost],
    )


def cached_vectors(con: duckdb.DuckDBPyConnection, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
    """The cached embeddings among ``hashes`` for a model's cache key."""
    if not hashes:
        return {}
    result = con.execute(
        "SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN (SELECT unnest(?))", [model, hashes]
    ).fetchnumpy()
    return {h: np.asarray(v, dtype=np.float32) for h, v in zip(result["text_hash"], result["vector"])}


def count_vectors(con: duckdb.DuckDBPyConnection) -> int:
    """How many embeddings the workspace caches (all models)."""
    return con.execute("SELECT count(*) FROM embeddings").fetchone()[0]


def store_vectors(con: duckdb.DuckDBPyConnection, model: str, hashes: list[str], vectors: np.ndarray) -> None:
    frame = pd.DataFrame({"model": model, "text_hash": hashes, "vector": list(vectors)})
    insert_frame(con, "embeddings", frame, ["model", "text_hash", "vector"], ignore_duplicates=True)
