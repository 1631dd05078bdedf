"""A disk that fills mid-step: the command line says so, the step's writes are undone, earlier data intact.

A full disk is simulated with a file-size limit (RLIMIT_FSIZE) in a child process: DuckDB's
write then fails exactly as on a full disk, with the OS error in its message."""

import json
import subprocess
import sys
from pathlib import Path

from core.cli import main
from core.ingest import SAMPLE_NAME

ROOT = Path(__file__).resolve().parents[1]
LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing the process
resource.setrlimit(resource.RLIMIT_FSIZE, (6_000_000, 6_000_000))
"""
CLI = (
    LIMITED
    + """
from core.cli import main
sys.exit(main(["ingest", "big", sys.argv[1]]))
"""
)


def big_corpus(tmp_path) -> Path:
    path = tmp_path / "big.jsonl"
    path.write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "text": f"Passage number {i} about wheels. " * 30}) + "\n" for i in range(12000)
        )
    )
    return path


def test_a_full_disk_during_ingest_is_a_message_and_nothing_half_written(tmp_path, capsys):
    assert main(["sample"]) == 0
    capsys.readouterr()
    from storage.db import close_shared

    close_shared()
    result = subprocess.run(
        [sys.executable, "-c", CLI, str(big_corpus(tmp_path))], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "is full" in result.stderr and "Free some space" in result.stderr and "Traceback" not in result.stderr
    assert main(["corpora"]) == 0
    listing = capsys.readouterr().out
    assert SAMPLE_NAME in listing and "big" not in listing  # the earlier corpus intact, nothing of the failed one


MINE = (
    """
from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import load_sample_corpus
from core.settings import database_path
from storage.db import connect, held

con = connect(database_path())
corpus = load_sample_corpus(con).corpus_id
generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"question": 1, "keywords": 1}))
con.close()
"""
    + LIMITED.replace("6_000_000", "20_000")
    + """
from core.errors import DiskFull
from core.mine import mine_candidates
try:
    with held(database_path()) as con:  # as a page run holds it
        mine_candidates(con, corpus, k=5)
except DiskFull as err:
    print("DISKFULL", err)
"""
)


def test_a_full_disk_during_mining_raises_the_named_error_and_the_workspace_reopens(capsys):
    """Mining's bulk writes (embeddings, candidates) commit outside an explicit transaction: the same
    DiskFull, which the Labels page shows as it shows every QurateError."""
    result = subprocess.run([sys.executable, "-c", MINE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DISKFULL" in result.stdout and "is full" in result.stdout and "Free some space" in result.stdout
    assert main(["corpora"]) == 0  # the workspace opens afterwards, its corpus intact
    assert SAMPLE_NAME in capsys.readouterr().out
