"""Training jobs and the models they register: the rows behind core/jobs.py."""

import json

import duckdb

from storage.db import transaction


def create_job(con: duckdb.DuckDBPyConnection, kind: str, spec: dict) -> int:
    """A queued job row; its folder is set when it starts."""
    return con.execute("INSERT INTO jobs (kind, status, spec, folder) VALUES (?, 'queued', ?, '') RETURNING id",
                       [kind, json.dumps(spec)]).fetchone()[0]


def set_folder(con: duckdb.DuckDBPyConnection, job_id: int, folder: str) -> None:
    con.execute("UPDATE jobs SET folder = ? WHERE id = ?", [folder, job_id])


def start_job(con: duckdb.DuckDBPyConnection, job_id: int, folder: str, pid: int) -> None:
    con.execute("UPDATE jobs SET status = 'running', folder = ?, pid = ?, started_at = current_timestamp WHERE id = ?",
                [folder, pid, job_id])


def get_job(con: duckdb.DuckDBPyConnection, job_id: int) -> dict | None:
    """The job's row with its spec parsed and its model's id (None before one is registered)."""
    row = con.execute(
        """SELECT j.id, j.kind, j.status, j.spec, j.folder, j.pid, j.error, m.id
           FROM jobs j LEFT JOIN models m ON m.job_id = j.id WHERE j.id = ?""", [job_id]).fetchone()
    if row is None:
        return None
    keys = ("id", "kind", "status", "spec", "folder", "pid", "error", "model_id")
    job = dict(zip(keys, row))
    job["spec"] = json.loads(job["spec"])
    return job


def finish_job(con: duckdb.DuckDBPyConnection, job_id: int, status: str, error: str | None, model: dict | None = None) -> None:
    """Record a job's outcome and, for a finished one, register its model, in one transaction.

    ``model``: {"kind", "name", "path", "base_model", "metrics"}.
    """
    with transaction(con):
        if model is not None:
            con.execute("INSERT INTO models (job_id, kind, name, path, base_model, metrics) VALUES (?, ?, ?, ?, ?, ?)",
                        [job_id, model["kind"], model["name"], model["path"], model["base_model"], json.dumps(model["metrics"])])
        con.execute("UPDATE jobs SET status = ?, error = ?, finished_at = current_timestamp WHERE id = ?", [status, error, job_id])


def corpus_job_ids(con: duckdb.DuckDBPyConnection, corpus: int) -> list[int]:
    """The corpus's jobs, newest first."""
    return [r[0] for r in con.execute(
        "SELECT id FROM jobs WHERE json_extract(spec, '$.corpus_id')::INTEGER = ? ORDER BY id DESC", [corpus]).fetchall()]
