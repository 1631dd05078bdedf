"""The training methods, one registry entry each: what a method trains on, its model and loss, its model card.

Adding a method is one ``Method`` in ``METHODS`` (tests/test_train.py adds a toy one and trains it): the Train page,
``qurate train --method``, the job, the training process and evaluation read everything from the entry. Nothing
here imports torch until a builder runs, so pages list methods cheaply.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core.errors import InvalidInput

if TYPE_CHECKING:
    from core.training.spec import TrainSpec

GROUPS, LISTS = "groups", "lists"  # the exported training data a method reads (core.training.data)


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # what the model is evaluated as: "reranker" (rerank:<id>) or "retriever" (retrieve:<id>)
    description: str
    # GROUPS: a query, its positive and hard negatives (contrastive); LISTS: a query, its candidates and the
    # teacher's scores of them (distillation; the spec's ``teacher`` applies)
    data: str
    # (spec, frozen document vectors or None) -> (model, loss); documents are given when the job trains the
    # query encoder alone (``frozen_documents`` and tune "query"), the loss then reads labels as their rows
    model_and_loss: Callable
    cross_encoder: bool = False  # scores (query, passage) pairs jointly: needs a named cross-encoder
    frozen_documents: bool = False  # can train the query encoder alone against the base model's cached vectors
    # ranks with its scores mixed with BM25's (core.systems.with_lexical); a distilled retriever does not
    # (docs/BENCHMARKS_HISTORY.md, Lexical evidence)
    mixed_with_bm25: bool = True
    in_batch: bool = False  # its query-only loss can add the batch's documents as negatives (the spec's in_batch)
    card: Callable = lambda spec: []  # (spec) -> lines of the model card beyond the common ones

    def dataset(self, spec: "TrainSpec", folder: Path, index_of: dict[str, int] | None = None):
        """The training rows of a job folder as the trainer reads them: text columns, or (query-only) rows of the
        frozen document vectors as labels."""
        return (_lists if self.data == LISTS else _groups)(spec, folder, index_of)


def rows(path: Path) -> list[dict]:
    """The JSON lines of an exported file (none if it is missing)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _groups(spec: "TrainSpec", folder: Path, index_of: dict[str, int] | None):
    from datasets import Dataset

    groups = rows(folder / "train_groups.jsonl")
    n = min(min(len(g["negatives"]) for g in groups), spec.group_size - 1)
    if index_of is not None:
        label = [[index_of[g["positive"]]] + [index_of[t] for t in g["negatives"][:n]] for g in groups]
        return Dataset.from_dict({"query": [g["query"] for g in groups], "label": label})
    columns = {"query": [g["query"] for g in groups], "positive": [g["positive"] for g in groups]}
    for i in range(n):
        columns[f"negative_{i + 1}"] = [g["negatives"][i] for g in groups]
    return Dataset.from_dict(columns)


def _lists(spec: "TrainSpec", folder: Path, index_of: dict[str, int] | None):
    from datasets import Dataset

    lists = rows(folder / "train_lists.jsonl")
    m = min(len(r["candidates"]) for r in lists)
    if index_of is not None:  # m rows of the frozen vectors, then the teacher's m scores
        label = [
            [float(index_of[t]) for t in r["candidates"][:m]] + [float(x) for x in r["teacher"][:m]] for r in lists
        ]
        return Dataset.from_dict({"query": [r["query"] for r in lists], "label": label})
    columns = {"query": [r["query"] for r in lists]}
    for i in range(m):
        columns[f"candidate_{i + 1}"] = [r["candidates"][i] for r in lists]
    columns["label"] = [r["teacher"][:m] for r in lists]
    return Dataset.from_dict(columns)


def _bi_encoder(spec: "TrainSpec"):
    from sentence_transformers import SentenceTransformer

    from core.embed import resolve_model

    return SentenceTransformer(resolve_model(spec.base_model))


def _lce(spec: "TrainSpec", documents=None):
    from core.training.losses import BiEncoderLCELoss, FrozenDocumentLoss

    model = _bi_encoder(spec)
    if documents is not None:
        return model, FrozenDocumentLoss(model, documents, "lce", in_batch=spec.in_batch)
    return model, BiEncoderLCELoss(model, scale=20.0)


def _lce_cross_encoder(spec: "TrainSpec", documents=None):
    from sentence_transformers import CrossEncoder

    from core.embed import resolve_model
    from core.training.losses import cross_encoder_lce

    model = CrossEncoder(resolve_model(spec.base_model), num_labels=1, max_length=spec.max_length)
    return model, cross_encoder_lce(model)


def _distill(spec: "TrainSpec", documents=None):
    from core.training.losses import FrozenDocumentLoss, ListwiseDistillationLoss

    model = _bi_encoder(spec)
    if documents is not None:
        return model, FrozenDocumentLoss(model, documents, "distill")
    return model, ListwiseDistillationLoss(model)


def _infonce(spec: "TrainSpec", documents=None):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = _bi_encoder(spec)
    return model, MultipleNegativesRankingLoss(model, scale=20.0)


def _teacher_card(spec: "TrainSpec") -> list[str]:
    return [f"teacher: the grades plus {'dense and BM25 scores' if spec.teacher == 'ensemble' else spec.teacher}"]


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "lce",
            "reranker",
            "reranker: the bundled (or named) bi-encoder fine-tuned with LCE over its own cosine scores",
            GROUPS,
            _lce,
            frozen_documents=True,
            in_batch=True,
        ),
        Method(
            "lce-cross-encoder",
            "reranker",
            "reranker: a cross-encoder fine-tuned with LCE (bring a trained cross-encoder)",
            GROUPS,
            _lce_cross_encoder,
            cross_encoder=True,
        ),
        Method(
            "distill",
            "retriever",
            "retriever: listwise distillation from a teacher (grades + dense and BM25, or + a fine-tuned reranker), "
            "plus 0.1 x InfoNCE",
            LISTS,
            _distill,
            frozen_documents=True,
            mixed_with_bm25=False,
            card=_teacher_card,
        ),
        Method(
            "infonce",
            "retriever",
            "retriever: plain InfoNCE with in-batch and hard negatives (for comparison)",
            GROUPS,
            _infonce,
        ),
    )
}

TUNE = {
    "query": "only the query encoder learns; documents keep the base model's cached vectors (fast on a CPU, no "
    "re-indexing)",
    "full": "query and document encoders learn together (slower: every passage passes through the model each step)",
}


def method(name: str) -> Method:
    """The registered method, or InvalidInput that lists the known ones."""
    if name not in METHODS:
        raise InvalidInput(f"unknown method {name!r}; use one of {sorted(METHODS)}")
    return METHODS[name]
