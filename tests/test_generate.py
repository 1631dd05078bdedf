"""Query generation through litellm's real client against a fake OpenAI server on 127.0.0.1."""

import json
import multiprocessing
import os
import threading
import time
from dataclasses import replace

import pytest

from core import rates
from core.errors import LLMUnavailable
from core.generate import GenerationSettings, estimate_generation, generate_queries, regenerate_passage, select_passages
from core.ingest import ingest_files, load_sample_corpus
from core.llm import LOCAL, LLMConfig
from core.prompts import LINE_TOKENS
from storage import queries as store
from storage.db import connect
from tests.fake_llm import FakeLLM, normal


@pytest.fixture(autouse=True)
def fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


CSV = (
    "id,title,text\n"
    + "".join(f'p{i},Passage {i},"Text of passage {i} about wheel number {i} and its spokes."\n' for i in range(6))
).encode()


@pytest.fixture
def corpus(con):
    return ingest_files(con, "c", [("p.csv", CSV)]).corpus_id


def settings(fake, **llm) -> GenerationSettings:
    llm = {"backoff_s": 0.01, "timeout_s": 5, **llm}
    config = LLMConfig(model="openai/gpt-4o-mini", api_base=fake.url, **llm)
    return GenerationSettings(per_type={"question": 1, "keywords": 1}, llm=config)


def stored(con, corpus):
    return con.execute(
        "SELECT passage_id, qtype, text, flags FROM queries WHERE corpus_id = ? ORDER BY ALL", [corpus]
    ).fetchall()


def test_normal_answers_become_queries_with_provenance(con, corpus):
    with FakeLLM() as fake:
        report = generate_queries(con, corpus, select_passages(con, corpus), settings(fake))
    assert report.made == 12 and report.failures == [] and len(fake.calls) == 12
    rows = con.execute("SELECT origin, generator, prompt_version, text FROM queries").fetchall()
    assert {r[0] for r in rows} == {"llm"} and {r[1] for r in rows} == {"openai/gpt-4o-mini"}
    assert len({r[2] for r in rows}) == 2  # one prompt version per type template
    assert all(r[3].startswith("synthetic query") for r in rows)
    assert report.meter.tokens_in == 12 * 100 and report.meter.cost_usd > 0


def test_the_prompt_carries_the_passage_and_the_key_is_never_stored(con, corpus):
    with FakeLLM() as fake:
        generate_queries(con, corpus, ["p3"], settings(fake))
    prompt = fake.calls[0]["messages"][-1]["content"]
    assert "Text of passage 3 about wheel number 3" in prompt
    dump = json.dumps(con.execute("SELECT * FROM llm_cache").fetchall(), default=str)
    assert "sk-test-not-a-real-key" not in dump


def test_rate_limit_then_success_is_retried(con, corpus):
    def behaviour(body, nth):
        return (429, {"error": {"message": "slow down", "type": "rate_limit"}}, 0) if nth == 0 else normal(body, nth)

    with FakeLLM(behaviour) as fake:
        report = generate_queries(con, corpus, ["p0", "p1"], settings(fake))
    assert report.made == 4 and not report.failures
    assert len(fake.calls) == 8 and report.meter.retries == 4


def test_server_errors_give_up_after_bounded_tries_and_record_why(con, corpus):
    with FakeLLM(lambda body, nth: (500, {"error": {"message": "boom"}}, 0)) as fake:
        report = generate_queries(con, corpus, ["p0"], settings(fake, max_tries=3))
    assert report.made == 0 and len(report.failures) == 2
    assert "gave up after 3 tries" in report.failures[0]["error"]
    assert len(fake.calls) == 2 * 3
    errors = con.execute("SELECT error FROM llm_cache").fetchall()
    assert len(errors) == 2 and all("InternalServerError" in e[0] for e in errors)


def test_failed_calls_are_retried_on_the_next_run(con, corpus):
    with FakeLLM(lambda body, nth: (500, {"error": {"message": "boom"}}, 0)) as fake:
        generate_queries(con, corpus, ["p0"], settings(fake, max_tries=1))
    with FakeLLM() as fake:
        report = generate_queries(con, corpus, ["p0"], settings(fake))
    assert report.made == 2 and len(fake.calls) == 2


def test_timeouts_are_retried_then_recorded(con, corpus):
    with FakeLLM(lambda body, nth: normal(body, nth)[:2] + (3.0,)) as fake:
        report = generate_queries(con, corpus, ["p0"], settings(fake, timeout_s=0.3, max_tries=2))
    assert report.made == 0 and all("Timeout" in f["error"] or "gave up" in f["error"] for f in report.failures)
    assert len(fake.calls) == 4


def test_malformed_and_empty_output_is_flagged_not_dropped(con, corpus):
    answers = iter(["", "\n\n   \n", '1. Query: "how tight should spokes be?"', "spokes"])
    lock = threading.Lock()

    def behaviour(body, nth):
        with lock:
            return 200, next(answers), 0

    with FakeLLM(behaviour) as fake:
        report = generate_queries(con, corpus, ["p0", "p1"], settings(fake))
    rows = stored(con, corpus)
    assert report.made == 4 and len(rows) == 4
    flags = sorted(tuple(r[3]) for r in rows)
    assert flags == [(), ("empty",), ("empty",), ("too short",)]
    assert "how tight should spokes be?" in [r[2] for r in rows]


def test_broken_json_from_the_server_is_a_recorded_failure(con, corpus):
    with FakeLLM(lambda body, nth: (200, b"{not json", 0)) as fake:
        report = generate_queries(con, corpus, ["p0"], settings(fake, max_tries=2))
    assert report.made == 0 and len(report.failures) == 2


def test_a_wrong_key_stops_the_run_with_a_clear_error(con, corpus):
    with FakeLLM(
        lambda body, nth: (401, {"error": {"message": "bad key", "type": "invalid_request_error"}}, 0)
    ) as fake:
        with pytest.raises(LLMUnavailable, match="check the model name and its API key"):
            generate_queries(con, corpus, ["p0"], settings(fake))


def test_a_slow_server_is_used_concurrently(con, corpus):
    with FakeLLM(lambda body, nth: normal(body, nth)[:2] + (0.3,)) as fake:
        started = time.perf_counter()
        report = generate_queries(con, corpus, select_passages(con, corpus), settings(fake, concurrency=6))
        elapsed = time.perf_counter() - started
    assert report.made == 12
    assert fake.max_in_flight == 6
    assert elapsed < 12 * 0.3  # serial would take 3.6 s


def test_budget_stops_the_run_cleanly(con, corpus):
    # gpt-4o-mini: 100 tokens in, 20 out per call -> 2.7e-5 USD a call
    with FakeLLM() as fake:
        report = generate_queries(
            con, corpus, select_passages(con, corpus), settings(fake, concurrency=1, budget_usd=1e-4)
        )
    assert report.meter.stopped == "budget reached"
    assert 3 <= report.made <= 4 and len(fake.calls) == report.made
    assert report.meter.cost_usd >= 1e-4


def test_stop_then_resume_matches_an_uninterrupted_run_without_paying_twice(con, corpus, tmp_path):
    other = connect(tmp_path / "uninterrupted.duckdb")
    other_corpus = ingest_files(other, "c", [("p.csv", CSV)]).corpus_id
    with FakeLLM() as fake:
        generate_queries(other, other_corpus, select_passages(other, other_corpus), settings(fake))
    uninterrupted = stored(other, other_corpus)
    with FakeLLM() as fake:
        polls = iter(range(100))
        report = generate_queries(
            con,
            corpus,
            select_passages(con, corpus),
            settings(fake, concurrency=2),
            should_stop=lambda: next(polls) >= 5,
        )
        assert report.meter.stopped == "stopped by user" and 0 < report.made < 12
        report = generate_queries(con, corpus, select_passages(con, corpus), settings(fake, concurrency=2))
        assert report.skipped > 0
    assert stored(con, corpus) == uninterrupted
    assert len(fake.calls) == fake.unique_prompts == 12


def _generate_in_a_process(db_path: str, url: str) -> None:
    os.environ["OPENAI_API_KEY"] = "sk-test"
    con = connect(db_path)
    corpus = con.execute("SELECT id FROM corpora").fetchone()[0]
    config = LLMConfig(model="openai/gpt-4o-mini", api_base=url, concurrency=1, backoff_s=0.01)
    generate_queries(
        con,
        corpus,
        select_passages(con, corpus),
        GenerationSettings(per_type={"question": 1, "keywords": 1}, llm=config),
    )


def test_a_killed_run_resumes_to_the_same_queries(tmp_path):
    path = tmp_path / "killed.duckdb"
    con = connect(path)
    corpus = load_sample_corpus(con).corpus_id
    ids = select_passages(con, corpus)[:8]
    con.execute("DELETE FROM passages WHERE corpus_id = ? AND passage_id NOT IN (SELECT unnest(?))", [corpus, ids])
    con.close()
    with FakeLLM(lambda body, nth: normal(body, nth)[:2] + (0.15,)) as fake:
        process = multiprocessing.get_context("spawn").Process(
            target=_generate_in_a_process, args=(str(path), fake.url)
        )
        process.start()
        deadline = time.time() + 60
        while len(fake.calls) < 6 and time.time() < deadline:
            time.sleep(0.05)
        process.kill()
        process.join()
        con = connect(path)
        made_before = con.execute("SELECT count(*) FROM queries").fetchone()[0]
        assert 0 < made_before < 16
        calls_before = len(fake.calls)
        generate_queries(
            con,
            corpus,
            ids,
            GenerationSettings(
                per_type={"question": 1, "keywords": 1},
                llm=LLMConfig(model="openai/gpt-4o-mini", api_base=fake.url, backoff_s=0.01),
            ),
        )
    rows = con.execute("SELECT passage_id, qtype, text FROM queries ORDER BY ALL").fetchall()
    assert len(rows) == 16 and len(set(rows)) == 16
    assert all(text.startswith("synthetic query") for _, _, text in rows)
    # only the call in flight when the process died may be asked twice
    assert len(fake.calls) - fake.unique_prompts <= 1
    assert len(fake.calls) - calls_before == 16 - made_before  # the resumed run asks only for what is missing


def test_estimate_before_running(con, corpus):
    with FakeLLM() as fake:
        plan = estimate_generation(con, corpus, select_passages(con, corpus), settings(fake))
        assert plan["calls"] == 12 and plan["cost_usd"] > 0 and plan["queries"] == 12
        generate_queries(con, corpus, ["p0"], settings(fake))
        assert estimate_generation(con, corpus, select_passages(con, corpus), settings(fake))["already_made"] == 2
    unknown = GenerationSettings(llm=LLMConfig(model="openai/some-local-model"))
    assert estimate_generation(con, corpus, ["p0"], unknown)["cost_usd"] is None
    assert estimate_generation(con, corpus, ["p0"], unknown)["seconds"] is None  # a remote model's speed is unknown
    base = replace(unknown.llm, completion=True)  # one line back: a few tokens, not max_tokens
    lines = estimate_generation(con, corpus, ["p0"], GenerationSettings(llm=base))
    assert lines["tokens_out"] == lines["calls"] * LINE_TOKENS // 2 < lines["calls"] * base.max_tokens // 2
    rules = estimate_generation(con, corpus, select_passages(con, corpus), GenerationSettings(llm=LLMConfig()))
    assert rules["seconds"] == pytest.approx(rules["queries"] / (rates.OFFLINE_QUERIES_PER_CORE_S * rates.cores()))
    local = estimate_generation(con, corpus, ["p0"], GenerationSettings(llm=LLMConfig(model=LOCAL)))
    assert local["seconds"] > rates.LOCAL_START_S and local["calls"] == local["queries"] > 0


def test_time_estimates_come_from_the_measured_rates_and_scale_with_the_cores():
    rules = 2 * rates.OFFLINE_QUERIES_PER_CORE_S
    assert rates.generation_seconds(rules, "rules", 2) == pytest.approx(1.0)
    assert rates.generation_seconds(rules, "rules", 4) == pytest.approx(0.5)
    assert rates.generation_seconds(0, "local") == 0.0  # no model loaded for nothing
    hundred_s = 100 * 2 * rates.LOCAL_QUERIES_PER_CORE_S, 100 * 2 * rates.LOCAL_PAIRS_PER_CORE_S  # on 2 cores
    assert rates.generation_seconds(hundred_s[0], "local", 2) == pytest.approx(rates.LOCAL_START_S + 100)
    assert rates.judging_seconds(hundred_s[1], "local", 2) == pytest.approx(rates.LOCAL_START_S + 100)
    assert rates.judging_seconds(hundred_s[1], "local", 4) == pytest.approx(rates.LOCAL_START_S + 50)
    assert rates.judging_seconds(1000, "rules") == 0.0 and rates.judging_seconds(5, "openai/gpt-4o") is None
    assert rates.mining_seconds(300, 0, "fp32", 2) == pytest.approx(rates.ENCODER_START_S + 10.0)
    assert rates.mining_seconds(500, 0, "bf16", 2) == pytest.approx(rates.ENCODER_START_S + 10.0)
    assert rates.mining_seconds(0, 1000, "bf16", 2) == pytest.approx(rates.ENCODER_START_S + 3.0)
    assert rates.duration(30) == "about 30 s" and rates.duration(600) == "about 10 min"


def test_regenerate_one_passage_asks_again(con, corpus):
    with FakeLLM() as fake:
        generate_queries(con, corpus, ["p0"], settings(fake))
        regenerate_passage(con, corpus, "p0", settings(fake))
    assert len(fake.calls) == 4
    live, _ = store.list_queries(con, corpus, show="kept")
    deleted, _ = store.list_queries(con, corpus, show="deleted")
    assert len(live) == 2 and len(deleted) == 2


def test_several_api_bases_share_one_run_and_a_dead_one_is_routed_around(con, corpus):
    with FakeLLM() as first, FakeLLM() as second:
        config = LLMConfig(
            model="openai/gpt-4o-mini",
            api_base=f"{first.url}, {second.url}",
            concurrency=4,
            backoff_s=0.01,
            timeout_s=5,
        )
        report = generate_queries(
            con,
            corpus,
            select_passages(con, corpus),
            GenerationSettings(per_type={"question": 1, "keywords": 1}, llm=config),
        )
    assert report.made == 12 and report.failures == []
    assert len(first.calls) > 0 and len(second.calls) > 0 and len(first.calls) + len(second.calls) == 12
    with FakeLLM() as alive:
        dead = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
        config = LLMConfig(
            model="openai/gpt-4o-mini",
            api_base=f"{dead},{alive.url}",
            concurrency=2,
            backoff_s=0.01,
            timeout_s=5,
            max_tries=6,
        )
        report = generate_queries(
            con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"title": 1}, llm=config)
        )
    assert report.made == 6 and report.failures == [] and len(alive.calls) == 6


def test_a_self_hosted_server_needs_no_key_and_errors_print_no_litellm_banner(con, corpus, monkeypatch, capfd):
    monkeypatch.delenv("OPENAI_API_KEY")
    with FakeLLM() as fake:
        report = generate_queries(con, corpus, ["p0", "p1"], settings(fake))
    assert report.made == 4 and report.failures == [] and set(fake.authorizations) == {"Bearer no-key"}
    with FakeLLM(
        lambda body, nth: (401, {"error": {"message": "bad key", "type": "invalid_request_error"}}, 0)
    ) as fake:
        with pytest.raises(LLMUnavailable):
            generate_queries(con, corpus, ["p2"], settings(fake))
    printed = capfd.readouterr()
    assert "Give Feedback" not in printed.out + printed.err and len(fake.calls) == fake.unique_prompts  # never retried


def test_a_hosted_model_without_its_key_is_a_user_error_said_at_once(con, corpus, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    config = LLMConfig(model="openai/gpt-4o-mini", backoff_s=0.5, timeout_s=5)
    # a retried error would end as a recorded failure after four tries; a user error stops the run with what to do
    with pytest.raises(LLMUnavailable, match="has no API key|refused the call"):
        generate_queries(con, corpus, ["p0"], GenerationSettings(per_type={"question": 1}, llm=config))


def test_a_base_model_gets_few_shot_completion_prompts_and_its_debris_is_flagged(con, corpus):
    answers = iter(["how many spokes does wheel 0 have", "<<SYS>> I am glad to help", "what makes corals bleach"])
    with FakeLLM(lambda body, nth: (200, next(answers), 0)) as fake:
        config = LLMConfig(
            model="openai/some-base-model", api_base=fake.url, completion=True, concurrency=1, max_tokens=32
        )
        report = generate_queries(
            con, corpus, ["p0", "p1", "p2"], GenerationSettings(per_type={"question": 1}, llm=config)
        )
    assert report.made == 3 and all("prompt" in c and "messages" not in c for c in fake.calls)
    assert all(c["stop"] == ["\n"] and c["max_tokens"] == 32 for c in fake.calls)
    prompt = fake.calls[0]["prompt"]
    assert prompt.count("Document:") == 4 and prompt.endswith("Question:") and "Text of passage 0" in prompt
    from core.prompts import COMPLETION_WORDS, completion_prompt

    long = " ".join(f"w{i}" for i in range(COMPLETION_WORDS + 5))  # the model reads the passage's opening words
    written = completion_prompt("question", "Title", long).rsplit("Document: ", 1)[1]
    assert f"w{COMPLETION_WORDS - 1} ...\nQuestion:" in written and f"w{COMPLETION_WORDS} " not in written
    flags = dict(con.execute("SELECT text, flags FROM queries").fetchall())
    assert flags == {
        "how many spokes does wheel 0 have": [],
        "<<SYS>> I am glad to help": ["not a query"],
        "what makes corals bleach": ["echoes the prompt"],
    }  # a shot's own query, copied


def test_a_provider_error_that_echoes_the_key_is_stored_and_shown_without_it(con, corpus, monkeypatch):
    from tests.fake_llm import FakeLLM

    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdef")

    def echo(body, nth):
        return (
            500,
            {
                "error": {
                    "message": "upstream failed for Authorization: Bearer sk-live-0123456789abcdef "
                    "(key sk-live-0123456789abcdef)",
                    "type": "server_error",
                }
            },
            0,
        )

    with FakeLLM(echo) as fake:
        report = generate_queries(con, corpus, ["p0"], settings(fake, max_tries=1))
    assert (
        report.failures and "sk-live" not in report.failures[0]["error"] and "[redacted]" in report.failures[0]["error"]
    )
    stored = json.dumps(con.execute("SELECT * FROM llm_cache").fetchall(), default=str)
    assert "upstream failed" in stored and "sk-live-0123456789abcdef" not in stored
