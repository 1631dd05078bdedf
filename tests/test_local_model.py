"""The LLM path against a real model: the bundled Gemma 3 270M, served by llama.cpp on 127.0.0.1 through litellm."""

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
    assert main(["generate", name, "--model", "local", "--sample", "24"]) == 0  # cached: the server is not even started
    assert "0 queries made" in capsys.readouterr().out
    assert main(["mine", name, "--k", "10"]) == 0
    assert main(["judge", name, "--model", "local", "--top", "3"]) == 0
    out = capsys.readouterr().out
    con = connect(database_path())
    graded = con.execute("SELECT grade, rationale FROM labels WHERE status = 'ok'").fetchall()
    con.close()
    assert graded and "labelled" in out, out
    # llama.cpp's server sends the first token's probabilities: every grade is 3 P(yes), calibrated against the
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
