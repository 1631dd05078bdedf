"""Corpus ingest: uploaded files (or a folder) to passages in the workspace, all or nothing.

Everything is read and checked in memory first; only then are the passages, the file
records and any held-out test set written, in one transaction. A failed upload leaves
the database exactly as it was.
"""

import io
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import duckdb

from core import readers
from core.errors import BadUpload, InvalidInput
from core.passages import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS, Document, Passage, check_sizes, make_passages
from core.settings import SAMPLE_DIR, max_upload_bytes
from core.vocabulary import count_of
from storage import corpora
from storage.corpora import corpus_summary, ingested_files, one_at_a_time, passage_lengths, search_passages  # noqa: F401  (pages)
from storage.db import transaction

Progress = Callable[[float, str], None]
SAMPLE_NAME = "Sample: home bicycle maintenance"
_MAX_RATIO = 200  # a zip (or a member of it) that unpacks to more than 200x its packed size is refused


@dataclass
class IngestOptions:
    """How files become passages.

    Documents from .txt/.md/.pdf files are split into windows of ``chunk_tokens`` with
    ``overlap_tokens`` of overlap. Records from CSV/TSV/JSONL/BEIR are usually passages
    already and stay whole unless ``split_records``.
    """

    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS
    split_records: bool = False
    encoding: str | None = None
    fields: readers.Fields = field(default_factory=readers.Fields)


@dataclass
class IngestReport:
    """What an ingest stored, for the page and the command line to show."""

    corpus_id: int
    corpus_name: str
    files: list[dict]
    n_documents: int
    n_passages: int
    n_duplicates: int
    test_set: dict | None
    warnings: list[str]
    seconds: float


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MB" if n_bytes < 10 * 2**20 else f"{n_bytes / 2**20:.0f} MB"


def expand_zip(name: str, data: bytes, limit: int) -> list[tuple[str, bytes]]:
    """The files inside a zip, checked for unsafe names and for zip bombs.

    Raises:
        BadUpload: not a zip, a member with an absolute or '..' path, or content that
            unpacks beyond ``limit`` bytes or at a suspicious ratio.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BadUpload("is not a valid zip file; re-create it and upload again", filename=name) from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:
        path = PurePosixPath(member.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
            raise BadUpload(
                f"contains an unsafe path {member.filename!r}; re-create the zip with relative paths only",
                filename=name,
            )
    total = sum(m.file_size for m in members)
    if total > limit:
        raise BadUpload(
            f"unpacks to {_mb(total)}, above the limit of {_mb(limit)}; split it into smaller zips", filename=name
        )
    for member in members:
        if member.file_size > 1_000_000 and member.file_size > _MAX_RATIO * max(member.compress_size, 1):
            raise BadUpload(
                f"member {member.filename!r} unpacks at a ratio above {_MAX_RATIO}:1 (a zip bomb?); it was not read",
                filename=name,
            )
    if total > 1_000_000 and total > _MAX_RATIO * len(data):  # many small members can add up to a bomb too
        raise BadUpload(
            f"unpacks to {_mb(total)} from {_mb(len(data))}, a ratio above {_MAX_RATIO}:1 (a zip bomb?); "
            "nothing was read. Upload the files themselves, or a zip of ordinary documents",
            filename=name,
        )
    entries, unpacked = [], 0
    for member in members:
        try:
            with archive.open(member) as handle:
                content = handle.read(limit - unpacked + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            raise BadUpload(
                f"member {member.filename!r} cannot be unpacked ({err}); the zip is damaged or uses an "
                "unsupported method: re-create it and upload again",
                filename=name,
            ) from None
        unpacked += len(content)
        if unpacked > limit:
            raise BadUpload(
                f"unpacks to more than the limit of {_mb(limit)}; split it into smaller zips", filename=name
            )
        parts = PurePosixPath(member.filename.replace("\\", "/")).parts
        if parts[0] == "__MACOSX" or parts[-1].startswith("."):
            continue
        entries.append((f"{name}/{member.filename}", content))
    return entries


def _find_beir(entries: dict[str, bytes]) -> tuple[str, str | None, str | None] | None:
    """(corpus, queries, qrels) names when the files form a BEIR dataset, else None."""
    corpus = next((n for n in sorted(entries) if n.rsplit("/", 1)[-1] == "corpus.jsonl"), None)
    if corpus is None:
        return None
    folder = corpus.rsplit("/", 1)[0] + "/" if "/" in corpus else ""
    queries = folder + "queries.jsonl" if folder + "queries.jsonl" in entries else None
    qrels = next(
        (folder + f"qrels/{split}.tsv" for split in ("test", "dev") if folder + f"qrels/{split}.tsv" in entries), None
    )
    return corpus, queries, qrels


@dataclass
class _Parsed:
    documents: list[tuple[Document, bool]] = field(default_factory=list)  # (document, split it?)
    files: list[dict] = field(default_factory=list)
    test: tuple[str, readers.TestData] | None = None
    warnings: list[str] = field(default_factory=list)


def _read_entries(entries: list[tuple[str, bytes]], options: IngestOptions, progress: Progress) -> _Parsed:
    parsed = _Parsed()
    by_name = dict(entries)
    beir = _find_beir(by_name)
    if beir:
        corpus_name, queries_name, qrels_name = beir
        documents = readers.read_jsonl(corpus_name, by_name[corpus_name], readers.Fields(), options.encoding)
        parsed.documents += [(d, options.split_records) for d in documents]
        parsed.files.append(
            {
                "filename": corpus_name,
                "kind": "beir",
                "n_bytes": len(by_name[corpus_name]),
                "n_documents": len(documents),
            }
        )
        if queries_name and qrels_name:
            test = readers.read_beir_test(queries_name, by_name[queries_name], qrels_name, by_name[qrels_name])
            parsed.test = (corpus_name.rsplit("/", 2)[-2] if "/" in corpus_name else "beir", test)
        elif queries_name or qrels_name:
            parsed.warnings.append("found queries.jsonl or qrels but not both; no test set was made")
        others = [n for n in by_name if n not in beir and "/qrels/" not in f"/{n}"]
        if others:
            parsed.warnings.append(
                f"read as a BEIR dataset; {len(others)} other files were skipped ({', '.join(others[:3])})"
            )
        return parsed
    for index, (name, data) in enumerate(entries):
        progress(0.6 * index / max(len(entries), 1), f"reading {name}")
        kind = readers.kind_of(name)
        if kind == "zip":
            parsed.warnings.append(f"skipped {name}: a zip inside a zip is not opened (unzip it and upload its files)")
            continue
        if kind is None:
            parsed.warnings.append(
                f"skipped {name}: not a supported type ({', '.join(k for k in readers.SUPPORTED if k != '.zip')})"
            )
            continue
        if kind in ("txt", "md"):
            documents, split = readers.read_text(name, data, options.encoding), True
        elif kind == "pdf":
            documents, split = readers.read_pdf(name, data), True
        elif kind == "jsonl":
            documents, split = readers.read_jsonl(name, data, options.fields, options.encoding), options.split_records
        else:
            documents, split = readers.read_table(name, data, options.fields, options.encoding), options.split_records
        parsed.documents += [(d, split) for d in documents]
        parsed.files.append({"filename": name, "kind": kind, "n_bytes": len(data), "n_documents": len(documents)})
    return parsed


def unpack_upload(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Check the uploaded files' sizes and types and open zips; raises BadUpload on the first bad one."""
    limit = max_upload_bytes()
    if not files:
        raise BadUpload("no files were given; upload at least one file")
    entries: list[tuple[str, bytes]] = []
    for name, data in files:
        if len(data) > limit:
            raise BadUpload(
                f"is {_mb(len(data))}, above the limit of {_mb(limit)}; split it, or raise QURATE_MAX_UPLOAD_MB (for the app, server.maxUploadSize in .streamlit/config.toml too)",
                filename=name,
            )
        if readers.kind_of(name) is None:
            raise BadUpload(f"is not a supported type; upload one of {', '.join(readers.SUPPORTED)}", filename=name)
        entries += expand_zip(name, data, limit) if readers.kind_of(name) == "zip" else [(name, data)]
    return entries


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    corpus_name: str,
    files: list[tuple[str, bytes]],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Read uploaded files into a corpus (created if new, added to if it exists).

    Args:
        con: the workspace database.
        corpus_name: the corpus to create or add to.
        files: (file name, content) pairs: .txt, .md, .pdf, .csv, .tsv, .jsonl, or .zip of
            those; a zip (or folder) holding a BEIR dataset also yields a held-out test set.
        options: splitting, encoding and column choices.
        progress: called with (fraction done, message).

    Returns:
        An IngestReport of what was stored.

    Raises:
        BadUpload: a file cannot be read; nothing is stored.
        ValueError: bad options (empty name, impossible passage size).

    Example:
        >>> ingest_files(con, "notes", [("a.txt", b"Chains need oil.")]).n_passages  # doctest: +SKIP
        1
    """
    return _store(con, corpus_name, unpack_upload(files), options, progress)


@one_at_a_time("storing an upload")
def _store(con, corpus_name, entries, options, progress) -> IngestReport:
    options = options or IngestOptions()
    progress = progress or (lambda fraction, message: None)
    corpus_name = corpus_name.strip()
    if not corpus_name:
        raise InvalidInput("give the corpus a name")
    check_sizes(options.chunk_tokens, options.overlap_tokens)
    started = time.perf_counter()
    parsed = _read_entries(entries, options, progress)

    progress(0.6, "splitting into passages")
    corpus_id = corpora.corpus_id(con, corpus_name)
    seen_hashes = corpora.passage_hashes(con, corpus_id) if corpus_id else set()
    seen_ids = corpora.passage_ids(con, corpus_id) if corpus_id else set()
    passages: list[Passage] = []
    per_file: dict[str, int] = {}
    duplicates = 0
    copied_docs: set[str] = set()  # documents a passage of which repeats a kept one's text
    for document, split in parsed.documents:
        for passage in make_passages(
            document, split=split, chunk_tokens=options.chunk_tokens, overlap_tokens=options.overlap_tokens
        ):
            if passage.text_hash in seen_hashes:
                duplicates += 1
                copied_docs.add(passage.doc_id)
                continue
            if passage.passage_id in seen_ids:
                raise BadUpload(
                    f"id {passage.passage_id!r} is used twice with different text; ids must be unique "
                    "(pick no id column to let Qurate number the records)",
                    filename=document.source,
                )
            seen_hashes.add(passage.text_hash)
            seen_ids.add(passage.passage_id)
            passages.append(passage)
            per_file[document.source] = per_file.get(document.source, 0) + 1
    if not passages and not duplicates:
        skipped = f" ({'; '.join(parsed.warnings[:5])})" if parsed.warnings else ""
        raise BadUpload(f"no text was found in the upload{skipped}; check the text column or the files' content")

    progress(0.8, f"storing {len(passages):,} passages")
    settings = {
        "chunk_tokens": options.chunk_tokens,
        "overlap_tokens": options.overlap_tokens,
        "split_records": options.split_records,
    }
    test_summary = None
    with transaction(con):
        corpus_id = corpus_id or corpora.create_corpus(con, corpus_name, settings)
        corpora.insert_passages(con, corpus_id, passages)
        for info in parsed.files:
            info["n_passages"] = per_file.get(info["filename"], 0)
        corpora.record_files(
            con, corpus_id, [info for info in parsed.files if info["n_passages"]]
        )  # not files of duplicates only
        if parsed.test:
            name, test = parsed.test
            test_summary = corpora.create_test_set(con, corpus_id, name, "beir", test.queries, test.qrels)
    if test_summary and test_summary["n_missing_docs"]:
        judged = {doc for judgments in parsed.test[1].qrels.values() for doc in judgments}
        copies = len(judged & copied_docs - {p.doc_id for p in passages})
        parsed.warnings.append(
            f"{count_of(test_summary['n_missing_docs'], 'judged document')} of the test set "
            f"{'is' if test_summary['n_missing_docs'] == 1 else 'are'} not in the corpus"
            + (
                f" ({copies:,} repeat{'s' if copies == 1 else ''} the text of a document kept, so "
                f"{'it was' if copies == 1 else 'they were'} skipped as duplicates)"
                if copies
                else ""
            )
            + ": every system counts them as never retrieved, so the comparison stays fair"
        )
    progress(1.0, "done")
    return IngestReport(
        corpus_id,
        corpus_name,
        parsed.files,
        len(parsed.documents),
        len(passages),
        duplicates,
        test_summary,
        parsed.warnings,
        time.perf_counter() - started,
    )


def ingest_path(
    con: duckdb.DuckDBPyConnection,
    corpus_name: str,
    path: str | Path,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest a file, or every supported file under a folder (a BEIR folder included)."""
    path = Path(path)
    if not path.exists():
        raise BadUpload(f"{path} does not exist; give a file or a folder")
    if path.is_file():
        return ingest_files(con, corpus_name, [(path.name, path.read_bytes())], options, progress)
    limit = max_upload_bytes()
    entries = []
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            if file.stat().st_size > limit:
                raise BadUpload(
                    f"is above the limit of {_mb(limit)}; split it, or raise QURATE_MAX_UPLOAD_MB (for the app, server.maxUploadSize in .streamlit/config.toml too)",
                    filename=str(relative),
                )
            entries.append((f"{path.name}/{relative.as_posix()}", file.read_bytes()))
    return _store(con, corpus_name, entries, options, progress)


def sample_size() -> tuple[int, int]:
    """The sample corpus's passages and test questions, counted off its files."""
    return tuple(sum(1 for _ in (SAMPLE_DIR / name).open()) for name in ("passages.jsonl", "queries.jsonl"))


def load_sample_corpus(con: duckdb.DuckDBPyConnection, progress: Progress | None = None) -> IngestReport:
    """Load the small sample corpus that ships with Qurate, with its test questions.

    The files are a BEIR dataset; the passages file is stored as passages.jsonl (so it is
    not mistaken for a copy of a shared data set) and read as the BEIR corpus.jsonl.
    """
    entries = [
        ("sample/corpus.jsonl", (SAMPLE_DIR / "passages.jsonl").read_bytes()),
        ("sample/queries.jsonl", (SAMPLE_DIR / "queries.jsonl").read_bytes()),
        ("sample/qrels/test.tsv", (SAMPLE_DIR / "qrels" / "test.tsv").read_bytes()),
    ]
    return _store(con, SAMPLE_NAME, entries, None, progress)


@one_at_a_time("adding a test set")
def add_test_set(
    con: duckdb.DuckDBPyConnection, corpus: int, name: str, queries: tuple[str, bytes], qrels: tuple[str, bytes]
) -> dict:
    """Add held-out test queries (BEIR queries.jsonl) and their qrels (TSV) to an existing corpus.

    Returns:
        The test set summary (id, name, n_queries, n_qrels, n_missing_docs).

    Raises:
        BadUpload: a file cannot be read, or no judged document is in the corpus.
    """
    test = readers.read_beir_test(queries[0], queries[1], qrels[0], qrels[1])
    with transaction(con):
        summary = corpora.create_test_set(
            con, corpus, name.strip() or "uploaded", "qrels upload", test.queries, test.qrels
        )
        if summary["n_qrels"] and summary["n_missing_docs"] == summary["n_qrels"]:
            raise BadUpload(
                "none of the judged documents is in this corpus: check that the qrels use the corpus's document ids",
                filename=qrels[0],
            )
    return summary
