"""Show what the offline generator writes: 20 seeded random passages per corpus, one query of
each type in turn, next to the start of the passage.

    python -m bench.offline_samples [--corpus sample,medquad,cisi] [--n 20] > docs/offline-queries.md

Reads the bundled sample corpus and the BEIR corpora under ../shared/data; builds the generator over the whole corpus (its
statistics are corpus-wide), exactly as ``core.generate`` does.
"""

import argparse
import json
import random
from pathlib import Path

from bench import DATA
from core.ingest import SAMPLE_DIR
from core.offline import NAME, OfflineGenerator
from core.prompts import QUERY_TYPES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="sample,medquad,cisi")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"# Offline queries, as generated\n\nGenerator: {NAME}. Made with `python -m bench.offline_samples > "
        "docs/offline-queries.md`: for each corpus, 20 seeded random passages, one query each, the six types in turn. "
        "Nothing is picked by hand; the Queries page gives a passage whose type makes none its next type's query instead. Passages are cut to their first 160 characters.\n"
    )
    for name in args.corpus.split(","):
        path = SAMPLE_DIR / "passages.jsonl" if name == "sample" else args.data / name / "corpus.jsonl"
        rows = [json.loads(line) for line in path.open()]
        generator = OfflineGenerator(
            [f"{r.get('title', '')}. {r['text']}" for r in rows], [r.get("title", "") for r in rows]
        )
        ordered = sorted(rows, key=lambda r: r["_id"])  # the corpus's order, as storage.corpora.title_openers reads it
        titles = [r.get("title", "").strip().lower() for r in ordered]
        opens = {r["_id"] for r, title, before in zip(ordered, titles, [None, *titles]) if title != before}
        print(f"## {name}\n\n| type | query | passage (title: start of text) |\n|---|---|---|")
        for index, row in enumerate(random.Random(args.seed).sample(rows, args.n)):
            qtype = QUERY_TYPES[index % len(QUERY_TYPES)]
            query = generator.make(row.get("title", ""), row["text"], qtype, opens=row["_id"] in opens)
            excerpt = " ".join(row["text"].split())[:160].replace("|", "/")
            query = query.replace("|", "/") or "*(none: no rule made one that reads)*"
            print(f"| {qtype} | {query} | **{row.get('title', '').replace('|', '/')}**: {excerpt}… |")
        print()


if __name__ == "__main__":
    main()
