"""Benchmark: is one bench.quality configuration's model better than another's, query by query?

    python -m bench.compare bench/results/quality-medquad-v8.json bench/results/quality-medquad-v9.json
    python -m bench.compare 'bench/results/quality-cisi-v10p-seed*.json' 'bench/results/quality-cisi-ibu-seed*.json'

Runs of ``bench.quality`` on one corpus rank the same test queries. For each model both sides trained (the reranker,
the retriever), this runs ``core.evaluate.paired`` (the paired t-test behind the Compare page and every
leaderboard) on the two models' nDCG@10 per query, which bench.quality writes into its JSON: B against A.
Differences between two configurations are smaller than their gains over the baseline, so they need their own
test rather than two baseline p-values read side by side.

A side may be several runs (a quoted glob, or paths joined by commas): the same configuration trained with
different seeds. Each query's figure is then its mean over that side's runs, so the test weighs the
configuration rather than one draw of its training (on CISI two seeds of one configuration differ by up to
0.009 nDCG@10, as much as two configurations do).
"""

import argparse
import glob
import json
from pathlib import Path

from core.evaluate import paired
from core.systems import BASELINE


def per_query(run: dict, variant: str, system: str) -> dict[str, float]:
    row = next((r for r in run["results"][variant]["table"] if r["system"] == system), None)
    if row is None or "per_query" not in row:
        raise SystemExit(
            f"{system}: no per-query figures in this JSON (bench.quality writes them since 2026-11-26): run it again"
        )
    return row["per_query"]


def _mean_per_query(runs: list[dict], variant: str, kind: str | None) -> dict[str, float]:
    """Each query's nDCG@10 averaged over the runs: of the model of this kind, or (kind None) of the baseline."""
    figures = [
        per_query(run, variant, run["results"][variant]["models"][kind]["system"] if kind else BASELINE) for run in runs
    ]
    if any(set(f) != set(figures[0]) for f in figures):
        raise SystemExit(f"{variant}: the runs ranked different test queries; compare runs of one corpus and test set")
    return {q: sum(f[q] for f in figures) / len(figures) for q in figures[0]}


def compare(a: "dict | list[dict]", b: "dict | list[dict]") -> dict[str, dict]:
    """For each variant and model kind on both sides: the paired comparison of B's model against A's, each
    side one run or several (their per-query mean)."""
    a, b = ([a] if isinstance(a, dict) else a), ([b] if isinstance(b, dict) else b)
    out = {}
    for variant in sorted(set.intersection(*(set(run["results"]) for run in a + b))):
        if set(_mean_per_query(a, variant, None)) != set(_mean_per_query(b, variant, None)):
            raise SystemExit(
                f"{variant}: the two sides ranked different test queries; compare runs of one corpus and test set"
            )
        kinds = set.intersection(*(set(run["results"][variant]["models"]) for run in a + b))
        for kind in sorted(kinds):
            result = paired(_mean_per_query(a, variant, kind), _mean_per_query(b, variant, kind))
            result.pop("per_query")
            out[f"{variant}/{kind}"] = {**result, "runs_a": len(a), "runs_b": len(b)}
    return out


def _runs(spec: str) -> list[dict]:
    paths = [p for part in spec.split(",") for p in (sorted(glob.glob(part)) if glob.has_magic(part) else [part])]
    missing = [p for p in paths if not Path(p).is_file()]
    if not paths or missing:
        raise SystemExit(
            f"{', '.join(missing) or spec}: no such file (bench.quality writes bench/results/quality-<corpus>-<name>.json)"
        )
    return [json.loads(Path(p).read_text()) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="bench.quality JSON of the first configuration (several: a quoted glob or commas)")
    parser.add_argument("b", help="bench.quality JSON of the configuration compared with it (likewise)")
    args = parser.parse_args()
    for key, r in compare(_runs(args.a), _runs(args.b)).items():
        runs = (
            f", runs {r['runs_a']} and {r['runs_b']} averaged per query" if r["runs_a"] > 1 or r["runs_b"] > 1 else ""
        )
        print(
            f"{key}: {r['mean_a']:.3f} -> {r['mean_b']:.3f} ({r['difference']:+.3f}, p {r['p_value']:.2g}, "
            f"{r['wins']}/{r['ties']}/{r['losses']} queries better/same/worse{runs})"
        )


if __name__ == "__main__":
    main()
