"""AppTest behaviour of the Queries page: offline and LLM generation, edit, delete, restore."""

import json

from core.offline import NAME as OFFLINE_NAME
from core.settings import database_path
from storage.db import shared_cursor
from tests.conftest import SAMPLE_PASSAGES
from tests.fake_llm import FakeLLM, answer_for
from tests.test_pages import app


def queries_page():
    at = app().switch_page("pages/corpus.py").run()
    at.button(key="load_sample").click().run()
    return at.switch_page("pages/queries.py").run()


def db():
    return shared_cursor(database_path())


def test_offline_generation_shows_counts_chart_and_preview():
    at = queries_page()
    assert (
        f"{SAMPLE_PASSAGES} passages → {SAMPLE_PASSAGES} new queries" in at.info[0].value
    )  # offline: a question or a casual search each, in turn
    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    assert f"{OFFLINE_NAME}: made {SAMPLE_PASSAGES} queries" in at.success[0].value and "no LLM" in OFFLINE_NAME
    assert db().execute(
        "SELECT count(DISTINCT passage_id), max(n) FROM (SELECT passage_id, count(*) n FROM queries GROUP BY 1)"
    ).fetchone() == (SAMPLE_PASSAGES, 1)
    assert len(at.get("plotly_chart")) == 1
    table = at.get("data_editor")[0]
    assert table is not None
    assert db().execute(
        "SELECT list(DISTINCT qtype ORDER BY qtype), min(origin), max(origin) FROM queries"
    ).fetchone() == (["casual", "question"], "offline", "offline")


def test_sample_and_types_shape_the_plan():
    at = queries_page()
    at.radio(key="gen_scope").set_value("Random sample").run()
    at.number_input(key="gen_sample_n").set_value(5).run()
    for qtype in ["claim", "title", "web", "casual"]:
        at.number_input(key=f"gen_n_{qtype}").set_value(0).run()
    at.number_input(key="gen_n_question").set_value(2).run()
    at.number_input(key="gen_n_keywords").set_value(1).run()
    at.checkbox(key="gen_in_turn").uncheck().run()  # every asked type for every passage
    assert "5 passages → 15 new queries" in at.info[0].value
    at.button(key="generate").click().run()
    assert db().execute("SELECT count(*) FROM queries").fetchone()[0] == 15


def test_no_type_selected_is_explained():
    at = queries_page()
    for qtype in ["question", "claim", "title", "keywords", "web", "casual"]:
        at.number_input(key=f"gen_n_{qtype}").set_value(0).run()
    assert "ask for at least one query" in at.error[0].value


def test_edits_deletes_and_restores_show_in_the_preview():
    # AppTest cannot type into a data_editor; the page's save calls these same functions.
    from storage import queries as store

    at = queries_page()
    at.button(key="generate").click().run()
    kept = db().execute("SELECT min(id), max(id) FROM queries WHERE len(flags) = 0").fetchone()
    store.edit_query(db(), kept[0], "how do I clean a very dirty chain?")
    store.delete_query(db(), kept[1])
    at.text_input(key="q_contains").input("very dirty chain").run()
    assert [c.value for c in at.caption if "match" in c.value][0].startswith("1 queries match")
    at.text_input(key="q_contains").input("").run()
    at.selectbox(key="q_show").select("deleted").run()
    assert [c.value for c in at.caption if "match" in c.value][0].startswith("1 queries match")
    row = db().execute("SELECT text, edited_text FROM queries WHERE id = ?", [kept[0]]).fetchone()
    assert row[1] == "how do I clean a very dirty chain?" and row[0] != row[1]
    flagged = db().execute("SELECT count(*) FROM queries WHERE len(flags) > 0").fetchone()[0]
    at.selectbox(key="q_show").select("flagged").run()
    assert [c.value for c in at.caption if "match" in c.value][0].startswith(f"{flagged} queries match")


def llm_page(fake, sample: int = 2, **inputs):
    """The Queries page set to call the fake LLM for a random sample of passages."""
    at = queries_page()
    at.radio(key="gen_mode").set_value("llm").run()
    at.text_input(key="gen_model").input("openai/gpt-4o-mini").run()
    at.text_input(key="gen_api_base").input(fake.url).run()
    at.radio(key="gen_scope").set_value("Random sample").run()
    at.number_input(key="gen_sample_n").set_value(sample).run()
    for key, value in inputs.items():
        at.number_input(key=key).set_value(value).run()
    return at


def test_llm_generation_through_the_page(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as fake:
        at = llm_page(fake, sample=3)
        assert "`OPENAI_API_KEY` is set" in [c.value for c in at.caption if "API_KEY" in c.value][0]
        assert "18 LLM calls" in at.info[0].value and "cost about $" in at.info[0].value
        at.button(key="generate").click().run()
        assert not at.exception
        assert "openai/gpt-4o-mini: made 18 queries" in at.success[0].value
        assert len(fake.calls) == 18


def test_a_base_model_of_your_own_gets_one_line_few_shot_prompts_and_the_choice_is_remembered(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a server of your own needs no key
    with FakeLLM(lambda body, nth: (200, " " + answer_for(body), 0)) as fake:
        at = llm_page(fake, sample=1)
        at.text_input(key="gen_model").input("openai/my-base-model").run()
        at.checkbox(key="gen_base_model").check().run()
        at.button(key="generate").click().run()
        assert not at.exception and "openai/my-base-model: made 6 queries" in at.success[0].value
        assert len(fake.calls) == 6 and all("messages" not in c and c["stop"] == ["\n"] for c in fake.calls)
    assert db().execute("SELECT value FROM app_settings WHERE key = 'llm_base_model'").fetchone() == ("yes",)


def test_a_hosted_model_without_its_key_cannot_be_started_and_the_page_says_which_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeLLM() as fake:
        at = llm_page(fake, sample=3)
        assert not at.button(key="generate").disabled  # a server of your own at an API base may need no key
        at.text_input(key="gen_api_base").input("").run()
        assert "`OPENAI_API_KEY` is NOT set" in [c.value for c in at.caption if "API_KEY" in c.value][0]
        assert at.button(key="generate").disabled and "OPENAI_API_KEY" in at.button(key="generate").help
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        assert not at.run().button(key="generate").disabled
    assert fake.calls == []


def test_a_refused_key_shows_an_error_not_a_traceback(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with FakeLLM(lambda body, nth: (401, {"error": {"message": "Incorrect API key"}}, 0)) as fake:
        at = llm_page(fake)
        at.button(key="generate").click().run()
    assert not at.exception
    assert "check the model name and its API key" in at.error[0].value


def test_labels_page_mines_and_judges_offline():
    at = queries_page()
    at.button(key="generate").click().run()
    at = at.switch_page("pages/labels.py").run()
    assert not at.exception
    at.button(key="mine").click().run()
    assert not at.exception and not at.error
    kept = db().execute("SELECT count(*) FROM queries WHERE len(flags) = 0 AND NOT deleted").fetchone()[0]
    assert (
        kept > 0.85 * SAMPLE_PASSAGES and f"for {kept} queries" in at.success[0].value
    )  # a question or a casual search a passage
    at.button(key="judge").click().run()
    assert not at.exception
    assert "offline-judge-v2 (no LLM)" in at.success[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Confirmed sources"].replace(",", "")) > 0.85 * SAMPLE_PASSAGES
    assert int(metrics["Hard negatives"].replace(",", "")) > 150
    assert len(at.dataframe) >= 1


def test_train_page_shows_the_data_launches_and_cancels_a_job():
    at = queries_page()
    at.button(key="generate").click().run()
    at = at.switch_page("pages/labels.py").run()
    at.button(key="mine").click().run()
    at.button(key="judge").click().run()
    at = at.switch_page("pages/train.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Training groups"]) > 30 and int(metrics["Dev queries"]) > 3
    assert "Device: CPU" in [c.value for c in at.caption if c.value.startswith("Device")][0]
    at.button(key="start_training").click().run()
    assert not at.exception and "started" in at.success[0].value
    job_id = db().execute("SELECT max(id) FROM jobs").fetchone()[0]
    from core.training.jobs import cancel_job, wait_for

    cancel_job(db(), job_id, grace_s=1)
    assert wait_for(db(), job_id, 30)["status"] == "cancelled"
    spec = json.loads(db().execute("SELECT spec FROM jobs WHERE id = ?", [job_id]).fetchone()[0])
    assert spec["in_batch"] is False  # off by default: a trade between corpora (docs/BENCHMARKS.md)
    assert "train_teacher" not in [box.key for box in at.selectbox]  # LCE has no teacher
    at.checkbox(key="train_in_batch").check().run()
    at.button(key="start_training").click().run()
    job_id = db().execute("SELECT max(id) FROM jobs").fetchone()[0]
    cancel_job(db(), job_id, grace_s=1)
    assert wait_for(db(), job_id, 30)["status"] == "cancelled"
    assert json.loads(db().execute("SELECT spec FROM jobs WHERE id = ?", [job_id]).fetchone()[0])["in_batch"] is True
    at.selectbox(key="train_method").set_value("distill").run()  # a retriever learns from a teacher
    assert not at.exception and at.selectbox(key="train_teacher").options == ["ensemble: grades + dense + BM25 scores"]
    assert "train_in_batch" not in [box.key for box in at.checkbox]  # distillation learns the teacher's lists


def test_llm_garbage_rate_limits_and_a_hung_server_through_the_page(monkeypatch):
    """What a page shows for each LLM failure a user can meet; what was stored stays, nothing half-written."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM(lambda body, nth: (200, b"<html>proxy error</html>", 0)) as fake:  # garbage that is not an answer
        at = llm_page(fake, gen_tries=1)
        at.button(key="generate").click().run()
    assert not at.exception and "made 0 queries" in at.warning[0].value
    assert "12 calls failed" in at.error[0].value and "First failure:" in at.error[0].value
    assert db().execute("SELECT count(*) FROM queries").fetchone()[0] == 0

    with FakeLLM(
        lambda body, nth: (
            (429, {"error": {"message": "Rate limit reached"}}, 0) if nth == 0 else (200, answer_for(body), 0)
        )
    ) as fake:
        at = llm_page(fake)
        at.button(key="generate").click().run()  # each call is refused once, then answered
    assert not at.exception and "made 12 queries" in at.success[0].value and len(fake.calls) == 24
    made = db().execute("SELECT count(*) FROM queries").fetchone()[0]
    assert made == 12

    with FakeLLM(lambda body, nth: (200, answer_for(body), 3.0)) as fake:  # a server that hangs past the timeout
        at = llm_page(fake, gen_tries=1, gen_timeout=0.5)
        at.number_input(key="gen_sample_n").set_value(4).run()  # 2 new passages beside the 2 done
        at.button(key="generate").click().run()
    assert not at.exception and "calls failed" in at.error[0].value
    assert "timeout" in at.error[0].value.lower() or "timed out" in at.error[0].value.lower()
    assert db().execute("SELECT count(*) FROM queries").fetchone()[0] == made  # the earlier queries are kept


def test_users_queries_are_asked_for_first_and_added_from_a_paste():
    at = queries_page()
    assert at.expander[0].label.startswith("Your users' queries (0)")
    at.text_area(key="users_pasted").input(
        "why does my chain skip\nWhy does my chain  skip\nbrakes squeal when wet"
    ).run()
    at.button(key="add_users").click().run()
    assert not at.exception and not at.error
    assert "2 users' queries stored; 1 were there already or repeated" in at.success[0].value
    assert at.expander[0].label.startswith("Your users' queries (2)")
    assert db().execute("SELECT list(text ORDER BY id), min(origin), count(passage_id) FROM queries").fetchone() == (
        ["why does my chain skip", "brakes squeal when wet"],
        "users",
        0,
    )
    at.multiselect(key="q_types").select("users").run()
    assert "2 queries match" in at.caption[-1].value or any("2 queries match" in c.value for c in at.caption)


def test_a_pasted_test_query_is_refused_with_the_reason():
    at = queries_page()
    test_query = db().execute("SELECT min(text) FROM test_queries").fetchone()[0]
    at.text_area(key="users_pasted").input(f"why does my chain skip\n{test_query}").run()
    at.button(key="add_users").click().run()
    assert "1 users' queries stored" in at.success[0].value
    assert "1 refused: a test set of this corpus holds the same text" in at.warning[0].value
    assert db().execute("SELECT list(text) FROM queries").fetchone()[0] == ["why does my chain skip"]
