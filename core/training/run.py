"""The training process: one job folder in, one model out. Runs apart from the app.

    python -m core.training.run JOB_FOLDER          (or: accelerate launch -m core.training.run JOB_FOLDER)

The folder holds spec.json and the exported training data (core.training.data); the spec's method
(core.training.methods) builds the dataset, the model and the loss. Progress
goes to progress.jsonl (one JSON line per log step), the outcome to result.json, the
model to model/. The process never opens the workspace database: the app reads these
files and records the outcome. A file named ``cancel`` in the folder stops training at
the next step (the model trained so far is not kept).
"""

import dataclasses
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

from core.training.methods import rows as _rows
from core.training.result import TrainResult
from core.training.spec import TrainSpec, training_precision
from core.vocabulary import CANCELLED, DONE, FAILED


def document_vectors(spec: TrainSpec, folder: Path) -> tuple[dict[str, int], "object"]:
    """Row of every training and dev document text, and the base model's unit vectors of them.

    The app exports them from the workspace's embedding cache (documents.jsonl + documents.npy);
    a job folder without them (written by hand) has them encoded here with the base model.
    """
    import numpy as np
    import torch

    texts = _rows(folder / "documents.jsonl")
    if not texts or not (folder / "documents.npy").exists():
        texts = sorted(
            {t for g in _rows(folder / "train_groups.jsonl") for t in [g["positive"], *g["negatives"]]}
            | {t for r in _rows(folder / "train_lists.jsonl") for t in r["candidates"]}
            | {t for d in _rows(folder / "dev.jsonl") for t in d["positive"] + d["negative"]}
        )
        from sentence_transformers import SentenceTransformer

        from core.embed import resolve_model

        base = SentenceTransformer(resolve_model(spec.base_model))
        vectors = base.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
        np.save(folder / "documents.npy", vectors.astype(np.float32))
        (folder / "documents.jsonl").write_text("".join(json.dumps(t) + "\n" for t in texts))
    return {t: i for i, t in enumerate(texts)}, torch.from_numpy(np.load(folder / "documents.npy"))


def _frozen_evaluator(dev: list[dict], index_of: dict[str, int], documents):
    """Dev nDCG@10 of a query encoder against the frozen document vectors, as a sentence-transformers evaluator."""
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

    class FrozenDocumentEvaluator(SentenceEvaluator):
        def __init__(self):
            super().__init__()
            self.greater_is_better, self.primary_metric = True, "dev_ndcg@10"
            self.dev, self.index_of, self.documents = dev, index_of, documents.numpy()

        scores = _frozen_scores
        __call__ = _frozen_call

    return FrozenDocumentEvaluator()


def _frozen_scores(self, model) -> list:
    """Per dev query, the scores of its documents (positives first)."""
    queries = model.encode(
        [d["query"] for d in self.dev], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return [
        self.documents[[self.index_of[t] for t in d["positive"] + d["negative"]]] @ q for d, q in zip(self.dev, queries)
    ]


def _frozen_call(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict:
    from core.metrics import mean_ndcg_at_10

    relevant = [set(range(len(d["positive"]))) for d in self.dev]
    return {self.primary_metric: mean_ndcg_at_10(self.scores(model), relevant)}


def _evaluator(spec: TrainSpec, dev: list[dict], index_of: dict[str, int] | None = None, documents=None):
    if not dev:
        return None
    if index_of is not None:
        return _frozen_evaluator(dev, index_of, documents)
    samples = [{"query": d["query"], "positive": d["positive"], "negative": d["negative"]} for d in dev]
    if spec.trainer.cross_encoder:
        from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

        return CrossEncoderRerankingEvaluator(samples, at_k=10, name="dev", write_csv=False)
    from sentence_transformers.sentence_transformer.evaluation import RerankingEvaluator

    return RerankingEvaluator(samples, at_k=10, name="dev", write_csv=False)


def _ndcg_key(results: dict) -> float:
    return float(next(v for k, v in results.items() if k.endswith("ndcg@10")))


def run(folder: Path) -> dict:
    """Train as the spec says; returns (and writes) the result."""
    import torch
    from transformers import TrainerCallback

    started = time.time()
    folder = Path(folder)
    spec = TrainSpec.load(folder)
    main_process = os.environ.get("RANK", "0") == "0"  # under accelerate/torchrun, rank 0 alone reports
    progress = (folder / "progress.jsonl").open("a", buffering=1) if main_process else open(os.devnull, "w")
    dev = _rows(folder / "dev.jsonl")
    index_of, documents = document_vectors(spec, folder) if spec.query_only else (None, None)
    model, loss = spec.trainer.model_and_loss(spec, documents)
    use_length = None  # a bi-encoder trains at max_length (the cost) and is saved at its base model's length (for use)
    if not spec.trainer.cross_encoder:
        use_length, model.max_seq_length = max(model.max_seq_length, spec.max_length), spec.max_length
    dataset = spec.trainer.dataset(spec, folder, index_of)
    evaluator = _evaluator(spec, dev, index_of, documents)
    cuda = torch.cuda.is_available()
    precision = training_precision()
    steps_per_epoch = math.ceil(len(dataset) / spec.batch_size)
    total = spec.max_steps if spec.max_steps > 0 else math.ceil(steps_per_epoch * spec.epochs)
    baseline = _ndcg_key(evaluator(model)) if evaluator else None  # the dev split is scored at the training length
    progress.write(
        json.dumps(
            {
                "event": "start",
                "total_steps": total,
                "train_examples": len(dataset),
                "dev_queries": len(dev),
                "device": "cuda" if cuda else "cpu",
                "processes": int(os.environ.get("WORLD_SIZE", 1)),
                "precision": precision,
                "baseline_dev_ndcg@10": baseline,
                "time": time.time(),
            }
        )
        + "\n"
    )

    class Report(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            elapsed = time.time() - started
            rate = state.global_step / elapsed if elapsed and state.global_step else 0
            progress.write(
                json.dumps(
                    {
                        "event": "log",
                        "step": state.global_step,
                        "total_steps": state.max_steps or total,
                        "epoch": state.epoch,
                        "eta_s": (state.max_steps - state.global_step) / rate if rate else None,
                        **{k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))},
                        "time": time.time(),
                    }
                )
                + "\n"
            )

        def on_step_end(self, args, state, control, **kwargs):
            if (folder / "cancel").exists():
                control.should_training_stop = True
                control.should_save = False

    common = dict(
        output_dir=str(folder / "checkpoints"),
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps,
        per_device_train_batch_size=spec.batch_size,
        learning_rate=spec.learning_rate,
        warmup_steps=spec.warmup_ratio,
        seed=spec.seed,
        logging_steps=max(1, min(10, total // 20 or 1)),
        report_to="none",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        save_total_limit=2,
        dataloader_drop_last=False,
        use_cpu=not cuda,  # on CPU, several processes run as MULTI_CPU (gloo)
    )
    if evaluator:
        eval_steps = max(1, min(spec.eval_steps, total))
        common.update(
            eval_strategy="steps",
            eval_steps=eval_steps,
            save_strategy="steps",
            save_steps=eval_steps,
            load_best_model_at_end=True,
            metric_for_best_model="eval_dev_ndcg@10",
            greater_is_better=True,
        )
    else:
        common.update(eval_strategy="no", save_strategy="no")
    if spec.trainer.cross_encoder:
        from sentence_transformers.cross_encoder import CrossEncoderTrainer as Trainer
        from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments as Arguments
    else:
        from sentence_transformers.sentence_transformer import SentenceTransformerTrainer as Trainer
        from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments as Arguments
    trainer = Trainer(
        model=model,
        args=Arguments(**common),
        train_dataset=dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=[Report()],
    )
    trainer.train()
    if (folder / "cancel").exists():
        result = {"status": CANCELLED, "seconds": time.time() - started}
    else:
        final = None
        if evaluator:  # the model kept is the best checkpoint, whose dev score the trainer already has
            best = trainer.state.best_metric
            final = float(best) if best is not None else _ndcg_key(evaluator(model))
        measured = TrainResult(baseline, final, len(dataset), len(dev), trainer.state.global_step)
        if not spec.trainer.cross_encoder and dev and baseline is not None:  # its dev figure becomes the kept mix's
            measured = _mix_with_base(spec, model, dev, measured, evaluator if spec.query_only else None)
        if trainer.is_world_process_zero():
            if use_length:
                model.max_seq_length = use_length
            model.save(str(folder / "model"))
            if spec.query_only:  # documents stay with the base model: its cached vectors serve this model too
                (folder / "model" / "qurate.json").write_text(json.dumps({"document_encoder": spec.base_model}))
            (folder / "model" / "QURATE.md").write_text(model_card(spec, measured))
        result = {
            "status": DONE,
            "model_path": str(folder / "model"),
            "metrics": measured.metrics(),
            "seconds": time.time() - started,
        }
    if trainer.is_world_process_zero():
        _write_result(folder, "result.json", result)
    return result


def _write_result(folder: Path, name: str, result: dict) -> None:
    """The outcome, whole or not at all: readers record a job as soon as its result.json exists."""
    staged = folder / f".{name}.partial"
    staged.write_text(json.dumps(result, indent=2))
    os.replace(staged, folder / name)


def _mix_with_base(spec: TrainSpec, model, dev: list[dict], measured: TrainResult, frozen=None) -> TrainResult:
    """Average the fine-tuned weights with the base model's, a * fine-tuned + (1 - a) * base (WiSE-FT,
    Wortsman et al., 2022), and keep the smallest a that ranks the dev split not significantly worse than
    the best a does: the model stays as close to its base as the dev split allows. Leaves the chosen mix
    in ``model`` and returns ``measured`` with its dev nDCG@10 as the model's. Measured against mixing the two models'
    scores (the earlier rule), in docs/BENCHMARKS.md."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from core.embed import resolve_model
    from core.metrics import closest_to_base, ndcg_at_10

    base = SentenceTransformer(resolve_model(spec.base_model), device=model.device).state_dict()
    tuned = {k: v.detach().clone() for k, v in model.state_dict().items()}
    relevant = [set(range(len(d["positive"]))) for d in dev]

    def dev_scores() -> list:
        if frozen is not None:
            return frozen.scores(model)
        texts = sorted({t for d in dev for t in d["positive"] + d["negative"]})
        vectors = dict(zip(texts, model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)))
        queries = model.encode([d["query"] for d in dev], normalize_embeddings=True, convert_to_numpy=True)
        return [np.stack([vectors[t] for t in d["positive"] + d["negative"]]) @ q for d, q in zip(dev, queries)]

    def mix(a: float) -> None:
        model.load_state_dict(
            {k: a * v + (1 - a) * base[k] if v.is_floating_point() and k in base else v for k, v in tuned.items()}
        )

    per_mix = {}
    for a in (0.0, 0.25, 0.5, 0.75, 1.0):
        mix(a)
        per_mix[a] = ndcg_at_10(dev_scores(), relevant)
    # the base alone (0) is listed for the record, never chosen: a trained model moves at least a quarter
    chosen = closest_to_base({a: s for a, s in per_mix.items() if a > 0})
    mix(chosen)
    return dataclasses.replace(
        measured,
        weight_mix=chosen,
        dev_ndcg=float(per_mix[chosen].mean()),
        dev_ndcg_by_mix={a: float(s.mean()) for a, s in per_mix.items()},
    )


def model_card(spec: TrainSpec, measured: TrainResult) -> str:
    """The model's QURATE.md: what it is, how it was trained, what it measured."""
    lines = [
        f"base model: {spec.base_model}",
        f"training data: {measured.train_examples} queries (dev split: {measured.dev_queries} queries)",
        "hyperparameters: "
        + ", ".join(
            f"{k}={getattr(spec, k)}"
            for k in ("epochs", "learning_rate", "batch_size", "group_size", "max_length", "seed")
        )
        + (f", in-batch negatives={spec.in_batch}" if spec.takes_in_batch else ""),
        *spec.trainer.card(spec),
        f"dev nDCG@10: baseline {measured.baseline_dev_ndcg}, fine-tuned {measured.dev_ndcg}",
    ]
    if measured.weight_mix is not None:
        lines.append(f"weights: {measured.weight_mix} x fine-tuned + {1 - measured.weight_mix} x base model")
    return (
        f"# Qurate {spec.method} model\n\n{spec.trainer.description}\n\n"
        + (
            f"Query encoder only: encode documents with the base model ({spec.base_model}), queries with this one.\n\n"
            if spec.query_only
            else ""
        )
        + "".join(f"- {line}\n" for line in lines)
        + ("\n**Worse than its baseline on the dev split: not promoted.**\n" if measured.worse_than_baseline else "")
    )


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:])[0])
    try:
        result = run(folder)
    except Exception as err:  # the process boundary: record any failure for the app, then exit non-zero
        traceback.print_exc()  # into train.log (or the launcher's output under accelerate)
        rank = os.environ.get("RANK", "0")  # under accelerate/torchrun each process has one; the app reads rank 0's
        name = "result.json" if rank == "0" else f"result-rank{rank}.json"
        _write_result(
            folder,
            name,
            {"status": FAILED, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-4000:]},
        )
        return 1
    return 0 if result["status"] in (DONE, CANCELLED) else 1


if __name__ == "__main__":
    sys.exit(main())
