"""The CUDA paths: training in bf16 mixed precision and encoding on a GPU.

CI has no GPU, so these skip there; on a machine with one, `pytest -m gpu` runs them (docs/BENCHMARKS.md
says when they last ran on one). The job folder is written by hand from the bundled sample corpus, as a
user's exported job would be, so nothing here needs the workspace's database or the LLM stack.
"""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

SAMPLE = Path(__file__).resolve().parents[1] / "core" / "sample" / "passages.jsonl"


def sample_job(folder: Path, method: str, tune: str) -> list[dict]:
    """A job folder of LCE groups (or distillation lists): each passage's title is its query, the other
    passages its negatives."""
    passages = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    texts = [p["text"] for p in passages]
    groups = [
        {"query": p["title"], "positive": p["text"], "negatives": [t for t in texts if t != p["text"]][i % 3 :: 3][:7]}
        for i, p in enumerate(passages)
    ]
    lists = [
        {
            "query": g["query"],
            "candidates": [g["positive"], *g["negatives"]],
            "teacher": [3.0] + [0.0] * len(g["negatives"]),
        }
        for g in groups
    ]
    folder.mkdir(parents=True)
    (folder / "train_groups.jsonl").write_text("".join(json.dumps(g) + "\n" for g in groups))
    (folder / "train_lists.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lists))
    spec = {
        "method": method,
        "tune": tune,
        "max_steps": 12,
        "batch_size": 8,
        "group_size": 4,
        "list_size": 8,
        "max_length": 64,
        "learning_rate": 1e-4,
        "dev_fraction": 0.0,
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    return groups


def group_loss(query_model, document_model, groups) -> float:
    """LCE of each group (positive and 3 negatives) by the two models' vectors, in fp32 on the CPU."""
    from core.training.losses import lce

    def vectors(model, texts):
        return F.normalize(torch.as_tensor(model.encode(texts, convert_to_numpy=True)).float(), dim=-1)

    texts = sorted({t for g in groups for t in [g["positive"], *g["negatives"]]})
    documents = dict(zip(texts, vectors(document_model, texts)))
    queries = vectors(query_model, [g["query"] for g in groups])
    columns = torch.stack([torch.stack([documents[t] for t in [g["positive"], *g["negatives"][:3]]]) for g in groups])
    return float(lce(torch.einsum("qd,qkd->qk", queries, columns) * 20.0))


@pytest.mark.parametrize("method,tune", [("lce", "query"), ("distill", "query"), ("lce", "full")])
def test_a_job_trains_on_the_gpu_in_bf16_and_lowers_its_loss(tmp_path, method, tune):
    from sentence_transformers import SentenceTransformer

    from core.embed import bundled_model_path
    from core.training.run import run

    folder = tmp_path / "job"
    groups = sample_job(folder, method, tune)
    result = run(folder)
    assert result["status"] == "done", (
        (folder / "train.log").read_text()[-2000:] if (folder / "train.log").exists() else result
    )
    start = next(json.loads(line) for line in (folder / "progress.jsonl").read_text().splitlines() if '"start"' in line)
    assert start["device"] == "cuda"
    assert start["precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    losses = [
        json.loads(line)["loss"] for line in (folder / "progress.jsonl").read_text().splitlines() if '"loss"' in line
    ]
    assert losses and all(loss == loss and abs(loss) != float("inf") for loss in losses)  # no NaN or overflow
    base = SentenceTransformer(str(bundled_model_path()), device="cpu")
    tuned = SentenceTransformer(str(folder / "model"), device="cpu")
    # a query-only model encodes queries against its base's documents; a fully tuned one encodes both sides
    assert group_loss(tuned, base if tune == "query" else tuned, groups) < group_loss(base, base, groups)


def test_the_gpu_encodes_what_the_cpu_encodes(workspace):
    """The GPU's vectors (fp32 at batch 128 unless QURATE_PRECISION asks for bf16) match the CPU's fp32 ones."""
    from sentence_transformers import SentenceTransformer

    from core.embed import bundled_model_path, load_encoder

    texts = [json.loads(line)["text"] for line in SAMPLE.read_text().splitlines() if line.strip()]
    reference = SentenceTransformer(str(bundled_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    encoder = load_encoder()
    assert encoder.model.device.type == "cuda" and encoder.precision == "fp32"
    cosines = (torch.as_tensor(encoder.encode(texts)) * torch.as_tensor(reference)).sum(dim=1)
    assert float(cosines.min()) >= 0.999
