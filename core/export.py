"""Export the curated training set: JSONL, a Hugging Face datasets folder, BEIR files."""

import errno
import json
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from core.errors import DiskFull, InvalidInput
from core.training.data import training_labels
from core.vocabulary import RELEVANT
from storage.corpora import passage_records
from storage.queries import query_records
from storage.reviews import bad_queries

POSITIVE = RELEVANT


def training_records(con: duckdb.DuckDBPyConnection, corpus: int) -> list[dict]:
    """One record per kept, labelled query: positives and negatives with grades and provenance."""
    labels, _ = training_labels(con, corpus)  # as training reads them: twin texts share their sources
    queries = query_records(con, corpus)
    rejected = bad_queries(con, corpus)
    records = []
    for query_id, rows in labels.groupby("query_id", sort=True):
        if query_id in rejected:
            continue
        q = queries[query_id]
        text, qtype, origin, generator, version, source = (
            q[k] for k in ("text", "qtype", "origin", "generator", "prompt_version", "passage_id")
        )

        def item(r):
            return {
                "passage_id": r["passage_id"],
                "grade": int(r["grade"]),
                "rank": int(r["rank"]),
                "judge": r["judge"],
                "reviewer": r["reviewer"] if isinstance(r["reviewer"], str) else None,
            }

        rows = rows.sort_values("rank")
        records.append(
            {
                "query_id": int(query_id),
                "query": text,
                "qtype": qtype,
                "source_passage": source,
                "positives": [item(r) for _, r in rows.iterrows() if r["grade"] >= POSITIVE],
                "negatives": [item(r) for _, r in rows.iterrows() if r["grade"] == 0],
                "provenance": {"origin": origin, "generator": generator, "prompt_version": version},
            }
        )
    return records


@contextmanager
def staged(folder: Path, names: list[str]) -> Iterator[Path]:
    """A staging folder to write ``names`` into; when the block ends well they replace the same names in
    ``folder`` (each a rename, so each is whole), else the stage goes and ``folder`` is as it was.

    Raises:
        InvalidInput: ``folder`` is a file, or cannot be written (the message says what to do).
        DiskFull: the disk (or a file size limit) refused the export.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"{folder} is a file: name a folder for the export (--to FOLDER)")
    stage = folder / f".qurate-export-{uuid.uuid4().hex[:8]}"
    try:
        stage.mkdir(parents=True)
        yield stage
        for name in names:  # an earlier export's entry steps aside, the new one takes its place, the old one goes
            old = stage / f"{name}.old"
            if (folder / name).exists():
                (folder / name).rename(old)
            (stage / name).rename(folder / name)
    except OSError as err:
        raise _export_error(err, folder) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _export_error(err: OSError, folder: Path) -> Exception:
    if err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or "too large" in str(err).lower():
        return DiskFull(
            f"The disk holding {folder} is full (or a file size limit was reached): nothing was exported, "
            "and an earlier export there is intact. Free some space or export to another disk (--to), then try again."
        )
    return InvalidInput(
        f"cannot write the export to {folder} ({err.strerror or err}): choose a folder you can write to "
        "(--to FOLDER); nothing was exported"
    )


def export_training_set(con: duckdb.DuckDBPyConnection, corpus: int, folder: Path) -> dict[str, Path]:
    """Write training.jsonl, hf/ (datasets.save_to_disk) and beir/ (corpus, queries, qrels/train.tsv) into
    ``folder``, replacing an earlier export's only when the new one is whole (``staged``)."""
    folder = Path(folder)
    with staged(folder, ["training.jsonl", "hf", "beir"]) as stage:
        _write_training_set(con, corpus, stage)
    return {"jsonl": folder / "training.jsonl", "hf": folder / "hf", "beir": folder / "beir"}


def _write_training_set(con: duckdb.DuckDBPyConnection, corpus: int, folder: Path) -> None:
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # the library's own bar would reach the terminal and the server log; the caller reports
    records = training_records(con, corpus)
    jsonl = folder / "training.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    flat = [
        {
            **{k: v for k, v in r.items() if k not in ("positives", "negatives", "provenance")},
            "positives": [p["passage_id"] for p in r["positives"]],
            "negatives": [n["passage_id"] for n in r["negatives"]],
            "generator": r["provenance"]["generator"],
        }
        for r in records
    ]
    Dataset.from_list(flat).save_to_disk(str(folder / "hf"))
    beir = folder / "beir"
    (beir / "qrels").mkdir(parents=True, exist_ok=True)
    with (beir / "corpus.jsonl").open("w") as handle:
        for pid, (_, title, text) in sorted(passage_records(con, corpus).items()):
            handle.write(json.dumps({"_id": pid, "title": title, "text": text}) + "\n")
    (beir / "queries.jsonl").write_text(
        "".join(
            json.dumps({"_id": str(r["query_id"]), "text": r["query"], "metadata": {"qtype": r["qtype"]}}) + "\n"
            for r in records
        )
    )
    (beir / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(f"{r['query_id']}\t{p['passage_id']}\t{p['grade']}\n" for r in records for p in r["positives"])
    )
