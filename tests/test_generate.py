"""Query generation through litellm's real client against a fake OpenAI server on 127.0.0.1."""

import json
import multiprocessing
import os
import threading
import time
from collections import Counter

import pytest

from core import rates
from core.errors import LLMUnavailable
from core.generate import GenerationSettings, estimate_generation, generate_queries, regenerate_passage, select_passages
from core.ingest import ingest_files, load_sample_corpus
from core.llm import LOCAL, LLMConfig
from core.prompts import QUERY_TYPES
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
    rules = estimate_generation(con, corpus, select_passages(con, corpus), GenerationSettings(llm=LLMConfig()))
    assert rules["seconds"] == pytest.approx(rules["queries"] / (rates.OFFLINE_QUERIES_PER_CORE_S * rates.cores()))
    local = estimate_generation(con, corpus, ["p0"], GenerationSettings(llm=LLMConfig(model=LOCAL)))
    assert local["seconds"] > rates.LOCAL_START_S and local["calls"] == local["queries"] > 0


def test_time_estimates_come_from_the_measured_rates_and_scale_with_the_cores():
    rules = 2 * rates.OFFLINE_QUERIES_PER_CORE_S
    assert rates.generation_seconds(rules, "rules", 2) == pytest.approx(1.0)
    assert rates.generation_seconds(rules, "rules", 4) == pytest.approx(0.5)
    assert rates.generation_seconds(0, "local") == 0.0  # no server started for nothing
    assert rates.generation_seconds(144, "local", 2) == pytest.approx(rates.LOCAL_START_S + 100)
    assert rates.judging_seconds(46, "local", 2) == pytest.approx(rates.LOCAL_START_S + 100)
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


def test_offline_generator_makes_every_type_without_network(con):
    corpus = load_sample_corpus(con).corpus_id
    report = generate_queries(
        con, corpus, select_passages(con, corpus), GenerationSettings(per_type={t: 1 for t in QUERY_TYPES})
    )
    rows = con.execute("SELECT qtype, text, origin, generator FROM queries").fetchall()
    assert report.made == 47 * 6 and {r[0] for r in rows} == set(QUERY_TYPES)
    assert all(r[1].strip() for r in rows)
    assert {r[2] for r in rows} == {"offline"} and all("no LLM" in r[3] for r in rows)


def test_offline_generator_on_medquad_passages(con, medquad):
    lines = (medquad / "corpus.jsonl").read_bytes().splitlines()[:300]
    corpus = ingest_files(con, "m", [("corpus.jsonl", b"\n".join(lines))]).corpus_id
    generate_queries(
        con, corpus, select_passages(con, corpus), GenerationSettings(per_type={t: 1 for t in QUERY_TYPES})
    )
    rows = con.execute("SELECT qtype, text FROM queries").fetchall()
    assert len(rows) == 300 * 6 and {r[0] for r in rows} == set(QUERY_TYPES)
    assert all(len(r[1].split()) >= 1 for r in rows)
    kept, _ = store.list_queries(con, corpus, show="kept", limit=10_000)
    assert len(kept) > 0.8 * len(rows)


def test_offline_queries_name_the_topic_and_what_sets_the_passage_apart_from_its_siblings():
    from core.offline import OfflineGenerator

    shared = "The spoke tension of a wheel matters for every rider and every wheel."
    sections = {
        "truing": f"{shared} Truing moves the rim sideways with a spoke key until the rim runs straight.",
        "building": f"{shared} Building laces new spokes in a cross pattern around the hub flanges.",
        "replacing": f"{shared} Replacing a broken spoke means removing the tyre and threading a new nipple.",
    }
    others = ["Chains need oil after rain.", "Brake pads wear out and squeal.", "Tyres lose pressure slowly."]
    texts = list(sections.values()) + others
    gen = OfflineGenerator(texts, ["Wheel care"] * 3 + ["Chains", "Brakes", "Tyres"])
    for word, text in sections.items():
        for qtype in ("keywords", "web", "title"):
            query = gen.make("Wheel care", text, qtype).lower()
            assert "wheel" in query, (qtype, query)
            distinctive = set(text.lower().rstrip(".").split()) - set(shared.lower().rstrip(".").split())
            assert set(query.replace(":", " ").split()) & distinctive, (qtype, query)
            assert "tension" not in query  # shared by every sibling: says nothing about this passage
    # without siblings the aspect is plain TF-IDF, and every type still gives a query
    assert all(gen.make("Chains", others[0], t) for t in ("question", "claim", "title", "keywords", "web", "casual"))


def asked(query: str, topic: str) -> list[str]:
    """The words a question asks before it names its topic ("What is the treatment" of "... for glaucoma?")."""
    text, topic = query.rstrip("?").lower(), topic.lower()
    for named in (f" for {topic}", f" of {topic}"):
        if topic and text.endswith(named):
            return text.removesuffix(named).split()
    return text.split()


def test_offline_questions_end_where_a_question_can_and_phrases_stay_inside_a_clause():
    """No question cut off on a word that needs more ("What may be used to for ...", "How do I people who have?"),
    no subject that names nobody ("our experiment", "although ..."), no noun phrase across a list's commas, and a
    sentence that is already a question is not turned into another ("What can I find ...")."""
    from core.offline import FUNCTION_WORDS, OfflineGenerator

    texts = [
        "A sample of citations was analysed by subject, bibliographic form, country of origin and language.",
        "How can I find more information on the treatment of citation bias? You can find journal articles here.",
        "Our experiment was based on one volume of abstracts. The indexing terms were weighted by frequency.",
        "Although the catalogue is large, retrieval can be fast. Readers can search the catalogue by title.",
        "Search the catalogue with the subject headings. Readers may also browse the shelves.",
        "People who have borrowed books can renew them online.",
    ]
    titles = [
        "Citation analysis",
        "Citation bias",
        "Term weighting",
        "Catalogue search",
        "Subject headings",
        "Renewals",
    ]
    gen = OfflineGenerator(texts, titles)
    scores = gen.aspect_scores(titles[0], texts[0])
    clauses = [c.strip().lower() for c in texts[0].rstrip(".").split(",")]
    for phrase in gen.noun_phrases(texts[0], scores):
        assert any(phrase.lower() in c for c in clauses), phrase  # "subject bibliographic form country" is no phrase
    # what the passage says its topic has ("the treatment of citation bias") is what a searcher asks about
    assert gen.make(titles[1], texts[1], "question") == "What is the treatment of citation bias?"
    for title, text in zip(titles, texts):
        for qtype in ("question", "casual"):
            query = gen.make(title, text, qtype).rstrip("?")
            words = asked(query, gen.topic(title))
            assert words and words[-1] not in FUNCTION_WORDS, query
            assert not query.lower().startswith(
                ("what can i find", "what was our", "what is although", "how do i people")
            ), query


def test_offline_questions_name_what_this_points_at_and_ask_about_the_topic():
    """A subject saying "this condition" names the topic where passages open with "This condition ..." (nothing
    before them to point at), so the question names it; a subject pointing at something else ("this article" where
    no passage opens so) is no question, and "of" shared with the topic does not count as naming it."""
    from core.offline import OfflineGenerator

    texts = [
        "This condition is inherited in an autosomal recessive pattern.",
        "This condition affects the skin and the hair of young children.",
        "The incidence of this condition is about one in ten thousand newborns.",
        "The purpose of this article is to discuss the library environment and its readers.",
        "Oil keeps a bicycle chain quiet.",
    ]
    titles = ["Tietz syndrome", "Tietz syndrome", "Galloway-Mowat syndrome", "The Ecology of Privacy", "Chains"]
    gen = OfflineGenerator([f"{title}. {text}" for title, text in zip(titles, texts)], titles)
    assert gen.anaphors == {"condition"}
    assert gen.make(titles[2], texts[2], "question") == "What is the incidence of Galloway-Mowat syndrome?"
    assert gen.make(titles[2], texts[2], "casual") == "what is the incidence of galloway-mowat syndrome"
    question = gen.make(titles[3], texts[3], "question")
    assert "this" not in question.lower().split() and question.endswith("for the ecology of privacy?"), question


def test_a_title_that_is_a_clause_yields_its_subject_as_the_topic():
    """ "What I need to know about Gas" is about gas, "Kidney Failure: What to Expect" about kidney failure; a
    title without such a clause, colon or not, keeps its words; a title that is a question stays one."""
    from core.offline import OfflineGenerator

    gen = OfflineGenerator(["Gas is air in the digestive tract."], ["What I need to know about Gas"])
    assert gen.topic("What I need to know about Gas") == "gas"
    assert gen.topic("Kidney Failure: What to Expect") == "kidney failure"
    assert (
        gen.topic("Diabetic Neuropathies: The Nerve Damage of Diabetes")
        == "diabetic neuropathies the nerve damage of diabetes"
    )
    assert gen.topic("What do Chemists Read?") == "what do chemists read"
    assert gen.make("What I need to know about Gas", "Gas is air in the digestive tract.", "casual").endswith("gas")


def test_offline_questions_on_medquad_and_cisi_end_where_a_question_can(medquad):
    """The rule above over the first 1,000 passages of each real corpus (offline-v6 cut 101 of the first 1,500
    MedQuAD passages' questions and casual searches short on a function word, and 46 of CISI's; v7 none)."""
    from core.offline import FUNCTION_WORDS, OfflineGenerator

    for folder in (medquad, medquad.parent / "cisi"):
        rows = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()[:1000]]
        gen = OfflineGenerator([f"{r['title']}. {r['text']}" for r in rows], [r["title"] for r in rows])
        queries = [
            (gen.make(r["title"], r["text"], qtype), gen.topic(r["title"]))
            for r in rows
            for qtype in ("question", "casual")
        ]
        cut = [q for q, topic in queries if asked(q, topic)[-1] in FUNCTION_WORDS]
        assert len(queries) == 2000 and cut == [], cut[:5]


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


def test_types_in_turn_give_each_passage_one_type_and_keep_it_on_a_rerun(con):
    corpus = load_sample_corpus(con).corpus_id  # 47 passages
    everything = select_passages(con, corpus)
    settings = GenerationSettings(per_type={"question": 1, "casual": 1}, in_turn=True)
    first = generate_queries(con, corpus, everything[:20], settings)
    again = generate_queries(con, corpus, everything, settings)  # a wider selection: the first 20 keep their type
    assert first.made == 20 and again.made == len(everything) - 20 and again.skipped == 20
    per_passage = con.execute("SELECT passage_id, count(*), min(qtype) FROM queries GROUP BY 1").fetchall()
    assert len(per_passage) == len(everything) and {n for _, n, _ in per_passage} == {1}
    by_type = Counter(t for _, _, t in per_passage)
    assert set(by_type) == {"question", "casual"} and min(by_type.values()) >= len(everything) / 4  # both take turns
    both = generate_queries(con, corpus, everything, GenerationSettings(per_type={"question": 1, "casual": 1}))
    assert both.made == len(everything)  # without turns, each passage also gets the type it had not


def test_a_question_naming_only_the_topic_goes_to_the_passage_that_opens_its_title(con):
    """'What is wheel care?' fits every passage titled Wheel care; the offline generator gives it to the passage
    that opens a run of them (a document's introduction) and asks the others about what sets them apart."""
    docs = [
        (
            "a1",
            "Wheel care",
            "Wheel care is the upkeep of a bicycle's wheels by its rider. Riders check spokes before rides.",
        ),
        (
            "a2",
            "Wheel care",
            "Wheel care is cheap. Truing moves the rim sideways with a spoke key until the rim runs straight.",
        ),
        (
            "a3",
            "Wheel care",
            "Wheel care is simple. Building laces new spokes in a cross pattern around the hub flanges.",
        ),
        ("b1", "Chains", "Chains need oil after rain."),
        (
            "c1",
            "Wheel care",
            "Wheel care is what keeps a wheel round and true for years of riding.",
        ),  # another document's introduction
        (
            "c2",
            "Wheel care",
            "Wheel care is quick. Replacing a broken spoke means removing the tyre and threading a new nipple.",
        ),
    ]
    lines = "".join(
        json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in reversed(docs)
    )  # backwards: the corpus orders by document id
    corpus = ingest_files(con, "w", [("corpus.jsonl", lines.encode())]).corpus_id
    generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"question": 1}))
    asked = dict(con.execute("SELECT p.doc_id, q.text FROM queries q JOIN passages p USING (passage_id)").fetchall())
    assert asked["a1"] == asked["c1"] == "What is wheel care?"
    for sibling in ("a2", "a3", "c2"):
        assert asked[sibling] != "What is wheel care?" and "wheel care" in asked[sibling].lower(), asked
        assert set(asked[sibling].lower().rstrip("?").split()) - {"what", "is", "are", "the", "for", "wheel", "care"}, (
            asked
        )


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
