"""Benchmark: how fast Qurate encodes passages on this machine, against plain sentence-transformers.

    python -m bench.encode_speed [--corpus medquad] [--texts 2000] [--batches 256 512] [--ndcg] [--whole]

Speed: the same texts (the corpus's first ``--texts`` passages), the same bundled model and
max length, on the device Qurate picks (a GPU where there is one), encoded by plain
sentence-transformers (float32, its default batch of 32), by float32 at Qurate's batch for
the device, and by Qurate's encoder as this machine chooses it (``core.embed.load_encoder``:
bf16 where the CPU has it natively; ``QURATE_PRECISION=bf16`` asks for it on a GPU), then
at each of ``--batches``. Prints passages/s, the ratios and the cosine agreement of the vectors.

``--whole``: instead, the whole corpus as a user's job encodes it: plain sentence-transformers
on every text, then ``core.embed.encode`` into a fresh workspace (chunks of ``core.embed.CHUNK`` texts, the
vectors stored in DuckDB as they come, all of it counted).

``--ndcg``: the ranking effect of the precision, end to end through the product's evaluation:
the corpus ingested into two fresh workspaces, one with QURATE_PRECISION=fp32 and one with
bf16, its 500 seeded real test queries (the sample bench.quality uses), and
``core.evaluate.evaluate`` for the baseline, BM25 and fusion in each.
"""

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import DATA, machine
from core import embed


def speed(texts: list[str], batches: list[int]) -> dict:
    from sentence_transformers import SentenceTransformer

    ours = embed.load_encoder()
    plain = SentenceTransformer(embed.resolve_model(embed.BUNDLED), device=str(ours.model.device))
    timings, vectors = {}, {}
    runs = [
        ("sentence-transformers fp32, batch 32", lambda: plain.encode(texts, normalize_embeddings=True)),
        (
            f"fp32, batch {ours.batch_size}",
            lambda: plain.encode(texts, batch_size=ours.batch_size, normalize_embeddings=True),
        ),
        (f"Qurate ({ours.precision}, batch {ours.batch_size})", lambda: ours.encode(texts)),
    ]
    for batch in batches:
        runs.append(
            (
                f"{ours.precision}, batch {batch}",
                lambda b=batch: embed.Encoder(ours.model, ours.precision, b).encode(texts),
            )
        )
    plain.encode(texts[:16])  # both warmed up: the first call pays one-off costs
    ours.encode(texts[:16])
    for label, run in runs:
        started = time.perf_counter()
        vectors[label] = run()
        timings[label] = len(texts) / (time.perf_counter() - started)
    reference = vectors[runs[0][0]]
    rows = []
    for label, _ in runs:
        cosine = (reference * vectors[label]).sum(axis=1)
        rows.append(
            {
                "run": label,
                "passages_per_s": round(timings[label], 1),
                "ratio": round(timings[label] / timings[runs[0][0]], 2),
                "cosine_min": round(float(cosine.min()), 4),
                "cosine_mean": round(float(cosine.mean()), 5),
            }
        )
    return {"texts": len(texts), "max_seq_length": plain.max_seq_length, "device": str(ours.model.device), "rows": rows}


def whole(texts: list[str]) -> dict:
    """Seconds to encode every text: plain sentence-transformers, and a job's ``core.embed.encode``."""
    from sentence_transformers import SentenceTransformer

    from storage.db import connect

    plain = SentenceTransformer(embed.resolve_model(embed.BUNDLED), device="cpu")
    plain.encode(texts[:16])
    started = time.perf_counter()
    plain.encode(texts, normalize_embeddings=True)
    seconds = {"sentence-transformers fp32, batch 32": time.perf_counter() - started}
    ours = embed.load_encoder()
    ours.encode(texts[:16])
    with tempfile.TemporaryDirectory() as workspace:
        con = connect(Path(workspace) / "qurate.duckdb")
        started = time.perf_counter()
        embed.encode(con, texts)
        seconds[f"Qurate's encode ({ours.precision}, batch {ours.batch_size}, stored)"] = time.perf_counter() - started
        con.close()
    base = seconds["sentence-transformers fp32, batch 32"]
    return {
        "texts": len(texts),
        "rows": [
            {"run": label, "seconds": round(s), "passages_per_s": round(len(texts) / s, 1), "ratio": round(base / s, 2)}
            for label, s in seconds.items()
        ],
    }


def ndcg(folder: Path, name: str, eval_queries: int, seed: int) -> dict:
    from bench.quality import _beir, _test_set
    from core.evaluate import evaluate
    from core.ingest import IngestOptions, ingest_path
    from storage.db import connect

    queries, qrels = _beir(folder)
    judged = sorted(q for q in queries if q in qrels)
    ids = sorted(random.Random(seed).sample(judged, min(eval_queries, len(judged))))
    out = {}
    for precision in ("fp32", "bf16"):
        os.environ[embed.PRECISION_ENV] = precision
        with tempfile.TemporaryDirectory() as workspace:
            con = connect(Path(workspace) / "qurate.duckdb")
            corpus = ingest_path(con, name, folder / "corpus.jsonl", IngestOptions()).corpus_id
            test_set = _test_set(con, corpus, queries, qrels, ids)
            started = time.perf_counter()
            board = evaluate(con, test_set, ["bm25", "fused"])
            out[precision] = {
                "seconds": round(time.perf_counter() - started),
                "pool_recall": board.pool_recall,
                **{r.system: {m: round(v, 4) for m, v in r.metrics.items()} for r in board.rows},
            }
            con.close()
        print(precision, json.dumps(out[precision]), flush=True)
    os.environ.pop(embed.PRECISION_ENV)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="medquad", help="a BEIR folder's name under --data")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument(
        "--batches", type=int, nargs="*", default=[], help="also time Qurate's encoder at these batch sizes"
    )
    parser.add_argument(
        "--ndcg", action="store_true", help="also evaluate the baseline with fp32 and with bf16 vectors"
    )
    parser.add_argument("--whole", action="store_true", help="instead: the whole corpus, as a job encodes it")
    parser.add_argument("--eval-queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = args.data / args.corpus
    texts = [json.loads(line)["text"] for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    result = {"corpus": args.corpus, "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    if args.whole:
        result["whole"] = whole(texts)
        for row in result["whole"]["rows"]:
            print(
                f"{row['run']:<42} {row['seconds']:>6} s {row['passages_per_s']:>7.1f} passages/s  x{row['ratio']}",
                flush=True,
            )
    else:
        result["speed"] = speed(texts[: args.texts], args.batches)
        for row in result["speed"]["rows"]:
            print(
                f"{row['run']:<42} {row['passages_per_s']:>7.1f} passages/s  x{row['ratio']:<5} "
                f"cosine min {row['cosine_min']} mean {row['cosine_mean']}",
                flush=True,
            )
        if args.ndcg:
            result["ndcg"] = ndcg(folder, args.corpus, args.eval_queries, args.seed)
    out = Path("bench/results") / f"encode-{args.corpus}{'-whole' if args.whole else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
