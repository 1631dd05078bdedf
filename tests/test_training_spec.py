"""A training job's spec (its checks, its two seeds), the method registry (one entry a method), the training
precision and the time estimates."""

import json

import pytest

from core.errors import InvalidInput
from core.evaluate import evaluate
from core.training.jobs import poll_job
from core.training.spec import (
    CPU_RATE_PER_CORE,
    DEFAULTS,
    GPU_RATE,
    JOB_START_S,
    TrainSpec,
    estimate_seconds,
    texts_per_query,
)
from tests.conftest import TINY, judged_sample


def test_training_runs_in_bf16_on_a_cpu_where_encoding_would_and_as_the_setting_says(monkeypatch):
    from core import embed
    from core.training.spec import device_summary, training_precision

    for value in ("fp32", "bf16"):
        monkeypatch.setenv(embed.PRECISION_ENV, value)
        assert training_precision() == value and device_summary().endswith(f"{value})")
    monkeypatch.setenv(embed.PRECISION_ENV, "auto")
    monkeypatch.setattr(embed, "native_bf16", lambda: False)  # bf16 emulated: slower than fp32
    assert training_precision() == "fp32"
    monkeypatch.setattr(embed, "native_bf16", lambda: True)
    assert training_precision() == "bf16"


def test_training_time_is_estimated_per_text_through_the_model_from_the_measured_rates():
    assert texts_per_query(TrainSpec(tune="query")) == 1
    assert texts_per_query(TrainSpec(tune="full")) == 1 + DEFAULTS["group_size"]
    assert texts_per_query(TrainSpec(method="distill", tune="full")) == 1 + DEFAULTS["list_size"]
    queries = 1000

    def steps(*args, **kwargs) -> float:  # the estimate less what a job costs besides its steps
        return estimate_seconds(*args, **kwargs) - JOB_START_S

    assert estimate_seconds(TrainSpec(), 0) == JOB_START_S  # a job of nothing still starts, scores and saves
    query_only = queries * DEFAULTS["epochs"]  # only the queries pass through the model
    assert steps(TrainSpec(), queries, cores=2) == pytest.approx(query_only / (2 * CPU_RATE_PER_CORE["fp32"]["query"]))
    assert steps(TrainSpec(), queries, cores=2, precision="bf16") == pytest.approx(
        query_only / (2 * CPU_RATE_PER_CORE["bf16"]["query"])
    )
    assert steps(TrainSpec(), queries, cores=2, precision="bf16") < steps(TrainSpec(), queries, cores=2)
    assert steps(TrainSpec(), queries, cuda=True) == pytest.approx(query_only / GPU_RATE["query"])
    full = TrainSpec(tune="full", epochs=1)
    assert steps(full, queries, cuda=True) == pytest.approx(queries * (1 + DEFAULTS["group_size"]) / GPU_RATE["full"])
    assert steps(full.replace(method="distill"), queries, cuda=True) == pytest.approx(
        queries * (1 + DEFAULTS["list_size"]) / GPU_RATE["full"]
    )  # a list passes whole
    assert steps(full.replace(max_steps=2), queries, cuda=True) == pytest.approx(
        2 * DEFAULTS["batch_size"] * (1 + DEFAULTS["group_size"]) / GPU_RATE["full"]
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"tune": "fulll"}, "unknown tune 'fulll'"),
        ({"method": "lcee"}, "unknown method 'lcee'"),
        ({"epochs": -1}, "epochs must be above 0"),
        ({"learning_rate": "abc"}, "learning_rate must be a number"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"users_weight": 0}, "users_weight must be at least 1"),
        ({"dev_fraction": 1.0}, "dev_fraction must be below 1"),
        ([1], "a training spec is a JSON object"),
        ({"tunee": "query"}, "unknown training setting 'tunee'"),
        ({"in_batch": "yes"}, "in_batch is true or false"),
    ],
)
def test_a_bad_spec_is_refused_before_any_job_row_or_folder_exists(spec, message):
    from core.settings import workspace_dir
    from core.training.jobs import prepare_job

    con, corpus = judged_sample("question")
    with pytest.raises(InvalidInput, match=message):
        prepare_job(con, corpus, spec)
    assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0 and not (workspace_dir() / "jobs").exists()


def test_every_training_seed_is_measured_on_one_dev_split_and_the_spec_says_which(labelled):
    from core.training.jobs import prepare_job

    con, corpus = labelled
    folders = [prepare_job(con, corpus, {"seed": seed, "dev_fraction": 0.3})[1] for seed in (1, 2)]
    assert (folders[0] / "dev.jsonl").read_text() == (folders[1] / "dev.jsonl").read_text() != ""
    spec = json.loads((folders[0] / "spec.json").read_text())
    assert spec["split_seed"] == 0 and spec["seed"] == 1 and spec["dev_fraction"] == 0.3
    other = prepare_job(con, corpus, {"seed": 1, "split_seed": 5, "dev_fraction": 0.3})[1]
    assert (other / "dev.jsonl").read_text() != (folders[0] / "dev.jsonl").read_text()  # its own draw


def test_a_method_is_one_registry_entry_a_toy_one_trains_and_is_evaluated(labelled, monkeypatch):
    """docs/ARCHITECTURE.md's "how to add a method": one entry, nothing else edited."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from core.embed import resolve_model
    from core.training.jobs import prepare_job
    from core.training.methods import GROUPS, METHODS, Method
    from core.training.run import run

    built = []

    def toy_model_and_loss(spec, documents=None):
        built.append(documents)
        model = SentenceTransformer(resolve_model(spec.base_model))
        return model, MultipleNegativesRankingLoss(model, scale=5.0)

    toy = Method(
        "toy",
        "retriever",
        "retriever: a toy InfoNCE at a low temperature",
        GROUPS,
        toy_model_and_loss,
        card=lambda spec: [f"toy temperature: 1/5 at seed {spec.seed}"],
    )
    monkeypatch.setitem(METHODS, "toy", toy)
    con, corpus = labelled
    job_id, folder = prepare_job(con, corpus, {"method": "toy", **TINY, "max_steps": 2})
    result = run(folder)
    assert result["status"] == "done" and result["metrics"]["steps"] == 2 and built == [None]
    assert "toy temperature: 1/5 at seed 0" in (folder / "model" / "QURATE.md").read_text()
    job = poll_job(con, job_id)
    assert job["status"] == "done" and job["kind"] == "retriever" and job["model_id"] is not None
    test_set = con.execute("SELECT id FROM test_sets").fetchone()[0]
    board = evaluate(con, test_set, [f"retrieve:{job['model_id']}"])
    assert 0 < board.row(f"retrieve:{job['model_id']}").metrics["ndcg@10"] <= 1
