"""Benchmark: queries per second through litellm to fake OpenAI servers on 127.0.0.1.

    python -m bench.generate_throughput [--delay 0.0] [--concurrency 1 8 32] [--servers 1] [--passages 282]

The servers answer at once (or after --delay seconds) from a separate process, so the figure
is Qurate's own overhead (litellm's client, the cache, DuckDB writes), not an LLM's speed.
``--servers N`` starts N servers and passes all their addresses as one run's API base: the
calls are spread by litellm's Router. Each run uses a fresh workspace: the sample corpus's
47 passages, or copies of them up to ``--passages``, six query types, one query each.
"""

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import ingest_files
from core.llm import LLMConfig
from core.prompts import QUERY_TYPES
from core.settings import SAMPLE_DIR
from storage.db import connect
from tests.fake_llm import FakeLLM, normal


def _serve(count: int, delay: float, urls, stop) -> None:
    servers = [FakeLLM(lambda body, nth: (*normal(body, nth)[:2], delay)).__enter__() for _ in range(count)]
    urls.put([s.url for s in servers])
    stop.wait()


def _corpus(con, passages: int) -> int:
    """The sample passages, copied with a number in their id and text until there are ``passages`` of them."""
    rows = [json.loads(line) for line in (SAMPLE_DIR / "passages.jsonl").read_text().splitlines()]
    lines = [
        json.dumps({**r, "_id": f"{r['_id']}-{n}", "text": f"{r['text']} ({n})"})
        for n in range(-(-passages // len(rows)))
        for r in rows
    ][:passages]
    return ingest_files(con, "bench", [("passages.jsonl", ("\n".join(lines) + "\n").encode())]).corpus_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds a fake server waits per answer")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--servers", type=int, default=1, help="fake servers behind one run (litellm's Router when > 1)"
    )
    parser.add_argument("--passages", type=int, default=200, help="passages to generate for (6 queries each)")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    import litellm  # imported once, outside the timings

    del litellm
    context = multiprocessing.get_context("fork")
    urls, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(args.servers, args.delay, urls, stop), daemon=True)
    server.start()
    api_base = ",".join(urls.get(timeout=30))
    try:
        for concurrency in args.concurrency:
            with tempfile.TemporaryDirectory() as folder:
                con = connect(Path(folder) / "bench.duckdb")
                corpus = _corpus(con, args.passages)
                config = LLMConfig(model="openai/gpt-4o-mini", api_base=api_base, concurrency=concurrency)
                settings = GenerationSettings(per_type={t: 1 for t in QUERY_TYPES}, llm=config)
                started = time.perf_counter()
                report = generate_queries(con, corpus, select_passages(con, corpus), settings)
                seconds = time.perf_counter() - started
                con.close()
            print(
                f"concurrency {concurrency:>3}, {args.servers} server(s): {report.made} queries in {seconds:.2f} s = "
                f"{report.made / seconds:,.1f} queries/s (server delay {args.delay * 1000:.0f} ms, {report.meter.failed} failed)",
                flush=True,
            )
    finally:
        stop.set()
        server.join(timeout=5)


if __name__ == "__main__":
    main()
