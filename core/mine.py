"""Candidate mining: for each synthetic query, the passages a first-stage retriever would
confuse it with (BM25 + dense, fused), its source passage always among them.
"""

import time
from dataclasses import dataclass
from typing import Callable

import duckdb
import numpy as np

from core import embed
from core.errors import InvalidInput
from core.retrieve import FIRST_STAGE_K, rank
from storage import labels as store
from storage.corpora import one_at_a_time
from storage.db import transaction
from storage.labels import mining_summary, queries_to_mine  # noqa: F401  (re-exported for pages)

ROUND_TRIP_FLAG = "not retrieved"
BATCH = 256


@dataclass
class MiningReport:
    run_id: int | None  # None when there was nothing to mine
    queries: int
    candidates: int
    source_in_top_k: int  # queries whose source passage the fusion ranked in its top k
    flagged_round_trip: int
    seconds: float


@one_at_a_time("mining candidates")
def mine_candidates(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    k: int = FIRST_STAGE_K,
    model: str = embed.BUNDLED,
    round_trip_k: int = 20,
    progress: Callable[[float, str], None] | None = None,
) -> MiningReport:
    """Mine the top ``k`` fused candidates of every kept query of a corpus and store them.

    Candidates of a query mined before are replaced (its labels are kept: they belong to
    the (query, passage) pair). A source passage outside the top k is added at its own
    rank. Queries whose source is not in the fused top ``round_trip_k`` get the flag
    "not retrieved" (the round-trip filter), which leaves them out of training.

    Raises:
        InvalidInput: k or round_trip_k below 1, or no kept query (it says what the flags left out).
    """
    if k < 1 or round_trip_k < 1:
        raise InvalidInput(f"k and round_trip_k must be at least 1, got {k} and {round_trip_k}")
    started = time.perf_counter()
    progress = progress or (lambda fraction, message: None)
    queries = store.queries_to_mine(con, corpus)
    if not queries:
        from storage.queries import flag_counts

        flags = ", ".join(f"{n:,} {flag}" for flag, n in sorted(flag_counts(con, corpus).items()))
        if flags:
            raise InvalidInput(
                f"no kept query to mine: every query is flagged ({flags}); restore the ones worth keeping on the "
                "Queries page, or generate again (`qurate generate`)"
            )
        raise InvalidInput(
            "no kept query to mine: generate queries or add your users' first (the Queries page, or `qurate generate`)"
        )
    settings = {"k": k, "model": model, "fusion": "rrf", "round_trip_k": round_trip_k}
    run_id = None  # the run's row is written with its first candidates: a run killed before them leaves none
    total = in_top = flagged = 0
    for start in range(0, len(queries), BATCH):
        batch = queries[start : start + BATCH]
        progress(start / max(len(queries), 1), f"ranking queries {start:,}-{start + len(batch):,} of {len(queries):,}")
        ranked = rank(
            con, corpus, [q[2] for q in batch], model, progress=lambda f, m: progress(start / max(len(queries), 1), m)
        )
        position = {pid: i for i, pid in enumerate(ranked.passage_ids)}
        rows, not_retrieved = [], []
        for row, (query_id, source, _) in enumerate(batch):
            order = np.argsort(-ranked.fused[row], kind="stable")
            top = list(order[:k])
            source_index = position.get(source)
            source_rank = int(np.nonzero(order == source_index)[0][0]) + 1 if source_index is not None else None
            if source_index is not None and source_index not in top:
                top.append(source_index)
            for i in top:
                rank_of = source_rank if i == source_index else top.index(i) + 1
                rows.append(
                    (
                        query_id,
                        ranked.passage_ids[i],
                        rank_of,
                        float(ranked.bm25[row, i]),
                        float(ranked.dense[row, i]),
                        float(ranked.fused[row, i]),
                        i == source_index,
                    )
                )
            if source_rank is not None and source_rank <= k:
                in_top += 1
            if source is not None and (
                source_rank is None or source_rank > round_trip_k
            ):  # users' queries have no source
                not_retrieved.append(query_id)
        with transaction(con):
            run_id = run_id or store.create_mining_run(con, corpus, settings)
            store.replace_candidates(con, [q[0] for q in batch], [(run_id, *row) for row in rows])
            flagged += store.add_query_flag(con, not_retrieved, ROUND_TRIP_FLAG)
        total += len(rows)
    progress(1.0, "done")
    return MiningReport(run_id, len(queries), total, in_top, flagged, time.perf_counter() - started)
