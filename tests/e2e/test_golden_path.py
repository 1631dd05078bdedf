"""The golden path in a real browser: Chromium from the system packages driven by Playwright.

Starts `streamlit run app.py` on a free port with a fresh workspace, then walks the whole
flow as a new user would, asserting on what each page shows and saving a screenshot of
each page under test-artifacts/. Skips with a message when no Chromium is installed.
"""

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
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: `apt-get install chromium` (.ci/run does this)")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workspace = tmp_path_factory.mktemp("workspace")
    env = {**os.environ, "QURATE_WORKSPACE": str(workspace)}
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "streamlit.log").open("w")  # a file, not a pipe: an unread pipe fills up and blocks the server
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
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
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
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


@pytest.mark.timeout(1800)
def test_the_whole_flow(page, server):
    page.wait_for_selector("text=Turn your own documents")
    no_error(page, "01-home")

    go(page, "Corpus")
    page.get_by_role("tab", name="Sample corpus").click()
    page.get_by_role("button", name="Load sample corpus").click()
    page.wait_for_selector("text=Stored 47 passages")
    assert page.locator("[data-testid='stMetricValue']").first.inner_text() == "47"
    page.wait_for_selector("[data-testid='stPlotlyChart']")
    no_error(page, "02-corpus")

    go(page, "Queries")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_selector("text=made 282 queries", timeout=120_000)
    page.wait_for_selector("[data-testid='stPlotlyChart']")
    no_error(page, "03-queries")

    go(page, "Labels & review")
    page.get_by_role("button", name="Mine candidates for").click()
    page.wait_for_selector("text=Mined", timeout=180_000)
    page.get_by_role("button", name="Judge candidates").click()
    page.wait_for_selector("text=pairs labelled", timeout=120_000)
    no_error(page, "04-labels")
    page.get_by_role("tab", name="Review").click()
    page.get_by_role("textbox", name="Reviewer name").fill("Ada")
    page.get_by_role("textbox", name="Reviewer name").press("Enter")
    page.get_by_role("button", name="Relevant (3)").click()
    page.wait_for_selector("text=1 decisions on 1 pairs")
    page.get_by_role("button", name="Not relevant (0)").click()
    page.wait_for_selector("text=2 decisions on 2 pairs")
    no_error(page, "05-review")

    go(page, "Train")
    slider = page.get_by_role("slider").first  # the dev split: none, for a 3-step trial
    slider.focus()
    slider.press("Home")
    page.wait_for_timeout(1000)
    page.get_by_role("spinbutton", name="Max steps (0: all)").fill("3")
    page.get_by_role("spinbutton", name="Max steps (0: all)").press("Enter")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector("text=started", timeout=30_000)
    page.wait_for_selector("text=· done", timeout=600_000)
    page.wait_for_selector("text=Export a model", timeout=30_000)  # the models table refreshed
    no_error(page, "06-train")

    go(page, "Evaluate")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    try:
        page.wait_for_selector("text=Metrics computed with ranx", timeout=600_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "07-evaluate-wait.png"))
    page.wait_for_selector("text=Per query, against the baseline")
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 2
    no_error(page, "07-evaluate")

    go(page, "Compare")
    page.get_by_text("Pick a test query").click()
    page.wait_for_selector("text=Ranked in")
    page.wait_for_function("document.querySelectorAll(\"[data-testid='stExpander']\").length >= 20")
    assert page.locator("text=✅").count() >= 1
    no_error(page, "08-compare")


def test_a_deep_link_on_a_fresh_page_keeps_the_navigation(page, server):
    page.goto(f"{server}/queries")
    page.wait_for_selector("h1:has-text('Queries')")
    assert page.get_by_role("link", name="Labels & review").count() >= 1
