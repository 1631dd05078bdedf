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
CLI = LIMITED + """
from core.cli import main
sys.exit(main(["ingest", "big", sys.argv[1]]))
"""

def big_corpus(tmp_path) -> Path:
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"_id": f"d{i}", "text": f"Passage number {i} about wheels. " * 30}) + "\n" for i in range(12000)))
    return path


def test_a_full_disk_during_ingest_is_a_message_and_nothing_half_written(tmp_path, capsys):
    assert main(["sample"]) == 0
    capsys.readouterr()
    from storage.db import close_shared

    close_shared()
    result = subprocess.run([sys.executable, "-c", CLI, str(big_corpus(tmp_path))], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "is full" in result.stderr and "Free some space" in result.stderr and "Traceback" not in result.stderr
    assert main(["corpora"]) == 0
    listing = capsys.readouterr().out
    assert SAMPLE_NAME in listing and "big" not in listing  # the earlier corpus intact, nothing of the failed one
