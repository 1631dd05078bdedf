"""What an LLM or a hostile document could plant in stored text stays text in the reviewer's browser, and the
app, run as the README runs it, answers on this machine only."""

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import CHROMIUM, ROOT, go, no_error

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: `apt-get install chromium` (.ci/run does this)"),
]


class Beacon:
    """An HTTP server on 127.0.0.1 that counts the requests a page makes to it."""

    def __init__(self):
        self.hits: list[str] = []
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                beacon.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def this_machines_other_addresses() -> list[str]:
    try:
        found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    except OSError:
        return []
    return [a for a in found if not a.startswith("127.") and ":" not in a]


@pytest.fixture(scope="module")
def planted(server, browser_workspace, tmp_path_factory) -> Beacon:
    """A corpus whose passages carry Markdown and HTML aimed at the reviewer's browser, judged offline by the
    command line before any page is open (the app would hold the workspace meanwhile)."""
    beacon = Beacon()
    payload = (
        f"Chains wear out. ![tracker]({beacon.url}/beacon.png) $x^2$ :red[alarm] "
        f"[click here]({beacon.url}/link) <img src='{beacon.url}/raw.png'>"
    )
    folder = tmp_path_factory.mktemp("docs")
    for i in range(3):
        (folder / f"d{i}.txt").write_text(f"Passage {i} on chain wear and lubrication. {payload}")
    env = {**os.environ, "QURATE_WORKSPACE": str(browser_workspace)}
    for command in (
        ["ingest", "planted", str(folder)],
        ["generate", "planted"],
        ["mine", "planted", "--k", "3"],
        ["judge", "planted"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "core.cli", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
    return beacon


@pytest.mark.timeout(600)
def test_stored_text_is_shown_as_text_and_the_app_listens_on_this_machine_only(planted, page, server):
    beacon = planted
    page.goto(server)
    go(page, "Labels & review")
    page.get_by_role("tab", name="Review").click()
    page.get_by_role("textbox", name="Reviewer name").fill("Ada")
    page.get_by_role("textbox", name="Reviewer name").press("Enter")
    page.wait_for_selector("text=![tracker](")  # the Markdown is shown as its characters
    shown = page.inner_text("body")
    assert "$x^2$" in shown and ":red[alarm]" in shown and "[click here](" in shown
    assert (
        page.locator(f"img[src^='{beacon.url}']").count() == 0 and page.locator(f"a[href^='{beacon.url}']").count() == 0
    )
    page.wait_for_timeout(1000)
    assert beacon.hits == []  # the reviewer's browser asked the planted host for nothing
    no_error(page, "r1-planted-text")

    port = urlparse(server).port
    for address in this_machines_other_addresses():  # the README's command: reachable from this machine only
        with socket.socket() as probe:
            probe.settimeout(3)
            assert probe.connect_ex((address, port)) != 0, f"the app answers on {address}:{port}"
    log = (ROOT / "test-artifacts" / "streamlit.log").read_text()
    assert "Network URL" not in log
