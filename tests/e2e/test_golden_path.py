"""The golden path in a real browser: Chromium from the system packages driven by Playwright.

Starts `streamlit run app.py` on a free port with a fresh workspace, then walks the whole
flow as a new user would, asserting on what each page shows and saving a screenshot of
each page under test-artifacts/. Skips with a message when no Chromium is installed.
"""

import pytest

from tests.conftest import SAMPLE_PASSAGES
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, go, no_error

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: `apt-get install chromium` (.ci/run does this)"),
]


@pytest.mark.timeout(1800)
def test_the_whole_flow(page, server):
    page.wait_for_selector("text=Turn your own documents")
    no_error(page, "01-home")

    go(page, "Corpus")
    page.get_by_role("tab", name="Sample corpus").click()
    page.get_by_role("button", name="Load sample corpus").click()
    page.wait_for_selector(f"text=Stored {SAMPLE_PASSAGES} passages")
    assert page.locator("[data-testid='stMetricValue']").first.inner_text() == str(SAMPLE_PASSAGES)
    page.wait_for_selector("[data-testid='stPlotlyChart']")
    no_error(page, "02-corpus")

    go(page, "Queries")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_selector(
        f"text=made {SAMPLE_PASSAGES} queries", timeout=120_000
    )  # offline: a question or a casual search each, in turn
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
    page.wait_for_selector("text=1 decision on 1 pair by 1 reviewer")
    page.get_by_role("button", name="Not relevant (0)").click()
    page.wait_for_selector("text=2 decisions on 2 pairs")
    page.keyboard.press("b")  # the keyboard's "Bad query": a verdict on the query, no pair
    page.wait_for_selector("text=3 decisions on 2 pairs")
    page.get_by_role("button", name="Undo last").click()  # undoes the verdict on the query
    page.wait_for_selector("text=4 decisions on 2 pairs")
    no_error(page, "05-review")
    page.get_by_role("tab", name="Agreement & export").click()
    page.wait_for_selector("text=From 2 random spot-checks")  # the two graded pairs; the verdict and its undo not
    reviewed = page.locator("[data-testid='stMetric']", has_text="Reviewed pairs").locator(
        "[data-testid='stMetricValue']"
    )
    assert reviewed.inner_text() == "2"
    no_error(page, "05b-agreement")

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
    page.wait_for_selector("text=Per query, against the baseline or another system")
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 2
    no_error(page, "07-evaluate")

    go(page, "Compare")
    page.get_by_text("Pick a test query").click()
    page.wait_for_selector("text=Ranked in")
    page.wait_for_function("document.querySelectorAll(\"[data-testid='stExpander']\").length >= 20")
    marks = page.locator("[data-testid='stExpander'] summary").all_inner_texts()
    assert any(" relevant " in f" {m} " for m in marks) and any(
        "not judged" in m or "not relevant" in m for m in marks
    ), marks
    no_error(page, "08-compare")


def test_a_deep_link_on_a_fresh_page_keeps_the_navigation(page, server):
    page.goto(f"{server}/queries")
    page.wait_for_selector("h1:has-text('Queries')")
    assert page.get_by_role("link", name="Labels & review").count() >= 1
