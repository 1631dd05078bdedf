"""Plot the quality benchmark: nDCG@10 by system, one panel per corpus (aggregate scores only).

python -m bench.plot_quality bench/results/quality-medquad.json bench/results/quality-cisi.json docs/quality-benchmark.png
"""

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    *inputs, output = argv
    results = [(Path(p).stem.removeprefix("quality-"), json.loads(Path(p).read_text())) for p in inputs]
    figure, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (name, result) in zip(axes[0], results):
        rows = [
            (
                f"{variant}: {r['label'].split(' (')[0]}"
                if r["system"].startswith(("rerank", "retrieve"))
                else r["label"],
                r["ndcg@10"],
                r["p_value"],
            )
            for variant, part in result["results"].items()
            for r in part["table"]
            if variant == "synthetic" or r["system"].startswith(("rerank", "retrieve"))
        ]
        labels = [label.replace("reranker", "LCE").replace("retriever", "distilled") for label, _, _ in rows]
        values = [v for _, v, _ in rows]
        colors = [
            "#888888"
            if not ("LCE" in label or "distilled" in label)
            else ("#c08a2b" if label.startswith("oracle") else "#2f6f9f")
            for label in labels
        ]
        ax.barh(labels[::-1], values[::-1], color=colors[::-1])
        for y, (value, (_, _, p)) in enumerate(zip(values[::-1], rows[::-1])):
            ax.text(
                value + 0.005, y, f"{value:.3f}" + (f" (p {p:.1g})" if p is not None else ""), va="center", fontsize=8
            )
        ax.set_xlim(0, 1.05)
        ax.set_title(f"{name}: nDCG@10, {result['results']['synthetic']['queries']} held-out queries")
    figure.tight_layout()
    figure.savefig(output, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1:])
