"""Your users' queries: in from files and pastes, mined and reviewed without a source, into training."""

import json

import pytest

from core.cli import main
from core.errors import BadUpload
from core.judge import JudgeSettings, judge_candidates
from core.mine import mine_candidates
from core.review import decide, queue
from core.settings import database_path
from core.training import data as datasets
from core.training.data import build_training_data
from core.userqueries import add_user_queries, user_query_counts
from core.vocabulary import USERS
from storage.corpora import held_out_texts
from storage.db import connect
from tests.conftest import judged_sample

LOG = [
    "how do i fix a flat tyre",
    "why does my chain skip",
    "brakes squeal when wet",
    "adjust rear derailleur",
    "tubeless sealant how often",
    "bike creaks when pedalling",
    "how tight should a headset be",
    "disc brake rub after wheel change",
    "what pressure for gravel tyres",
    "clean a dirty cassette",
    "true a wobbly wheel at home",
    "when to replace brake pads",
]


def stored(con, corpus) -> list[tuple]:
    return con.execute(
        "SELECT text, passage_id, qtype, origin, metadata FROM queries WHERE corpus_id = ? AND origin = ? ORDER BY id",
        [corpus, USERS],
    ).fetchall()


def with_log(lines=LOG):
    """The judged sample corpus with ``lines`` added as users' queries, all mined (k=30) and judged offline."""
    con, corpus = judged_sample("question")
    add_user_queries(con, corpus, "log.txt", "\n".join(lines).encode())
    mine_candidates(con, corpus, k=30)
    judge_candidates(con, corpus, JudgeSettings(max_candidates=30))
    return con, corpus


def grade_top(con, corpus, query_text: str, relevant: int = 1, n: int = 4) -> list[str]:
    """An expert's decisions on a user's query: its top ``relevant`` candidates relevant, the next ones not."""
    query_id = con.execute("SELECT id FROM queries WHERE corpus_id = ? AND text = ?", [corpus, query_text]).fetchone()[
        0
    ]
    passages = [
        p
        for (p,) in con.execute(
            "SELECT passage_id FROM candidates WHERE query_id = ? ORDER BY rank LIMIT ?", [query_id, n]
        ).fetchall()
    ]
    for i, passage in enumerate(passages):
        decide(
            con, query_id, passage, "ann", "relevant" if i < relevant else "not relevant", queue="your users' queries"
        )
    return passages


def test_a_log_is_stored_once_without_a_source_and_test_queries_are_refused():
    con, corpus = judged_sample("question")
    test_query = sorted(held_out_texts(con, corpus))[0]
    data = "\n".join(
        ["how do i fix a flat tyre", "  How do I  fix a flat TYRE ", "", test_query, "why does my chain skip"]
    ).encode()
    report = add_user_queries(con, corpus, "log.txt", data)
    assert (report.added, report.duplicates, report.in_test_set) == (2, 1, [test_query])
    assert stored(con, corpus) == [
        ("how do i fix a flat tyre", None, USERS, USERS, None),
        ("why does my chain skip", None, USERS, USERS, None),
    ]
    again = add_user_queries(con, corpus, "log.txt", data)
    assert (again.added, again.duplicates) == (0, 3)
    assert user_query_counts(con, corpus) == {"queries": 2, "mined": 0, "expert_graded": 0}


def test_a_table_of_queries_keeps_its_other_columns_as_metadata():
    con, corpus = judged_sample("question")
    csv = b'id,query,count\n7,adjust rear derailleur,12\n8,"tubeless sealant, how often",3\n'
    assert add_user_queries(con, corpus, "log.csv", csv).added == 2
    rows = stored(con, corpus)
    assert [r[0] for r in rows] == ["adjust rear derailleur", "tubeless sealant, how often"]
    assert json.loads(rows[0][4]) == {"count": "12"}
    jsonl = b'{"q": "bike creaks when pedalling", "date": "2026-11-02"}\n'
    assert add_user_queries(con, corpus, "log.jsonl", jsonl, text_field="q").added == 1


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("log.pdf", b"%PDF-1.4", "come as .txt"),
        ("log.csv", b"id,body\n1,hello\n", "no query column among \\['id', 'body'\\]"),
        ("log.txt", b"  \n \n", "the file is empty"),
        ("log.csv", b'query\nfine\n"unterminated, quote\n', "quoted cell opened on line 3"),
    ],
)
def test_a_bad_file_is_refused_with_what_to_do_and_stores_nothing(name, data, message):
    con, corpus = judged_sample("question")
    before = con.execute("SELECT count(*) FROM queries").fetchone()[0]
    with pytest.raises(BadUpload, match=message):
        add_user_queries(con, corpus, name, data)
    assert con.execute("SELECT count(*) FROM queries WHERE origin <> ?", [USERS]).fetchone()[0] == before


def test_users_queries_are_mined_without_a_round_trip_flag_and_left_to_the_expert_by_the_offline_rule():
    con, corpus = with_log()
    rows = con.execute(
        """SELECT count(DISTINCT q.id), count(*), count(*) FILTER (WHERE c.is_source), max(len(q.flags)),
                  count(*) FILTER (WHERE l.grade IS NOT NULL), count(*) FILTER (WHERE l.status = 'unsure')
           FROM queries q JOIN candidates c ON c.query_id = q.id
           LEFT JOIN labels l ON l.query_id = c.query_id AND l.passage_id = c.passage_id
           WHERE q.origin = ?""",
        [USERS],
    ).fetchone()
    assert rows == (len(LOG), len(LOG) * 30, 0, 0, 0, len(LOG) * 30)
    assert user_query_counts(con, corpus) == {"queries": len(LOG), "mined": len(LOG), "expert_graded": 0}


def test_the_users_queue_lists_their_top_10_the_teachers_least_sure_query_first():
    con, corpus = with_log()
    items = queue(con, corpus, "your users' queries", limit=1000)
    assert set(items["origin"]) == {USERS} and items["rank"].max() == 10 and len(items) == len(LOG) * 10
    margins = {}
    for query_id in set(items["query_id"]):
        frame = con.execute("SELECT dense_score, bm25_score FROM candidates WHERE query_id = ?", [query_id]).df()
        unit = lambda s: (s - s.min()) / (s.max() - s.min())  # noqa: E731
        teacher = sorted(0.5 * (unit(frame["dense_score"]) + unit(frame["bm25_score"])), reverse=True)
        margins[query_id] = teacher[0] - teacher[1]
    order = list(dict.fromkeys(items["query_id"]))
    assert order == sorted(order, key=lambda q: (margins[q], q))
    grade_top(con, corpus, LOG[0])
    assert len(queue(con, corpus, "your users' queries", limit=1000)) == len(LOG) * 10 - 4  # decided pairs leave it


def test_an_experts_grades_make_lce_groups_and_the_teacher_scores_the_rest(monkeypatch):
    con, corpus = with_log()
    positives = grade_top(con, corpus, LOG[0], relevant=2, n=5)[:2]
    plain = build_training_data(con, corpus)
    users = [g for g in plain.groups if g["qtype"] == USERS]
    assert len(users) == 2 and {g["query"] for g in users} == {LOG[0]}  # one group per relevant passage
    texts = dict(zip(*__import__("storage.corpora", fromlist=["x"]).passage_texts(con, corpus)))
    assert {g["positive"] for g in users} == {texts[p] for p in positives}
    lists = {r["query"]: r["teacher"] for r in plain.lists if r["qtype"] == USERS}
    assert set(lists) == set(LOG)  # every log query teaches the retriever: graded, or by the teacher alone
    assert sorted(lists[LOG[0]][:5], reverse=True)[:2] == [lists[LOG[0]][0], lists[LOG[0]][1]] and lists[LOG[0]][0] >= 3
    assert max(lists[LOG[1]]) <= 1.0  # no grade: the dense + BM25 ensemble alone, in [0, 1]
    assert (plain.counts["users_queries"], plain.counts["expert_grades"], plain.counts["dev_from"]) == (
        1,
        5,
        "generated",
    )
    weighted = build_training_data(con, corpus, users_weight=3)
    assert len([g for g in weighted.groups if g["qtype"] == USERS]) == 6
    assert len(weighted.groups) - 6 == len(plain.groups) - 2


def test_the_dev_split_is_drawn_from_users_queries_when_there_are_enough(monkeypatch):
    con, corpus = with_log()
    for text in LOG:
        grade_top(con, corpus, text, relevant=1, n=3)
    monkeypatch.setattr(datasets, "MIN_USERS_DEV", 3)
    data = build_training_data(con, corpus, dev_fraction=0.5)
    assert data.counts["dev_from"] == USERS
    assert {d["query"] for d in data.dev} <= set(LOG) and len(data.dev) >= 3
    assert not {d["query"] for d in data.dev} & {g["query"] for g in data.groups}
    assert {g["qtype"] for g in data.groups} >= {"question", USERS}  # every generated query trains
    monkeypatch.setattr(datasets, "MIN_USERS_DEV", 100)
    assert build_training_data(con, corpus, dev_fraction=0.5).counts["dev_from"] == "generated"


def test_the_command_line_adds_a_log_and_says_what_it_refused(tmp_path, capsys):
    assert main(["sample"]) == 0
    log = tmp_path / "searches.txt"
    log.write_text("why does my chain skip\nwhy does my chain skip\nbrakes squeal when wet\n")
    assert main(["queries", "add", "Sample: home bicycle maintenance", str(log)]) == 0
    assert "2 users' queries stored, 1 already there or repeated" in capsys.readouterr().out
    assert main(["queries", "add", "Sample: home bicycle maintenance", str(tmp_path / "missing.txt")]) == 2
    assert "no file at" in capsys.readouterr().err
    (tmp_path / "log.csv").write_text("id,body\n1,x\n")
    assert main(["queries", "add", "Sample: home bicycle maintenance", str(tmp_path / "log.csv")]) == 2
    assert "no query column" in capsys.readouterr().err
    con = connect(database_path())
    assert con.execute("SELECT count(*) FROM queries WHERE origin = ?", [USERS]).fetchone()[0] == 2
    con.close()
