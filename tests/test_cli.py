import json

import pytest

from core.cli import main
from core.settings import database_path
from storage.db import connect
from tests.conftest import SAMPLE_PASSAGES, SAMPLE_QUESTIONS


def test_sample_then_ingest_a_folder_then_list(tmp_path, capsys):
    assert main(["sample"]) == 0
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Chains need oil.")
    (folder / "b.md").write_text("# Brakes\nPads wear.")
    assert main(["ingest", "Notes", str(folder)]) == 0
    assert main(["corpora"]) == 0
    out = capsys.readouterr().out
    assert "2 passages stored in 'Notes'" in out and "Sample: home bicycle maintenance" in out
    con = connect(database_path())
    assert con.execute("SELECT count(*) FROM passages").fetchone()[0] == SAMPLE_PASSAGES + 2


def test_a_user_error_exits_2_with_the_message(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["ingest", "x", str(bad)]) == 2
    assert "bad.jsonl, line 1: is not valid JSON" in capsys.readouterr().err


def test_generate_offline_from_the_command_line(capsys):
    assert main(["sample"]) == 0
    assert main(["generate", "Sample: home bicycle maintenance", "--types", "question=1,web=2", "--sample", "10"]) == 0
    assert "30 queries made" in capsys.readouterr().out
    con = connect(database_path())
    assert con.execute("SELECT qtype, count(*) FROM queries GROUP BY ALL ORDER BY ALL").fetchall() == [
        ("question", 10),
        ("web", 20),
    ]
    con.close()
    assert main(["generate", "nope"]) == 2
    assert main(["generate", "Sample: home bicycle maintenance", "--types", "question"]) == 2
    # no --types: the offline default, a question or a casual search per passage, in turn (the 10 above may
    # already have the question their turn gives them)
    assert main(["generate", "Sample: home bicycle maintenance"]) == 0
    con = connect(database_path())
    counts = dict(con.execute("SELECT qtype, count(*) FROM queries GROUP BY ALL").fetchall())
    turns = dict(
        con.execute(
            "SELECT qtype, count(DISTINCT passage_id) FROM queries WHERE qtype IN ('question', 'casual') GROUP BY ALL"
        ).fetchall()
    )
    assert counts["web"] == 20 and counts["casual"] > 10 and counts["question"] >= 10
    assert (
        con.execute("SELECT count(DISTINCT passage_id) FROM queries WHERE qtype IN ('question', 'casual')").fetchone()[
            0
        ]
        == SAMPLE_PASSAGES
    )
    assert turns["casual"] + turns["question"] <= SAMPLE_PASSAGES + 10  # only the 10 sampled passages may have both
    con.close()
    assert main(["generate", "Sample: home bicycle maintenance", "--no-in-turn"]) == 0  # both for every passage
    con = connect(database_path())
    counts = dict(con.execute("SELECT qtype, count(*) FROM queries GROUP BY ALL").fetchall())
    # a question and a casual search asked of every passage; where no question reads, the rules made its turn's
    # query a casual search (stored as one)
    assert (
        counts["web"] == 20
        and counts["question"] + counts["casual"] == 2 * SAMPLE_PASSAGES
        and counts["question"] < SAMPLE_PASSAGES
    )
    con.close()


def test_mine_and_judge_from_the_command_line(capsys):
    assert main(["sample"]) == 0
    assert main(["generate", "Sample: home bicycle maintenance", "--types", "keywords=1", "--sample", "5"]) == 0
    assert main(["mine", "Sample: home bicycle maintenance", "--k", "10"]) == 0
    assert main(["judge", "Sample: home bicycle maintenance", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "50 candidates for 5 queries" in out
    assert "offline-judge-v2 (no LLM): 25 labelled" in out


def test_train_before_judging_says_which_commands_come_first(capsys):
    assert main(["sample"]) == 0
    assert main(["train", "Sample: home bicycle maintenance"]) == 2
    assert "`qurate mine` then `qurate judge`" in capsys.readouterr().err


def test_a_command_piped_to_a_file_shows_no_library_progress_bar():
    """Mining loads the encoder in a fresh process, as a user's command does: transformers' "Loading weights" bar
    must not reach the output that a log file or a CI job keeps."""
    import subprocess
    import sys

    name = "Sample: home bicycle maintenance"
    for args in (["sample"], ["generate", name, "--types", "keywords=1", "--sample", "5"]):
        assert main(args) == 0
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "mine", name, "--k", "10"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "50 candidates for 5 queries" in done.stdout
    assert "Loading weights" not in done.stdout + done.stderr and "it/s" not in done.stderr


@pytest.mark.slow
def test_the_second_half_of_the_flow_from_the_command_line(tmp_path, capsys):
    name = "Sample: home bicycle maintenance"
    assert main(["sample"]) == 0
    assert main(["generate", name, "--types", "question=1,keywords=1"]) == 0
    assert main(["mine", name, "--k", "10"]) == 0 and main(["judge", name, "--top", "10"]) == 0
    assert main(["train", name, "--epochs", "1", "--max-steps", "3", "--spec", '{"batch_size": 8}']) == 0
    out = capsys.readouterr().out
    assert "dev nDCG@10" in out
    model = connect(database_path()).execute("SELECT max(id) FROM models").fetchone()[0]
    assert main(["jobs", name]) == 0 and f"model {model}" in capsys.readouterr().out
    # the reranker just trained teaches a retriever: the lists carry the grades plus its scores
    assert main(["train", name, "--method", "distill", "--teacher", f"rerank:{model}", "--prepare-only"]) == 0
    folder = __import__("pathlib").Path(capsys.readouterr().out.split(" prepared in ")[1].split("\n")[0])
    assert json.loads((folder / "spec.json").read_text())["teacher"] == f"rerank:{model}"
    assert main(["train", name, "--method", "distill", "--prepare-only"]) == 0
    default = __import__("pathlib").Path(capsys.readouterr().out.split(" prepared in ")[1].split("\n")[0])
    taught, ensemble = (
        [json.loads(line)["teacher"] for line in open(f / "train_lists.jsonl")] for f in (folder, default)
    )
    assert len(taught) == len(ensemble) and taught != ensemble
    assert main(["train", name, "--method", "distill", "--teacher", "rerank:999", "--prepare-only"]) == 2
    assert "not a model of this corpus" in capsys.readouterr().err
    assert main(["evaluate", name, "--systems", f"bm25,rerank:{model}"]) == 0
    board = capsys.readouterr().out
    assert "MiniLM (baseline)" in board and "(rerank)" in board and f"{SAMPLE_QUESTIONS} queries" in board
    assert main(["compare", name, "how do I clean a chain", "--right", f"rerank:{model}"]) == 0
    assert " 1. " in capsys.readouterr().out
    assert main(["export", name, "model", "--model", str(model)]) == 0
    assert capsys.readouterr().out.strip().endswith(".zip")
    assert main(["export", name, "data", "--to", str(tmp_path / "data")]) == 0
    assert (tmp_path / "data" / "training.jsonl").read_text().count("\n") > 10
    assert "Saving the dataset" not in capsys.readouterr().err  # no library progress bar reaches the terminal
    assert main(["evaluate", name, "--systems", "rerank:999"]) == 2
    assert "rerank:999 is not a system of this corpus" in capsys.readouterr().err


def test_train_prepare_only_writes_a_job_folder_and_the_commands_to_run_it(capsys):
    import json
    from pathlib import Path

    name = "Sample: home bicycle maintenance"
    assert main(["sample"]) == 0
    assert main(["generate", name, "--types", "question=1", "--sample", "20"]) == 0
    assert main(["mine", name, "--k", "10"]) == 0 and main(["judge", name, "--top", "10"]) == 0
    capsys.readouterr()
    assert main(["train", name, "--method", "distill", "--epochs", "2", "--prepare-only"]) == 0
    out = capsys.readouterr().out
    folder = Path(out.split(" prepared in ")[1].split("\n")[0])
    assert f"accelerate launch --multi_gpu --num_processes N -m core.training.run {folder}" in out
    spec = json.loads((folder / "spec.json").read_text())
    assert (spec["method"], spec["epochs"]) == ("distill", 2)
    assert (folder / "train_lists.jsonl").stat().st_size > 0 and (folder / "documents.npy").exists()
    assert main(["jobs", name]) == 0
    assert "queued" in capsys.readouterr().out


def _llm_generate(fake, *extra):
    return main(
        [
            "generate",
            "Sample: home bicycle maintenance",
            "--types",
            "question=1",
            "--sample",
            "3",
            "--model",
            "openai/gpt-4o-mini",
            "--api-base",
            fake.url,
            *extra,
        ]
    )


def test_llm_failures_from_the_command_line_say_what_happened(monkeypatch, capsys):
    """A refused key, garbage answers, rate limits and a hung server: a message and an exit code, no traceback."""
    from core.settings import database_path
    from storage.db import connect
    from tests.fake_llm import FakeLLM, answer_for

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert main(["sample"]) == 0
    queries = lambda: connect(database_path()).execute("SELECT count(*) FROM queries").fetchone()[0]  # noqa: E731
    capsys.readouterr()

    with FakeLLM(lambda body, nth: (401, {"error": {"message": "Incorrect API key provided"}}, 0)) as fake:
        assert _llm_generate(fake) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "key" in err.lower() and "Traceback" not in err
    assert queries() == 0  # nothing stored

    with FakeLLM(lambda body, nth: (200, b"<html>proxy error</html>", 0)) as fake:  # garbage that is not an answer
        assert _llm_generate(fake, "--timeout", "5") == 1
    captured = capsys.readouterr()
    assert "3 failed" in captured.out and "first failure:" in captured.err and "Traceback" not in captured.err
    assert queries() == 0

    with FakeLLM(
        lambda body, nth: (
            (429, {"error": {"message": "Rate limit reached"}}, 0) if nth == 0 else (200, answer_for(body), 0)
        )
    ) as fake:
        assert _llm_generate(fake) == 0  # retried with backoff, then answered
        assert len(fake.calls) == 6
    assert "3 queries made" in capsys.readouterr().out and queries() == 3

    with FakeLLM(lambda body, nth: (200, answer_for(body), 5.0)) as fake:  # a server that hangs past the timeout
        assert main(
            [
                "generate",
                "Sample: home bicycle maintenance",
                "--types",
                "keywords=1",
                "--sample",
                "1",
                "--model",
                "openai/gpt-4o-mini",
                "--api-base",
                fake.url,
                "--timeout",
                "0.5",
            ]
        ) in (1, 2)
    err = capsys.readouterr().err
    assert ("time" in err.lower() or "failure" in err.lower()) and "Traceback" not in err
    assert queries() == 3  # what was made before is kept


def test_a_base_model_on_a_server_of_your_own_gets_few_shot_prompts_from_the_command_line(monkeypatch, capsys):
    """`--base-model`: generate sends one-line few-shot text completions (not chat) and judge asks yes / no with
    the first token's probabilities; no key is needed for a server at an API base."""
    from core.prompts import LINE_TOKENS
    from tests.fake_llm import FakeLLM

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    name = "Sample: home bicycle maintenance"
    assert main(["sample"]) == 0

    def reply(body):  # a yes, or the passage's opening words as its query
        prompt = body["prompt"]
        return " yes" if prompt.endswith("Relevant:") else " " + " ".join(prompt.split("Document: ")[-1].split()[:5])

    with FakeLLM(lambda body, nth: (200, reply(body), 0)) as fake:
        served = ["--model", "openai/my-base-model", "--api-base", fake.url, "--base-model"]
        assert main(["generate", name, "--types", "question=1", "--sample", "3", *served]) == 0
        made = list(fake.calls)
        assert main(["mine", name, "--k", "3"]) == 0
        assert main(["judge", name, "--top", "2", *served]) == 0
        judged = fake.calls[len(made) :]
    assert len(made) == 3 and all("messages" not in c and c["prompt"].startswith("Document: ") for c in made)
    assert all(c["stop"] == ["\n"] and c["max_tokens"] == LINE_TOKENS for c in made + judged)
    assert judged and all(c["prompt"].endswith("Relevant:") and c["logprobs"] == 5 for c in judged)
    assert "3 queries made" in capsys.readouterr().out


def test_mining_when_every_query_is_flagged_says_so_instead_of_mining_nothing(capsys):
    from tests.fake_llm import FakeLLM

    name = "Sample: home bicycle maintenance"
    assert main(["sample"]) == 0
    assert main(["mine", name]) == 2
    assert "generate queries or add your users' first" in capsys.readouterr().err
    with FakeLLM(lambda body, nth: (200, " hello", 0)) as fake:  # one word: flagged too short
        served = ["--model", "openai/my-base-model", "--api-base", fake.url, "--base-model"]
        assert main(["generate", name, "--types", "question=1", "--sample", "2", *served]) == 0
    capsys.readouterr()
    assert main(["mine", name]) == 2
    assert "every query is flagged (2 too short)" in capsys.readouterr().err


def test_steps_out_of_order_say_what_to_do_first(capsys):
    name = "Sample: home bicycle maintenance"
    assert main(["sample"]) == 0
    assert main(["jobs", name]) == 0
    assert "no training jobs for 'Sample: home bicycle maintenance' yet" in capsys.readouterr().out
    assert main(["generate", name, "--types", "keywords=1", "--sample", "5"]) == 0
    assert main(["judge", name]) == 2
    assert "run `qurate mine` first" in capsys.readouterr().err
    assert main(["mine", name, "--k", "5"]) == 0 and main(["judge", name]) == 0
    out = capsys.readouterr().out
    assert "labelled queries 5, confirmed sources 5" in out and "{" not in out
    assert main(["train", name, "--spec", "[1]", "--prepare-only"]) == 2
    assert "a training spec is a JSON object" in capsys.readouterr().err
    assert main(["train", name, "--epochs", "-1", "--prepare-only"]) == 2
    assert "epochs must be above 0" in capsys.readouterr().err
    assert main(["train", name, "--spec", '{"learning_rate": "abc"}', "--prepare-only"]) == 2
    assert "learning_rate must be a number" in capsys.readouterr().err


def test_a_corpus_by_id_or_the_start_of_its_name_and_systems_checked_before_anything_loads(tmp_path, capsys):
    assert main(["sample"]) == 0
    (tmp_path / "a.txt").write_text("Chains need oil.")
    assert main(["ingest", "Sampler notes", str(tmp_path / "a.txt")]) == 0
    capsys.readouterr()
    assert main(["compare", "1", "chain oil", "--right", "bm25"]) == 0  # by id
    assert "BM25" in capsys.readouterr().out
    assert main(["compare", "sample:", "chain oil", "--right", "bm25"]) == 0  # the one name starting so, any case
    assert main(["compare", "Sampl", "chain oil"]) == 2
    assert "several corpora start with 'Sampl'" in capsys.readouterr().err
    assert main(["compare", "1", "chain oil", "--right", "rerank:3"]) == 2
    err = capsys.readouterr().err
    assert "rerank:3 is not a system of this corpus" in err and "hybrid" in err
    assert main(["evaluate", "1", "--systems", "bm25"]) == 0
    table = capsys.readouterr().out
    assert "BM25" in table and "MiniLM (baseline)" in table and "score mix" not in table
