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


def store_answers(con: duckdb.DuckDBPyConnection, model: str, rows: list[tuple]) -> None:
    """LLM calls' outcomes in one statement: (key, messages, text, error, tokens in, tokens out, cost) each,
    an answer or its error, replacing an earlier outcome under the same key."""
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["key", "request", "response", "error", "tokens_in", "tokens_out", "cost_usd"])
    frame["request"] = [json.dumps(m) for m in frame["request"]]
    frame["model"] = model
    frame = frame.drop_duplicates("key", keep="last")
    insert_frame(
        con,
        "llm_cache",
        frame,
        ["key", "model", "request", "response", "error", "tokens_in", "tokens_out", "cost_usd"],
        replace=True,
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
