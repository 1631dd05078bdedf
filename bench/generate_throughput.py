"""Benchmark: queries per second through litellm to a fake OpenAI server on 127.0.0.1.

    python -m bench.generate_throughput [--delay 0.0] [--concurrency 1 8 32]

The server answers at once (or after --delay seconds), so the figure is Qurate's own
overhead (litellm's client, the cache, DuckDB writes), not an LLM's speed. Each run uses
a fresh workspace: the sample corpus, six query types, one query each (282 calls).
"""

import argparse
import os
import tempfile
from pathlib import Path

from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import load_sample_corpus
from core.llm import LLMConfig
from core.prompts import QUERY_TYPES
from storage.db import connect
from tests.fake_llm import FakeLLM, normal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds the fake server waits per answer")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    behaviour = lambda body, nth: (*normal(body, nth)[:2], args.delay)  # noqa: E731
    import litellm  # imported once, outside the timings

    del litellm
    for concurrency in args.concurrency:
        with tempfile.TemporaryDirectory() as folder, FakeLLM(behaviour) as fake:
            con = connect(Path(folder) / "bench.duckdb")
            corpus = load_sample_corpus(con).corpus_id
            config = LLMConfig(model="openai/gpt-4o-mini", api_base=fake.url, concurrency=concurrency)
            settings = GenerationSettings(per_type={t: 1 for t in QUERY_TYPES}, llm=config)
            report = generate_queries(con, corpus, select_passages(con, corpus), settings)
            con.close()
        rate = report.made / report.seconds
        print(f"concurrency {concurrency:>3}: {report.made} queries in {report.seconds:.2f} s = {rate:,.1f} queries/s "
              f"(server delay {args.delay * 1000:.0f} ms, {len(fake.calls)} calls)")


if __name__ == "__main__":
    main()
