"""Test sets' data and evaluation runs with per-query results."""

import json

import duckdb
import pandas as pd

from core.vocabulary import METRICS


def test_set_data(
    con: duckdb.DuckDBPyConnection, test_set: int
) -> tuple[int, dict[str, str], dict[str, dict[str, int]]]:
    """(corpus id, query id -> text, query id -> {doc id: relevance}) of a test set."""
    row = con.execute("SELECT corpus_id FROM test_sets WHERE id = ?", [test_set]).fetchone()
    if row is None:
        from core.errors import NotFound

        raise NotFound(f"no test set {test_set}")
    queries = dict(con.execute("SELECT query_id, text FROM test_queries WHERE test_set_id = ?", [test_set]).fetchall())
    qrels: dict[str, dict[str, int]] = {}
    for q, d, r in con.execute(
        "SELECT query_id, doc_id, relevance FROM qrels WHERE test_set_id = ?", [test_set]
    ).fetchall():
        qrels.setdefault(q, {})[d] = r
    return row[0], queries, qrels


def save_run(
    con, test_set: int, system: str, settings: dict, metrics: dict, results: list[tuple], rankings: list[tuple]
) -> int:
    """Store a run, its per-query (query, metric, value) results and (query, passage, rank, score) rankings."""
    from storage.db import insert_frame, transaction

    model_id = int(system.split(":", 1)[1]) if ":" in system else None
    with transaction(con):
        run_id = con.execute(
            "INSERT INTO eval_runs (test_set_id, system, model_id, settings, metrics) VALUES (?, ?, ?, ?, ?) RETURNING id",
            [test_set, system, model_id, json.dumps(settings), json.dumps(metrics)],
        ).fetchone()[0]
        frame = pd.DataFrame(results, columns=["query_id", "metric", "value"])
        frame.insert(0, "run_id", run_id)
        ranked = pd.DataFrame(rankings, columns=["query_id", "passage_id", "rank", "score"])
        ranked.insert(0, "run_id", run_id)
        insert_frame(con, "eval_results", frame, list(frame.columns))
        insert_frame(con, "eval_rankings", ranked, list(ranked.columns))
    return run_id


def latest_runs(con: duckdb.DuckDBPyConnection, test_set: int) -> pd.DataFrame:
    """The latest run of each system on a test set, with its mean metrics unpacked."""
    frame = con.execute(
        """SELECT id, system, model_id, metrics, settings, created_at FROM eval_runs WHERE test_set_id = ?
           QUALIFY row_number() OVER (PARTITION BY system ORDER BY id DESC) = 1 ORDER BY id""",
        [test_set],
    ).df()
    for metric in [*METRICS, "judged@10"]:
        frame[metric] = [json.loads(m).get(metric) for m in frame["metrics"]]
    return frame.drop(columns=["metrics"])


def run_settings(con: duckdb.DuckDBPyConnection, run_id: int) -> dict:
    """The settings an evaluation run recorded (k, queries, seconds)."""
    row = con.execute("SELECT settings FROM eval_runs WHERE id = ?", [run_id]).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def per_query(con: duckdb.DuckDBPyConnection, run_id: int, metric: str) -> dict[str, float]:
    return dict(
        con.execute(
            "SELECT query_id, value FROM eval_results WHERE run_id = ? AND metric = ?", [run_id, metric]
        ).fetchall()
    )


def run_ranking(con: duckdb.DuckDBPyConnection, run_id: int, query_id: str) -> pd.DataFrame:
    return con.execute(
        "SELECT passage_id, rank, score FROM eval_rankings WHERE run_id = ? AND query_id = ? ORDER BY rank",
        [run_id, query_id],
    ).df()


def breakdown(con: duckdb.DuckDBPyConnection, run_a: int, run_b: int, metric: str = "ndcg@10") -> pd.DataFrame:
    """Mean difference (b - a) of a metric by each string field of the test queries' metadata
    (e.g. question type, source): columns field, value, queries, difference."""
    return con.execute(
        """WITH diff AS (
               SELECT b.query_id, b.value - a.value AS difference FROM eval_results a
               JOIN eval_results b ON a.query_id = b.query_id AND a.metric = b.metric
               WHERE a.run_id = ? AND b.run_id = ? AND a.metric = ?),
           fields AS (
               SELECT q.query_id, unnest(json_keys(q.metadata)) AS field, q.metadata FROM test_queries q
               WHERE q.test_set_id = (SELECT test_set_id FROM eval_runs WHERE id = ?) AND q.metadata IS NOT NULL
                 AND json_type(q.metadata) = 'OBJECT')
           SELECT f.field, json_extract_string(f.metadata, '$."' || f.field || '"') AS value, count(*) AS queries,
                  avg(d.difference) AS difference
           FROM fields f JOIN diff d ON d.query_id = f.query_id
           GROUP BY ALL HAVING value IS NOT NULL ORDER BY f.field, difference""",
        [run_a, run_b, metric, run_b],
    ).df()


def training_size_curve(con: duckdb.DuckDBPyConnection, test_set: int) -> pd.DataFrame:
    """For every evaluated fine-tuned model: its training method, training queries and nDCG@10."""
    return con.execute(
        """SELECT json_extract_string(j.spec, '$.method') AS method,
                  json_extract(m.metrics, '$.train_examples')::INTEGER AS train_queries,
                  json_extract(r.metrics, '$."ndcg@10"')::DOUBLE AS "ndcg@10"
           FROM eval_runs r JOIN models m ON m.id = r.model_id JOIN jobs j ON j.id = m.job_id
           WHERE r.test_set_id = ?
           QUALIFY row_number() OVER (PARTITION BY r.system ORDER BY r.id DESC) = 1
           ORDER BY method, train_queries""",
        [test_set],
    ).df()
