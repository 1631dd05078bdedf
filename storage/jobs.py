"""Training jobs and the models they register: the rows behind core/training/jobs.py."""

import json
from pathlib import Path

import duckdb

from core.vocabulary import ACTIVE, DONE, QUEUED, RUNNING
from storage.db import transaction


def create_job(con: duckdb.DuckDBPyConnection, corpus: int, kind: str, spec: dict) -> int:
    """A queued job row for the corpus; its folder is set when it starts."""
    return con.execute(
        "INSERT INTO jobs (corpus_id, kind, status, spec, folder) VALUES (?, ?, ?, ?, '') RETURNING id",
        [corpus, kind, QUEUED, json.dumps(spec)],
    ).fetchall()[0][0]


def set_folder(con: duckdb.DuckDBPyConnection, job_id: int, folder: str) -> None:
    con.execute("UPDATE jobs SET folder = ? WHERE id = ?", [folder, job_id])


def start_job(con: duckdb.DuckDBPyConnection, job_id: int, folder: str, pid: int) -> None:
    con.execute(
        "UPDATE jobs SET status = ?, folder = ?, pid = ?, started_at = current_timestamp WHERE id = ?",
        [RUNNING, folder, pid, job_id],
    )


def get_job(con: duckdb.DuckDBPyConnection, job_id: int) -> dict | None:
    """The job's row with its spec parsed, its model's id (None before one is registered) and how long it has run
    (seconds from its start to its end, or to now; None before it starts)."""
    row = con.execute(
        """SELECT j.id, j.kind, j.status, j.spec, j.folder, j.pid, j.error, m.id,
                  date_diff('second', j.started_at, coalesce(j.finished_at, current_timestamp::TIMESTAMP))
           FROM jobs j LEFT JOIN models m ON m.job_id = j.id WHERE j.id = ?""",
        [job_id],
    ).fetchall()
    row = row[0] if row else None
    if row is None:
        return None
    keys = ("id", "kind", "status", "spec", "folder", "pid", "error", "model_id", "seconds")
    job = dict(zip(keys, row))
    job["spec"] = json.loads(job["spec"])
    return job


def finish_job(
    con: duckdb.DuckDBPyConnection, job_id: int, status: str, error: str | None, model: dict | None = None
) -> None:
    """Record a job's outcome and, for a finished one, register its model, in one transaction.

    ``model``: {"kind", "name", "path", "base_model", "metrics"}.
    Only a job still queued or running is recorded: a second reader that finds the same job finished records
    nothing more (two app processes racing on it: the loser's transaction fails and the winner's stands).
    """
    try:
        with transaction(con):
            recorded = con.execute(
                "UPDATE jobs SET status = ?, error = ?, finished_at = current_timestamp "
                "WHERE id = ? AND list_contains(?, status) RETURNING id",
                [status, error, job_id, list(ACTIVE)],
            ).fetchall()
            if recorded and model is not None:
                con.execute(
                    "INSERT INTO models (job_id, kind, name, path, base_model, metrics) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        job_id,
                        model["kind"],
                        model["name"],
                        model["path"],
                        model["base_model"],
                        json.dumps(model["metrics"]),
                    ],
                )
    except duckdb.TransactionException:
        pass  # another process recorded this job at the same moment


def corpus_job_ids(con: duckdb.DuckDBPyConnection, corpus: int) -> list[int]:
    """The corpus's jobs, newest first."""
    return [r[0] for r in con.execute("SELECT id FROM jobs WHERE corpus_id = ? ORDER BY id DESC", [corpus]).fetchall()]


def record_result(con: duckdb.DuckDBPyConnection, job: dict, result: dict) -> None:
    """Record what a training process left in its folder's result.json: the model of a finished job, or the failure."""
    model = None
    if result["status"] == DONE:
        spec = job["spec"]
        path = (
            result["model_path"] if Path(result["model_path"]).exists() else str(Path(job["folder"]) / "model")
        )  # copied back
        model = {
            "kind": job["kind"],
            "name": spec.get("name") or f"{job['kind']} #{job['id']} ({spec['method']})",
            "path": path,
            "base_model": spec["base_model"],
            "metrics": result["metrics"],
        }
    finish_job(con, job["id"], result["status"], result.get("error"), model)


def result_of(folder: str) -> dict | None:
    """The outcome a job's process wrote (result.json, written whole by a rename), or None before it has."""
    try:
        return json.loads((Path(folder) / "result.json").read_text()) if folder else None
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def record_finished(con: duckdb.DuckDBPyConnection, corpus: int) -> None:
    """Record every job of the corpus whose process has written its result: any reader of models calls this
    first, so a finished model is listed on whichever page or command is open, not only once the Train page
    polls its job. (A process that died without a result is found by ``core.training.jobs.poll_job``, which can tell.)"""
    for (job_id,) in con.execute(
        "SELECT id FROM jobs WHERE corpus_id = ? AND list_contains(?, status) AND folder <> ''", [corpus, list(ACTIVE)]
    ).fetchall():
        job = get_job(con, job_id)
        result = result_of(job["folder"])
        if result is not None:
            record_result(con, job, result)
