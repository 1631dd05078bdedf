"""The project's vocabulary, in one place: grades, review actions, metrics, training methods.

Imported by core, storage, pages and the command line alike. Adding a training method means
one entry in METHODS, its loss in core/losses.py and its branch in core/train.py's
``_model_and_loss``; evaluation systems are a type of their own (core/systems.py). Nothing
here imports torch, so pages can list methods cheaply.
"""

from dataclasses import dataclass

from core.errors import InvalidInput

GRADES = {0: "not relevant", 1: "related", 2: "partially answers", 3: "answers"}  # the judge's and reviewers' scale
RELEVANT = 2  # a grade at or above this counts as relevant: positives, qrels, agreement
ACTIONS = {
    "relevant": 3,
    "partially": 2,
    "not relevant": 0,
}  # review actions that set a grade ("bad query" and "undo" do not)
METRICS = [
    "ndcg@10",
    "mrr@10",
    "map@10",
    "recall@10",
    "recall@100",
]  # what every evaluation run stores, per query (ranx)
HEADLINE = "ndcg@10"  # the metric charts, p-values and wins/losses are about
USERS = "users"  # the origin and type of your users' real queries (core.userqueries), which have no source passage


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # what the model is evaluated as: "reranker" (rerank:<id>) or "retriever" (retrieve:<id>)
    loss: str  # "lce", "distill" or "infonce" (core/losses.py)
    description: str
    cross_encoder: bool = (
        False  # scores (query, passage) pairs jointly: needs a named cross-encoder, no frozen documents
    )
    frozen_documents: bool = False  # can train the query encoder alone against the base model's cached document vectors
    # ranks with its scores mixed with BM25's (core.systems.with_lexical); a distilled retriever does not
    # (docs/BENCHMARKS_HISTORY.md, Lexical evidence)
    mixed_with_bm25: bool = True


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "lce",
            "reranker",
            "lce",
            "reranker: the bundled (or named) bi-encoder fine-tuned with LCE over its own cosine scores",
            frozen_documents=True,
        ),
        Method(
            "lce-cross-encoder",
            "reranker",
            "lce",
            "reranker: a cross-encoder fine-tuned with LCE (bring a trained cross-encoder)",
            cross_encoder=True,
        ),
        Method(
            "distill",
            "retriever",
            "distill",
            "retriever: listwise distillation from a teacher (grades + dense and BM25, or + a fine-tuned reranker), plus 0.1 x InfoNCE",
            frozen_documents=True,
            mixed_with_bm25=False,
        ),
        Method(
            "infonce",
            "retriever",
            "infonce",
            "retriever: plain InfoNCE with in-batch and hard negatives (for comparison)",
        ),
    )
}

TUNE = {
    "query": "only the query encoder learns; documents keep the base model's cached vectors (fast on a CPU, no re-indexing)",
    "full": "query and document encoders learn together (slower: every passage passes through the model each step)",
}


def method(name: str) -> Method:
    """The registered method, or a ValueError that lists the known ones."""
    if name not in METHODS:
        raise InvalidInput(f"unknown method {name!r}; use one of {sorted(METHODS)}")
    return METHODS[name]


def query_only(spec: dict) -> bool:
    """Whether the job trains a query encoder against frozen document vectors."""
    return spec["tune"] == "query" and METHODS[spec["method"]].frozen_documents


def takes_in_batch(spec: dict) -> bool:
    """Whether the job's loss can take in-batch negatives: query-only LCE (the batch's frozen documents come free)."""
    return query_only(spec) and METHODS[spec["method"]].loss == "lce"
