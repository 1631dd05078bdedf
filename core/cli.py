"""The command line: the same core functions as the pages, for large corpora and scripts.

    qurate ingest "My corpus" path/to/folder-or-file [--chunk-tokens 180 --overlap-tokens 30]
    qurate sample
    qurate corpora
    qurate generate "My corpus" [--types question=1,keywords=1] [--sample 800] [--model gpt-4o-mini]
    qurate mine "My corpus" [--k 30]
    qurate judge "My corpus" [--model gpt-4o-mini --mode listwise --top 20]

The workspace is the one the app uses (QURATE_WORKSPACE). DuckDB lets one process write
a file at a time: stop the app before running a command on the same workspace.
"""

import argparse
import sys

from core.embed import BUNDLED
from core.errors import NotFound, QurateError
from core.judge import JudgeSettings, judge_candidates
from core.mine import mine_candidates
from core.generate import GenerationSettings, generate_queries, select_passages
from core.llm import OFFLINE, LLMConfig
from core.prompts import QUERY_TYPES
from core.ingest import IngestOptions, ingest_path, load_sample_corpus
from core.passages import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS
from core.readers import Fields
from core.settings import database_path
from storage import corpora
from storage.db import connect
from storage.labels import training_counts


def _progress():
    from tqdm import tqdm

    bar = tqdm(total=100, bar_format="{desc:<40} {percentage:3.0f}% |{bar}|")

    def update(fraction: float, message: str) -> None:
        bar.set_description(message[:40])
        bar.n = round(fraction * 100)
        bar.refresh()

    return update


def _corpus(con, name: str) -> int:
    corpus = corpora.corpus_id(con, name)
    if corpus is None:
        raise NotFound(f"no corpus named {name!r}; see `qurate corpora`")
    return corpus


def _generate(con, args) -> int:
    corpus = _corpus(con, args.corpus)
    try:
        per_type = {name: int(count) for name, count in (item.split("=") for item in args.types.split(","))}
    except ValueError:
        raise ValueError(f"--types must look like question=1,keywords=2, got {args.types!r}") from None
    config = LLMConfig(model=args.model, api_base=args.api_base, concurrency=args.concurrency, budget_usd=args.budget)
    passages = select_passages(con, corpus, "sample" if args.sample else "all", args.sample or 0, args.seed)
    from tqdm import tqdm

    bar = tqdm(total=None, unit="query")

    def show(meter):
        bar.total = meter.planned
        bar.n = meter.done
        bar.set_postfix(failed=meter.failed, cached=meter.cached, cost=f"${meter.cost_usd:.4f}")
        bar.refresh()

    try:
        report = generate_queries(con, corpus, passages, GenerationSettings(per_type=per_type, llm=config), show)
    except KeyboardInterrupt:
        print("\ninterrupted: what was made is kept; run the same command again to resume", file=sys.stderr)
        return 130
    bar.close()
    print(f"{report.generator}: {report.made:,} queries made ({report.flagged:,} flagged), {report.skipped:,} already there, "
          f"{len(report.failures):,} failed, {report.seconds:.1f} s" + (f"; {report.meter.stopped}" if report.meter.stopped else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code (2 for a user error, with its message)."""
    parser = argparse.ArgumentParser(prog="qurate", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="ingest a file or folder (a BEIR folder too) into a corpus")
    ingest.add_argument("corpus")
    ingest.add_argument("path")
    ingest.add_argument("--chunk-tokens", type=int, default=DEFAULT_CHUNK_TOKENS)
    ingest.add_argument("--overlap-tokens", type=int, default=DEFAULT_OVERLAP_TOKENS)
    ingest.add_argument("--split-records", action="store_true")
    ingest.add_argument("--encoding")
    ingest.add_argument("--text-field")
    ingest.add_argument("--id-field")
    ingest.add_argument("--title-field")
    generate = commands.add_parser("generate", help="generate synthetic queries (offline unless --model)")
    generate.add_argument("corpus")
    generate.add_argument("--types", default="question=1,keywords=1", help="type=count,... of " + ",".join(QUERY_TYPES))
    generate.add_argument("--sample", type=int, help="a seeded random sample of this many passages (default: all)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--model", default=OFFLINE, help="a litellm model name; default: the offline generator")
    generate.add_argument("--api-base")
    generate.add_argument("--concurrency", type=int, default=8)
    generate.add_argument("--budget", type=float, help="stop before spending more USD than this")
    mine = commands.add_parser("mine", help="mine candidates (BM25 + dense, fused) for every kept query")
    mine.add_argument("corpus")
    mine.add_argument("--k", type=int, default=30)
    mine.add_argument("--model", default=BUNDLED, help="dense model: a sentence-transformers name or folder")
    judge = commands.add_parser("judge", help="label mined candidates (offline rule unless --model)")
    judge.add_argument("corpus")
    judge.add_argument("--model", default=OFFLINE)
    judge.add_argument("--api-base")
    judge.add_argument("--mode", choices=["pointwise", "listwise"], default="pointwise")
    judge.add_argument("--top", type=int, default=20, help="judge each query's top n candidates")
    judge.add_argument("--concurrency", type=int, default=8)
    judge.add_argument("--budget", type=float)
    commands.add_parser("sample", help="load the sample corpus")
    commands.add_parser("corpora", help="list the workspace's corpora")
    args = parser.parse_args(argv)

    con = connect(database_path())
    try:
        if args.command == "ingest":
            options = IngestOptions(
                args.chunk_tokens, args.overlap_tokens, args.split_records, args.encoding,
                Fields(args.text_field, args.id_field, args.title_field),
            )
            report = ingest_path(con, args.corpus, args.path, options, _progress())
        elif args.command == "generate":
            return _generate(con, args)
        elif args.command == "mine":
            report = mine_candidates(con, _corpus(con, args.corpus), args.k, args.model, progress=_progress())
            print(f"\n{report.candidates:,} candidates for {report.queries:,} queries ({report.seconds:.1f} s); source in top "
                  f"{args.k} for {report.source_in_top_k:,}; {report.flagged_round_trip:,} flagged 'not retrieved'")
            return 0
        elif args.command == "judge":
            config = LLMConfig(model=args.model, api_base=args.api_base, concurrency=args.concurrency, budget_usd=args.budget)
            report = judge_candidates(con, _corpus(con, args.corpus), JudgeSettings(args.mode, None, config, args.top))
            print(f"{report.judge}: {report.labelled:,} labelled, {report.failed:,} failed, {report.skipped:,} already judged ({report.seconds:.1f} s)")
            print(training_counts(con, _corpus(con, args.corpus)))
            return 0
        elif args.command == "sample":
            report = load_sample_corpus(con, _progress())
        else:
            print(corpora.list_corpora(con).to_string(index=False))
            return 0
    except (QurateError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"\n{report.n_passages:,} passages stored in {report.corpus_name!r} ({report.seconds:.1f} s), "
          f"{report.n_duplicates:,} duplicates skipped")
    if report.test_set:
        print(f"test set {report.test_set['name']!r}: {report.test_set['n_queries']:,} queries")
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
