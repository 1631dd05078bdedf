"""What a step costs in time on this machine, before it runs: the rates bench/ measured, per CPU core so that they
scale with the machine, and the estimates the pages show from them. ``python -m bench.estimates`` sets each estimate
beside the time the step then took (docs/BENCHMARKS.md, Estimates against measured time).

Training's rates live with its spec (``core.training.spec.estimate_seconds``): they depend on the method and tune.
"""

import os

# docs/BENCHMARKS.md says where each was measured (Current figures, and the section of each step).
OFFLINE_QUERIES_PER_CORE_S = 270.0  # the rules, database writes included (MedQuAD's 190, CISI's 380)
LOCAL_QUERIES_PER_CORE_S = 1.5  # the bundled Gemma 3 270M in process (sample 1.56 after loading, CISI 1.6)
LOCAL_PAIRS_PER_CORE_S = 1.2  # the same model judging, its calibration calls included (sample 1.5, CISI 1.0)
LOCAL_START_S = 1.5  # assembling nothing (done once), loading the model into llama.cpp
ENCODE_PER_CORE_S = {"fp32": 15.0, "bf16": 25.0}  # the bundled MiniLM encoding passages, by precision
ENCODER_START_S = 5.0  # loading the encoder and indexing BM25, once a mining run
MINE_CORE_S_PER_QUERY = 0.006  # ranking one query against the cached vectors and BM25, the candidates written


def cores() -> int:
    return os.cpu_count() or 2


def generation_seconds(queries: int, generator: str, n_cores: int | None = None) -> float | None:
    """Time to write ``queries`` queries: ``generator`` "rules" or "local"; None for a remote LLM, whose speed is
    its provider's."""
    if generator == "rules":
        return queries / (OFFLINE_QUERIES_PER_CORE_S * (n_cores or cores()))
    return _local(queries, LOCAL_QUERIES_PER_CORE_S, n_cores) if generator == "local" else None


def judging_seconds(pairs: int, judge: str, n_cores: int | None = None) -> float | None:
    """Time to judge ``pairs`` (query, passage) pairs: ``judge`` "rules" (instant), "local", None for a remote LLM."""
    if judge == "rules":
        return 0.0
    return _local(pairs, LOCAL_PAIRS_PER_CORE_S, n_cores) if judge == "local" else None


def _local(calls: int, per_core_s: float, n_cores: int | None) -> float:
    """The local model's time for ``calls`` calls: the model loaded, then the calls at the measured rate (nothing is
    loaded for none)."""
    return LOCAL_START_S + calls / (per_core_s * (n_cores or cores())) if calls else 0.0


def mining_seconds(passages: int, queries: int, precision: str, n_cores: int | None = None) -> float:
    """Time to mine candidates for ``queries`` queries over a corpus whose ``passages`` are not encoded yet (the
    encoding, once per corpus and model, is most of it)."""
    n_cores = n_cores or cores()
    return ENCODER_START_S + (passages / ENCODE_PER_CORE_S[precision] + queries * MINE_CORE_S_PER_QUERY) / n_cores


def duration(seconds: float) -> str:
    """A time a person plans by: seconds under a minute and a half, else minutes."""
    return f"about {max(seconds, 1):.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"
