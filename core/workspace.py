"""The workspace as pages and the command line see it: its database, settings, corpora and how far each has come.

Pages import core only; the reads they show come from storage through the core module
of their step (this one for the workspace as a whole).
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.settings import database_path, workspace_dir
from core.training.jobs import cancel_job, list_jobs
from core.vocabulary import RUNNING
from storage import corpora
from storage.corpora import corpus_id, list_corpora, one_at_a_time, test_sets  # noqa: F401  (re-exported for pages)
from storage.db import connect, held
from storage.workspace import flow_counts, get_setting, set_setting  # noqa: F401  (re-exported for pages)


def held_workspace():
    """``with held_workspace() as con``: the workspace database for one block (a page run, a button's
    callback); the process lets the file go when no block holds it, so other processes can open it.

    Raises:
        WorkspaceLocked: another process holds the workspace (after a few seconds' wait).
    """
    return held(database_path())


def open_workspace() -> duckdb.DuckDBPyConnection:
    """The workspace database, opened for as long as the caller keeps it (a command of the command line).

    Raises:
        BadWorkspace: the folder or file cannot be used; WorkspaceLocked: another process holds it.
    """
    return connect(database_path())


# The flow as the home page shows it: (count key, label, page, what to do).
FLOW = [
    ("passages", "Passages", "corpus", "Upload files or load the sample corpus."),
    ("queries", "Synthetic queries", "queries", "Generate queries for your passages."),
    ("labels", "Labelled pairs", "labels", "Mine candidates and have them judged."),
    ("reviewed", "Reviewed labels", "labels", "Spot-check and override labels (optional, as long as you like)."),
    ("models", "Fine-tuned models", "train", "Train a reranker or a retriever."),
    ("eval_runs", "Evaluation runs", "evaluate", "Measure baseline against fine-tuned."),
]


@dataclass
class NextStep:
    key: str
    page: str
    action: str
    cost: str  # time on this machine, LLM calls and dollars, in words


def next_step(con: duckdb.DuckDBPyConnection, corpus: int | None, llm: str = "gpt-4o-mini") -> NextStep | None:
    """The first step of the flow after the furthest one the active corpus has done, and what it will cost here: a
    step passed over (review is optional) is not asked for again once a later one is done."""
    from core import rates

    counts = flow_counts(con, corpus)
    furthest = max((i for i, (k, *_) in enumerate(FLOW) if counts[k] > 0), default=-1)
    key, _, page, action = next(((k, label, p, a) for k, label, p, a in FLOW[furthest + 1 :]), (None,) * 4)
    if key is None:
        return None
    cores = rates.cores()

    def dollars(
        tokens_in: int, tokens_out: int
    ) -> str:  # litellm's price table: imported only for a step that calls an LLM
        from core.llm import price_per_token

        price = price_per_token(llm)
        return "" if price is None else f" (about ${tokens_in * price[0] + tokens_out * price[1]:,.2f} with {llm})"

    passages, queries = counts["passages"], counts["queries"]
    if key == "passages":
        cost = "Free: nothing is sent anywhere."
    elif key == "queries":
        from core.generate import default_in_turn, default_types

        offline = passages * (1 if default_in_turn(offline=True) else len(default_types(offline=True)))
        n = passages * (1 if default_in_turn(offline=False) else len(default_types(offline=False)))
        cost = (
            f"{offline:,} queries for {passages:,} passages by the rules: "
            f"{rates.duration(rates.generation_seconds(offline, 'rules'))}, no LLM; by the local model "
            f"{rates.duration(rates.generation_seconds(offline, 'local'))}; with an LLM, {n:,} (one of each type): "
            f"{n:,} calls{dollars(n * 400, n * 30)}."
        )
    elif key == "labels":
        from core.embed import expected_precision
        from core.judge import JudgeSettings

        judged = queries * JudgeSettings().max_candidates  # the LLM judge's default: each query's top candidates
        precision = expected_precision()
        cost = (
            f"Mining encodes {passages:,} passages once and ranks {queries:,} queries: "
            f"{rates.duration(rates.mining_seconds(passages, queries, precision))} on this machine's {cores} cores "
            f"({precision}). The offline judge is instant, the local model {rates.duration(rates.judging_seconds(judged, 'local'))}; "
            f"an LLM judge makes about {judged:,} calls{dollars(judged * 350, judged * 40)}."
        )
    elif key == "reviewed":
        cost = "Only your time: every decision is kept, with who, when and why."
    elif key == "models":
        from core.embed import expected_precision
        from core.training.spec import TrainSpec, estimate_seconds

        precision = expected_precision()  # training's rule on a CPU too
        seconds = estimate_seconds(TrainSpec(), queries, cores=cores, precision=precision)
        cost = (
            f"Training on {queries:,} queries with the defaults: {rates.duration(seconds)} on this CPU ({precision}), no LLM."
            if seconds is not None
            else "Training: minutes on a GPU, no LLM."
        )
    else:
        cost = "Seconds to a minute for a few hundred test queries (their pools are encoded once), no LLM."
    return NextStep(key, page, action, cost)


@one_at_a_time("deleting it")
def delete_corpus(con: duckdb.DuckDBPyConnection, corpus: int) -> int:
    """Delete a corpus and everything made from it: queries, labels, reviews, test sets, evaluation
    runs, training jobs (running ones are cancelled first) and their models, rows and folders alike.

    The rows go in one transaction; the job folders (models inside) are removed after it
    commits, so a failure midway leaves the database whole. Only folders inside this workspace go: a database copied
    from another workspace (a backup, a benchmark's copy) points at the other's folders, which stay. Returns how many
    folders went.
    """
    for job in list_jobs(con, corpus):
        if job["status"] == RUNNING:
            cancel_job(con, job["id"], grace_s=5.0)
    home = workspace_dir().resolve()
    folders = [f for f in corpora.delete_corpus(con, corpus) if Path(f).resolve().is_relative_to(home)]
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(folders)
