"""Every test gets its own workspace folder; helpers that build real files in memory."""

import io
import zipfile
from pathlib import Path

import pytest

from core.ingest import sample_size
from storage.db import close_shared, connect

SAMPLE_PASSAGES, SAMPLE_QUESTIONS = sample_size()  # so tests follow the sample when it grows
MEDQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "medquad"


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    """Point QURATE_WORKSPACE at a fresh temporary folder for each test."""
    folder = tmp_path / "workspace"
    monkeypatch.setenv("QURATE_WORKSPACE", str(folder))
    monkeypatch.delenv("QURATE_MAX_UPLOAD_MB", raising=False)
    yield folder
    close_shared()


@pytest.fixture
def con(tmp_path):
    """A real DuckDB file with the schema applied."""
    connection = connect(tmp_path / "test.duckdb")
    yield connection
    connection.close()


@pytest.fixture
def medquad() -> Path:
    """The shared MedQuAD BEIR folder; tests that need it skip where it is absent."""
    if not (MEDQUAD / "corpus.jsonl").exists():
        pytest.skip(f"MedQuAD not found at {MEDQUAD} (the shared data folder beside the repository)")
    return MEDQUAD


TINY = {"max_steps": 8, "batch_size": 8, "group_size": 4, "max_length": 64, "learning_rate": 5e-5, "dev_fraction": 0.0}


@pytest.fixture
def labelled(workspace):
    """The sample corpus with question and keyword queries, mined and judged offline."""
    con, corpus = judged_sample("question", "keywords")
    yield con, corpus
    con.close()


def judged_sample(*qtypes: str):
    """The sample corpus in the workspace database, with offline queries of ``qtypes``, mined (k=10) and judged."""
    from core.generate import GenerationSettings, generate_queries, select_passages
    from core.ingest import load_sample_corpus
    from core.judge import JudgeSettings, judge_candidates
    from core.mine import mine_candidates
    from core.settings import database_path

    con = connect(database_path())
    corpus = load_sample_corpus(con).corpus_id
    generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type=dict.fromkeys(qtypes, 1)))
    mine_candidates(con, corpus, k=10)
    judge_candidates(con, corpus, JudgeSettings(max_candidates=10))
    return con, corpus


def make_zip(files: dict[str, bytes]) -> bytes:
    """A zip holding the given member names and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF whose text layer holds ``lines`` (no lines: a page with no text)."""
    text = "".join(f"({line}) Tj 0 -16 Td " for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text}ET".encode() if lines else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
