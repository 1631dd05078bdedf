"""The API key a user sets never lands in the workspace: database, job folders, logs, exports, report."""

import json

from core.evaluate import evaluate
from core.export import export_training_set
from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import load_sample_corpus
from core.judge import JudgeSettings, judge_candidates
from core.llm import LLMConfig
from core.mine import mine_candidates
from core.report import report_html
from core.settings import database_path
from core.training.jobs import prepare_job
from storage.db import connect
from tests.fake_llm import FakeLLM, answer_for

KEY = "sk-qurate-secret-4f2a9c"


def grade_or_query(body, nth):
    prompt = body["messages"][-1]["content"]
    if "Passage:" in prompt and "grade" in prompt.lower():  # the judge: some relevant, some not
        return 200, json.dumps({"grade": 3 if len(prompt) % 2 else 0, "reason": "fine"}), 0
    if "Passage title: " in prompt:  # a query the passage's own title: it finds its passage, so training has data
        return 200, prompt.split("Passage title: ", 1)[1].split("\n", 1)[0], 0
    return 200, answer_for(body), 0


def test_the_key_appears_in_no_file_and_no_table_of_the_workspace(workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    con = connect(database_path())
    corpus = load_sample_corpus(con).corpus_id
    with FakeLLM(grade_or_query) as fake:
        config = LLMConfig(model="openai/gpt-4o-mini", api_base=fake.url, backoff_s=0.01)
        generate_queries(
            con,
            corpus,
            select_passages(con, corpus, "sample", 10),
            GenerationSettings(per_type={"question": 1}, llm=config),
        )
        mine_candidates(con, corpus, k=10)
        judge_candidates(con, corpus, JudgeSettings(max_candidates=3, llm=config))
        assert len(fake.calls) > 10  # the key was sent to the server: it was in play
        assert f"Bearer {KEY}" in fake.authorizations  # the key was in play: sent to the server, as it should be
    _, folder = prepare_job(con, corpus, {"method": "lce"})
    exported = export_training_set(con, corpus, workspace / "exports" / "data")
    test_set = con.execute("SELECT id FROM test_sets").fetchone()[0]
    evaluate(con, test_set, ["bm25"])
    (workspace / "report.html").write_text(report_html(con, test_set))
    tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    for table in tables:
        dump = json.dumps(con.execute(f"SELECT * FROM {table}").fetchall(), default=str)
        assert KEY not in dump, table
    con.close()
    files = [p for p in workspace.rglob("*") if p.is_file()]
    assert folder / "spec.json" in files and exported["jsonl"] in files and len(files) > 10
    leaking = [str(p) for p in files if KEY.encode() in p.read_bytes()]
    assert leaking == []
