"""Plot a reproduce_paper result: nDCG@10 per system, and the training-size curve.

    python -m bench.plot_reproduce bench/results/reproduce-800-500-seed0.json docs/reranker-benchmark.png

Needs matplotlib (pip install -e ".[bench]").
"""

import json
import sys
from pathlib import Path


def plot(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table, curve = result["table"], {int(k): v for k, v in result.get("curve", {}).items()}
    baseline = next(r["ndcg@10"] for r in table if r["system"] == "dense (baseline)")
    fig, axes = plt.subplots(1, 2 if len(curve) > 1 else 1, figsize=(12 if len(curve) > 1 else 7, 4.5), squeeze=False)
    ax = axes[0][0]
    names = [r["system"] for r in table]
    colors = ["#2b7bba" if "fine-tuned" in n else "#999999" for n in names]
    ax.barh(names, [r["ndcg@10"] for r in table], color=colors)
    for i, r in enumerate(table):
        p = r["p_vs_baseline"]
        ax.text(r["ndcg@10"] + 0.005, i, f"{r['ndcg@10']:.3f}" + ("" if p is None else f"  (p={p:.2g})"), va="center", fontsize=8)
    ax.axvline(baseline, color="black", linestyle=":", linewidth=1)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("nDCG@10, reranking the same fused top 30")
    ax.set_title(f"MedQuAD, {result['args']['eval_questions']} held-out real questions")
    if len(curve) > 1:
        ax = axes[0][1]
        sizes = sorted(curve)
        ax.plot(sizes, [curve[n] for n in sizes], marker="o", label="LCE fine-tuned (offline queries)")
        ax.axhline(baseline, color="black", linestyle=":", label="baseline MiniLM")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.set_xlabel("training passages (one synthetic query each)")
        ax.set_ylabel("nDCG@10")
        ax.set_title("training-size curve")
        ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    plot(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
    print(f"written to {sys.argv[2]}")
