"""Workspace-wide settings and the counts behind the home dashboard."""

import duckdb

from core.vocabulary import USERS


def get_setting(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """A stored app setting (e.g. the active corpus), or None."""
    row = con.execute("SELECT value FROM app_settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_setting(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Store an app setting, replacing any earlier value."""
    con.execute("INSERT OR REPLACE INTO app_settings (key, value) VALUES (?, ?)", [key, value])


def flow_counts(con: duckdb.DuckDBPyConnection, corpus: int | None) -> dict[str, int]:
    """How far a corpus has come through the flow: one count per step.

    Returns:
        {"passages", "users" (your users' queries), "queries", "labels", "reviewed", "models", "eval_runs"}; zeros
        when ``corpus`` is None.
    """
    if corpus is None:
        return dict.fromkeys(["passages", "users", "queries", "labels", "reviewed", "models", "eval_runs"], 0)
    queries = "SELECT id FROM queries WHERE corpus_id = ? AND NOT deleted"
    one = lambda sql: con.execute(sql, [corpus]).fetchone()[0]  # noqa: E731
    return {
        "passages": one("SELECT count(*) FROM passages WHERE corpus_id = ?"),
        "users": one(f"SELECT count(*) FROM queries WHERE corpus_id = ? AND NOT deleted AND origin = '{USERS}'"),
        "queries": one("SELECT count(*) FROM queries WHERE corpus_id = ? AND NOT deleted"),
        "labels": one(
            f"SELECT count(DISTINCT (query_id, passage_id)) FROM labels WHERE status = 'ok' AND query_id IN ({queries})"
        ),
        "reviewed": one(f"SELECT count(DISTINCT (query_id, passage_id)) FROM reviews WHERE query_id IN ({queries})"),
        "models": one("SELECT count(*) FROM models m JOIN jobs j ON m.job_id = j.id WHERE j.corpus_id = ?"),
        "eval_runs": one(
            "SELECT count(*) FROM eval_runs e JOIN test_sets t ON e.test_set_id = t.id WHERE t.corpus_id = ?"
        ),
    }
