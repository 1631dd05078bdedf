"""First-stage retrieval over a corpus: BM25 (bm25s), dense (sentence-transformers), and
their reciprocal rank fusion. Used to mine candidates and as the evaluation baselines.
"""

import threading
from dataclasses import dataclass

import duckdb
import numpy as np

from core import embed
from storage import corpora

RRF_K = 60
DEPTH = 100  # how deep the first stage ranks: each ranking's top DEPTH enter the fusion, whose order evaluation reads
FIRST_STAGE_K = 30  # the fused top that mining labels and every evaluated system reorders
_indexes: dict[tuple, "BM25Index"] = {}
_lock = threading.Lock()


def passage_texts(con: duckdb.DuckDBPyConnection, corpus: int) -> tuple[list[str], list[str]]:
    """(passage ids, texts to rank) of a corpus, in a stable order; the text is "title. text"."""
    return corpora.passage_texts(con, corpus)


@dataclass
class BM25Index:
    passage_ids: list[str]
    retriever: object
    stemmer: object

    def scores(self, queries: list[str]) -> np.ndarray:
        """BM25 scores of every passage for every query, shape (queries, passages)."""
        import bm25s

        tokens = bm25s.tokenize(queries, stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False)
        vocab = self.retriever.vocab_dict
        out = np.zeros((len(queries), len(self.passage_ids)), dtype=np.float32)
        for row, words in enumerate(tokens):
            known = [w for w in words if w in vocab]
            if known:
                out[row] = self.retriever.get_scores(known)
        return out


def bm25_index(con: duckdb.DuckDBPyConnection, corpus: int) -> BM25Index:
    """The corpus's BM25 index (English stop words, Snowball stemmer), built once per process and content."""
    import bm25s
    import Stemmer

    ids, texts = passage_texts(con, corpus)
    key = (corpus, len(ids), hash(tuple(ids)))
    with _lock:
        if key not in _indexes:
            stemmer = Stemmer.Stemmer("english")
            retriever = bm25s.BM25()
            retriever.index(
                bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False
            )
            _indexes[key] = BM25Index(ids, retriever, stemmer)
        return _indexes[key]


def dense_scores(con, corpus: int, queries: list[str], model: str = embed.BUNDLED, progress=None) -> np.ndarray:
    """Cosine similarity of every query with every passage, shape (queries, passages)."""
    _, texts = passage_texts(con, corpus)
    passages = embed.encode(con, texts, model, progress, role="document")
    return embed.encode(con, queries, model, role="query") @ passages.T


def rrf(*rankings: np.ndarray, k: int = RRF_K, depth: int = DEPTH) -> np.ndarray:
    """Reciprocal rank fusion of score rows: sum of 1 / (k + rank) over each ranking's top ``depth``.

    Args:
        rankings: score arrays of the same shape (queries, passages); higher is better.

    Returns:
        Fused scores of that shape (0 for a passage outside every top ``depth``).
    """
    fused = np.zeros_like(rankings[0], dtype=np.float64)
    rows = np.arange(fused.shape[0])[:, None]
    for scores in rankings:
        top = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
        fused[rows, top] += 1.0 / (k + 1 + np.arange(top.shape[1]))
    return fused


@dataclass
class Ranked:
    """Scores of every passage for a batch of queries, by each method."""

    passage_ids: list[str]
    bm25: np.ndarray
    dense: np.ndarray
    fused: np.ndarray

    def top(self, method: str, row: int, k: int) -> list[int]:
        """Indexes of the ``k`` best passages of one query by ``method`` (bm25, dense or fused)."""
        scores = getattr(self, method)[row]
        return list(np.argsort(-scores, kind="stable")[:k])


def first_stage(con, corpus: int, queries: list[str], fused: bool = True) -> dict[str, np.ndarray]:
    """The scores every ranking system reorders, (queries, passages) each: ``bm25``, ``dense`` (the bundled MiniLM)
    and, unless ``fused`` is False (the fusion ranks the whole corpus: the costliest of the three), ``fused``."""
    scores = {"bm25": bm25_index(con, corpus).scores(queries), "dense": dense_scores(con, corpus, queries)}
    if fused:
        scores["fused"] = rrf(scores["bm25"], scores["dense"])
    return scores


def rank(con, corpus: int, queries: list[str], model: str = embed.BUNDLED, progress=None) -> Ranked:
    """Score every passage of a corpus for each query by BM25, dense and their fusion."""
    index = bm25_index(con, corpus)
    bm25 = index.scores(queries)
    dense = dense_scores(con, corpus, queries, model, progress)
    return Ranked(index.passage_ids, bm25, dense, rrf(bm25, dense))
