"""Benchmark: what the size of ``core.embed.encode``'s calls costs in speed.

    python -m bench.embed_chunk [--texts 2048] [--chunks 1024 256 1024 256]

Each call's vectors are stored as it ends, so the chunk is what a killed run loses; a larger
one lets sentence-transformers sort more texts by length (less padding). MedQuAD's first
``--texts`` passages are encoded into a fresh in-memory workspace once per entry of
``--chunks`` (alternate them: the host's load drifts), after one warm-up call.
"""

import argparse
import json
import time
from pathlib import Path

from core import embed
from storage.db import connect

MEDQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "medquad" / "corpus.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1024, 256, 1024, 256])
    args = parser.parse_args()
    texts = []
    with MEDQUAD.open() as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(f"{record.get('title', '')}. {record['text']}")
            if len(texts) >= args.texts:
                break
    embed.encode(connect(":memory:"), texts[:32])  # load the model once
    for chunk in args.chunks:
        embed.CHUNK = chunk
        started = time.perf_counter()
        embed.encode(connect(":memory:"), texts)
        seconds = time.perf_counter() - started
        print(f"chunk {chunk}: {len(texts) / seconds:.1f} passages/s ({seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
