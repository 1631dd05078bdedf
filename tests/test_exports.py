"""Exports are whole or not at all: a failed one (full disk, a file in the way, an unwritable folder, a model
of another corpus) is a message and exit 2, and an earlier export is left as it was."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.errors import NotFound
from core.ingest import ingest_files, load_sample_corpus
from core.settings import database_path
from core.training.jobs import export_model_zip
from storage import jobs
from storage.db import close_shared, connect
from tests.conftest import judged_sample

ROOT = Path(__file__).resolve().parents[1]
LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) as on a full disk
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from core.cli import main
sys.exit(main(sys.argv[2:]))
"""


def limited_cli(limit: int, *args: str) -> subprocess.CompletedProcess:
    """The command line in a process that cannot write a file beyond ``limit`` bytes."""
    close_shared()
    return subprocess.run(
        [sys.executable, "-c", LIMITED, str(limit), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def model(tmp_path):
    """The sample corpus with a registered model whose folder holds 1 MB of weights, and a second corpus."""
    con = connect(database_path())
    corpus = load_sample_corpus(con).corpus_id
    other = ingest_files(con, "other", [("a.txt", b"Another collection entirely.")]).corpus_id
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(os.urandom(1_000_000))  # weights do not compress
    job = jobs.create_job(con, corpus, "reranker", {"method": "lce"})
    jobs.finish_job(
        con, job, "done", None, {"kind": "reranker", "name": "m", "path": str(folder), "base_model": "b", "metrics": {}}
    )
    model_id = con.execute("SELECT max(id) FROM models").fetchall()[0][0]
    con.close()
    return corpus, other, model_id


def test_a_model_is_exported_only_from_its_own_corpus(model, capsys):
    corpus, other, model_id = model
    con = connect(database_path())
    assert export_model_zip(con, model_id, corpus).stat().st_size > 4096
    with pytest.raises(NotFound, match=f"no model {model_id} of this corpus"):
        export_model_zip(con, model_id, other)
    con.close()
    assert main(["export", "other", "model", "--model", str(model_id)]) == 2
    assert "of this corpus" in capsys.readouterr().err


def test_a_full_disk_during_a_model_export_keeps_the_earlier_zip(model, workspace):
    _, _, model_id = model
    assert main(["export", "Sample: home bicycle maintenance", "model", "--model", str(model_id)]) == 0
    zipped = workspace / "exports" / f"model-{model_id}.zip"
    before = zipped.read_bytes()
    result = limited_cli(200_000, "export", "Sample: home bicycle maintenance", "model", "--model", str(model_id))
    assert (
        result.returncode == 2
        and f"The disk holding {zipped.parent} is full" in result.stderr
        and "Traceback" not in result.stderr
    ), result.stderr[-2000:]
    assert zipped.read_bytes() == before
    assert [p.name for p in zipped.parent.iterdir()] == [zipped.name]  # no stage left behind


def test_a_data_export_refuses_a_file_or_an_unwritable_place_and_survives_a_full_disk(tmp_path, capsys):
    judged_sample("question", "keywords")[0].close()
    name = "Sample: home bicycle maintenance"
    in_the_way = tmp_path / "notes.txt"
    in_the_way.write_text("keep me")
    assert main(["export", name, "data", "--to", str(in_the_way)]) == 2
    assert "is a file: name a folder" in capsys.readouterr().err and in_the_way.read_text() == "keep me"
    assert main(["export", name, "data", "--to", "/proc/qurate-export"]) == 2
    assert "cannot write the export to /proc/qurate-export" in capsys.readouterr().err
    target = tmp_path / "data"
    (target).mkdir()
    (target / "mine.txt").write_text("a file of the user's")
    assert main(["export", name, "data", "--to", str(target)]) == 0
    before = (target / "training.jsonl").read_text()
    result = limited_cli(len(before) // 2, "export", name, "data", "--to", str(target))  # training.jsonl is larger
    assert (
        result.returncode == 2
        and f"The disk holding {target} is full" in result.stderr
        and "Traceback" not in result.stderr
    ), result.stderr[-2000:]
    assert (target / "training.jsonl").read_text() == before
    assert sorted(p.name for p in target.iterdir()) == ["beir", "hf", "mine.txt", "training.jsonl"]
