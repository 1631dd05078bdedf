"""Two sessions of the app (threads sharing the process's connection, as Streamlit runs them) on one corpus:
nothing stored twice, nothing paid twice, no traceback; and the schema refuses duplicates whatever the caller."""

import json
import threading

import pytest

from core.errors import Busy
from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import ingest_files, load_sample_corpus
from core.judge import JudgeSettings, judge_candidates
from core.llm import LLMConfig
from core.mine import mine_candidates
from core.settings import database_path
from storage import db
from storage import labels as lstore
from storage import queries as qstore
from tests.fake_llm import FakeLLM, answer_for


@pytest.fixture(autouse=True)
def fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def two_sessions(step, first_call: threading.Event) -> list:
    """Run ``step(con)`` in a first session, and once ``first_call`` is set (its first LLM call is in
    flight) the same step in a second session. Returns what each session returned or raised."""
    outcomes: list = [None, None]

    def session(i):
        try:
            with db.held(database_path()) as con:  # as a page run holds the workspace
                outcomes[i] = step(con)
        except Exception as err:  # (the test asserts what each session met)
            outcomes[i] = err

    first = threading.Thread(target=session, args=(0,))
    first.start()
    assert first_call.wait(30), "the first session never called the LLM"
    second = threading.Thread(target=session, args=(1,))
    second.start()
    second.join(60)
    first.join(60)
    return outcomes


def test_two_sessions_generating_and_judging_one_corpus_store_and_pay_once():
    with db.held(database_path()) as con:
        corpus = load_sample_corpus(con).corpus_id
        passages = select_passages(con, corpus)[:6]
    called = threading.Event()

    def slow(body, nth):  # answers take 0.3 s, so the first session is still running when the second starts
        called.set()
        if "Passage:" in json.dumps(body):  # a judge's prompt
            return 200, json.dumps({"grade": 1, "reason": "somewhat"}), 0.3
        return 200, answer_for(body), 0.3

    with FakeLLM(slow) as fake:
        config = LLMConfig(model="openai/gpt-4o-mini", api_base=fake.url, backoff_s=0.01, concurrency=2)
        generation = GenerationSettings(per_type={"question": 1, "keywords": 1}, llm=config)
        outcomes = two_sessions(lambda con: generate_queries(con, corpus, passages, generation), called)
        assert outcomes[0].made == 12, outcomes
        assert (
            isinstance(outcomes[1], Busy)
            and "generating queries" in str(outcomes[1])
            and "Sample: home bicycle" in str(outcomes[1])
        )
        assert len(fake.calls) == 12 and max(fake.seen.values()) == 1
        with db.held(database_path()) as con:  # the refused session, run again once the first is done, pays for nothing
            again = generate_queries(con, corpus, passages, generation)
            rows = con.execute(
                "SELECT count(*), count(DISTINCT cache_key) FROM queries WHERE corpus_id = ?", [corpus]
            ).fetchone()
            mine_candidates(con, corpus, k=3)
        assert again.made == 0 and len(fake.calls) == 12
        assert rows == (12, 12)

        called.clear()
        judging = JudgeSettings(max_candidates=3, llm=config)
        outcomes = two_sessions(lambda con: judge_candidates(con, corpus, judging), called)
        paid = len(fake.calls) - 12
        assert isinstance(outcomes[1], Busy) and "judging" in str(outcomes[1])
        assert outcomes[0].labelled == paid > 0 and max(fake.seen.values()) == 1
        with db.held(database_path()) as con:
            labels = con.execute("SELECT count(*), count(DISTINCT (query_id, passage_id)) FROM labels").fetchone()
        assert labels == (paid, paid)


def test_two_sessions_ingesting_one_new_corpus_name_make_one_corpus():
    files = [("notes.txt", ("Chains need oil every month. " * 40).encode())]
    outcomes: list = []
    start = threading.Barrier(2)

    def session():
        try:
            start.wait()
            with db.held(database_path()) as con:
                outcomes.append(ingest_files(con, "notes", files))
        except Exception as err:
            outcomes.append(err)

    threads = [threading.Thread(target=session) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(e, Busy) for e in errors), errors  # never a TransactionException
    with db.held(database_path()) as con:
        corpora = con.execute("SELECT count(*) FROM corpora WHERE name = 'notes'").fetchone()[0]
        passages = con.execute("SELECT count(*), count(DISTINCT text_hash) FROM passages").fetchone()
    assert corpora == 1 and passages[0] == passages[1] > 0


def test_the_schema_refuses_a_second_query_of_one_request_and_a_second_label_of_one_judge(con):
    corpus = ingest_files(con, "c", [("a.txt", b"Spokes break when the wheel is out of true.")]).corpus_id
    passage = con.execute("SELECT passage_id FROM passages").fetchall()[0][0]
    row = {
        "passage_id": passage,
        "text": "why do spokes break",
        "qtype": "question",
        "origin": "llm",
        "generator": "m",
        "prompt_version": "v",
        "cache_key": "k1",
        "flags": [],
    }
    qstore.insert_queries(con, corpus, [row])
    qstore.insert_queries(con, corpus, [row, {**row, "cache_key": "k2"}])  # a late second session's batch
    assert con.execute("SELECT cache_key FROM queries ORDER BY id").fetchall() == [("k1",), ("k2",)]
    query = con.execute("SELECT id FROM queries WHERE cache_key = 'k1'").fetchall()[0][0]

    def label(grade, status):
        return (query, passage, grade, "r", "judge", "v", None, status, None if status == "ok" else "boom")

    lstore.insert_labels(con, [label(None, "failed")])
    lstore.insert_labels(con, [label(2, "ok")])  # a retry replaces the failed answer
    lstore.insert_labels(con, [label(0, "ok")])  # a second session's answer does not replace a good one
    assert con.execute("SELECT grade, status, error FROM labels").fetchall() == [(2, "ok", None)]
    lstore.insert_labels(con, [(query, passage, 1, "r", "another judge", "v", None, "ok", None)])
    assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 2  # another judge's label is kept beside it


def test_a_step_refused_as_busy_changes_nothing_and_names_the_other_step(con):
    corpus = ingest_files(con, "c", [("a.txt", b"Spokes break when the wheel is out of true.")]).corpus_id
    held = threading.Event()
    release = threading.Event()

    def other_session():
        with db.exclusive(con, "The corpus 'c'", "mining candidates"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_session)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(Busy, match=r"The corpus 'c' is busy: another session has been mining candidates since"):
            generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"question": 1}))
    finally:
        release.set()
        thread.join()
    assert con.execute("SELECT count(*) FROM queries").fetchone()[0] == 0
    assert (
        generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"question": 1})).made
        == 1
    )
