"""Ranking metrics, through ranx (one place that turns scores into ranx runs)."""

import warnings

import numpy as np


def ndcg_at_10(scores: list[np.ndarray], relevant: list[set[int]]) -> np.ndarray:
    """nDCG@10 of each score row that has a relevant column (``relevant[i]``: row i's relevant column indexes)."""
    from ranx import Qrels, Run, evaluate

    qrels = Qrels({f"q{i}": {f"d{j}": 1 for j in rel} for i, rel in enumerate(relevant) if rel})
    run = Run({f"q{i}": {f"d{j}": float(s) for j, s in enumerate(row)} for i, row in enumerate(scores) if relevant[i]})
    return np.atleast_1d(np.asarray(evaluate(qrels, run, "ndcg@10", return_mean=False), dtype=float))


def mean_ndcg_at_10(scores: list[np.ndarray], relevant: list[set[int]]) -> float:
    """Mean nDCG@10 of score rows, where ``relevant[i]`` holds the relevant column indexes of row i."""
    return float(ndcg_at_10(scores, relevant).mean())


def closest_to_base(per_weight: dict[float, np.ndarray], alpha: float = 0.05) -> float:
    """The smallest weight of the fine-tuned model in its mix with the base whose per-query scores are not
    significantly below the best weight's (paired t-test at ``alpha``): the model stays as close to its base
    as the dev split allows."""
    from scipy.stats import ttest_rel

    best = max(per_weight, key=lambda w: (per_weight[w].mean(), -w))
    for weight in sorted(per_weight):
        if weight == best:
            return weight
        diff = per_weight[best] - per_weight[weight]
        if np.ptp(diff) == 0:  # a constant difference (no variance): significant unless it is zero
            significant = bool(diff[0] > 0)
        else:
            with warnings.catch_warnings():  # nearly constant differences: scipy warns, the p-value still holds
                warnings.simplefilter("ignore", RuntimeWarning)
                significant = bool(ttest_rel(per_weight[best], per_weight[weight]).pvalue < alpha)
        if not significant:  # (weights below the best all score less: ties went to the smallest)
            return weight
    return best


def warm_up() -> None:
    """Compile ranx's numba kernels (tens of seconds on a fresh install, then cached on disk), so that
    the first evaluation a user asks for does not pay it. The app runs this in a background thread."""
    from ranx import Qrels, Run, evaluate

    from core.vocabulary import METRICS

    evaluate(Qrels({"q": {"a": 1}}), Run({"q": {"a": 1.0, "b": 0.5}}), METRICS)
