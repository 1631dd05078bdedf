"""The LLM path against a real model: the bundled Gemma 3 270M, run by llama.cpp in process (core.localmodel)."""

import pytest

from core.cli import main
from core.localmodel import available
from core.settings import database_path
from storage.db import connect

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def local_model():
    problem = available()
    if problem:
        pytest.skip(problem)


def test_generate_judge_train_and_evaluate_with_the_real_local_model(monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # no key anywhere
    name = "Sample: home bicycle maintenance"
    assert main(["sample"]) == 0
    assert main(["generate", name, "--model", "local", "--sample", "24"]) == 0
    out = capsys.readouterr().out
    con = connect(database_path())
    rows = con.execute("SELECT text, flags, generator, origin FROM queries").fetchall()
    assert len(rows) == 24 and {r[3] for r in rows} == {"llm"} and "gemma-3-270m" in rows[0][2], out
    kept = [text for text, flags, *_ in rows if not flags]
    assert len(kept) >= 12, rows  # most lines a 270M base model writes for a passage are queries
    assert not [t for t in kept if any(bad in t for bad in ("<", "[INST", "Document:", "Relevant"))], kept
    answers = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE error IS NULL), sum(cost_usd) FROM llm_cache"
    ).fetchone()
    assert answers == (24, 24, 0.0)  # every call answered, for nothing
    con.close()
    assert main(["generate", name, "--model", "local", "--sample", "24"]) == 0  # cached: the model is not even loaded
    assert "0 queries made" in capsys.readouterr().out
    assert main(["mine", name, "--k", "10"]) == 0
    assert main(["judge", name, "--model", "local", "--top", "3"]) == 0
    out = capsys.readouterr().out
    con = connect(database_path())
    graded = con.execute("SELECT grade, rationale FROM labels WHERE status = 'ok'").fetchall()
    con.close()
    assert graded and "labelled" in out, out
    # the model gives the first token's probabilities: every grade is 3 P(yes), calibrated against the
    # model's answer with no document, rounded (the reason shows P to two decimals)
    assert all(
        "with no document: calibrated" in reason and abs(grade - 3 * float(reason.rsplit(" ", 1)[1])) <= 0.52
        for grade, reason in graded
    ), graded[:5]
    # the 270M judge says relevant to nearly every pair, and a query teaches only with a negative: the rules judge
    # the same candidates too, and training reads each pair's latest label
    assert main(["judge", name, "--top", "10"]) == 0
    assert main(["train", name, "--epochs", "1", "--max-steps", "3", "--spec", '{"batch_size": 8}']) == 0
    con = connect(database_path())
    model = con.execute("SELECT max(id) FROM models").fetchone()[0]
    con.close()
    assert main(["evaluate", name, "--systems", f"rerank:{model}"]) == 0
    assert "(rerank)" in capsys.readouterr().out


def test_prompts_decoded_together_answer_as_each_alone_and_one_too_long_fails_alone(tmp_path):
    from core.localmodel import LocalModel
    from core.prompts import completion_prompt

    passages = [
        (
            "Cleaning a bicycle chain",
            "Run the chain backwards through a rag soaked in degreaser, then dry and lube it.",
        ),
        ("Adjusting brake pads", "Loosen the pad bolt, align the pad with the rim, squeeze the lever and tighten."),
        ("Truing a wheel", "Tighten the spokes on the side opposite the wobble a quarter turn at a time."),
        ("Tyre pressure", "Road tyres run at 80 to 100 psi, mountain bike tyres at 25 to 35 psi."),
    ]
    prompts = [completion_prompt("question", title, text) for title, text in passages]
    with LocalModel(slots=4, context=2048) as model:
        together = model.answer(prompts, stop=("\n",), logprobs=3)
        alone = [model.answer([p], stop=("\n",), logprobs=3)[0] for p in prompts]
        # a prompt that cannot fit the context is refused alone; the others in its group are answered
        mixed = model.answer([prompts[0], "word " * 3000, prompts[1]], max_tokens=8, stop=("\n",))
    for a, b in zip(together, alone):
        best = max(b.first, key=b.first.get)
        # the same likeliest first token, its probability within numerical noise of the batch's kernels
        assert best in a.first and abs(a.first[best] - b.first[best]) < 0.3, (a, b)
        assert a.text.strip() and "\n" not in a.text and 0 < a.tokens_out <= 32 and a.error is None, a
    assert [m.error is None for m in mixed] == [True, False, True] and "tokens" in mixed[1].error, mixed
    assert mixed[0].text.strip() and mixed[2].text.strip(), mixed


def test_a_query_is_likelier_after_the_passage_it_asks_about_than_after_another():
    from core.localmodel import LocalModel

    chain = "Passage: Lubricate the bicycle chain every 300 km with a drop of oil on each roller.\nA question:"
    tyre = "Passage: Inflate a road tyre to the pressure printed on its sidewall, usually 80 to 100 psi.\nA question:"
    oil, pressure = " How often should I oil my bicycle chain?", " What pressure should road tyres have?"
    with LocalModel(slots=3) as model:  # four pairs: two batches
        scores = model.likelihood([(chain, oil), (tyre, oil), (tyre, pressure), (chain, pressure)])
        again = model.likelihood([(chain, oil), (tyre, oil), (tyre, pressure), (chain, pressure)])
    assert len(scores) == 4 and all(s < 0 for s in scores), scores  # mean log probabilities
    assert scores[0] > scores[1] + 0.2, scores  # the chain passage explains the chain question
    assert scores[2] > scores[3] + 0.2, scores  # and the tyre passage the tyre question
    assert again == scores  # nothing of a call stays in the model's memory to change the next one
