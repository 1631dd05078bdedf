"""Expert review: effective labels, audit history, undo, concurrency, queues, agreement, export, page."""

import json
import threading

import pytest

from core.errors import InvalidInput
from core.export import export_training_set
from core.review import agreement
from core.settings import database_path
from storage import reviews
from storage.db import shared_cursor
from tests.conftest import judged_sample
from tests.test_pages import app


@pytest.fixture
def judged(workspace):
    con, corpus = judged_sample("question", "web")
    yield con, corpus
    con.close()


def a_negative(con):
    return con.execute(
        "SELECT query_id, passage_id FROM labels WHERE grade = 0 ORDER BY query_id, passage_id LIMIT 1"
    ).fetchone()


def test_the_latest_human_decision_wins_and_the_judge_label_stays(judged):
    con, _ = judged
    q, p = a_negative(con)
    assert reviews.effective_grade(con, q, p) == 0
    reviews.record_review(con, q, p, "ada", "relevant", "clearly answers it")
    assert reviews.effective_grade(con, q, p) == 3
    reviews.record_review(con, q, p, "bob", "partially")
    assert reviews.effective_grade(con, q, p) == 2
    assert con.execute("SELECT grade FROM labels WHERE query_id = ? AND passage_id = ?", [q, p]).fetchone()[0] == 0


def test_undo_is_a_new_override_and_the_audit_shows_everything(judged):
    con, _ = judged
    q, p = a_negative(con)
    reviews.record_review(con, q, p, "ada", "relevant")
    reviews.record_review(con, q, p, "ada", "undo")
    assert reviews.effective_grade(con, q, p) == 0
    audit = reviews.history(con, q, p)
    assert audit["source"].tolist() == ["judge", "human", "human"]
    assert audit["action"].tolist()[1:] == ["relevant", "undo"]
    assert audit["old_grade"].tolist()[1:] == [0, 3]
    with pytest.raises(InvalidInput, match="nothing to undo"):
        reviews.record_review(con, q, "no-such-passage", "ada", "undo")
    with pytest.raises(InvalidInput, match="reviewer name"):
        reviews.record_review(con, q, p, " ", "relevant")


def test_concurrent_overrides_from_two_connections_are_all_kept(judged):
    con, corpus = judged
    q, p = a_negative(con)
    errors = []

    def review(name, action):
        cursor = con.cursor()
        try:
            for _ in range(20):
                reviews.record_review(cursor, q, p, name, action)
        except Exception as err:  # collect to assert below: a lost decision must fail the test
            errors.append(err)

    threads = [
        threading.Thread(target=review, args=("ada", "relevant")),
        threading.Thread(target=review, args=("bob", "not relevant")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert con.execute("SELECT count(*) FROM reviews").fetchone()[0] == 40
    last = con.execute("SELECT new_grade FROM reviews ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert reviews.effective_grade(con, q, p) == last


def test_queues_select_what_they_promise(judged):
    con, corpus = judged
    rescued = reviews.queue(con, corpus, "rescued positives")
    assert rescued.empty  # the offline judge grades only sources as relevant
    spot = reviews.queue(con, corpus, "spot-check", limit=20)
    assert len(spot) == 20 and spot["llm_grade"].notna().all()
    assert (
        reviews.queue(con, corpus, "spot-check", limit=20, seed=0.42)["passage_id"].tolist()
        == spot["passage_id"].tolist()
    )
    q, p = spot.iloc[0]["query_id"], spot.iloc[0]["passage_id"]
    reviews.record_review(con, int(q), p, "ada", "not relevant", queue="spot-check")
    again = reviews.queue(con, corpus, "spot-check", limit=20)
    assert (int(q), p) not in set(zip(again["query_id"], again["passage_id"]))
    web = reviews.queue(con, corpus, "not yet reviewed", qtype="web", limit=1000)
    assert set(web["qtype"]) == {"web"}
    with pytest.raises(InvalidInput, match="unknown queue"):
        reviews.queue(con, corpus, "everything")


def test_agreement_kappa_and_spot_check_interval(judged):
    con, corpus = judged
    items = reviews.queue(con, corpus, "spot-check", limit=10)
    for i, (_, item) in enumerate(items.iterrows()):
        agree = i < 8
        judge_relevant = item["llm_grade"] >= 2
        action = (
            ("relevant" if judge_relevant else "not relevant")
            if agree
            else ("not relevant" if judge_relevant else "relevant")
        )
        reviews.record_review(con, int(item["query_id"]), item["passage_id"], "ada", action, queue="spot-check")
    figures = agreement(con, corpus)
    assert figures["overall"]["n"] == 10 and figures["overall"]["agreement"] == pytest.approx(0.8)
    assert figures["spot_check"]["accuracy"] == pytest.approx(0.8)
    assert figures["spot_check"]["low"] < 0.8 < figures["spot_check"]["high"]


def test_bad_query_verdict_and_overrides_reach_training_and_export(judged, tmp_path):
    from core.training.data import build_training_data

    con, corpus = judged
    before = build_training_data(con, corpus, dev_fraction=0.0).counts["train_queries"]
    q, p = a_negative(con)
    reviews.record_review(con, q, p, "ada", "bad query")
    assert build_training_data(con, corpus, dev_fraction=0.0).counts["train_queries"] == before - 1
    other = con.execute(
        "SELECT query_id, passage_id FROM labels WHERE grade = 0 AND query_id <> ? LIMIT 1", [q]
    ).fetchone()
    reviews.record_bulk(con, "ada", [(other[0], other[1], 3)])
    paths = export_training_set(con, corpus, tmp_path / "export")
    records = [json.loads(line) for line in paths["jsonl"].read_text().splitlines()]
    assert q not in {r["query_id"] for r in records}
    rescued = next(r for r in records if r["query_id"] == other[0])
    assert any(x["passage_id"] == other[1] and x["reviewer"] == "ada" for x in rescued["positives"])
    assert (paths["beir"] / "qrels" / "train.tsv").exists() and (paths["hf"] / "dataset_info.json").exists()
    with pytest.raises(InvalidInput, match="grades must be"):
        reviews.record_bulk(con, "ada", [(other[0], other[1], 1)])


def test_review_page_review_undo_and_filter():
    at = app().switch_page("pages/corpus.py").run()
    at.button(key="load_sample").click().run()
    at = at.switch_page("pages/queries.py").run()
    at.number_input(key="gen_n_casual").set_value(0).run()
    at.number_input(key="gen_n_web").set_value(1).run()  # questions and web queries
    at.button(key="generate").click().run()
    at = at.switch_page("pages/labels.py").run()
    at.button(key="mine").click().run()
    at.button(key="judge").click().run()
    assert at.button(key="act_relevant").disabled  # no reviewer yet
    at.sidebar.text_input(key="reviewer").input("Ada").run()
    at.button(key="act_relevant").click().run()
    at.button(key="act_not relevant").click().run()
    db = shared_cursor(database_path())
    assert db.execute("SELECT reviewer, action, queue FROM reviews ORDER BY id").fetchall() == [
        ("Ada", "relevant", "spot-check"),
        ("Ada", "not relevant", "spot-check"),
    ]
    at.button(key="act_undo").click().run()
    assert db.execute("SELECT action FROM reviews ORDER BY id DESC LIMIT 1").fetchone()[0] == "undo"
    at.selectbox(key="review_type").select("web").run()
    assert "(web," in at.markdown[0].value
    at.selectbox(key="review_queue").select("rescued positives").run()
    assert "Nothing left in this queue." in [s.value for s in at.success]
    assert not at.exception


def test_reviewed_queries_become_a_test_set_and_leave_training(judged):
    from core.errors import QurateError
    from core.review import freeze_reviewed_queries
    from core.training.data import build_training_data

    con, corpus = judged
    with pytest.raises(QurateError, match="review some pairs first"):
        freeze_reviewed_queries(con, corpus)
    source = con.execute(
        "SELECT query_id, passage_id FROM candidates WHERE is_source ORDER BY query_id LIMIT 1"
    ).fetchone()
    negative = con.execute(
        "SELECT passage_id FROM labels WHERE query_id = ? AND grade = 0 LIMIT 1", [source[0]]
    ).fetchone()[0]
    reviews.record_review(con, source[0], source[1], "ada", "relevant")
    reviews.record_review(con, source[0], negative, "ada", "not relevant")
    before = build_training_data(con, corpus, dev_fraction=0.0).counts
    summary = freeze_reviewed_queries(con, corpus)
    assert summary["n_queries"] == 1 and summary["n_qrels"] == 2
    assert con.execute("SELECT origin FROM test_sets WHERE id = ?", [summary["id"]]).fetchone()[0] == "reviewed queries"
    after = build_training_data(con, corpus, dev_fraction=0.0).counts
    assert after["skipped_held_out_text"] == before["skipped_held_out_text"] + 1
    assert after["train_queries"] == before["train_queries"] - 1


def test_two_reviewers_on_one_pair_both_kept_the_later_effective_and_the_second_told(judged):
    con, _ = judged

    def reviewer(name: str):
        at = app().switch_page("pages/labels.py").run()
        at.sidebar.text_input(key="reviewer").input(name).run()
        return at

    ada, bob = reviewer("Ada"), reviewer("Bob")
    assert ada.markdown[0].value == bob.markdown[0].value  # both are shown the same pair
    ada.button(key="act_relevant").click().run()
    bob.button(key="act_not relevant").click().run()  # Bob still sees the pair Ada just decided
    rows = con.execute("SELECT reviewer, action, query_id, passage_id FROM reviews ORDER BY id").fetchall()
    assert [r[:2] for r in rows] == [("Ada", "relevant"), ("Bob", "not relevant")]
    assert rows[0][2:] == rows[1][2:]  # Bob's click landed on the pair Bob saw, not on the queue's next one
    assert reviews.effective_grade(con, *rows[1][2:]) == 0
    assert any("Ada decided “relevant” on this pair" in w.value for w in bob.warning)
    assert not any("decided" in w.value for w in ada.warning)
    assert not ada.exception and not bob.exception


def test_an_undone_decision_no_longer_counts_and_undo_walks_back_one_decision_at_a_time(judged):
    from core.review import agreement

    con, corpus = judged
    q, p = a_negative(con)  # the judge graded it 0
    reviews.record_review(con, q, p, "ada", "relevant", queue="spot-check")
    reviews.record_review(con, q, p, "ada", "partially", queue="spot-check")
    reviews.record_review(con, q, p, "ada", "undo")
    assert reviews.effective_grade(con, q, p) == 3  # the decision before the undone one stands again
    assert agreement(con, corpus)["spot_check"]["n"] == 1 and agreement(con, corpus)["overall"]["agreement"] == 0.0
    reviews.record_review(con, q, p, "ada", "undo")
    assert reviews.effective_grade(con, q, p) == 0  # no human decision stands: the judge's grade
    figures = agreement(con, corpus)
    assert figures["overall"]["n"] == 0 and figures["spot_check"]["n"] == 0  # an undone pair is no spot-check
    assert reviews.latest_decisions(con, corpus) == []
    assert (q, p) in set(
        zip(*reviews.queue(con, corpus, "not yet reviewed", limit=10_000)[["query_id", "passage_id"]].T.values)
    )
    with pytest.raises(InvalidInput, match="nothing to undo"):
        reviews.record_review(con, q, p, "ada", "undo")


def test_a_query_called_bad_leaves_the_queues_and_its_undo_brings_it_back(judged):
    con, corpus = judged
    q, p = a_negative(con)
    in_queue = lambda: q in set(reviews.queue(con, corpus, "not yet reviewed", limit=10_000)["query_id"])  # noqa: E731
    assert in_queue()
    reviews.record_review(con, q, p, "ada", "bad query")
    assert not in_queue() and q in reviews.bad_queries(con, corpus)
    reviews.record_review(con, q, None, "ada", "undo")  # the page undoes a verdict on the query itself
    assert in_queue() and q not in reviews.bad_queries(con, corpus)


def test_the_review_panel_shows_stored_text_as_text_not_markdown():
    import re

    from core.generate import GenerationSettings, generate_queries, select_passages
    from core.ingest import ingest_files
    from core.judge import JudgeSettings, judge_candidates
    from core.mine import mine_candidates
    from pages._review import highlight

    payload = "Brakes ![beacon](http://203.0.113.9/a.png) :red[fake warning] $x^2$ <b>bold</b> [link](http://x.test)"
    assert "](" not in highlight(payload, "the brakes") and ":red[" not in highlight(payload, "")
    # a web address written out is no link either: Markdown links "http\://..." even escaped
    assert "http://" not in highlight(payload, "").replace("\\", "") and "http" in highlight(payload, "")
    assert highlight(payload, "the brakes").startswith("**Brakes**") and "**the**" not in highlight(
        "the brakes", "the brakes"
    )
    db = shared_cursor(database_path())
    rows = "".join(
        f'{{"_id": "d{i}", "title": "T{i} :blue[x]", "text": "{payload} number {i} about brake pads and cables"}}\n'
        for i in range(6)
    ).encode()
    corpus = ingest_files(db, "payloads", [("c.jsonl", rows)]).corpus_id
    generate_queries(db, corpus, select_passages(db, corpus), GenerationSettings(per_type={"keywords": 1}))
    mine_candidates(db, corpus, k=5)
    judge_candidates(db, corpus, JudgeSettings(max_candidates=5))
    at = app().switch_page("pages/labels.py").run()
    shown = [m.value for m in at.markdown if "beacon" in m.value or m.value.startswith("**T")]  # the passage, its title
    assert len(shown) == 2 and not at.exception, [m.value for m in at.markdown]
    for source in shown:  # every markup character arrives escaped: Markdown shows it, reads nothing
        assert not re.search(r"(?<!\\)[!\[\]()$:<>]", source.replace("**", "")), source


def test_a_queue_says_how_many_items_it_holds_and_the_count_falls_with_each_decision(judged):
    con, corpus = judged
    everything = reviews.queue(con, corpus, "spot-check", limit=100_000)
    first = reviews.queue(con, corpus, "spot-check", limit=5)
    assert len(first) == 5 and set(first["waiting"]) == {len(everything)} and len(everything) > 5
    q, p = int(first.iloc[0]["query_id"]), first.iloc[0]["passage_id"]
    reviews.record_review(con, q, p, "ada", "relevant", queue="spot-check")
    assert reviews.queue(con, corpus, "spot-check", limit=5)["waiting"].iloc[0] == len(everything) - 1
    reviews.record_review(con, q, None, "ada", "bad query", queue="spot-check")
    counts = reviews.review_counts(con, corpus)
    assert counts == {"decisions": 2, "pairs": 1, "reviewers": 1}  # a verdict on the query is on no pair
