"""The command line: the same core functions as the pages, for large corpora and scripts.

    qurate ingest "My corpus" path/to/folder-or-file [--chunk-tokens 180 --overlap-tokens 30]
    qurate sample
    qurate corpora

The workspace is the one the app uses (QURATE_WORKSPACE). DuckDB lets one process write
a file at a time: stop the app before running a command on the same workspace.
"""

import argparse
import sys

from core.errors import QurateError
from core.ingest import IngestOptions, ingest_path, load_sample_corpus
from core.passages import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS
from core.readers import Fields
from core.settings import database_path
from storage import corpora
from storage.db import connect


def _progress():
    from tqdm import tqdm

    bar = tqdm(total=100, bar_format="{desc:<40} {percentage:3.0f}% |{bar}|")

    def update(fraction: float, message: str) -> None:
        bar.set_description(message[:40])
        bar.n = round(fraction * 100)
        bar.refresh()

    return update


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
