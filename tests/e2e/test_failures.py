"""Failures a browser shows, in a real browser: a bad upload, another process writing the workspace
between clicks, and a workspace locked by another process. Each time the page says what happened
and what to do, with no traceback, and nothing stored is lost."""

import subprocess
import sys

import pytest

from tests.conftest import SAMPLE_PASSAGES
from tests.e2e.conftest import CHROMIUM, ROOT, go, no_error

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: `apt-get install chromium` (.ci/run does this)"),
]

HOLD = """
import sys
from core.settings import database_path
from storage.db import connect
con = connect(database_path())
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def alerts(page, kind: str) -> str:
    return " ".join(page.locator(f"[data-testid='stAlertContent{kind}']").all_inner_texts())


@pytest.mark.timeout(600)
def test_failures_a_browser_shows(page, server, browser_workspace):
    env = {"QURATE_WORKSPACE": str(browser_workspace)}
    page.wait_for_selector("text=Turn your own documents")

    # a file that is not what its name says: an error that says what to do, nothing stored
    go(page, "Corpus")
    page.locator("input[type='file']").set_input_files(
        files=[{"name": "report.pdf", "mimeType": "application/pdf", "buffer": b"this is not a PDF at all"}]
    )
    page.get_by_role("button", name="Ingest").click()
    page.wait_for_selector("[data-testid='stAlertContentError']")
    assert "report.pdf" in alerts(page, "Error")
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ROOT / "test-artifacts" / "f1-bad-upload.png"))

    # another process writes the workspace while this session is open: the next click shows its data
    import os

    command = [sys.executable, "-m", "core.cli", "sample"]
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    go(page, "Queries")
    go(page, "Corpus")
    page.wait_for_selector(f"[data-testid='stMetricValue']:has-text('{SAMPLE_PASSAGES}')")  # the command's passages
    no_error(page, "f2-written-by-the-command-line")

    # a process holding the workspace: the page names it; once it lets go, the page works and the data is there
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        page.get_by_role("link", name="Queries", exact=True).first.click()
        page.wait_for_selector("[data-testid='stAlertContentError']", timeout=60_000)
        shown = alerts(page, "Error")
        assert f"in use by process {holder.pid}" in shown and "QURATE_WORKSPACE" in shown
        assert page.locator("[data-testid='stException']").count() == 0
        page.screenshot(path=str(ROOT / "test-artifacts" / "f3-locked.png"))
    finally:
        holder.communicate("\n", timeout=30)
    go(page, "Corpus")
    page.wait_for_selector(f"[data-testid='stMetricValue']:has-text('{SAMPLE_PASSAGES}')")
    no_error(page, "f4-after-the-lock")
