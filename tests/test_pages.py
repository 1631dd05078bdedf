"""AppTest: every page renders without an exception; the Corpus page behaves as a user expects."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.settings import database_path
from storage.db import shared_cursor
from tests.conftest import SAMPLE_PASSAGES, SAMPLE_QUESTIONS, make_zip

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = [
    "pages/corpus.py",
    "pages/queries.py",
    "pages/labels.py",
    "pages/train.py",
    "pages/evaluate.py",
    "pages/compare.py",
]


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60).run()


def corpus_page() -> AppTest:
    return app().switch_page("pages/corpus.py").run()


def passages_in_workspace() -> int:
    return shared_cursor(database_path()).execute("SELECT count(*) FROM passages").fetchone()[0]


def test_home_shows_a_count_and_a_link_per_step():
    at = app()
    assert not at.exception
    assert sorted(m.label for m in at.metric) == sorted(
        ["Passages", "Synthetic queries", "Labelled pairs", "Reviewed labels", "Fine-tuned models", "Evaluation runs"]
    )
    assert len(at.get("page_link")) == 7  # one per step, and one to the next step
    assert all(m.value == "0" for m in at.metric)
    assert "Upload files or load the sample corpus" in at.info[0].value and "Free" in at.info[0].value


def test_home_says_what_the_next_step_costs():
    import re

    at = corpus_page()
    at.button(key="load_sample").click().run()
    at = app()
    assert "Have your users' own queries?" in at.info[0].value  # asked for first, while the corpus has none
    text = at.info[1].value
    passages = int(at.metric[0].value.replace(",", ""))
    assert "Next: Generate queries" in text
    assert (
        f"{passages:,} queries for {passages:,} passages by the rules: about 1 s, no LLM; by the local model about "
        in text
    )  # question or casual, in turn; the time from core.rates
    assert re.search(
        rf"with an LLM, {6 * passages:,} \(one of each type\): {6 * passages:,} calls \(about \$[\d.]+ with gpt-4o-mini\)",
        text,
    ), text


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_and_a_filled_workspace(page):
    at = app().switch_page(page).run()
    assert not at.exception, at.exception
    at = corpus_page()
    at.button(key="load_sample").click().run()
    at = app().switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error


def test_load_sample_corpus_fills_the_page_and_the_dashboard():
    at = corpus_page()
    assert "No corpus yet" in at.info[0].value
    at.button(key="load_sample").click().run()
    assert not at.exception
    assert f"Stored {SAMPLE_PASSAGES} passages" in at.success[0].value
    assert {m.label: m.value for m in at.metric}["Passages"] == str(SAMPLE_PASSAGES)
    assert {m.label: m.value for m in at.metric}["Test queries"] == str(SAMPLE_QUESTIONS)
    assert len(at.dataframe[0].value) == 20  # first page of the preview
    home = app()
    assert {m.label: m.value for m in home.metric}["Passages"] == str(SAMPLE_PASSAGES)


def test_upload_text_files_with_progress_and_preview():
    at = corpus_page()
    at.text_input(key="corpus_name").input("Field notes").run()
    at.file_uploader(key="uploads").set_value(
        [
            ("a.txt", b"Chains need oil after rain. Wipe off the excess.", "text/plain"),
            ("b.md", b"# Brakes\nPads wear out and need replacing.", "text/markdown"),
        ]
    ).run()
    at.button(key="ingest").click().run()
    assert not at.exception and not at.error
    assert "Stored 2 passages from 2 documents in “Field notes”" in at.success[0].value
    assert at.sidebar.selectbox(key="active_corpus_picker").value is not None
    assert "Field notes" in [h.value for h in at.header]


def test_csv_upload_lets_the_user_pick_columns():
    at = corpus_page()
    at.file_uploader(key="uploads").set_value(("t.csv", b"key,body\nk1,first body\nk2,second body\n", "text/csv")).run()
    assert at.selectbox(key="text_field").options == ["(automatic)", "key", "body"]
    at.selectbox(key="text_field").select("body").run()
    at.selectbox(key="id_field").select("key").run()
    at.button(key="ingest").click().run()
    assert not at.error
    assert sorted(at.dataframe[0].value["passage_id"]) == ["k1", "k2"]


def test_bad_upload_shows_an_error_and_keeps_what_was_stored():
    at = corpus_page()
    at.button(key="load_sample").click().run()
    before = passages_in_workspace()
    at.file_uploader(key="uploads").set_value(
        [
            ("good.txt", b"Fine text.", "text/plain"),
            ("evil.zip", make_zip({"../escape.txt": b"x"}), "application/zip"),
        ]
    ).run()
    at.button(key="ingest").click().run()
    assert not at.exception
    assert "unsafe path" in at.error[0].value and "Nothing from this upload was stored" in at.error[0].value
    assert passages_in_workspace() == before


def test_search_filters_the_preview_and_pages_through_it():
    at = corpus_page()
    at.button(key="load_sample").click().run()
    at.text_input(key="search").input("tubeless").run()
    table = at.dataframe[0].value
    assert 0 < len(table) < 20
    assert all("tubeless" in (t + x).lower() for t, x in zip(table["title"], table["text"]))
    at.text_input(key="search").input("").run()
    last = -(-SAMPLE_PASSAGES // 20)
    at.number_input(key="page").set_value(last).run()
    assert len(at.dataframe[0].value) == SAMPLE_PASSAGES - 20 * (last - 1)


def test_switching_and_deleting_corpora():
    at = corpus_page()
    at.button(key="load_sample").click().run()
    at.text_input(key="corpus_name").input("Second").run()
    at.file_uploader(key="uploads").set_value(("a.txt", b"Another corpus.", "text/plain")).run()
    at.button(key="ingest").click().run()
    assert "Stored 1 passage from 1 document in “Second”" in at.success[0].value  # singular where it is one
    picker = at.sidebar.selectbox(key="active_corpus_picker")
    assert len(picker.options) == 2
    picker.select_index(0).run()
    assert at.header[0].value == "Sample: home bicycle maintenance"
    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete_corpus").click().run()
    assert not at.exception
    assert at.header[0].value == "Second"
    assert "Deleted “Sample: home bicycle maintenance”" in at.success[0].value


def test_the_app_listens_on_this_machine_only_by_default():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] in ("localhost", "127.0.0.1")


def test_the_next_step_never_loops_back_to_a_step_passed_over(workspace):
    from core.workspace import next_step
    from storage import jobs
    from tests.conftest import judged_sample

    con, corpus = judged_sample("question")
    assert next_step(con, corpus).key == "reviewed"  # labelled, nothing reviewed yet: review is next
    job = jobs.create_job(con, corpus, "reranker", {"method": "lce", "base_model": "b"})
    jobs.start_job(con, job, "", pid=0)
    jobs.finish_job(
        con, job, "done", None, {"kind": "reranker", "name": "m", "path": "", "base_model": "b", "metrics": {}}
    )
    assert next_step(con, corpus).key == "eval_runs"  # a model trained without review: evaluation is next
    con.close()
