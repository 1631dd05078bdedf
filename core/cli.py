"""The command line: the same core functions as the pages, for large corpora and scripts.

    qurate ingest "My corpus" path/to/folder-or-file [--chunk-tokens 180 --overlap-tokens 30]
    qurate sample
    qurate corpora
    qurate queries add "My corpus" users.txt [--text-field query]
    qurate generate "My corpus" [--types question=1,casual=1] [--no-in-turn] [--sample 800] [--model gpt-4o-mini]
    qurate mine "My corpus" [--k 30]
    qurate judge "My corpus" [--model gpt-4o-mini --mode listwise --top 20]
    qurate train "My corpus" [--method lce|distill|lce-cross-encoder|infonce] [--tune query|full] [--teacher rerank:ID] [--epochs 3] [--spec JSON] [--prepare-only]
    qurate jobs "My corpus"
    qurate evaluate "My corpus" [--test-set ID] [--systems bm25,fused,rerank:3] [--k 30]
    qurate compare "My corpus" "a query" [--left dense --right rerank:3]
    qurate export "My corpus" model|data [--model ID] [--to FOLDER]

Exit codes: 0 done, 1 a training job that failed or was cancelled, 2 a user error (with its
message), 130 interrupted.

The workspace is the one the app uses (QURATE_WORKSPACE). DuckDB lets one process open
a file at a time; the app and each command hold it only while they work, so they take turns
(a command that finds it busy for more than 5 s says which process holds it).
"""

import sys

from core.cli_args import build_parser
from core.errors import InvalidInput, NotFound, QurateError
from core.generate import GenerationSettings, default_in_turn, default_types, generate_queries, select_passages
from core.ingest import IngestOptions, ingest_path, load_sample_corpus
from core.judge import JudgeSettings, judge_candidates
from core.llm import LOCAL, LLMConfig
from core.mine import mine_candidates
from core.readers import Fields
from core.training.data import training_counts
from core.vocabulary import DONE, RUNNING
from core.workspace import corpus_id, held_workspace, list_corpora, open_workspace, test_sets


def _progress():
    from tqdm import tqdm

    bar = tqdm(total=100, bar_format="{desc:<40} {percentage:3.0f}% |{bar}|", disable=not sys.stderr.isatty())

    def update(fraction: float, message: str) -> None:
        bar.set_description(message[:40])
        bar.n = round(fraction * 100)
        bar.refresh()

    return update


def _corpus(con, name: str) -> int:
    """A corpus by its name, its id, or the start of its name (any case) when only one name starts so."""
    corpus = corpus_id(con, name)
    if corpus is not None:
        return corpus
    listed = list_corpora(con)
    if name.isdigit() and int(name) in set(listed["id"]):
        return int(name)
    starting = listed[listed["name"].str.lower().str.startswith(name.lower())]
    if len(starting) == 1:
        return int(starting["id"].iloc[0])
    names = ", ".join(repr(n) for n in (starting if len(starting) else listed)["name"])
    raise NotFound(
        f"{'several corpora start with' if len(starting) else 'no corpus named'} {name!r}"
        + (
            f" ({names}): give more of the name or its id; `qurate corpora` lists them"
            if names
            else "; the workspace has none yet: `qurate ingest NAME PATH` or `qurate sample`"
        )
    )


def _systems(con, corpus: int, names: list[str]) -> list:
    """The named systems, checked against the corpus's before any model loads.

    Raises:
        InvalidInput: a name that is no system, or no system of this corpus (the message lists those it has).
    """
    from core.systems import System, corpus_systems

    known = corpus_systems(con, corpus)
    chosen = []
    for name in names:
        system = System.parse(name.strip())
        if system not in known:
            raise InvalidInput(f"{name.strip()} is not a system of this corpus; it has {', '.join(map(str, known))}")
        chosen.append(system)
    return chosen


def _generate(con, args) -> int:
    corpus = _corpus(con, args.corpus)
    config = LLMConfig(
        model=args.model,
        api_base=args.api_base,
        concurrency=args.concurrency,
        budget_usd=args.budget,
        timeout_s=args.timeout,
        completion=args.base_model,
    )
    try:
        per_type = (
            {name: int(count) for name, count in (item.split("=") for item in args.types.split(","))}
            if args.types
            else default_types(config.offline or config.model == LOCAL)
        )
    except ValueError:
        raise InvalidInput(f"--types must look like question=1,keywords=2, got {args.types!r}") from None
    passages = select_passages(con, corpus, "sample" if args.sample else "all", args.sample or 0, args.seed)
    from tqdm import tqdm

    bar = tqdm(total=None, unit="query", disable=not sys.stderr.isatty())

    def show(meter):
        bar.total = meter.planned
        bar.n = meter.done
        bar.set_postfix(failed=meter.failed, cached=meter.cached, cost=f"${meter.cost_usd:.4f}")
        bar.refresh()

    try:
        in_turn = (
            (default_in_turn(config.offline or config.model == LOCAL) and not args.types)
            if args.in_turn is None
            else args.in_turn
        )
        report = generate_queries(
            con, corpus, passages, GenerationSettings(per_type=per_type, in_turn=in_turn, llm=config), show
        )
    except KeyboardInterrupt:
        print("\ninterrupted: what was made is kept; run the same command again to resume", file=sys.stderr)
        return 130
    bar.close()
    print(
        f"{report.generator}: {report.made:,} queries made ({report.flagged:,} flagged), {report.skipped:,} already there, "
        f"{len(report.failures):,} failed, {report.seconds:.1f} s"
        + (f"; {report.meter.stopped}" if report.meter.stopped else "")
    )
    if report.failures:
        print(
            f"first failure: {report.failures[0]['error']}; run the same command again to retry the failed ones",
            file=sys.stderr,
        )
    return 1 if report.failures and not report.made else 0


def _train(con, args) -> int:
    from core.training.jobs import launch_job, poll_job, prepare_job
    from core.training.spec import TrainSpec

    extra = TrainSpec.of(args.spec) and args.spec  # --spec must be a JSON object of valid settings
    spec = TrainSpec.of(
        {
            "method": args.method,
            "tune": args.tune,
            "teacher": args.teacher,
            **({"epochs": args.epochs} if args.epochs else {}),
            **extra,
            **({"max_steps": args.max_steps} if args.max_steps else {}),
        }
    )
    if args.prepare_only:
        job_id, folder = prepare_job(con, _corpus(con, args.corpus), spec)
        print(
            f"job {job_id} prepared in {folder}\nrun it here:         python -m core.training.run {folder}\n"
            f"or on several GPUs:  accelerate launch --multi_gpu --num_processes N -m core.training.run {folder}\n"
            f"(a folder copied to a GPU machine and back works too); then `qurate jobs {args.corpus!r}` records the model"
        )
        return 0
    job_id = launch_job(con, _corpus(con, args.corpus), spec)
    print(f"job {job_id}: {spec.method} ({spec.tune}) started; progress in {poll_job(con, job_id)['folder']}")
    from tqdm import tqdm

    bar = tqdm(total=None, unit="step", disable=not sys.stderr.isatty())  # no bar in logs and pipes
    con.close()  # the job runs in its own process: while it does, the app and other commands may use the workspace

    def poll():
        with held_workspace() as polling:
            return poll_job(polling, job_id)

    try:
        while (job := poll())["status"] == RUNNING:
            logs = [p for p in job["progress"] if "step" in p or "total_steps" in p]
            if logs:
                bar.total = logs[-1].get("total_steps") or bar.total
                bar.n = logs[-1].get("step", 0)
                bar.set_postfix({k: round(v, 4) for k, v in logs[-1].items() if k in ("loss", "eval_dev_ndcg@10")})
                bar.refresh()
            __import__("time").sleep(1)
    except KeyboardInterrupt:
        print(f"\nthe job keeps running in the background: `qurate jobs {args.corpus!r}` shows it", file=sys.stderr)
        return 130
    bar.close()
    if job["status"] != DONE:
        print(f"job {job_id} {job['status']}: {job['error'] or ''}; log: {job['folder']}/train.log", file=sys.stderr)
        return 1
    from core.training.jobs import get_model
    from core.training.result import TrainResult

    with held_workspace() as reading:
        measured = TrainResult.of(get_model(reading, job["model_id"])["metrics"])
    print(
        f"model {job['model_id']}: dev nDCG@10 {_figure(measured.baseline_dev_ndcg)} (baseline) -> "
        f"{_figure(measured.dev_ndcg)}"
        + ("; WORSE than its baseline on the dev split" if measured.worse_than_baseline else "")
    )
    print(f"evaluate it: qurate evaluate {args.corpus!r}")
    return 0


def _evaluate(con, args) -> int:
    from core.evaluate import evaluate
    from core.systems import corpus_systems

    corpus = _corpus(con, args.corpus)
    sets = test_sets(con, corpus)
    if sets.empty:
        raise NotFound(
            f"corpus {args.corpus!r} has no test set: ingest a BEIR folder, or add queries + qrels in the app"
        )
    test_set = args.test_set or int(sets["id"].iloc[0])
    systems = _systems(con, corpus, args.systems.split(",")) if args.systems else corpus_systems(con, corpus)
    board = evaluate(con, test_set, systems, args.k, _progress())
    print("\n" + board.text(systems if args.systems else None))
    return 0


def _compare(con, args) -> int:
    from core.evaluate import side_by_side
    from core.systems import System

    corpus = _corpus(con, args.corpus)
    _systems(con, corpus, [args.left, args.right])
    result = side_by_side(con, corpus, args.query, args.left, args.right, n=args.n)
    for side, system in (("left", args.left), ("right", args.right)):
        print(f"\n{System.parse(system).label(con)}")
        for row in result[side]:
            moved = row.get("moved")
            mark = "" if side == "left" else (" new" if moved is None else f" {moved:+d}")
            print(f"{row['rank']:>3}. {row['score']:.3f} {(row['title'] or row['passage_id'])[:60]}{mark}")
    return 0


def _export(con, args) -> int:
    from pathlib import Path

    corpus = _corpus(con, args.corpus)
    if args.what == "model":
        from core.training.jobs import export_model_zip

        if args.model is None:
            raise InvalidInput("name the model: --model ID (see `qurate jobs`)")
        print(export_model_zip(con, args.model, corpus))
        return 0
    from core.export import export_training_set

    folder = Path(args.to or f"qurate-export-{corpus}")
    paths = export_training_set(con, corpus, folder)
    print("\n".join(f"{k}: {v}" for k, v in paths.items()))
    return 0


def _queries(con, args) -> int:
    from pathlib import Path

    from core.userqueries import add_user_queries

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(
            f"no file at {args.file}; give a .txt (one query per line), .csv, .tsv or .jsonl of your users' queries"
        )
    report = add_user_queries(con, _corpus(con, args.corpus), path.name, path.read_bytes(), args.text_field)
    print(f"{report.added:,} users' queries stored, {report.duplicates:,} already there or repeated")
    if report.in_test_set:
        print(
            f"{len(report.in_test_set):,} refused: a test set of this corpus holds the same text, and a model trained on a "
            f"test query would be judged on what it learnt (first: {report.in_test_set[0]!r})"
        )
    print(
        'next: `qurate mine`, then an expert grades them (Labels & review, queue "your users\' queries") or an LLM judges them'
    )
    return 0


def _figure(value) -> str:
    """A metric as people read it: three decimals, or "-" when there is none."""
    return "-" if value is None else f"{value:.3f}"


def _jobs(con, args) -> int:
    from core.training.jobs import list_jobs

    jobs = list_jobs(con, _corpus(con, args.corpus))
    if not jobs:
        print(f"no training jobs for {args.corpus!r} yet; start one with `qurate train {args.corpus!r}`")
    for job in jobs:
        print(
            f"job {job['id']}: {job['spec']['method']} {job['status']}"
            + (f", model {job['model_id']}" if job["model_id"] else "")
            + (f", {job['error']}" if job["error"] else "")
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code (2 for a user error, with its message)."""
    args = build_parser(__doc__.split("\n\n")[0]).parse_args(argv)

    try:
        con = open_workspace()
    except QurateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if args.command == "ingest":
            options = IngestOptions(
                args.chunk_tokens,
                args.overlap_tokens,
                args.split_records,
                args.encoding,
                Fields(args.text_field, args.id_field, args.title_field),
            )
            report = ingest_path(con, args.corpus, args.path, options, _progress())
        elif args.command == "generate":
            return _generate(con, args)
        elif args.command == "mine":
            report = mine_candidates(con, _corpus(con, args.corpus), args.k, args.model, progress=_progress())
            print(
                f"\n{report.candidates:,} candidates for {report.queries:,} queries ({report.seconds:.1f} s); source in top "
                f"{args.k} for {report.source_in_top_k:,}; {report.flagged_round_trip:,} flagged 'not retrieved'"
            )
            return 0
        elif args.command == "judge":
            config = LLMConfig(
                model=args.model,
                api_base=args.api_base,
                concurrency=args.concurrency,
                budget_usd=args.budget,
                completion=args.base_model,
            )
            report = judge_candidates(con, _corpus(con, args.corpus), JudgeSettings(args.mode, None, config, args.top))
            if not report.pairs:
                raise InvalidInput("nothing to judge: no query has mined candidates yet; run `qurate mine` first")
            print(
                f"{report.judge}: {report.labelled:,} labelled, {report.failed:,} failed, {report.skipped:,} already judged ({report.seconds:.1f} s)"
            )
            counts = training_counts(con, _corpus(con, args.corpus))
            print(", ".join(f"{name.replace('_', ' ')} {value:,}" for name, value in counts.items()))
            return 0
        elif args.command in ("queries", "train", "jobs", "evaluate", "compare", "export"):
            return {
                "queries": _queries,
                "train": _train,
                "jobs": _jobs,
                "evaluate": _evaluate,
                "compare": _compare,
                "export": _export,
            }[args.command](con, args)
        elif args.command == "sample":
            report = load_sample_corpus(con, _progress())
        else:
            print(list_corpora(con).to_string(index=False))
            return 0
    except QurateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"\n{report.n_passages:,} passages stored in {report.corpus_name!r} ({report.seconds:.1f} s), "
        f"{report.n_duplicates:,} duplicates skipped"
    )
    if report.test_set:
        print(f"test set {report.test_set['name']!r}: {report.test_set['n_queries']:,} queries")
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
