"""What your users' queries and an expert's hour buy: test nDCG@10 against the number of expert-graded log queries.

    python -m bench.users_curve cisi 'bench/results/quality-cisi-users-e{k}-w5-s*.json' [--plot docs/users-curve-cisi.png]

Reads ``bench.quality`` runs of the ``users`` variant; a run of the same split seed with the ``synthetic`` variant
gives the rules-only figure (k = 0: without an LLM or an expert, log queries make no LCE group). ``{k}`` in the pattern stands for the expert's query count; each k's runs (splits or seeds) are
averaged query by query within a run, then over runs. Prints, per k: the reranker, the untrained hybrid (MiniLM +
BM25 score mix), their paired difference over every test query of every run (scipy's paired t-test), and the same
against rules only; ``--plot`` draws the curve with the hybrid as a line.
"""

import argparse
import glob
import json
import re
from pathlib import Path

import numpy as np
from scipy.stats import ttest_rel


def _per_query(part: dict, prefix: str) -> dict[str, float]:
    row = next(r for r in part["table"] if r["system"].startswith(prefix))
    return row["per_query"]


def points(pattern: str) -> dict[int, dict[str, list[float]]]:
    """k -> {"reranker", "hybrid", "rules"}: per-query nDCG@10 over every matching run, aligned query by query."""
    found: dict[int, dict[str, list[float]]] = {}
    regex = re.compile(re.escape(pattern).replace(r"\{k\}", r"(\d+)").replace(r"\*", ".*"))
    runs = {
        path: json.loads(Path(path).read_text())
        for path in sorted(glob.glob(pattern.replace("{k}", "*")))
        if regex.fullmatch(path)
    }
    # rules only, per split: any run of the same split seed that trained on the offline queries alone
    rules_of = {
        run["args"]["seed"]: _per_query(run["results"]["synthetic"], "rerank:")
        for run in runs.values()
        if "synthetic" in run["results"]
    }
    for path, run in runs.items():
        results = run["results"]
        if "users" not in results:
            continue
        k = int(regex.fullmatch(path).group(1))
        users, hybrid = _per_query(results["users"], "rerank:"), _per_query(results["users"], "hybrid")
        rules = rules_of.get(run["args"]["seed"])
        queries = sorted(users)
        point = found.setdefault(k, {"reranker": [], "hybrid": [], "rules": []})
        point["reranker"] += [users[q] for q in queries]
        point["hybrid"] += [hybrid[q] for q in queries]
        if rules is not None:
            point["rules"] += [rules[q] for q in queries]
        point.setdefault("runs", []).append(Path(path).name)
    return dict(sorted(found.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("pattern", help="a glob with {k} where the expert's query count stands in the file name")
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    curve = points(args.pattern)
    print(
        f"{args.corpus}: k expert-graded log queries; means over {', '.join(str(len(p['runs'])) for p in curve.values())} runs"
    )
    print(f"{'k':>4} {'reranker':>9} {'hybrid':>7} {'Δ hybrid':>9} {'p':>7} {'rules':>7} {'Δ rules':>8} {'p':>7}")
    rows = []
    for k, p in curve.items():
        reranker, hybrid = np.array(p["reranker"]), np.array(p["hybrid"])
        line = f"{k:>4} {reranker.mean():9.3f} {hybrid.mean():7.3f} {reranker.mean() - hybrid.mean():+9.3f} {ttest_rel(reranker, hybrid).pvalue:7.3g}"
        rules = np.array(p["rules"]) if len(p["rules"]) == len(reranker) else None
        if rules is not None:
            line += (
                f" {rules.mean():7.3f} {reranker.mean() - rules.mean():+8.3f} {ttest_rel(reranker, rules).pvalue:7.3g}"
            )
        print(line)
        rows.append((k, reranker.mean(), hybrid.mean(), None if rules is None else rules.mean()))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(6, 3.8))
        ks = [k for k, *_ in rows]
        ax.plot(ks, [r for _, r, _, _ in rows], "o-", color="#2f6f9f", label="log + expert (reranker)")
        ax.axhline(
            np.mean([h for _, _, h, _ in rows]),
            color="#888888",
            linestyle="--",
            label="hybrid (MiniLM + BM25, no training)",
        )
        rules = [r for *_, r in rows if r is not None]
        if rules:
            ax.axhline(np.mean(rules), color="#c08a2b", linestyle=":", label="rules only (reranker)")
        ax.set_xlabel("log queries graded by the expert (top 10 candidates each)")
        ax.set_ylabel("test nDCG@10")
        ax.set_title(f"{args.corpus}: what an expert's grades on real queries buy")
        ax.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(args.plot, dpi=110)
        print(f"written to {args.plot}")


if __name__ == "__main__":
    main()
