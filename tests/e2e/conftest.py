"""What the browser walks share: a Streamlit server on a free port with a fresh workspace per
test module, a Chromium page driven by Playwright, and helpers that assert on what a page shows."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser_workspace(tmp_path_factory) -> Path:
    """The workspace folder the module's server uses (for commands run beside the browser)."""
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def server(browser_workspace):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workspace = browser_workspace
    env = {**os.environ, "QURATE_WORKSPACE": str(workspace)}
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "streamlit.log").open("w")  # a file, not a pipe: an unread pipe fills up and blocks the server
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
        ],  # the address is .streamlit/config.toml's, as the README's command runs it
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("streamlit did not start: " + (ARTIFACTS / "streamlit.log").read_text()[-2000:])
    yield url
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        tab = browser.new_page(viewport={"width": 1366, "height": 768})
        tab.set_default_timeout(60_000)
        tab.goto(server)
        yield tab
        browser.close()


def go(page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).first.click()
    page.wait_for_selector(f"h1:has-text('{name}')")


def no_error(page, shot: str) -> None:
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"))
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
