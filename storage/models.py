"""Fine-tuned models registered by finished jobs."""

import json

import duckdb
import pandas as pd

from storage.jobs import record_finished


def list_models(con: duckdb.DuckDBPyConnection, corpus: int) -> pd.DataFrame:
    """The corpus's models, newest first, with their dev metrics unpacked (jobs that have finished since recorded first)."""
    record_finished(con, corpus)
    frame = con.execute(
        """SELECT m.id, m.name, m.kind, m.base_model, m.path, m.metrics, m.created_at, m.job_id
           FROM models m JOIN jobs j ON j.id = m.job_id
           WHERE j.corpus_id = ? ORDER BY m.id DESC""",
        [corpus],
    ).df()
    metrics = [json.loads(m) if m else {} for m in frame["metrics"]]
    frame["dev_ndcg@10"] = [m.get("dev_ndcg@10") for m in metrics]
    frame["baseline_dev_ndcg@10"] = [m.get("baseline_dev_ndcg@10") for m in metrics]
    frame["mixed_with_base"] = [_mix(m) for m in metrics]
    frame["worse_than_baseline"] = [bool(m.get("worse_than_baseline")) for m in metrics]
    return frame.drop(columns=["metrics"])


def _mix(metrics: dict) -> str:
    """How a model is mixed with its base: its weights (WiSE-FT), or not at all."""
    return f"weights {metrics['weight_mix']:g} x fine-tuned" if "weight_mix" in metrics else "not mixed"


def get_model(con: duckdb.DuckDBPyConnection, model_id: int) -> dict | None:
    """A model with its metrics and the training method of its job."""
    row = con.execute(
        """SELECT m.id, m.name, m.kind, m.base_model, m.path, m.metrics, json_extract_string(j.spec, '$.method'),
                  json_extract(j.spec, '$.data_counts'), j.corpus_id
           FROM models m LEFT JOIN jobs j ON j.id = m.job_id WHERE m.id = ?""",
        [model_id],
    ).fetchone()
    if row is None:
        return None
    return {
        "id": row[0],
        "name": row[1],
        "kind": row[2],
        "base_model": row[3],
        "path": row[4],
        "metrics": json.loads(row[5] or "{}"),
        "method": row[6],
        "data_counts": json.loads(row[7] or "{}"),
        "corpus_id": row[8],
    }
