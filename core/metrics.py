"""Ranking metrics, through ranx (one place that turns scores into ranx runs)."""

import numpy as np


def mean_ndcg_at_10(scores: list[np.ndarray], relevant: list[set[int]]) -> float:
    """Mean nDCG@10 of score rows, where ``relevant[i]`` holds the relevant column indexes of row i."""
    from ranx import Qrels, Run, evaluate

    qrels = Qrels({f"q{i}": {f"d{j}": 1 for j in rel} for i, rel in enumerate(relevant) if rel})
    run = Run({f"q{i}": {f"d{j}": float(s) for j, s in enumerate(row)} for i, row in enumerate(scores) if relevant[i]})
    return float(evaluate(qrels, run, "ndcg@10"))
