"""Candidate mining on the real bundled model, and judging through the fake OpenAI server."""

import json
import threading

import numpy as np
import pytest

from core import embed
from core.errors import InvalidInput, LLMUnavailable
from core.ingest import load_sample_corpus
from core.judge import OFFLINE_JUDGE, JudgeSettings, judge_candidates, parse_grade, parse_list
from core.llm import LLMConfig
from core.mine import ROUND_TRIP_FLAG, mine_candidates
from core.retrieve import rrf
from storage import labels as store
from storage import queries as qstore
from tests.conftest import SAMPLE_PASSAGES
from tests.fake_llm import FakeLLM


@pytest.fixture(autouse=True)
def fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def add_query(con, corpus, passage_id, text):
    qstore.insert_queries(
        con,
        corpus,
        [
            {
                "passage_id": passage_id,
                "text": text,
                "qtype": "question",
                "origin": "human",
                "generator": "test",
                "prompt_version": "-",
                "cache_key": text,
                "flags": [],
            }
        ],
    )


@pytest.fixture
def mined(con):
    """The sample corpus with three hand-written queries whose answers are known, mined."""
    corpus = load_sample_corpus(con).corpus_id
    add_query(con, corpus, "valves", "presta or schrader valve, which pump head")
    add_query(con, corpus, "pedals", "left pedal reverse thread loosen")
    add_query(con, corpus, "torque", "why torque values matter, newton metres")
    report = mine_candidates(con, corpus, k=10)
    return corpus, report


def test_rrf_is_the_sum_of_reciprocal_ranks():
    a = np.array([[3.0, 2.0, 1.0]])
    b = np.array([[1.0, 3.0, 2.0]])
    fused = rrf(a, b, k=60)
    assert fused[0].tolist() == pytest.approx([1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62])


def test_mining_finds_the_known_answers_first_and_marks_the_source(con, mined):
    corpus, report = mined
    assert report.queries == 3 and report.source_in_top_k == 3 and report.flagged_round_trip == 0
    for query_id, answer in [(1, "valves"), (2, "pedals"), (3, "torque")]:
        candidates = store.candidates_of(con, query_id)
        assert len(candidates) == 10
        assert candidates.iloc[0]["passage_id"] == answer
        assert candidates[candidates["is_source"]]["passage_id"].tolist() == [answer]
        assert candidates["rank"].tolist() == list(range(1, 11))


def test_a_source_outside_the_top_k_is_added_and_the_query_flagged(con):
    corpus = load_sample_corpus(con).corpus_id
    add_query(con, corpus, "valves", "how do I fix a flat tyre with tyre levers")  # written for the wrong passage
    report = mine_candidates(con, corpus, k=3, round_trip_k=3)
    candidates = store.candidates_of(con, 1)
    assert len(candidates) == 4 and candidates.iloc[-1]["is_source"] and candidates.iloc[-1]["rank"] > 3
    assert report.flagged_round_trip == 1
    assert ROUND_TRIP_FLAG in con.execute("SELECT flags FROM queries WHERE id = 1").fetchone()[0]


def test_embeddings_are_cached_so_a_second_run_encodes_nothing(con, mined):
    corpus, _ = mined
    before = embed.encode_calls
    mine_candidates(con, corpus, k=10)
    assert embed.encode_calls == before
    add_query(con, corpus, "chain-lube", "how often should chains be oiled")
    mine_candidates(con, corpus, k=10)
    assert embed.encode_calls == before + 1  # only the new query's text
    assert con.execute("SELECT count(*) FROM embeddings").fetchone()[0] == SAMPLE_PASSAGES + 4


def test_offline_judge_follows_its_documented_rule(con, mined):
    corpus, _ = mined
    report = judge_candidates(con, corpus, JudgeSettings(max_candidates=10))
    assert report.judge == OFFLINE_JUDGE and report.labelled == 30
    labels = store.effective_labels(con, corpus)
    sources = labels[labels["is_source"]]
    assert (sources["grade"] == 3).all()
    for _, row in labels[~labels["is_source"]].iterrows():
        source = sources[sources["query_id"] == row["query_id"]].iloc[0]
        if row["dense_score"] >= 0.95 * source["dense_score"] and row["bm25_score"] >= 0.95 * source["bm25_score"]:
            assert row["status"] == "unsure" and np.isnan(row["grade"])
        else:
            assert row["grade"] == 0
    counts = store.training_counts(con, corpus)
    assert counts["confirmed_sources"] == 3 and counts["hard_negatives"] == int((labels["grade"] == 0).sum())
    assert judge_candidates(con, corpus, JudgeSettings(max_candidates=10)).skipped == 30


def llm_judge(fake, mode="pointwise", **llm):
    return JudgeSettings(
        mode=mode, max_candidates=3, llm=LLMConfig(model="openai/gpt-4o-mini", api_base=fake.url, backoff_s=0.01, **llm)
    )


def grade_by_passage(body, nth):
    """Grades 3 for passages about valves/pedals/torque, 0 otherwise, as JSON."""
    prompt = body["messages"][-1]["content"]
    passage = prompt.split("Passage:", 1)[1]
    good = any(word in passage for word in ("two common valve types", "reverse thread", "torque values"))
    return 200, json.dumps({"grade": 3 if good else 0, "reason": "it does" if good else "off topic"}), 0


def test_pointwise_llm_judging_stores_grade_reason_and_provenance(con, mined):
    corpus, _ = mined
    with FakeLLM(grade_by_passage) as fake:
        report = judge_candidates(con, corpus, llm_judge(fake))
    assert report.labelled == 9 and report.failed == 0 and len(fake.calls) == 9
    rows = con.execute(
        "SELECT passage_id, grade, rationale, judge, prompt_version, raw_response FROM labels ORDER BY query_id, passage_id"
    ).fetchall()
    assert {r[3] for r in rows} == {"openai/gpt-4o-mini"} and all(r[4] and r[5] for r in rows)
    assert {(r[0], r[1]) for r in rows if r[1] == 3} == {("valves", 3), ("pedals", 3), ("torque", 3)}
    counts = store.training_counts(con, corpus)
    assert counts["confirmed_sources"] == 3 and counts["hard_negatives"] == 6


def test_malformed_out_of_range_and_refusals_are_recorded_as_failed(con, mined):
    corpus, _ = mined
    answers = iter(
        [
            '{"grade": 2, "reason": "partly"}',
            "Grade: 7",
            "I cannot help with that.",
            "",
            "not json {",
            '{"grade": "high"}',
            '{"grade": 1}',
            "grade: 0 - unrelated",
            '{"grade": 3, "reason": "yes"}',
        ]
    )
    lock = threading.Lock()

    def behaviour(body, nth):
        with lock:
            return 200, next(answers), 0

    with FakeLLM(behaviour) as fake:
        report = judge_candidates(con, corpus, llm_judge(fake, max_tries=1))
    rows = con.execute("SELECT status, grade, error FROM labels").fetchall()
    assert len(rows) == 9 and report.labelled + report.failed == 9
    errors = sorted(r[2] for r in rows if r[0] == "failed")
    assert report.failed == 5 and len(errors) == 5
    assert (
        any("outside 0-3" in e for e in errors)
        and any("refusal" in e for e in errors)
        and any("empty" in e for e in errors)
    )
    assert any("not a number" in e for e in errors)
    assert sorted(r[1] for r in rows if r[0] == "ok") == [0, 1, 2, 3]


def test_listwise_judging_with_a_partial_answer(con, mined):
    corpus, _ = mined

    def behaviour(body, nth):
        return 200, 'Here: [{"id": 1, "grade": 3, "reason": "answers"}, {"id": 2, "grade": 0, "reason": "no"}]', 0

    with FakeLLM(behaviour) as fake:
        report = judge_candidates(con, corpus, llm_judge(fake, mode="listwise"))
    assert len(fake.calls) == 3  # one call per query
    assert report.labelled == 6 and report.failed == 3
    errors = con.execute("SELECT DISTINCT error FROM labels WHERE status = 'failed'").fetchall()
    assert errors == [("missing from the list answer",)]


def test_rejudging_with_another_model_keeps_both(con, mined):
    corpus, _ = mined
    judge_candidates(con, corpus, JudgeSettings(max_candidates=3))
    with FakeLLM(grade_by_passage) as fake:
        judge_candidates(con, corpus, llm_judge(fake))
    judges = con.execute("SELECT judge, count(*) FROM labels GROUP BY judge ORDER BY judge").fetchall()
    assert judges == [("offline-judge-v2 (no LLM)", 9), ("openai/gpt-4o-mini", 9)]


def test_a_stopped_judging_run_resumes_without_asking_twice(con, mined):
    corpus, _ = mined
    with FakeLLM(grade_by_passage) as fake:
        polls = iter(range(100))
        first = judge_candidates(con, corpus, llm_judge(fake, concurrency=1), should_stop=lambda: next(polls) >= 4)
        assert first.meter.stopped == "stopped by user" and first.labelled == 4
        second = judge_candidates(con, corpus, llm_judge(fake, concurrency=1))
    assert second.skipped == 4 and second.labelled == 5
    assert len(fake.calls) == fake.unique_prompts == 9


def test_a_refused_key_stops_judging(con, mined):
    corpus, _ = mined
    with FakeLLM(lambda body, nth: (401, {"error": {"message": "bad key"}}, 0)) as fake:
        with pytest.raises(LLMUnavailable):
            judge_candidates(con, corpus, llm_judge(fake))


def test_parsers():
    assert parse_grade('Sure: {"grade": 2, "reason": "partly"}') == (2, "partly", None)
    assert parse_grade("grade: 4")[2] == "grade 4 is outside 0-3"
    assert parse_list('[{"id": 2, "grade": 1, "reason": "r"}]', 2) == {
        1: (None, "", "missing from the list answer"),
        2: (1, "r", None),
    }
    with pytest.raises(InvalidInput, match="pointwise or listwise"):
        JudgeSettings(mode="pairwise")


def test_a_model_trained_again_into_the_same_folder_is_never_served_from_the_old_cache(con, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer

    from core import embed
    from core.embed import bundled_model_path

    folder = tmp_path / "model"
    model = SentenceTransformer(str(bundled_model_path()))
    model.save(str(folder))
    before = embed.encode(con, ["chain wear", "brake pads"], str(folder))
    calls = embed.encode_calls
    assert (
        np.allclose(embed.encode(con, ["chain wear", "brake pads"], str(folder)), before)
        and embed.encode_calls == calls
    )
    with torch.no_grad():  # "train again": other weights, saved into the same folder
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.save(str(folder))
    after = embed.encode(con, ["chain wear", "brake pads"], str(folder))
    assert embed.encode_calls > calls and not np.allclose(after, before, atol=1e-3)


def test_mining_stopped_midway_keeps_what_it_stored_and_resumes(con, monkeypatch):
    """A page's Stop button ends a step by raising inside its progress callback (Streamlit's rerun)."""
    from core import mine
    from core.generate import GenerationSettings, generate_queries, select_passages

    corpus = load_sample_corpus(con).corpus_id
    generate_queries(
        con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"question": 2, "keywords": 2})
    )
    monkeypatch.setattr(mine, "BATCH", 64)

    class Stopped(Exception):
        pass

    def stop_at_second_batch(fraction, message):
        if message.startswith("ranking queries 64-"):
            raise Stopped

    with pytest.raises(Stopped):
        mine_candidates(con, corpus, k=5, progress=stop_at_second_batch)
    mined_queries = con.execute("SELECT count(DISTINCT query_id) FROM candidates").fetchone()[0]
    assert mined_queries == 64  # the first batch, whole; nothing of the second
    calls = embed.encode_calls
    report = mine_candidates(con, corpus, k=5)
    assert report.queries == con.execute("SELECT count(DISTINCT query_id) FROM candidates").fetchone()[0] > 64
    assert (
        embed.encode_calls - calls == (report.queries - 1) // 64
    )  # the passages and the first batch come from the cache


def test_a_mining_run_stopped_before_its_first_candidates_leaves_no_run_behind(con):
    corpus = load_sample_corpus(con).corpus_id
    add_query(con, corpus, "valves", "presta or schrader valve, which pump head")

    def stop_at_once(fraction, message):
        if message.startswith("ranking queries"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mine_candidates(con, corpus, k=5, progress=stop_at_once)
    assert con.execute("SELECT count(*) FROM mining_runs").fetchall() == [(0,)]
    assert mine_candidates(con, corpus, k=5).run_id == con.execute("SELECT max(id) FROM mining_runs").fetchall()[0][0]


def test_a_base_model_judges_by_a_few_shot_yes_or_no():
    """The judge's base-model path: a completion per pair, 'yes' graded 3, 'no' 0, anything else a failed label."""
    from core.judge import JudgeSettings, judge_candidates
    from core.llm import LLMConfig
    from tests.conftest import judged_sample
    from tests.fake_llm import FakeLLM

    con, corpus = judged_sample("question")
    answers = {0: " yes", 1: " no", 2: " maybe so"}
    with FakeLLM(lambda body, nth: (200, answers[len(body["prompt"]) % 3], 0)) as fake:
        config = LLMConfig(model="openai/base", api_base=fake.url, completion=True, concurrency=4)
        report = judge_candidates(con, corpus, JudgeSettings(max_candidates=2, llm=config))
    assert all(c["prompt"].endswith("Relevant:") and c["stop"] == ["\n"] and c["logprobs"] == 5 for c in fake.calls)
    pairs = [c for c in fake.calls if "Document: N/A\n" not in c["prompt"]]  # the rest: one no-document call a query
    assert report.pairs == len(pairs) < len(fake.calls) and report.labelled + report.failed == report.pairs
    rows = con.execute("SELECT grade, status, raw_response FROM labels WHERE judge = 'openai/base'").fetchall()
    expected = {" yes": (3, "ok"), " no": (0, "ok"), " maybe so": (None, "failed")}
    said = [json.loads(raw)["text"] for _, _, raw in rows]  # this server sends no probabilities: the word decides
    assert rows and all((grade, status) == expected[word] for (grade, status, _), word in zip(rows, said))
    assert report.failed == said.count(" maybe so")


def test_a_base_model_that_sends_probabilities_grades_by_p_yes():
    """Where the server returns the first token's log probabilities (llama.cpp does), the grade is round(3 P(yes))
    with P(yes) taken among yes and no, and the reason gives it."""
    import math

    from core.judge import JudgeSettings, judge_candidates, p_yes
    from core.llm import LLMConfig
    from tests.conftest import judged_sample
    from tests.fake_llm import FakeLLM, completion

    assert p_yes({" yes": math.log(0.6), " Yes": math.log(0.1), " no": math.log(0.3), " it": -1.0}) == pytest.approx(
        0.7
    )
    assert p_yes({" maybe": -0.1}) is None
    con, corpus = judged_sample("question")
    shares = [0.95, 0.6, 0.3, 0.05]  # P(yes) among yes and no: graded 3, 2, 1, 0

    def answer(body, nth):
        share = 0.5 if "Document: N/A\n" in body["prompt"] else shares[len(body["prompt"]) % 4]  # no bias: as is
        reply = completion(" yes" if share >= 0.5 else " no", text=True)
        reply["choices"][0]["logprobs"] = {
            "tokens": [" yes"],
            "token_logprobs": [math.log(share * 0.9)],
            "text_offset": [0],
            "top_logprobs": [
                {" yes": math.log(share * 0.9), " no": math.log((1 - share) * 0.9), " the": math.log(0.1)}
            ],
        }
        return 200, reply, 0

    with FakeLLM(answer) as fake:
        config = LLMConfig(model="openai/base", api_base=fake.url, completion=True, concurrency=4)
        report = judge_candidates(con, corpus, JudgeSettings(max_candidates=2, llm=config))
    assert report.failed == 0 and report.labelled > 4
    rows = con.execute("SELECT grade, rationale FROM labels WHERE judge = 'openai/base'").fetchall()
    for grade, reason in rows:
        p = float(reason.rsplit(" ", 1)[1])
        assert reason.startswith("the model's P(yes)") and grade == round(3 * p)
    assert {grade for grade, _ in rows} == {0, 1, 2, 3}


def test_a_base_models_bias_toward_yes_is_calibrated_away():
    """P(yes) 0.7 for a document from a model that says yes with 0.9 to no document at all is a no (Zhao et al., 2021)."""
    import math

    from core.judge import parse_yes_no

    answer = json.dumps({"text": " yes", "first": {" yes": math.log(0.7), " no": math.log(0.3)}})
    assert parse_yes_no(answer)[0] == 2  # taken as it is: relevant
    grade, reason, error = parse_yes_no(answer, prior=0.9)
    assert (grade, error) == (1, None) and reason.endswith("with no document: calibrated 0.21")
    assert parse_yes_no(answer, prior=0.3)[0] == 3  # more yes than it says to nothing: surely relevant


def test_a_base_models_calibration_call_goes_before_its_querys_pairs_and_a_stopped_run_writes_none_uncalibrated(
    monkeypatch,
):
    """Each query's no-document call is asked just before its pairs, in the same run; pairs answered before it are
    graded once it arrives, and a run stopped early pays for the calibration of the queries it judged only."""
    import math

    from tests.conftest import judged_sample
    from tests.fake_llm import completion

    con, corpus = judged_sample("question")

    def answer(body, nth):
        prior = "Document: N/A\n" in body["prompt"]
        share = 0.8 if prior else 0.9
        reply = completion(" yes", text=True)
        reply["choices"][0]["logprobs"] = {
            "tokens": [" yes"],
            "token_logprobs": [math.log(share)],
            "text_offset": [0],
            "top_logprobs": [{" yes": math.log(share), " no": math.log(1 - share)}],
        }
        return 200, reply, 0.3 if prior else 0.0  # the calibration answers last: its pairs wait for it

    def query_of(prompt: str) -> str:
        return prompt.rsplit("Query: ", 1)[1].split("\n", 1)[0]

    import core.llm

    sent, call = [], core.llm._call  # the order calls are asked in: with 4 in flight, the server may see another

    async def asking(config, request, *rest):
        sent.append({"prompt": request.messages[-1]["content"]})
        return await call(config, request, *rest)

    monkeypatch.setattr(core.llm, "_call", asking)
    with FakeLLM(answer) as fake:
        config = LLMConfig(model="openai/base", api_base=fake.url, completion=True, concurrency=4)
        done = []
        stopped = judge_candidates(
            con,
            corpus,
            JudgeSettings(max_candidates=2, llm=config),
            progress=lambda meter: done.append(meter.done),
            should_stop=lambda: bool(done) and done[-1] >= 6,
        )
        asked = [query_of(c["prompt"]) for c in sent]
        priors = [query_of(c["prompt"]) for c in sent if "Document: N/A\n" in c["prompt"]]
        assert len(priors) < stopped.pairs / 2  # not every query's calibration first: only the judged ones'
        for query in set(asked):
            assert "Document: N/A\n" in sent[asked.index(query)]["prompt"]  # its calibration went first
        rows = con.execute("SELECT grade, rationale FROM labels WHERE judge = 'openai/base'").fetchall()
        assert 0 < len(rows) < stopped.pairs
        for grade, reason in rows:  # 0.9 against 0.8 with no document: odds 2.25, calibrated 0.69, graded 2
            assert reason.endswith("0.80 with no document: calibrated 0.69") and grade == 2
        resumed = judge_candidates(con, corpus, JudgeSettings(max_candidates=2, llm=config))
    rows = con.execute("SELECT grade, rationale FROM labels WHERE judge = 'openai/base'").fetchall()
    assert len(rows) == stopped.pairs == resumed.pairs and {g for g, _ in rows} == {2}
