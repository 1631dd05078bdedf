"""Stopping an upload in a real browser: the Stop button beside the progress bar ends the ingest,
the page says nothing of the upload was stored, and nothing was."""

import pytest

from tests.e2e.conftest import CHROMIUM, ROOT, go

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: `apt-get install chromium` (.ci/run does this)"),
]


@pytest.mark.timeout(600)
def test_an_upload_stopped_midway_stores_nothing(page, browser_workspace, monkeypatch):
    from core.errors import WorkspaceLocked
    from core.settings import database_path
    from storage.db import connect

    page.wait_for_selector("text=Turn your own documents")
    go(page, "Corpus")
    files = [
        {
            "name": f"part-{n}.txt",
            "mimeType": "text/plain",  # 30 distinct files: about 8 s of reading and splitting
            "buffer": " ".join(f"word{i % 5000} file{n} sentence{i % 77}." for i in range(60_000)).encode(),
        }
        for n in range(30)
    ]
    page.locator("input[type='file']").set_input_files(files=files)
    page.get_by_role("button", name="Ingest").click()
    page.locator(".st-key-stop_ingest").get_by_role("button", name="Stop").click()  # ours, not the toolbar's Stop
    page.wait_for_selector("[data-testid='stAlertContentWarning']")
    warning = " ".join(page.locator("[data-testid='stAlertContentWarning']").all_inner_texts())
    page.screenshot(path=str(ROOT / "test-artifacts" / "s1-upload-stopped.png"))
    assert "Nothing from this upload was stored" in warning
    assert page.locator("[data-testid='stException']").count() == 0
    # the page's run holds the workspace until it ends (sometimes a few seconds after the warning shows)
    monkeypatch.setenv("QURATE_WORKSPACE", str(browser_workspace))
    for attempt in range(6):  # each try waits 5 s for the app to let go
        try:
            con = connect(database_path())
            break
        except WorkspaceLocked:
            assert attempt < 5, "the app kept the workspace for 30 s after a stopped upload"
    try:
        assert con.execute("SELECT count(*) FROM passages").fetchone()[0] == 0
    finally:
        con.close()
