"""Two real processes on one workspace: the second is told who holds it and what to do, and nothing is lost."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.ingest import SAMPLE_NAME
from core.settings import database_path

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
from core.ingest import ingest_files
from core.settings import database_path
from storage.db import connect
con = connect(database_path())
ingest_files(con, "kept", [("a.txt", b"Written by the process that holds the workspace.")])
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


@pytest.fixture
def holder(workspace):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "holding"
    yield process
    if process.poll() is None:
        process.communicate("\n", timeout=30)


def test_the_command_line_names_the_holder_and_exits_2(holder, capsys):
    started = time.monotonic()
    assert main(["corpora"]) == 2
    err = capsys.readouterr().err
    assert f"in use by process {holder.pid}" in err and "QURATE_WORKSPACE" in err and "Traceback" not in err
    assert time.monotonic() - started < 30
    holder.communicate("\n", timeout=30)  # the holder lets go: the same command now works, its data intact
    assert main(["corpora"]) == 0
    assert "kept" in capsys.readouterr().out


def test_a_page_shows_the_holder_instead_of_a_traceback(holder):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert any(f"in use by process {holder.pid}" in e.value for e in at.error)
    assert database_path().exists()


def test_the_app_and_the_command_line_write_one_workspace_in_turn(workspace):
    """The app holds the workspace only while a page runs: a command run between two clicks writes, and both keep their data."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/corpus.py").run()
    at.button(key="load_sample").click().run()  # the app writes: the sample corpus
    assert not at.exception and not at.error
    command = [sys.executable, "-m", "core.cli", "generate", SAMPLE_NAME, "--types", "question=1"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)  # a second process writes
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "in use by" not in result.stderr
    at.switch_page("pages/queries.py").run()  # the same app session reads what the command wrote
    assert not at.exception and not at.error
    made, flagged = (
        int(n.replace(",", "")) for n in re.search(r"([\d,]+) queries made \(([\d,]+) flagged", result.stdout).groups()
    )
    assert made > 0 and any(c.value.startswith(f"{made - flagged:,} queries match") for c in at.caption)
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "corpora"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and SAMPLE_NAME in result.stdout  # the app's corpus, read by another process


def _damaged(folder: Path) -> bytes:
    import duckdb

    folder.mkdir(parents=True)
    con = duckdb.connect(str(folder / "qurate.duckdb"))
    con.execute("CREATE TABLE x AS SELECT * FROM range(100000)")
    con.close()
    data = (folder / "qurate.duckdb").read_bytes()
    (folder / "qurate.duckdb").write_bytes(data[: len(data) // 2])
    return data[: len(data) // 2]


def _foreign(folder: Path) -> bytes:
    import duckdb

    folder.mkdir(parents=True)
    con = duckdb.connect(str(folder / "qurate.duckdb"))
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    return (folder / "qurate.duckdb").read_bytes()


@pytest.mark.parametrize(
    "case, expected",
    [
        ("garbage", "not a valid DuckDB database file"),
        ("truncated", "Could not read enough bytes"),
        ("foreign", "a DuckDB database of another program"),
        ("directory", "Is a directory"),
        ("file as workspace", "is a file, not a folder"),
        ("unwritable", "cannot be made"),
    ],
)
def test_a_workspace_that_cannot_be_used_is_a_message_and_exit_2_and_stays_as_it_was(
    case, expected, tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "ws"
    before = None
    if case == "garbage":
        folder.mkdir()
        (folder / "qurate.duckdb").write_bytes(before := b"these are someone's notes, not a database")
    elif case == "truncated":
        before = _damaged(folder)
    elif case == "foreign":
        before = _foreign(folder)
    elif case == "directory":
        (folder / "qurate.duckdb").mkdir(parents=True)
    elif case == "file as workspace":
        folder.write_bytes(before := b"a file")
    else:
        folder = Path("/proc/qurate-workspace")  # not even root can make a folder there
    monkeypatch.setenv("QURATE_WORKSPACE", str(folder))
    assert main(["corpora"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "QURATE_WORKSPACE" in err and "Nothing was changed" in err and "Traceback" not in err
    if before is not None:
        stored = folder if case == "file as workspace" else folder / "qurate.duckdb"
        assert stored.read_bytes() == before
    if case in ("foreign", "file as workspace"):  # the app says the same, at its first page
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        assert not at.exception and any(expected in e.value for e in at.error)
