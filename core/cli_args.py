"""What the command line accepts: its commands, their arguments and defaults (core/cli.py runs them)."""

import argparse
import json

from core.embed import BUNDLED
from core.llm import OFFLINE, LLMConfig
from core.passages import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS
from core.prompts import QUERY_TYPES
from core.retrieve import FIRST_STAGE_K
from core.training.methods import METHODS, TUNE
from core.training.spec import DEFAULTS


def build_parser(description: str) -> argparse.ArgumentParser:
    """The ``qurate`` parser, every command with its arguments."""
    parser = argparse.ArgumentParser(prog="qurate", description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="ingest a file or folder (a BEIR folder too) into a corpus")
    ingest.add_argument("corpus")
    ingest.add_argument("path")
    ingest.add_argument(
        "--chunk-tokens",
        type=int,
        default=DEFAULT_CHUNK_TOKENS,
        help="passage size in tokens for documents that are split (default: %(default)s)",
    )
    ingest.add_argument(
        "--overlap-tokens",
        type=int,
        default=DEFAULT_OVERLAP_TOKENS,
        help="tokens shared by consecutive passages (default: %(default)s)",
    )
    ingest.add_argument(
        "--split-records",
        action="store_true",
        help="split long CSV/JSONL/BEIR records into passages too (they stay whole by default)",
    )
    ingest.add_argument("--encoding", help="text encoding of the files (default: detected; utf-8 first)")
    ingest.add_argument(
        "--text-field", help="the CSV column or JSON field holding the text (default: guessed, e.g. text)"
    )
    ingest.add_argument(
        "--id-field", help="the column or field holding a document id (default: guessed, else the row number)"
    )
    ingest.add_argument("--title-field", help="the column or field holding a title (optional)")
    queries = commands.add_parser(
        "queries", help="add your users' real queries (a search log, questions you answer) as training data"
    )
    queries.add_argument("action", choices=["add"])
    queries.add_argument("corpus")
    queries.add_argument("file", help=".txt (one query per line), .csv, .tsv or .jsonl with a query column")
    queries.add_argument(
        "--text-field", help="the column or field holding the query (default: query, text, question, ...)"
    )
    generate = commands.add_parser("generate", help="generate synthetic queries (offline unless --model)")
    generate.add_argument("corpus")
    generate.add_argument(
        "--types",
        help="type=count,... of " + ",".join(QUERY_TYPES) + "; default: questions and casual "
        "searches in turn offline (measured best, docs/BENCHMARKS.md), one of each type with an LLM",
    )
    generate.add_argument(
        "--in-turn",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="each passage gets one of the types, in turn over the passages, instead of all of them "
        "(default: on for the offline default types, off with --types or an LLM)",
    )
    generate.add_argument("--sample", type=int, help="a seeded random sample of this many passages (default: all)")
    generate.add_argument("--seed", type=int, default=0, help="seed of the --sample draw")
    _llm_arguments(generate, "the rules")
    generate.add_argument(
        "--timeout", type=float, default=60.0, help="seconds one LLM call may take (default: %(default)s)"
    )
    mine = commands.add_parser("mine", help="mine candidates (BM25 + dense, fused) for every kept query")
    mine.add_argument("corpus")
    mine.add_argument("--k", type=int, default=FIRST_STAGE_K, help="candidates kept per query (default: %(default)s)")
    mine.add_argument("--model", default=BUNDLED, help="dense model: a sentence-transformers name or folder")
    judge = commands.add_parser("judge", help="label mined candidates (offline rule unless --model)")
    judge.add_argument("corpus")
    _llm_arguments(judge, "the offline rule")
    judge.add_argument(
        "--mode",
        choices=["pointwise", "listwise"],
        default="pointwise",
        help="pointwise: one call per pair; listwise: one call per query's list",
    )
    judge.add_argument("--top", type=int, default=20, help="judge each query's top n candidates")
    train = commands.add_parser(
        "train", help="fine-tune a reranker or retriever on the labelled queries (waits; Ctrl-C detaches)"
    )
    train.add_argument("corpus")
    train.add_argument(
        "--method",
        default=DEFAULTS["method"],
        choices=list(METHODS),
        help="lce: reranker (LCE); distill: retriever (listwise distillation); see README",
    )
    train.add_argument(
        "--tune",
        default=DEFAULTS["tune"],
        choices=list(TUNE),
        help="query: train only the query encoder against the cached document vectors (fast on CPU); full: both",
    )
    train.add_argument(
        "--teacher",
        default=DEFAULTS["teacher"],
        help="distill only: ensemble (grades + dense + BM25, the default) or a model of the corpus, e.g. rerank:3 "
        "(`qurate jobs CORPUS` lists them): the grades plus its scores",
    )
    train.add_argument(
        "--epochs", type=float, help=f"passes over the training queries (default: {DEFAULTS['epochs']:g})"
    )
    train.add_argument(
        "--prepare-only",
        action="store_true",
        help="write the job folder (spec and data) and print the commands that run it, e.g. under "
        "`accelerate launch` on a GPU machine, instead of training here",
    )
    train.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: the epochs decide)")
    train.add_argument(
        "--spec", type=json.loads, default={}, help="other settings as JSON, e.g. '{\"learning_rate\": 5e-5}'"
    )
    jobs = commands.add_parser("jobs", help="list a corpus's training jobs and their models")
    jobs.add_argument("corpus")
    evaluate = commands.add_parser("evaluate", help="evaluate systems on a test set; prints the leaderboard")
    evaluate.add_argument("corpus")
    evaluate.add_argument("--test-set", type=int, help="test set id (default: the corpus's first)")
    evaluate.add_argument(
        "--systems",
        help="comma-separated: bm25, dense, fused, hybrid, rerank:ID, retrieve:ID (default: all; the baseline, dense, is always beside them)",
    )
    evaluate.add_argument("--k", type=int, default=FIRST_STAGE_K, help="the first-stage pool every system reorders")
    compare = commands.add_parser("compare", help="two systems' top 10 for a query, side by side")
    compare.add_argument("corpus")
    compare.add_argument("query")
    compare.add_argument(
        "--left",
        default="dense",
        help="the system on the left: bm25, dense, fused, hybrid, rerank:ID, retrieve:ID (default: %(default)s)",
    )
    compare.add_argument(
        "--right",
        default="hybrid",
        help="the system on the right, e.g. rerank:3 (see `qurate jobs`; default: %(default)s)",
    )
    compare.add_argument("--n", type=int, default=10, help="passages shown per side (default: %(default)s)")
    export = commands.add_parser(
        "export", help="export a model (zip), or the labelled data with its provenance (JSONL, HF, BEIR)"
    )
    export.add_argument("corpus")
    export.add_argument(
        "what",
        choices=["model", "data"],
        help="model: a zip of a fine-tuned model; data: the curated training set (JSONL, HF datasets, BEIR)",
    )
    export.add_argument("--model", type=int, help="the model id to export (see `qurate jobs`)")
    export.add_argument("--to", help="folder for the data export (default: qurate-export-<corpus id> here)")
    commands.add_parser("sample", help="load the sample corpus")
    commands.add_parser("corpora", help="list the workspace's corpora")
    return parser


def _llm_arguments(command: argparse.ArgumentParser, offline: str) -> None:
    """The options of a command that calls an LLM (generate, judge): which model, where, how many calls, what spend."""
    command.add_argument(
        "--model",
        default=OFFLINE,
        help="a litellm model name, or local (the bundled Gemma 3 270M: no key, no network); "
        f"default: {offline} (no model)",
    )
    command.add_argument(
        "--api-base",
        help="a self-hosted server's URL (vLLM, Ollama); several, comma-separated, share the calls; keys come from "
        "the environment",
    )
    command.add_argument(
        "--concurrency",
        type=int,
        default=LLMConfig.concurrency,
        help="LLM calls in flight at once (default: %(default)s)",
    )
    command.add_argument("--budget", type=float, help="stop before spending more USD than this")
    command.add_argument(
        "--base-model",
        action="store_true",
        help="the model is a base model, not instruction-tuned: few-shot completion prompts of one line instead of "
        "chat (local is one already)",
    )
