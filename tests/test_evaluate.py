"""Evaluation: ranx metrics against hand computation, the significance test, the held-out rule, pages."""

import json
import math

import pytest
from scipy import stats

from core.errors import BadUpload
from core.evaluate import compare_runs, evaluate, side_by_side
from core.generate import GenerationSettings, generate_queries, select_passages
from core.ingest import add_test_set, ingest_files, load_sample_corpus
from core.judge import JudgeSettings, judge_candidates
from core.mine import mine_candidates
from core.training.data import build_training_data
from core.training.result import TrainResult
from storage import evaluations as store
from storage import queries as qstore
from tests.test_pages import app


@pytest.fixture
def tiny(con):
    """Three documents; the query's words favour d1, but only d2 is relevant."""
    corpus = ingest_files(
        con,
        "tiny",
        [
            (
                "c.jsonl",
                b'{"_id": "d1", "text": "alpha beta alpha beta gamma"}\n'
                b'{"_id": "d2", "text": "alpha delta epsilon"}\n'
                b'{"_id": "d3", "text": "zeta eta theta"}\n',
            )
        ],
    ).corpus_id
    summary = add_test_set(
        con, corpus, "t", ("q.jsonl", b'{"_id": "q1", "text": "alpha beta"}\n'), ("r.tsv", b"q1\td2\t1\n")
    )
    return corpus, summary["id"]


def test_bm25_metrics_match_the_hand_computed_values(con, tiny):
    corpus, test_set = tiny
    board = evaluate(con, test_set, ["bm25"])
    metrics, run = board.row("bm25").metrics, board.row("bm25").run_id
    # d1 first, d2 (the relevant one) second, d3 unmatched
    assert metrics["ndcg@10"] == pytest.approx((1 / math.log2(3)) / (1 / math.log2(2)))
    assert metrics["mrr@10"] == pytest.approx(1 / 2)
    assert metrics["recall@10"] == pytest.approx(1.0)
    assert metrics["judged@10"] == pytest.approx(1 / 10)
    assert store.run_ranking(con, run, "q1")["passage_id"].tolist()[:2] == ["d1", "d2"]


def test_the_report_is_one_small_self_contained_page_with_every_system_and_no_empty_figures(con, tiny):
    from core.report import report_html

    corpus, test_set = tiny
    evaluate(con, test_set, ["bm25", "hybrid"])
    page = report_html(con, test_set)
    assert len(page) < 50_000 and "<script" not in page and "http" not in page  # opens offline, mails whole
    assert "nan" not in page.lower() and "None" not in page
    for label in ("MiniLM (baseline)", "BM25", "MiniLM + BM25 (score mix)"):
        assert page.count(f">{label}<") == 2  # a bar and a table row each
    assert "<style>" in page and page.count("<span class='fill'") == 3


def test_paired_t_test_on_a_known_case(con, tiny):
    _, test_set = tiny
    before, after = [1, 2, 3, 4, 5], [2, 3, 3, 6, 6]
    runs = [
        store.save_run(con, test_set, name, {}, {}, [(f"q{i}", "ndcg@10", float(v)) for i, v in enumerate(values)], [])
        for name, values in (("a", before), ("b", after))
    ]
    result = compare_runs(con, *runs)
    d = [1, 1, 0, 2, 1]
    sd = math.sqrt(sum((x - 1) ** 2 for x in d) / 4)
    t = 1 / (sd / math.sqrt(5))
    assert result["p_value"] == pytest.approx(2 * stats.t.sf(t, df=4))
    assert (result["wins"], result["ties"], result["losses"]) == (4, 1, 0) and result["difference"] == pytest.approx(
        1.0
    )


def test_bench_compare_pairs_two_runs_models_query_by_query(con, tiny):
    """bench.compare: each model kind of run B against A's, from the per-query figures bench.quality writes,
    by the same paired test as compare_runs."""
    from bench.compare import compare
    from core.evaluate import paired

    _, test_set = tiny
    before, after = [1, 2, 3, 4, 5], [2, 3, 3, 6, 6]
    runs = [
        store.save_run(con, test_set, name, {}, {}, [(f"q{i}", "ndcg@10", float(v)) for i, v in enumerate(values)], [])
        for name, values in (("a", before), ("b", after))
    ]
    assert paired(*(store.per_query(con, r, "ndcg@10") for r in runs)) == compare_runs(con, *runs)
    scores = lambda values: {f"q{i}": float(v) for i, v in enumerate(values)}  # noqa: E731

    def run(lce, values, distill):
        return {
            "results": {
                "synthetic": {
                    "models": {"lce": {"system": lce}, "distill": {"system": distill}},
                    "table": [
                        {"system": "dense", "per_query": scores([0] * 5)},
                        {"system": lce, "per_query": scores(values)},
                        {"system": distill, "per_query": scores([1, 1, 1, 1, 1])},
                    ],
                }
            }
        }

    result = compare(run("rerank:1", before, "retrieve:3"), run("rerank:2", after, "retrieve:4"))
    lce, distill = result["synthetic/lce"], result["synthetic/distill"]
    assert (lce["mean_a"], lce["mean_b"], lce["wins"], lce["ties"], lce["losses"]) == (3.0, 4.0, 4, 1, 0)
    assert lce["p_value"] == pytest.approx(compare_runs(con, *runs)["p_value"])
    assert distill["difference"] == 0 and distill["ties"] == 5 and distill["p_value"] == 1.0
    seeds = compare(
        [run("rerank:1", before, "retrieve:3"), run("rerank:5", [3, 4, 3, 4, 3], "retrieve:6")],
        run("rerank:2", after, "retrieve:4"),
    )["synthetic/lce"]  # a side of two seeds: each query's mean
    assert (seeds["mean_a"], seeds["mean_b"], seeds["runs_a"], seeds["runs_b"]) == (3.2, 4.0, 2, 1)
    assert (seeds["wins"], seeds["ties"], seeds["losses"]) == (2, 3, 0)  # means 2, 3, 3, 4, 4 against 2, 3, 3, 6, 6
    other = run("rerank:2", after, "retrieve:4")
    other["results"]["synthetic"]["table"][0]["per_query"] = {"x": 0.0}
    with pytest.raises(SystemExit, match="different test queries"):
        compare(run("rerank:1", before, "retrieve:3"), other)


def test_a_training_query_never_appears_in_a_test_set(con):
    corpus = load_sample_corpus(con).corpus_id
    test_text = con.execute("SELECT text FROM test_queries LIMIT 1").fetchone()[0]
    source = con.execute(
        "SELECT doc_id FROM qrels WHERE query_id = (SELECT query_id FROM test_queries WHERE text = ?)", [test_text]
    ).fetchone()[0]
    generate_queries(con, corpus, select_passages(con, corpus), GenerationSettings(per_type={"question": 1}))
    qstore.insert_queries(
        con,
        corpus,
        [
            {
                "passage_id": source,
                "text": test_text.upper(),
                "qtype": "question",
                "origin": "llm",
                "generator": "x",
                "prompt_version": "-",
                "cache_key": "leak",
                "flags": [],
            }
        ],
    )
    mine_candidates(con, corpus, k=10)
    judge_candidates(con, corpus, JudgeSettings(max_candidates=10))
    data = build_training_data(con, corpus, dev_fraction=0.2)
    assert data.counts["skipped_held_out_text"] == 1
    tests = {t.lower() for (t,) in con.execute("SELECT text FROM test_queries").fetchall()}
    assert not tests & {g["query"].lower() for g in data.groups} and not tests & {d["query"].lower() for d in data.dev}


def test_qrels_that_match_no_document_are_refused(con, tiny):
    corpus, _ = tiny
    with pytest.raises(BadUpload, match="none of the judged documents is in this corpus"):
        add_test_set(con, corpus, "bad", ("q.jsonl", b'{"_id": "q", "text": "x"}\n'), ("r.tsv", b"q\tnope\t1\n"))
    assert con.execute("SELECT count(*) FROM test_sets").fetchone()[0] == 1


def test_side_by_side_marks_relevance_and_movement(con, tiny):
    corpus, _ = tiny
    result = side_by_side(con, corpus, "alpha beta", "bm25", "dense", qrels={"d2": 1})
    assert [r["relevance"] for r in result["left"][:2]] == [None, 1]
    right = {r["passage_id"]: r for r in result["right"]}
    left_rank = {r["passage_id"]: r["rank"] for r in result["left"]}
    assert all(row["moved"] == left_rank[pid] - row["rank"] for pid, row in right.items())


def test_evaluate_and_compare_pages():
    at = app().switch_page("pages/corpus.py").run()
    at.button(key="load_sample").click().run()
    at = at.switch_page("pages/evaluate.py").run()
    at.button(key="evaluate").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["system"].tolist() == ["MiniLM (baseline)", "BM25", "BM25 + MiniLM (RRF)", "MiniLM + BM25 (score mix)"]
    assert (table["ndcg@10"] > 0.5).all()
    assert "recall@100" not in table and "recall@10" in table  # every system reorders one pool: alike, so said once
    assert any("Not shown, as every system scores the same on it here: recall@100" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 1
    at = at.switch_page("pages/compare.py").run()
    at.radio(key="cmp_source").set_value("Type a query").run()
    assert not at.exception and not at.expander
    assert any("Type a query above" in i.value for i in at.info)  # not a blank page
    at.radio(key="cmp_source").set_value("Pick a test query").run()
    assert not at.exception
    chosen = at.selectbox(key="cmp_query_id")
    whole = [m.value for m in at.markdown if m.value.startswith("**Query:** ")]  # the box cuts a long query
    assert len(whole) == 1 and whole[0].replace("\\", "").endswith(chosen.format_func(chosen.value))
    labels = [e.label for e in at.expander]
    assert len(labels) == 20 and any(":green[**relevant**]" in label for label in labels)
    assert not any(ch in "".join(labels) for ch in "✅❌🆕")  # words, which every font shows


def _model(con, corpus: int, worse: bool, counts: dict | None = None, dev: bool = True, **metrics) -> int:
    spec = {"corpus_id": corpus, "method": "lce", **({"data_counts": counts} if counts else {})}
    job = con.execute(
        "INSERT INTO jobs (corpus_id, kind, status, spec, folder) VALUES (?, 'reranker', 'done', ?, '') RETURNING id",
        [corpus, json.dumps(spec)],
    ).fetchone()[0]
    return con.execute(
        "INSERT INTO models (job_id, kind, name, path, base_model, metrics) VALUES (?, 'reranker', ?, '', '', ?) RETURNING id",
        [
            job,
            f"m{job}",
            json.dumps(
                (
                    TrainResult(0.5, 0.4 if worse else 0.6, 10, 5, 3) if dev else TrainResult(None, None, 10, 0, 3)
                ).metrics()
                | metrics
            ),
        ],
    ).fetchone()[0]


def test_the_models_table_says_whether_a_model_mixes_its_weights_with_its_base(con, tiny):
    from storage.models import list_models

    corpus, _ = tiny
    ids = [_model(con, corpus, False, weight_mix=0.75), _model(con, corpus, False)]
    mixed = list_models(con, corpus).set_index("id")["mixed_with_base"]
    assert [mixed[i] for i in ids] == ["weights 0.75 x fine-tuned", "not mixed"]


def test_compare_opens_on_the_newest_model_not_flagged_worse_on_dev(con, tiny):
    from core.systems import System, default_pair

    corpus, _ = tiny
    assert default_pair(con, corpus) == (System("dense"), System("hybrid"))  # no model yet
    good = _model(con, corpus, worse=False)
    bad = _model(con, corpus, worse=True)
    assert default_pair(con, corpus) == (System("dense"), System("rerank", good))
    assert "worse than baseline on dev" in System("rerank", bad).label(con)
    assert "worse" not in System("rerank", good).label(con)


def test_compare_does_not_open_on_a_model_its_latest_test_evaluation_scored_below_the_baseline(con, tiny):
    from core.systems import System, default_pair

    corpus, test_set = tiny
    older, newer = _model(con, corpus, worse=False), _model(con, corpus, worse=False)
    metrics = dict.fromkeys(("ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100", "judged@10"), 0.5)
    for system, ndcg in (("dense", 0.5), (f"rerank:{older}", 0.6), (f"rerank:{newer}", 0.4)):
        store.save_run(
            con, test_set, system, {"k": 30, "queries": 1}, {**metrics, "ndcg@10": ndcg}, [("q1", "ndcg@10", ndcg)], []
        )
    assert default_pair(con, corpus) == (System("dense"), System("rerank", older))  # the dev split liked both
    store.save_run(
        con,
        test_set,
        f"rerank:{newer}",
        {"k": 30, "queries": 1},
        {**metrics, "ndcg@10": 0.7},
        [("q1", "ndcg@10", 0.7)],
        [],
    )
    assert default_pair(con, corpus) == (System("dense"), System("rerank", newer))  # its latest evaluation counts
    store.save_run(
        con, test_set, "hybrid", {"k": 30, "queries": 1}, {**metrics, "ndcg@10": 0.8}, [("q1", "ndcg@10", 0.8)], []
    )
    assert default_pair(con, corpus) == (System("dense"), System("hybrid"))  # training added nothing beyond BM25's mix


def test_the_showcase_query_is_the_one_the_model_raised_most(con, tiny):
    from core.evaluate import showcase_query

    corpus, test_set = tiny
    model = _model(con, corpus, worse=False)
    for system, values in (("dense", [0.5, 0.5, 0.5]), (f"rerank:{model}", [0.6, 0.9, 0.4])):
        store.save_run(
            con,
            test_set,
            system,
            {"k": 30, "queries": 3},
            {m: 0.5 for m in ("ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100", "judged@10")},
            [(f"q{i}", "ndcg@10", v) for i, v in enumerate(values)],
            [],
        )
    assert showcase_query(con, test_set, f"rerank:{model}") == ("q1", pytest.approx(0.4))
    store.save_run(
        con,
        test_set,
        f"rerank:{model}",
        {"k": 30, "queries": 3},
        {m: 0.4 for m in ("ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100", "judged@10")},
        [(f"q{i}", "ndcg@10", v) for i, v in enumerate([0.5, 0.4, 0.5])],
        [],
    )
    assert showcase_query(con, test_set, f"rerank:{model}") is None  # nothing improved: nothing to show off


def _two_documents_one_test_query():
    """The workspace's shared cursor, a corpus of two documents and a test set of one query judged on the first."""
    from core.settings import database_path
    from storage.db import shared_cursor

    db = shared_cursor(database_path())
    corpus = ingest_files(
        db, "tiny", [("c.jsonl", b'{"_id": "d1", "text": "alpha beta"}\n{"_id": "d2", "text": "gamma delta"}\n')]
    ).corpus_id
    test_set = add_test_set(
        db, corpus, "t", ("q.jsonl", b'{"_id": "q1", "text": "alpha"}\n'), ("r.tsv", b"q1\td1\t1\n")
    )["id"]
    return db, corpus, test_set


def test_the_leaderboard_sets_the_dev_splits_prediction_beside_the_test_gain_and_the_page_warns_when_they_disagree():
    from core.evaluate import leaderboard

    db, corpus, test_set = _two_documents_one_test_query()
    promised = _model(db, corpus, False, **{"dev_ndcg@10": 0.85, "baseline_dev_ndcg@10": 0.80})  # dev: +0.05
    kept = _model(db, corpus, False, **{"dev_ndcg@10": 0.82, "baseline_dev_ndcg@10": 0.80})  # dev: +0.02
    no_dev = _model(db, corpus, False, dev=False)
    metrics = dict.fromkeys(("ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100", "judged@10"), 0.5)
    for system, values in (
        ("dense", [0.5, 0.5, 0.5]),
        (f"rerank:{promised}", [0.4, 0.5, 0.3]),
        (f"rerank:{kept}", [0.6, 0.5, 0.7]),
        (f"rerank:{no_dev}", [0.6, 0.7, 0.6]),
    ):
        store.save_run(
            db,
            test_set,
            system,
            {"k": 30, "queries": 3},
            {**metrics, "ndcg@10": sum(values) / 3},
            [(f"q{i}", "ndcg@10", v) for i, v in enumerate(values)],
            [],
        )
    store.save_run(
        db,
        test_set,
        "hybrid",
        {"k": 30, "queries": 3},
        {**metrics, "ndcg@10": 0.62},
        [(f"q{i}", "ndcg@10", v) for i, v in enumerate([0.6, 0.62, 0.64])],
        [],
    )
    board = leaderboard(db, test_set)
    worse, better, unknown = board.row(f"rerank:{promised}"), board.row(f"rerank:{kept}"), board.row(f"rerank:{no_dev}")
    assert (
        worse.dev_difference == pytest.approx(0.05) and worse.difference == pytest.approx(-0.1) and worse.dev_disagrees
    )
    assert better.dev_difference == pytest.approx(0.02) and not better.dev_disagrees
    assert unknown.dev_difference is None and not unknown.dev_disagrees and board.baseline.dev_difference is None
    assert board.frame().columns[:4].tolist() == [
        "system",
        "ndcg@10",
        "Δ nDCG@10 vs baseline",
        "Δ on dev split",
    ]  # side by side
    column = board.frame()["Δ on dev split"].round(3).tolist()
    assert column[1:3] == [0.05, 0.02] and math.isnan(column[3]) and "+0.050" in board.text()

    at = app().switch_page("pages/evaluate.py").run()
    assert not at.exception
    warnings = [w.value for w in at.warning if "dev split predicted" in w.value]
    assert len(warnings) == 1 and f"m{promised}" in warnings[0] and "+0.050" in warnings[0] and "-0.100" in warnings[0]
    below_hybrid = [
        i.value for i in at.info if "ranks below MiniLM + BM25 (score mix), which needs no training" in i.value
    ]  # 0.4 and 0.6 against 0.62, not 0.633
    assert len(below_hybrid) == 2 and f"m{promised} " in below_hybrid[0] and f"m{kept} " in below_hybrid[1]


def test_the_evaluate_page_compares_a_model_per_query_with_the_baseline_or_another_model():

    db, corpus, test_set = _two_documents_one_test_query()
    counts = {"by_type": {"question": 40, "casual": 2, "users": 9}, "users_queries": 3, "expert_grades": 30}
    first, second = _model(db, corpus, False), _model(db, corpus, False, counts=counts)
    metrics = dict.fromkeys(("ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100", "judged@10"), 0.5)
    runs = {}
    for system, values in (
        ("dense", [0.2, 0.3, 0.1]),
        (f"rerank:{first}", [0.6, 0.5, 0.7]),
        (f"rerank:{second}", [0.6, 0.6, 0.6]),
    ):
        runs[system] = store.save_run(
            db,
            test_set,
            system,
            {"k": 30, "queries": 3},
            metrics,
            [(f"q{i}", "ndcg@10", v) for i, v in enumerate(values)],
            [],
        )
    at = app().switch_page("pages/evaluate.py").run()
    at.selectbox(key="eval_per_query").set_value(runs[f"rerank:{second}"]).run()
    assert not at.exception and at.selectbox(key="eval_against").value == runs["dense"]  # the baseline first
    learnt = [c.value for c in at.caption if c.value.startswith("What each model learnt from")]
    assert learnt == [
        f"What each model learnt from: m{second} (rerank): 42 generated queries, 3 of your users' queries with a "
        "passage graded relevant, 30 expert grades on your users' queries."
    ], learnt
    assert any("3 wins, 0 ties, 0 losses" in c.value for c in at.caption)
    at.selectbox(key="eval_against").set_value(runs[f"rerank:{first}"]).run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "wins" in c.value)
    assert (
        f"m{second}" in caption.split(" against ")[0] and "1 wins, 1 ties, 1 losses" in caption and "+0.000" in caption
    )
    at.selectbox(key="eval_per_query").set_value(runs[f"rerank:{first}"]).run()  # the system it was compared against
    assert not at.exception and at.selectbox(key="eval_against").value != runs[f"rerank:{first}"]


def test_a_fine_tuned_reranker_ranks_with_bm25_mixed_in_as_the_hybrid_mixes_minilm(con):
    """A reranker's scores and BM25's are standardised within each query's pool and mixed 3:1; the bundled MiniLM
    stored as a 'fine-tuned' reranker must then score as the hybrid reference does, and as a distilled retriever
    as MiniLM alone."""
    import numpy as np

    from core.embed import BUNDLED, resolve_model
    from core.retrieve import bm25_index, dense_scores, passage_texts, rrf
    from core.systems import LEXICAL_SHARE, System

    corpus = load_sample_corpus(con).corpus_id
    model = _model(con, corpus, False)
    con.execute("UPDATE models SET path = ? WHERE id = ?", [str(resolve_model(BUNDLED)), model])
    _, texts = passage_texts(con, corpus)
    queries = ["why does my chain skip", "brake pads squeal when wet", "how often to oil a bike", "flat tyre repair"]
    bm25, dense = bm25_index(con, corpus).scores(queries), dense_scores(con, corpus, queries)
    first = {"bm25": bm25, "dense": dense, "fused": rrf(bm25, dense)}
    pools = np.argsort(-first["fused"], axis=1, kind="stable")[:, :10]
    rows = np.arange(len(queries))[:, None]

    def z(x):
        return (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)

    hybrid = System("hybrid").score(con, queries, pools, texts, first)
    assert hybrid == pytest.approx(
        (1 - LEXICAL_SHARE) * z(dense[rows, pools]) + LEXICAL_SHARE * z(bm25[rows, pools]), abs=1e-5
    )
    # the model folder is encoded afresh (in bf16 on a CPU that has it), the baseline's vectors come from the cache
    assert System("rerank", model).score(con, queries, pools, texts, first) == pytest.approx(hybrid, abs=0.02)
    plain = System("dense").score(con, queries, pools, texts, first)
    assert (np.argsort(-hybrid, axis=1) != np.argsort(-plain, axis=1)).any()  # BM25 reorders some pool
    # a distilled retriever is not mixed (mixed, it lost on MedQuAD): it ranks by its own cosine alone
    distilled = _model(con, corpus, False)
    con.execute("UPDATE models SET path = ?, kind = 'retriever' WHERE id = ?", [str(resolve_model(BUNDLED)), distilled])
    con.execute(
        "UPDATE jobs SET spec = ? WHERE id = (SELECT job_id FROM models WHERE id = ?)",
        [json.dumps({"corpus_id": corpus, "method": "distill"}), distilled],
    )
    assert System("retrieve", distilled).score(con, queries, pools, texts, first) == pytest.approx(plain, abs=0.01)
