"""Benchmark: is one bench.quality run's model better than another's, query by query?

    python -m bench.compare bench/results/quality-medquad-v8.json bench/results/quality-medquad-v9.json

Two runs of ``bench.quality`` on one corpus rank the same test queries. For each model both trained (the reranker,
the retriever), this runs ``core.evaluate.paired`` (the paired t-test behind the Compare page and every
leaderboard) on the two models' nDCG@10 per query, which bench.quality writes into its JSON: B against A.
Differences between two configurations are smaller than their gains over the baseline, so they need their own
test rather than two baseline p-values read side by side.
"""

import argparse
import json
from pathlib import Path

from core.evaluate import paired
from core.systems import BASELINE


def per_query(run: dict, variant: str, system: str) -> dict[str, float]:
    row = next((r for r in run["results"][variant]["table"] if r["system"] == system), None)
    if row is None or "per_query" not in row:
        raise SystemExit(f"{system}: no per-query figures in this JSON (bench.quality writes them since 2026-11-26): run it again")
    return row["per_query"]


def compare(a: dict, b: dict) -> dict[str, dict]:
    """For each variant and model kind in both runs: the paired comparison of B's model against A's."""
    out = {}
    for variant in sorted(set(a["results"]) & set(b["results"])):
        if set(per_query(a, variant, BASELINE)) != set(per_query(b, variant, BASELINE)):
            raise SystemExit(f"{variant}: the two runs ranked different test queries; compare runs of one corpus and seed")
        models_a, models_b = a["results"][variant]["models"], b["results"][variant]["models"]
        for kind in sorted(set(models_a) & set(models_b)):
            result = paired(per_query(a, variant, models_a[kind]["system"]), per_query(b, variant, models_b[kind]["system"]))
            result.pop("per_query")
            out[f"{variant}/{kind}"] = result
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="bench.quality JSON of the first run")
    parser.add_argument("b", type=Path, help="bench.quality JSON of the run compared with it")
    args = parser.parse_args()
    for path in (args.a, args.b):
        if not path.is_file():
            raise SystemExit(f"{path}: no such file (bench.quality writes bench/results/quality-<corpus>-<name>.json)")
    a, b = (json.loads(path.read_text()) for path in (args.a, args.b))
    for key, r in compare(a, b).items():
        print(f"{key}: {r['mean_a']:.3f} -> {r['mean_b']:.3f} ({r['difference']:+.3f}, p {r['p_value']:.2g}, "
              f"{r['wins']}/{r['ties']}/{r['losses']} queries better/same/worse)")


if __name__ == "__main__":
    main()
