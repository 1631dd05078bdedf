"""Ranking systems: what evaluation and Compare rank with, named as strings in one place.

- ``bm25``, ``dense`` (the bundled MiniLM: the baseline), ``fused`` (their reciprocal rank fusion),
  ``hybrid`` (their scores mixed, as a fine-tuned reranker's are with BM25's);
- ``rerank:<model id>`` and ``retrieve:<model id>``: a fine-tuned model of the workspace; a reranker's
  scores are mixed with BM25's (``with_lexical``), a distilled retriever's are not (mixed, it lost on MedQuAD).

Every system reorders the same first-stage pool (the fused top k of each query), so
differences between systems are differences of ranking, not of what was retrieved.
``hybrid`` is the reference that says how much of a reranker's gain is the lexical evidence it
is mixed with, and how much its training.

>>> System.parse("rerank:7")
System(kind='rerank', model_id=7)
>>> str(System.parse("dense"))
'dense'
"""

from dataclasses import dataclass

import duckdb
import numpy as np

from core import embed
from core.errors import InvalidInput, NotFound
from core.retrieve import first_stage, passage_texts
from core.training.methods import METHODS
from core.training.result import TrainResult
from storage.corpora import test_sets
from storage.evaluations import latest_runs
from storage.models import get_model, list_models

BASELINE = "dense"
_FIXED = {
    "bm25": "BM25",
    "dense": "MiniLM (baseline)",
    "fused": "BM25 + MiniLM (RRF)",
    "hybrid": "MiniLM + BM25 (score mix)",
}
# A reranker keeps the lexical evidence: its scores and BM25's, each standardised within the query's pool, are
# mixed 3:1 (LEXICAL_RATIO; the split of a common hybrid-search default, Weaviate's alpha 0.75, not tuned here), not
# fused by rank, which gives BM25 an equal say (docs/BENCHMARKS_HISTORY.md, Lexical evidence).
LEXICAL_SHARE = 0.25
LEXICAL_RATIO = f"{round((1 - LEXICAL_SHARE) / LEXICAL_SHARE, 1):g}:1"  # the mix as pages and reports say it: "3:1"
_MODEL_KINDS = {"reranker": "rerank", "retriever": "retrieve"}


@dataclass(frozen=True)
class System:
    kind: str  # bm25 | dense | fused | hybrid | rerank | retrieve
    model_id: int | None = None

    @classmethod
    def parse(cls, text: "str | System") -> "System":
        """A system from its name; raises ValueError naming the valid forms."""
        if isinstance(text, System):
            return text
        kind, _, model = str(text).partition(":")
        if kind in _FIXED and not model:
            return cls(kind)
        if kind in _MODEL_KINDS.values() and model.isdigit():
            return cls(kind, int(model))
        raise InvalidInput(
            f"unknown system {text!r}; use bm25, dense, fused, hybrid, rerank:<model id> or retrieve:<model id>"
        )

    def __str__(self) -> str:
        return self.kind if self.model_id is None else f"{self.kind}:{self.model_id}"

    @property
    def is_baseline(self) -> bool:
        return self.kind == BASELINE

    def label(self, con: duckdb.DuckDBPyConnection) -> str:
        """A readable name: 'MiniLM (baseline)', 'my model (rerank)'."""
        if self.model_id is None:
            return _FIXED[self.kind]

        model = get_model(con, self.model_id)
        if model is None:
            return f"model {self.model_id} ({self.kind})"
        flag = " ⚠ worse than baseline on dev" if TrainResult.of(model["metrics"]).worse_than_baseline else ""
        return f"{model['name']} ({self.kind}){flag}"

    def promoted(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Whether a system may be offered by default: a baseline, or a model its dev split did not flag as worse."""
        if self.model_id is None:
            return True

        model = get_model(con, self.model_id)
        return model is not None and not TrainResult.of(model["metrics"]).worse_than_baseline

    def dev_difference(self, con: duckdb.DuckDBPyConnection) -> float | None:
        """What training's dev split predicted: the model's dev nDCG@10 minus its base model's on the same
        dev queries; None for a baseline, a deleted model, or one trained without a dev split."""
        if self.model_id is None:
            return None

        model = get_model(con, self.model_id)
        return TrainResult.of(model["metrics"]).dev_gain if model is not None else None

    def score(
        self,
        con: duckdb.DuckDBPyConnection,
        queries: list[str],
        pools: np.ndarray,
        texts: list[str],
        first_stage: dict[str, np.ndarray],
    ) -> np.ndarray:
        """Scores of each query's pool passages, shape of ``pools`` (queries, k).

        Args:
            pools: passage indexes (into ``texts``) per query.
            first_stage: ``bm25``, ``dense`` and ``fused`` scores over the whole corpus, (queries, passages).
        """
        rows = np.arange(len(queries))[:, None]
        lexical = first_stage["bm25"][rows, pools]
        if self.kind == "hybrid":
            return with_lexical(first_stage["dense"][rows, pools], lexical)
        if self.model_id is None:
            return first_stage[self.kind][rows, pools]

        model = get_model(con, self.model_id)
        if model is None:
            raise NotFound(f"no model {self.model_id}; it may have been deleted: pick another system")
        scores = _model_scores(model, con, queries, pools, texts)
        return with_lexical(scores, lexical) if mixed_with_bm25(model) else scores


def mixed_with_bm25(model: dict) -> bool:
    """Whether a stored model ranks with BM25's scores mixed into its own: its method says (a distilled
    retriever does not: mixed, it lost on MedQuAD while gaining on CISI)."""
    return METHODS[model["method"]].mixed_with_bm25 if model["method"] in METHODS else True


def _model_scores(model: dict, con, queries: list[str], pools: np.ndarray, texts: list[str]) -> np.ndarray:
    """A stored model's own scores of each query's pool, before any mix with BM25's."""
    if model["method"] in METHODS and METHODS[model["method"]].cross_encoder:
        return _cross_encoder_scores(model["path"], queries, pools, texts)
    # a bi-encoder: the union of the pools encoded in one call (cached)
    union = np.unique(pools)
    documents = embed.encode(con, [texts[i] for i in union], model["path"], role="document")
    position = np.searchsorted(union, pools)
    return np.einsum("qd,qkd->qk", embed.encode(con, queries, model["path"], role="query"), documents[position])


def with_lexical(scores: np.ndarray, bm25: np.ndarray) -> np.ndarray:
    """A learned ranking's scores of each query's pool mixed with BM25's, both standardised within the pool
    (rows: queries): (1 - LEXICAL_SHARE) z(scores) + LEXICAL_SHARE z(bm25). A pool whose scores are all equal
    contributes nothing from that side.

    >>> with_lexical(np.array([[0.9, 0.8, 0.1]]), np.array([[0.0, 9.0, 0.0]])).argmax()
    np.int64(1)
    """

    def standard(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        spread = x.std(axis=1, keepdims=True)
        return (x - x.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)

    return (1 - LEXICAL_SHARE) * standard(scores) + LEXICAL_SHARE * standard(bm25)


def list_scores(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    system: "str | System",
    queries: list[str],
    lists: list[list[str]],
    cells: int = 1 << 24,
) -> list[np.ndarray]:
    """A system's scores of each query's listed passages (passage ids), as evaluation would score them:
    the distillation teacher when it is a fine-tuned model. Queries go through ``System.score`` in batches
    whose first-stage matrices hold about ``cells`` scores (each batch looks the corpus's vectors up once:
    measured 2.5 s for 6,644 MedQuAD lists in batches of 1,024 against 6.6 s in batches of 256)."""

    system = System.parse(system)
    passage_ids, texts = passage_texts(con, corpus)
    batch = max(64, cells // max(len(passage_ids), 1))
    index = {p: i for i, p in enumerate(passage_ids)}
    scores: list[np.ndarray] = []
    for start in range(0, len(queries), batch):
        part, rows = queries[start : start + batch], lists[start : start + batch]
        width = max(len(r) for r in rows)
        pools = np.array([[index[p] for p in r] + [index[r[-1]]] * (width - len(r)) for r in rows])
        scores_first = first_stage(con, corpus, part, fused=system.kind == "fused")
        scores += [s[: len(r)] for s, r in zip(system.score(con, part, pools, texts, scores_first), rows)]
    return scores


def _cross_encoder_scores(path: str, queries: list[str], pools: np.ndarray, texts: list[str]) -> np.ndarray:
    from sentence_transformers import CrossEncoder

    encoder = CrossEncoder(embed.resolve_model(path))  # a folder: itself (and the library's bar off)
    pairs = [(query, texts[i]) for query, pool in zip(queries, pools) for i in pool]
    return np.asarray(encoder.predict(pairs, show_progress_bar=False), dtype=np.float64).reshape(pools.shape)


def default_pair(con: duckdb.DuckDBPyConnection, corpus: int) -> tuple[System, System]:
    """What Compare opens on: the baseline against the newest model neither flagged worse than its
    baseline on the dev split nor measured below the baseline or the hybrid in its latest evaluation on
    one of the corpus's test sets (the hybrid when there is none)."""
    worse = measured_worse(con, corpus)
    promoted = [s for s in corpus_systems(con, corpus) if s.model_id is not None and s.promoted(con) and s not in worse]
    return System(BASELINE), promoted[-1] if promoted else System("hybrid")


def measured_worse(con: duckdb.DuckDBPyConnection, corpus: int) -> set[System]:
    """The systems whose latest run on a test set of the corpus scored a lower mean nDCG@10 than the
    baseline's latest run there, or than the hybrid's where it ran (a model the hybrid beats earned less
    by its training than BM25's scores give untrained): real queries outrank the dev split's synthetic ones."""

    worse = set()
    for test_set in test_sets(con, corpus)["id"]:
        runs = latest_runs(con, int(test_set)).set_index("system")["ndcg@10"].to_dict()
        if BASELINE not in runs:
            continue
        _, bar = untrained_bar(runs)
        for name, value in runs.items():
            try:
                if value is not None and value < bar:
                    worse.add(System.parse(name))
            except ValueError:  # a run stored under a name no system parses to
                continue
    return worse


def untrained_bar(ndcg: dict[str, float | None]) -> tuple[str, float] | None:
    """What a fine-tuned model must beat on a set of queries, from each system's nDCG@10 on them: the better of the
    baseline's and, where it ran, the hybrid's (which needs no training); (its system, its figure), None if
    neither ran."""
    ran = [(name, ndcg[name]) for name in (BASELINE, "hybrid") if ndcg.get(name) is not None]
    return max(ran, key=lambda pair: pair[1]) if ran else None


def corpus_systems(con: duckdb.DuckDBPyConnection, corpus: int) -> list[System]:
    """The baselines and every fine-tuned model of a corpus, newest model last."""

    models = list_models(con, corpus).sort_values("id")
    return [System("bm25"), System("dense"), System("fused"), System("hybrid")] + [
        System(_MODEL_KINDS[kind], int(model_id)) for model_id, kind in zip(models["id"], models["kind"])
    ]
