"""Training data, jobs end to end on the bundled model and the weight mix (the spec, the registry and the estimates:
tests/test_training_spec.py; the losses: tests/test_losses.py)."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from core.errors import InvalidInput
from core.evaluate import evaluate
from core.training.data import build_training_data
from core.training.jobs import cancel_job, launch_job, poll_job, wait_for
from core.training.losses import BiEncoderLCELoss
from core.training.spec import (
    DEFAULTS,
    TrainSpec,
)
from tests.conftest import TINY


def group_loss(model, groups) -> float:
    features = [model.tokenize([g["query"] for g in groups])]
    features += [model.tokenize([g["positive"] for g in groups])]
    features += [model.tokenize([g["negatives"][i] for g in groups]) for i in range(3)]
    with torch.no_grad():
        return float(BiEncoderLCELoss(model)(features))


@pytest.mark.slow
def test_a_tiny_training_run_lowers_the_loss_and_gives_a_loadable_model(labelled):
    from sentence_transformers import SentenceTransformer

    from core.embed import bundled_model_path

    con, corpus = labelled
    job = wait_for(con, launch_job(con, corpus, {"method": "lce", "tune": "full", **TINY}), timeout_s=400)
    assert job["status"] == "done", (job["error"], open(os.path.join(job["folder"], "train.log")).read()[-2000:])
    assert job["model_id"] is not None
    assert [p["step"] for p in job["progress"] if "loss" in p] == list(range(1, 9))
    groups = build_training_data(con, corpus, group_size=4, dev_fraction=0.0).groups  # the whole training set
    base, tuned = (
        SentenceTransformer(str(bundled_model_path())),
        SentenceTransformer(os.path.join(job["folder"], "model")),
    )
    assert tuned.max_seq_length == base.max_seq_length > TINY["max_length"]  # trained short, kept at the base's length
    base.max_seq_length = tuned.max_seq_length = TINY["max_length"]  # the length it was trained at
    before, after = group_loss(base, groups), group_loss(tuned, groups)
    assert after < before
    assert os.path.exists(os.path.join(job["folder"], "model", "QURATE.md"))
    model_row = con.execute("SELECT kind, base_model FROM models WHERE id = ?", [job["model_id"]]).fetchone()
    assert model_row == ("reranker", "all-MiniLM-L6-v2 (bundled)")
    test_set = con.execute("SELECT id FROM test_sets").fetchone()[0]
    board = evaluate(con, test_set, [f"rerank:{job['model_id']}"])
    assert [r.system for r in board.rows] == ["dense", f"rerank:{job['model_id']}"]
    assert 0 < board.row(f"rerank:{job['model_id']}").metrics["ndcg@10"] <= 1


@pytest.mark.slow
def test_query_only_training_lowers_the_loss_and_reuses_the_cached_documents(labelled):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from core import embed
    from core.training.losses import FrozenDocumentLoss

    con, corpus = labelled
    job = wait_for(
        con, launch_job(con, corpus, {"method": "lce", **TINY, "dev_fraction": 0.2, "eval_steps": 4}), timeout_s=400
    )
    assert job["status"] == "done", (job["error"], open(os.path.join(job["folder"], "train.log")).read()[-2000:])
    folder = job["folder"]
    metrics = json.loads(con.execute("SELECT metrics FROM models WHERE id = ?", [job["model_id"]]).fetchone()[0])
    assert 0 < metrics["baseline_dev_ndcg@10"] <= 1 and 0 < metrics["dev_ndcg@10"] <= 1  # scored on the frozen vectors
    assert metrics["weight_mix"] in (0.25, 0.5, 0.75, 1.0) and "interpolation_weight" not in metrics
    # the dev score reported (and the flag) is the kept model's: the chosen mix, not the unmixed fine-tune
    assert metrics["dev_ndcg@10"] == metrics["dev_ndcg@10_by_mix"][str(metrics["weight_mix"])]
    assert metrics["worse_than_baseline"] == (metrics["dev_ndcg@10"] < metrics["baseline_dev_ndcg@10"])
    assert json.loads(open(os.path.join(folder, "model", "qurate.json")).read()) == {
        "document_encoder": DEFAULTS["base_model"]
    }
    texts = [json.loads(line) for line in open(os.path.join(folder, "documents.jsonl"))]
    vectors = np.load(os.path.join(folder, "documents.npy"))
    assert np.allclose(vectors, embed.encode(con, texts), atol=1e-6)  # the base model's cached vectors, exported
    index = {t: i for i, t in enumerate(texts)}
    groups = build_training_data(con, corpus, group_size=4, dev_fraction=0.0).groups
    labels = torch.tensor([[index[g["positive"]]] + [index[t] for t in g["negatives"][:3]] for g in groups])

    def loss_of(model):
        with torch.no_grad():
            return float(
                FrozenDocumentLoss(model, torch.from_numpy(vectors))(
                    [model.tokenize([g["query"] for g in groups])], labels
                )
            )

    base, tuned = (
        SentenceTransformer(str(embed.bundled_model_path())),
        SentenceTransformer(os.path.join(folder, "model")),
    )
    assert loss_of(tuned) < loss_of(base)
    # documents of a query-only model are the base model's: evaluating it encodes no passage again
    calls = embed.encode_calls
    passages = embed.encode(con, texts[:5], os.path.join(folder, "model"), role="document")
    assert embed.encode_calls == calls and np.allclose(passages, vectors[:5], atol=1e-6)
    test_set = con.execute("SELECT id FROM test_sets").fetchone()[0]
    board = evaluate(con, test_set, [f"rerank:{job['model_id']}"])
    assert 0 < board.row(f"rerank:{job['model_id']}").metrics["ndcg@10"] <= 1


def test_the_distillation_teacher_is_the_grade_plus_the_rankers_normalised_scores(labelled):
    from storage.labels import effective_labels

    con, corpus = labelled
    data = build_training_data(con, corpus, dev_fraction=0.0, list_size=30)
    labels = effective_labels(con, corpus)
    texts = dict(
        con.execute("SELECT passage_id, title || '. ' || text FROM passages WHERE corpus_id = ?", [corpus]).fetchall()
    )
    for entry in data.lists[:5]:
        rows = labels[(labels["query_id"] == entry["query_id"]) & labels["grade"].notna()].sort_values("rank")
        unit = lambda v: (v - v.min()) / (v.max() - v.min())  # noqa: E731
        expected = rows["grade"].astype(float) + 0.5 * (unit(rows["dense_score"]) + unit(rows["bm25_score"]))
        assert entry["candidates"][: len(rows)] == [texts[p] for p in rows["passage_id"]]
        assert entry["teacher"][: len(rows)] == pytest.approx(expected.tolist())
        assert entry["teacher"][len(rows) :] == [0.0] * (len(entry["teacher"]) - len(rows))  # random padding
        source = rows["is_source"].to_numpy().nonzero()[0][0]
        assert max(entry["teacher"]) == entry["teacher"][source]  # the graded answer stays on top


def test_a_text_asked_of_two_passages_has_both_for_answers_and_neither_is_the_others_negative(labelled):
    from core.export import training_records
    from storage import reviews
    from storage.labels import effective_labels
    from storage.queries import edit_query, query_records

    con, corpus = labelled
    texts = dict(
        con.execute("SELECT passage_id, title || '. ' || text FROM passages WHERE corpus_id = ?", [corpus]).fetchall()
    )
    records = query_records(con, corpus)
    labels = effective_labels(con, corpus)
    sources = labels[labels["is_source"] & (labels["grade"] >= 2)]
    kept = dict(zip(sources["query_id"], sources["passage_id"]))  # queries whose own source was judged relevant
    before = build_training_data(con, corpus, dev_fraction=0.0)
    # a query A, and among its group's negatives the source passage of another query B
    a, b = next(
        (g["query_id"], q)
        for g in before.groups
        for q, p in kept.items()
        if q != g["query_id"] and p != kept.get(g["query_id"]) and texts[p] in g["negatives"]
    )
    a_source, b_source = kept[a], kept[b]
    assert before.counts["shared_text_positives"] == 0

    edit_query(
        con, b, "  " + records[a]["text"].upper()
    )  # B now asks what A asks: the same query, case and spacing aside
    after = build_training_data(con, corpus, dev_fraction=0.0)
    group_a = next(g for g in after.groups if g["query_id"] == a)
    group_b = next(g for g in after.groups if g["query_id"] == b)
    assert (group_a["positive"], group_b["positive"]) == (texts[a_source], texts[b_source])
    assert texts[b_source] not in group_a["negatives"] and texts[a_source] not in group_b["negatives"]
    assert after.counts["shared_text_positives"] >= 1
    exported = next(
        r for r in training_records(con, corpus) if r["query_id"] == a
    )  # the export says what training reads
    assert b_source in {p["passage_id"] for p in exported["positives"]}
    assert b_source not in {n["passage_id"] for n in exported["negatives"]}
    lists = {r["query_id"]: r for r in after.lists}
    for query, other in ((a, b_source), (b, a_source)):  # the distillation teacher grades it relevant (2) too
        if texts[other] in lists[query]["candidates"]:
            assert lists[query]["teacher"][lists[query]["candidates"].index(texts[other])] >= 2

    reviews.record_review(con, a, b_source, "ada", "not relevant")  # a reviewer's grade stands
    again = build_training_data(con, corpus, dev_fraction=0.0)
    assert texts[b_source] in next(g for g in again.groups if g["query_id"] == a)["negatives"]


def test_a_system_of_the_corpus_can_be_the_distillation_teacher(labelled):
    from core.retrieve import bm25_index, passage_texts
    from core.training.jobs import prepare_job
    from storage.labels import effective_labels

    con, corpus = labelled
    ensemble = build_training_data(con, corpus, dev_fraction=0.0)
    job_id, folder = prepare_job(con, corpus, {"method": "distill", "teacher": "bm25", "dev_fraction": 0.0})
    lists = [json.loads(line) for line in open(folder / "train_lists.jsonl")]
    assert json.loads((folder / "spec.json").read_text())["teacher"] == "bm25"
    labels = effective_labels(con, corpus)
    ids, texts = passage_texts(con, corpus)
    index = {p: i for i, p in enumerate(ids)}
    changed = 0
    for entry, default in zip(lists, ensemble.lists):
        assert entry["candidates"] == default["candidates"]
        rows = labels[(labels["query_id"] == entry["query_id"]) & labels["grade"].notna()].sort_values("rank")
        scores = bm25_index(con, corpus).scores([entry["query"]])[0][[index[p] for p in rows["passage_id"]]]
        unit = (scores - scores.min()) / (scores.max() - scores.min())
        assert entry["teacher"][: len(rows)] == pytest.approx((rows["grade"].to_numpy() + unit).tolist())
        assert entry["teacher"][len(rows) :] == [0.0] * (len(entry["teacher"]) - len(rows))  # random padding
        changed += entry["teacher"] != pytest.approx(default["teacher"])
    assert changed > 0  # BM25 alone orders some lists unlike the ensemble
    jobs = con.execute("SELECT count(*) FROM jobs").fetchone()[0]
    for spec, says in (
        ({"method": "lce", "teacher": "bm25"}, "distillation only"),
        ({"method": "distill", "teacher": "rerank:999"}, "not a model of this corpus"),
        ({"method": "distill", "teacher": "best"}, "unknown system"),
        ({"method": "distill", "in_batch": True}, "in-batch negatives apply to query-only training"),
        ({"method": "lce", "tune": "full", "in_batch": True}, "in-batch negatives apply to query-only training"),
    ):
        with pytest.raises(InvalidInput, match=says):
            prepare_job(con, corpus, spec)
    assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == jobs  # a refused spec leaves no job behind


@pytest.mark.slow
def test_the_job_spec_round_trips(labelled):
    con, corpus = labelled
    job_id = launch_job(con, corpus, {"method": "distill", **TINY, "max_steps": 1})
    folder = poll_job(con, job_id)["folder"]
    spec = TrainSpec.load(__import__("pathlib").Path(folder))
    written = json.loads(open(os.path.join(folder, "spec.json")).read())
    assert spec.to_dict() == written and spec.method == "distill" and spec.corpus_id == corpus
    assert spec == TrainSpec(**{**TINY, "max_steps": 1}, method="distill", corpus_id=corpus)
    job = wait_for(con, job_id, timeout_s=400)
    assert job["status"] == "done" and job["kind"] == "retriever"
    test_set = con.execute("SELECT id FROM test_sets").fetchone()[0]
    board = evaluate(con, test_set, [f"retrieve:{job['model_id']}"])
    assert 0 < board.row(f"retrieve:{job['model_id']}").metrics["ndcg@10"] <= 1


@pytest.mark.slow
def test_cancelled_and_killed_jobs_end_in_the_right_state(labelled):
    con, corpus = labelled
    slow = {**TINY, "max_steps": 500}
    cancelled = launch_job(con, corpus, {"method": "lce", **slow})
    killed = launch_job(con, corpus, {"method": "lce", **slow})
    deadline = time.time() + 300
    while time.time() < deadline and not (poll_job(con, cancelled)["progress"] and poll_job(con, killed)["progress"]):
        time.sleep(1)
    cancel_job(con, cancelled, grace_s=30)
    pid = con.execute("SELECT pid FROM jobs WHERE id = ?", [killed]).fetchone()[0]
    os.killpg(pid, signal.SIGKILL)
    assert wait_for(con, cancelled, 60)["status"] == "cancelled"
    job = wait_for(con, killed, 60)
    assert job["status"] == "failed" and "ended without a result" in job["error"]
    assert os.path.exists(os.path.join(job["folder"], "train.log"))
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0


@pytest.mark.slow
def test_a_prepared_job_runs_under_accelerate_with_two_cpu_processes(labelled):
    """The GPU path's launcher, on CPU: two processes (gloo), one report, the outcome recorded by polling."""
    import subprocess
    import sys
    from pathlib import Path

    from core.training.jobs import prepare_job

    con, corpus = labelled
    job_id, folder = prepare_job(con, corpus, {"method": "lce", **TINY, "max_steps": 4})
    assert poll_job(con, job_id)["status"] == "queued"
    accelerate = Path(sys.executable).with_name("accelerate")
    run = subprocess.run(
        [
            str(accelerate),
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "core.training.run",
            str(folder),
        ],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    job = poll_job(con, job_id)
    assert job["status"] == "done" and job["model_id"] is not None, job["error"]
    starts = [p for p in job["progress"] if p["event"] == "start"]
    assert len(starts) == 1 and starts[0]["processes"] == 2  # two processes trained; rank 0 alone reports
    assert [p["step"] for p in job["progress"] if "loss" in p] == [1, 2, 3, 4]
    assert (folder / "model" / "qurate.json").exists() and not list(folder.glob("result-rank*.json"))


def test_the_weight_mix_stays_near_the_base_unless_dev_says_more_helps():
    import numpy as np

    from core.metrics import closest_to_base

    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.9, 400)
    noisy = {
        0.25: base + 0.05,
        0.5: base + 0.055 + rng.normal(0, 0.1, 400),
        1.0: base + 0.056 + rng.normal(0, 0.1, 400),
    }
    assert max(noisy, key=lambda w: noisy[w].mean()) != 0.25
    assert closest_to_base(noisy) == 0.25  # a gain within noise does not buy a step away from the base
    clear = {0.25: base + 0.01, 0.5: base + 0.05, 1.0: base + 0.03 + rng.normal(0, 0.001, 400)}
    assert closest_to_base(clear) == 0.5  # a clear gain does
    assert closest_to_base({0.5: base, 1.0: base.copy()}) == 0.5  # identical rows: the smaller weight


def test_the_kept_model_is_the_fine_tuned_weights_mixed_with_the_base_as_the_dev_split_chose():
    import copy

    from sentence_transformers import SentenceTransformer

    from core import embed
    from core.metrics import mean_ndcg_at_10
    from core.training.result import TrainResult
    from core.training.run import _mix_with_base

    sample = Path(__file__).parents[1] / "core" / "sample"
    passages = {p["_id"]: p["text"] for p in map(json.loads, open(sample / "passages.jsonl"))}
    queries = {q["_id"]: q["text"] for q in map(json.loads, open(sample / "queries.jsonl"))}
    qrels = [line.split("\t")[:2] for line in open(sample / "qrels" / "test.tsv").read().splitlines()[1:25]]
    others = sorted(passages)
    dev = [
        {
            "query": queries[q],
            "positive": [passages[p]],
            "negative": [passages[o] for o in others if o != p][i % 7 :: 7][:6],
        }
        for i, (q, p) in enumerate(qrels)
    ]
    base = SentenceTransformer(str(embed.bundled_model_path()))
    tuned = copy.deepcopy(base)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a "fine-tuned" model far from its base: noise on every weight
        for parameter in tuned.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * parameter.std().nan_to_num(0) * 0.3)
    before = {k: v.clone() for k, v in tuned.state_dict().items()}

    metrics = _mix_with_base(TrainSpec(), tuned, dev, TrainResult(None, None, 0, len(dev), 0)).metrics()

    def dev_ndcg(model):
        rows = [
            model.encode(d["positive"] + d["negative"], normalize_embeddings=True)
            @ model.encode(d["query"], normalize_embeddings=True)
            for d in dev
        ]
        return mean_ndcg_at_10(rows, [{0} for _ in dev])

    by_mix, chosen = metrics["dev_ndcg@10_by_mix"], metrics["weight_mix"]
    assert set(by_mix) == {0.0, 0.25, 0.5, 0.75, 1.0} and chosen in (0.25, 0.5, 0.75, 1.0)
    assert by_mix[0.0] == pytest.approx(dev_ndcg(base), abs=1e-6)  # the base alone, for the record
    assert by_mix[1.0] < by_mix[0.0]  # the noise hurt: the full step away from the base is not what dev chose
    assert chosen < 1.0 and by_mix[chosen] == pytest.approx(dev_ndcg(tuned), abs=1e-6)
    assert metrics["dev_ndcg@10"] == by_mix[chosen] != by_mix[1.0]  # the kept model's dev score, not the unmixed one's
    mixed, base_weights = tuned.state_dict(), base.state_dict()
    assert all(torch.allclose(mixed[k], chosen * before[k] + (1 - chosen) * base_weights[k], atol=1e-6) for k in before)


@pytest.mark.slow
def test_a_prepared_job_folder_is_timed_with_its_rates_and_dev_scores(labelled):
    """bench.train_throughput --job: how a GPU run is timed, on a copy, the folder left as it was."""
    from bench.train_throughput import time_job
    from core.training.jobs import prepare_job

    con, corpus = labelled
    _, folder = prepare_job(
        con, corpus, {"method": "distill", "tune": "full", **TINY, "dev_fraction": 0.3, "eval_steps": 2}
    )
    before = sorted(p.name for p in folder.iterdir())
    row = time_job(folder, {"max_steps": 2, "tune": "query"})  # query-only on a folder written without frozen vectors
    assert row["status"] == "done" and row["steps"] == 2 and row["tune"] == "query" and row["device"] == "cpu"
    assert row["queries"] == 2 * TINY["batch_size"] and row["queries_per_s"] == row["texts_per_s"] > 0
    assert 0 < row["baseline_dev_ndcg@10"] <= 1 and 0 < row["dev_ndcg@10"] <= 1
    assert sorted(p.name for p in folder.iterdir()) == before  # trained a copy: no model, no progress written here


def test_a_job_whose_pid_now_belongs_to_another_program_is_over_and_that_program_is_never_signalled(con, tmp_path):
    import subprocess

    from storage import jobs as jobstore

    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)  # the system gave the dead trainer's PID to it
    try:
        folder = tmp_path / "job-1"
        folder.mkdir()
        job = jobstore.create_job(con, 1, "reranker", {"method": "lce"})
        jobstore.start_job(con, job, str(folder), stranger.pid)
        assert poll_job(con, job)["status"] == "failed"  # its trainer is gone: no result, so failed
        jobstore.start_job(con, job, str(folder), stranger.pid)
        cancel_job(con, job, grace_s=0.5)
        assert stranger.poll() is None  # still running: nothing was sent to it
    finally:
        stranger.kill()
        stranger.wait()


def test_a_finished_job_is_recorded_by_any_reader_of_models_once(con, tmp_path):
    """The Evaluate page lists a model whose job finished while nobody had the Train page open: reading the
    corpus's models records every job that has left its result, and a second reader records nothing more."""
    from storage import jobs as jobstore
    from storage.models import list_models

    folder = tmp_path / "job-1"
    (folder / "model").mkdir(parents=True)
    job = jobstore.create_job(con, 1, "reranker", {"method": "lce", "base_model": "base"})
    jobstore.start_job(con, job, str(folder), os.getpid())  # its process looks alive: only the result tells
    assert list_models(con, 1).empty
    (folder / "result.json").write_text(
        json.dumps({"status": "done", "model_path": str(folder / "model"), "metrics": {"dev_ndcg@10": 0.5}})
    )
    assert list_models(con, 1)["name"].tolist() == ["reranker #1 (lce)"] and list_models(con, 2).empty
    assert jobstore.get_job(con, job)["status"] == "done"
    from core.training.jobs import model_card

    polled = poll_job(con, job)
    assert polled["seconds"] >= 0 and model_card(polled) is None  # no card written
    (folder / "model" / "QURATE.md").write_text("# Qurate lce model")
    assert model_card(poll_job(con, job)) == "# Qurate lce model"
    jobstore.record_result(con, jobstore.get_job(con, job), {"status": "done", "model_path": "", "metrics": {}})
    assert con.execute("SELECT count(*) FROM models").fetchall()[0][0] == 1
