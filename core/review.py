"""What review tells about the judge: agreement, Cohen's kappa, the spot-check accuracy."""

import duckdb
import pandas as pd

from storage.reviews import reviewed_pairs

RELEVANT = 2


def agreement(con: duckdb.DuckDBPyConnection, corpus: int) -> dict:
    """Judge-vs-human agreement on relevance (grade >= 2), overall and per query type.

    Returns:
        {"overall": {...}, "by_type": DataFrame, "spot_check": {...}}; each figure set has
        n, agreement, kappa (sklearn's Cohen's kappa on relevant / not relevant; None when
        undefined). spot_check estimates the judge's accuracy from the random spot-check
        sample, with a 95% Wilson interval (scipy).
    """
    from scipy.stats import binomtest
    from sklearn.metrics import cohen_kappa_score

    pairs = reviewed_pairs(con, corpus)

    def figures(frame: pd.DataFrame) -> dict:
        if frame.empty:
            return {"n": 0, "agreement": None, "kappa": None}
        judge = (frame["llm_grade"] >= RELEVANT).astype(int)
        human = (frame["human_grade"] >= RELEVANT).astype(int)
        kappa = cohen_kappa_score(judge, human) if judge.nunique() > 1 or human.nunique() > 1 else None
        return {"n": len(frame), "agreement": float((judge == human).mean()),
                "kappa": None if kappa is None or kappa != kappa else float(kappa)}

    by_type = pd.DataFrame([{"qtype": t, **figures(part)} for t, part in pairs.groupby("qtype")]) if not pairs.empty else pd.DataFrame()
    sample = pairs[pairs["spot_check"]]
    spot = {"n": len(sample), "accuracy": None, "low": None, "high": None}
    if len(sample):
        correct = int(((sample["llm_grade"] >= RELEVANT) == (sample["human_grade"] >= RELEVANT)).sum())
        interval = binomtest(correct, len(sample)).proportion_ci(confidence_level=0.95, method="wilson")
        spot = {"n": len(sample), "accuracy": correct / len(sample), "low": float(interval.low), "high": float(interval.high)}
    return {"overall": figures(pairs), "by_type": by_type, "spot_check": spot}
