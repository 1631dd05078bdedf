from core.cli import main
from core.settings import database_path
from storage.db import connect


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
    assert con.execute("SELECT count(*) FROM passages").fetchone()[0] == 47 + 2


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
    assert con.execute("SELECT qtype, count(*) FROM queries GROUP BY ALL ORDER BY ALL").fetchall() == [("question", 10), ("web", 20)]
    con.close()
    assert main(["generate", "nope"]) == 2
    assert main(["generate", "Sample: home bicycle maintenance", "--types", "question"]) == 2


def test_mine_and_judge_from_the_command_line(capsys):
    assert main(["sample"]) == 0
    assert main(["generate", "Sample: home bicycle maintenance", "--types", "question=1", "--sample", "5"]) == 0
    assert main(["mine", "Sample: home bicycle maintenance", "--k", "10"]) == 0
    assert main(["judge", "Sample: home bicycle maintenance", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "50 candidates for 5 queries" in out
    assert "offline-judge-v2 (no LLM): 25 labelled" in out
