"""Training jobs: a folder per job, a process per run, the outcome recorded in DuckDB.

The app launches a job (spec + exported data in a folder, ``python -m core.training.run`` in a
new process group), polls its progress file, can cancel it, and when the process ends
records the outcome: a model in the ``models`` table, or the failure with its log kept.
A page reload, a second tab or another app process sees the same job.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from core.errors import InvalidInput, JobFailed, NotFound
from core.settings import workspace_dir
from core.systems import System, corpus_systems, list_scores
from core.training.data import build_training_data, export
from core.training.spec import TrainSpec
from core.vocabulary import ACTIVE, CANCELLED, DONE, FAILED, RUNNING
from storage import jobs as store
from storage.models import get_model, list_models  # noqa: F401  (the Train page's table of models, the CLI's model)


def launch_job(
    con: duckdb.DuckDBPyConnection, corpus: int, spec: TrainSpec | dict, python: str = sys.executable
) -> int:
    """Export the training data, write the spec, start the training process; returns the job id.

    Raises:
        InvalidInput: an unknown method or an impossible setting.
        QurateError: nothing labelled to train on.
    """
    job_id, folder = prepare_job(con, corpus, spec)
    log = (folder / "train.log").open("w")
    process = subprocess.Popen(
        [python, "-m", "core.training.run", str(folder)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],  # the project root, where `-m core.training.run` resolves
    )
    store.start_job(con, job_id, str(folder), process.pid)
    return job_id


def prepare_job(con: duckdb.DuckDBPyConnection, corpus: int, spec: TrainSpec | dict) -> tuple[int, Path]:
    """A queued job: its folder holds the spec and the exported data, ready for ``python -m core.training.run FOLDER``
    here or ``accelerate launch ... -m core.training.run FOLDER`` on a GPU machine. Polling the job records
    the outcome once the folder holds a result. Returns (job id, folder)."""
    spec = TrainSpec.of(spec).replace(corpus_id=corpus)
    data = build_training_data(
        con,
        corpus,
        spec.group_size,
        spec.list_size,
        spec.dev_fraction,
        spec.split_seed,
        teacher=_teacher(con, corpus, spec),
        users_weight=spec.users_weight,
    )
    if not data.groups:
        c = data.counts
        raise JobFailed(
            f"nothing to train on: of the labelled queries, {c.get('skipped_no_negative', 0):,} have no negative (every "
            f"candidate judged relevant: a judge that says yes to everything teaches nothing; judge more candidates "
            f"per query, or with another judge), {c.get('skipped_bad_query', 0):,} are bad queries and "
            f"{c.get('skipped_held_out_text', 0):,} repeat a test query"
        )
    spec = spec.replace(data_counts=data.counts)
    job_id = store.create_job(con, corpus, spec.trainer.kind, spec.to_dict())
    folder = workspace_dir() / "jobs" / f"job-{job_id}"
    export(data, folder)
    if spec.query_only:
        export_document_vectors(con, data, spec.base_model, folder)
    (folder / "spec.json").write_text(json.dumps(spec.to_dict(), indent=2))
    store.set_folder(con, job_id, str(folder))
    return job_id, folder


def _teacher(con: duckdb.DuckDBPyConnection, corpus: int, spec: TrainSpec):
    """The distillation teacher's scorer: None for the default ensemble, else a system of this corpus
    (a fine-tuned model, or bm25 / dense / fused) scoring each list as evaluation would.

    Raises:
        InvalidInput: a teacher that is not a system of this corpus.
    """
    name = spec.teacher  # not the ensemble only for distillation: TrainSpec refuses a teacher elsewhere
    if name == "ensemble":
        return None
    system = System.parse(name)
    if system not in corpus_systems(con, corpus):
        raise InvalidInput(
            f"the teacher {name} is not a model of this corpus; pick one of the Train page's finished models "
            f"(rerank:<id> or retrieve:<id>), or 'ensemble'"
        )
    return lambda queries, lists: list_scores(con, corpus, system, queries, lists)


def export_document_vectors(con: duckdb.DuckDBPyConnection, data, base_model: str, folder: Path) -> None:
    """documents.jsonl + documents.npy: the base model's vectors of every training and dev document,
    from the workspace's embedding cache (what is missing is encoded and cached)."""
    import numpy as np

    from core import embed

    texts = sorted(
        {t for g in data.groups for t in [g["positive"], *g["negatives"]]}
        | {t for r in data.lists for t in r["candidates"]}
        | {t for d in data.dev for t in d["positive"] + d["negative"]}
    )
    np.save(folder / "documents.npy", embed.encode(con, texts, base_model, role="document"))
    (folder / "documents.jsonl").write_text("".join(json.dumps(t) + "\n" for t in texts))


def _alive(pid: int | None, folder: str | None = None) -> bool:
    """Whether the job's process still runs: ``pid`` alive and, where /proc tells, still our trainer of
    ``folder`` (a PID the system has since given to another program is not the job)."""
    if not pid:
        return False
    if folder is not None:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except FileNotFoundError:
            if Path("/proc/self").exists():  # a system with /proc: no such process
                return _reaped(pid)
            command = None  # no /proc here (macOS): trust the signal probe below
        except OSError:
            command = None
        if command is not None and str(folder) not in command:
            return _reaped(pid)
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child so it does not linger as a zombie
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child (another app process started it): fall back to a signal probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reaped(pid: int) -> bool:
    """Reap our child ``pid`` if it is one (no zombie left); always False: the job's process is gone."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


def progress_of(folder: str | Path) -> list[dict]:
    """The progress lines a job has written so far."""
    path = Path(folder) / "progress.jsonl"
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line being written
    return lines


def poll_job(con: duckdb.DuckDBPyConnection, job_id: int) -> dict:
    """The job's row, brought up to date: a finished process's outcome is recorded once.

    Returns:
        {"id", "status", "kind", "spec", "folder", "error", "progress", "model_id", "seconds"}.
    """
    job = store.get_job(con, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    result = store.result_of(job["folder"])  # its process's outcome, whether it ran here or by hand elsewhere
    if result is None and job["status"] == RUNNING and not _alive(job["pid"], job["folder"]):
        result = {"status": FAILED, "error": "the training process ended without a result (killed?); see train.log"}
    if result is not None and job["status"] in ACTIVE:
        store.record_result(con, job, result)
        job = store.get_job(con, job_id)
    return {
        **{k: job[k] for k in ("id", "kind", "status", "spec", "folder", "error", "model_id", "seconds")},
        "progress": progress_of(job["folder"]),
    }


def model_card(job: dict) -> str | None:
    """The model card a finished job wrote beside its model (QURATE.md: method, data, hyperparameters, dev figures)."""
    card = Path(job["folder"] or "") / "model" / "QURATE.md"
    return card.read_text() if job["status"] == DONE and job["folder"] and card.is_file() else None


def cancel_job(con: duckdb.DuckDBPyConnection, job_id: int, grace_s: float = 10.0) -> None:
    """Ask a running job to stop (a cancel file, then SIGTERM to its process group); record it cancelled."""
    job = store.get_job(con, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    folder, pid = job["folder"], job["pid"]
    if job["status"] != RUNNING:
        return
    (Path(folder) / "cancel").touch()
    deadline = time.time() + grace_s
    while _alive(pid, folder) and time.time() < deadline:
        time.sleep(0.2)
    if _alive(pid, folder):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    store.finish_job(con, job_id, CANCELLED, None)


def list_jobs(con: duckdb.DuckDBPyConnection, corpus: int) -> list[dict]:
    """The corpus's jobs, newest first, each polled."""
    return [poll_job(con, i) for i in store.corpus_job_ids(con, corpus)]


def wait_for(con: duckdb.DuckDBPyConnection, job_id: int, timeout_s: float = 600) -> dict:
    """Poll until the job is no longer running (command line and tests)."""
    deadline = time.time() + timeout_s
    while True:
        job = poll_job(con, job_id)
        if job["status"] != RUNNING or time.time() > deadline:
            return job
        time.sleep(0.5)


def export_model_zip(con: duckdb.DuckDBPyConnection, model_id: int, corpus: int | None = None) -> Path:
    """A zip of a model's folder (sentence-transformers format, with its model card) in the workspace's
    exports/, replacing an earlier one only once the new zip is whole. With ``corpus``, the model must be one of it."""
    import shutil

    from core.export import staged

    model = get_model(con, model_id)
    if model is None or (corpus is not None and model["corpus_id"] != corpus):
        raise NotFound(
            f"no model {model_id}" + (" of this corpus" if model else "") + ": `qurate jobs CORPUS` lists its models"
        )
    name = f"model-{model_id}.zip"
    with staged(workspace_dir() / "exports", [name]) as stage:
        shutil.make_archive(str(stage / name[:-4]), "zip", model["path"])
    return workspace_dir() / "exports" / name
