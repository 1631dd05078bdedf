"""Ingest of every supported format, through the same function the page calls."""

import json

import pytest

from core.ingest import IngestOptions, ingest_files, ingest_path, load_sample_corpus
from core.readers import Fields, table_columns
from storage import corpora
from tests.conftest import SAMPLE_PASSAGES, SAMPLE_QUESTIONS, make_pdf, make_zip


def stored(con, corpus_name):
    corpus = corpora.corpus_id(con, corpus_name)
    return con.execute(
        "SELECT passage_id, doc_id, title, text FROM passages WHERE corpus_id = ? ORDER BY passage_id", [corpus]
    ).fetchall()


def test_txt_is_one_document_split_into_overlapping_windows(con):
    text = " ".join(f"Sentence number {i} about chains." for i in range(100)).encode()
    report = ingest_files(con, "c", [("notes.txt", text)], IngestOptions(chunk_tokens=40, overlap_tokens=10))
    rows = stored(con, "c")
    assert report.n_documents == 1 and report.n_passages == len(rows) > 1
    assert {r[1] for r in rows} == {"notes"}
    assert all(r[2] == "notes" for r in rows)


def test_markdown_title_is_its_first_heading(con):
    ingest_files(con, "c", [("guide.md", b"# Fixing flats\n\nFind the thorn first.\n")])
    assert stored(con, "c") == [("guide", "guide", "Fixing flats", "Fixing flats Find the thorn first.")]


def test_pdf_text_layer_is_read(con):
    ingest_files(con, "c", [("manual.pdf", make_pdf(["Brake pads wear out.", "Replace them in pairs."]))])
    (row,) = stored(con, "c")
    assert row[3] == "Brake pads wear out. Replace them in pairs."


def test_csv_with_picked_columns(con):
    data = b'key,heading,body,other\nk1,First,Alpha text,x\nk2,Second,"Beta, with comma",y\n'
    assert table_columns("t.csv", data) == ["key", "heading", "body", "other"]
    ingest_files(con, "c", [("t.csv", data)], IngestOptions(fields=Fields(text="body", id="key", title="heading")))
    assert stored(con, "c") == [("k1", "k1", "First", "Alpha text"), ("k2", "k2", "Second", "Beta, with comma")]


def test_tsv_with_usual_column_names_needs_no_choice(con):
    ingest_files(con, "c", [("t.tsv", b"id\ttitle\ttext\na\tA\tfirst\nb\tB\tsecond\n")])
    assert stored(con, "c") == [("a", "a", "A", "first"), ("b", "b", "B", "second")]


def test_csv_without_id_column_numbers_rows_by_line(con):
    ingest_files(con, "c", [("t.csv", b"text\nalpha\n\nbeta\n")])
    assert [r[0] for r in stored(con, "c")] == ["t:2", "t:4"]


def test_jsonl_beir_fields_and_a_picked_field(con):
    beir = b'{"_id": "d1", "title": "T1", "text": "one"}\n{"_id": "d2", "title": "T2", "text": "two"}\n'
    ingest_files(con, "a", [("c.jsonl", beir)])
    assert stored(con, "a") == [("d1", "d1", "T1", "one"), ("d2", "d2", "T2", "two")]
    other = b'{"uid": 7, "body": "seven"}\n'
    ingest_files(con, "b", [("o.jsonl", other)], IngestOptions(fields=Fields(text="body", id="uid")))
    assert stored(con, "b") == [("7", "7", "", "seven")]


def test_long_records_stay_whole_unless_asked(con):
    record = json.dumps({"_id": "long", "text": " ".join(f"Sentence {i} has words." for i in range(60))}).encode()
    ingest_files(con, "whole", [("l.jsonl", record)], IngestOptions(chunk_tokens=50, overlap_tokens=0))
    ingest_files(
        con, "split", [("l.jsonl", record)], IngestOptions(chunk_tokens=50, overlap_tokens=0, split_records=True)
    )
    assert [r[0] for r in stored(con, "whole")] == ["long"]
    assert len(stored(con, "split")) > 1


def test_zip_of_mixed_files(con):
    archive = make_zip(
        {
            "docs/a.txt": b"Alpha text.",
            "docs/b.md": b"# B\nBeta text.",
            "docs/c.csv": b"text\nGamma\n",
            "__MACOSX/._a.txt": b"junk",
        }
    )
    report = ingest_files(con, "c", [("bundle.zip", archive)])
    assert report.n_passages == 3
    assert sorted(f["kind"] for f in report.files) == ["csv", "md", "txt"]


def test_beir_zip_keeps_queries_and_qrels_as_test_set(con):
    archive = make_zip(
        {
            "mini/corpus.jsonl": b'{"_id": "d1", "text": "chains"}\n{"_id": "d2", "text": "brakes"}\n',
            "mini/queries.jsonl": b'{"_id": "q1", "text": "oil?"}\n{"_id": "q9", "text": "unjudged"}\n',
            "mini/qrels/test.tsv": b"query-id\tcorpus-id\tscore\nq1\td1\t1\n",
        }
    )
    report = ingest_files(con, "c", [("mini.zip", archive)])
    assert report.n_passages == 2
    assert report.test_set["n_queries"] == 1 and report.test_set["n_qrels"] == 1
    assert con.execute("SELECT query_id, doc_id, relevance FROM qrels").fetchall() == [("q1", "d1", 1)]


def test_a_judged_document_skipped_as_a_copy_of_another_is_named_as_such(con):
    archive = make_zip(
        {
            "mini/corpus.jsonl": b'{"_id": "d1", "text": "chains"}\n{"_id": "d2", "text": "chains"}\n'
            b'{"_id": "d3", "text": "brakes"}\n',
            "mini/queries.jsonl": b'{"_id": "q1", "text": "oil?"}\n{"_id": "q2", "text": "pads?"}\n',
            "mini/qrels/test.tsv": b"query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td3\t1\nq2\td7\t1\n",
        }
    )
    report = ingest_files(con, "c", [("mini.zip", archive)])
    assert report.n_passages == 2 and report.n_duplicates == 1 and report.test_set["n_missing_docs"] == 2
    assert any(
        "2 judged documents of the test set are not in the corpus (1 repeats the text of a document kept" in w
        for w in report.warnings
    ), report.warnings


def test_adding_to_a_corpus_skips_duplicates(con):
    ingest_files(con, "c", [("a.txt", b"Same text.")])
    report = ingest_files(con, "c", [("b.txt", b"Same   text."), ("c.txt", b"New text.")])
    assert report.n_passages == 1 and report.n_duplicates == 1
    assert len(stored(con, "c")) == 2


def test_several_corpora_live_side_by_side(con):
    ingest_files(con, "one", [("a.txt", b"First corpus.")])
    ingest_files(con, "two", [("a.txt", b"Second corpus.")])
    listing = corpora.list_corpora(con)
    assert listing["name"].tolist() == ["one", "two"]
    assert listing["passages"].tolist() == [1, 1]


def test_sample_corpus_has_passages_and_held_out_questions(con):
    report = load_sample_corpus(con)
    assert report.n_passages == SAMPLE_PASSAGES
    assert report.test_set["n_queries"] == SAMPLE_QUESTIONS and report.test_set["n_missing_docs"] == 0
    assert report.warnings == []


def test_medquad_as_a_beir_folder(con, medquad):
    report = ingest_path(con, "medquad", medquad)
    assert report.n_passages == 15_775
    assert report.test_set["n_queries"] > 16_000 and report.test_set["n_missing_docs"] == 0
    assert any("README.md" in w for w in report.warnings)
    summary = corpora.corpus_summary(con, report.corpus_id)
    assert summary["documents"] == 15_775


def test_search_and_pages(con):
    ingest_files(
        con, "c", [("t.csv", b"text\n" + b"".join(b"row %d about chains\n" % i for i in range(30)) + b"brakes only\n")]
    )
    corpus = corpora.corpus_id(con, "c")
    page, total = corpora.search_passages(con, corpus, "CHAINS", offset=20, limit=20)
    assert total == 30 and len(page) == 10
    _, total = corpora.search_passages(con, corpus, "brakes")
    assert total == 1


def test_delete_corpus_removes_it_and_its_test_set(con):
    report = load_sample_corpus(con)
    ingest_files(con, "other", [("a.txt", b"Stays.")])
    corpora.delete_corpus(con, report.corpus_id)
    assert corpora.list_corpora(con)["name"].tolist() == ["other"]
    assert con.execute("SELECT count(*) FROM qrels").fetchone()[0] == 0


def test_delete_corpus_takes_its_jobs_models_and_folders_and_nothing_else(con, workspace, tmp_path):
    from core.workspace import delete_corpus
    from storage import jobs

    doomed = load_sample_corpus(con).corpus_id
    kept = ingest_files(con, "other", [("a.txt", b"Stays.")]).corpus_id
    folders = {}
    for corpus in (doomed, kept, doomed):  # the doomed corpus's second job lies in another workspace
        job = jobs.create_job(con, corpus, "reranker", {"method": "lce", "base_model": "base"})
        folder = (workspace if job < 3 else tmp_path / "another-workspace") / "jobs" / f"job-{job}"
        (folder / "model").mkdir(parents=True)
        jobs.start_job(con, job, str(folder), pid=0)
        jobs.finish_job(
            con,
            job,
            "done",
            None,
            {"kind": "reranker", "name": f"m{job}", "path": str(folder / "model"), "base_model": "base", "metrics": {}},
        )
        folders[job] = folder

    assert delete_corpus(con, doomed) == 1
    assert not folders[1].exists() and folders[2].exists()
    # a database copied from another workspace points at that workspace's models: deleting here leaves them there
    assert folders[3].exists()
    assert [r[0] for r in con.execute("SELECT corpus_id FROM jobs").fetchall()] == [kept]
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 1
    assert corpora.list_corpora(con)["id"].tolist() == [kept]


def test_deleting_a_corpus_leaves_no_row_of_it_in_any_table_and_takes_nothing_of_another(workspace):
    """Every table of the schema is either owned by a corpus (storage.corpora.OWNED) or shared by content; a corpus
    taken through the whole flow (passages, test set, queries, candidates, labels, a review, an evaluation, a job
    and its model) leaves none of its rows once deleted, and the corpus beside it keeps all of its own."""
    from core.evaluate import evaluate
    from core.generate import GenerationSettings, generate_queries, select_passages
    from core.judge import JudgeSettings, judge_candidates
    from core.mine import mine_candidates
    from core.workspace import delete_corpus
    from storage import jobs
    from storage.reviews import record_review
    from tests.conftest import judged_sample

    con, doomed = judged_sample("question")
    tables = {
        r[0]
        for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    }
    assert tables == set(corpora.OWNED) | corpora.SHARED, (
        "a table neither owned by a corpus nor shared: say which in OWNED"
    )
    kept = ingest_files(con, "other", [("a.txt", b"Chains need oil every month. " * 40)]).corpus_id
    generate_queries(con, kept, select_passages(con, kept), GenerationSettings(per_type={"keywords": 1}))
    mine_candidates(con, kept, k=5)
    judge_candidates(con, kept, JudgeSettings(max_candidates=5))
    for corpus in (doomed, kept):
        query, passage = con.execute(
            "SELECT l.query_id, l.passage_id FROM labels l JOIN queries q ON q.id = l.query_id "
            "WHERE q.corpus_id = ? LIMIT 1",
            [corpus],
        ).fetchall()[0]
        record_review(con, query, passage, "ana", "relevant")
        job = jobs.create_job(con, corpus, "reranker", {"method": "lce", "base_model": "base"})
        jobs.start_job(con, job, "", pid=0)
        jobs.finish_job(
            con,
            job,
            "done",
            None,
            {"kind": "reranker", "name": f"m{job}", "path": "", "base_model": "b", "metrics": {}},
        )
    evaluate(con, int(corpora.test_sets(con, doomed)["id"][0]), ["bm25"])

    def rows(corpus):
        return {
            t: con.execute(f"SELECT count(*) FROM {t} WHERE {where}", [corpus] * where.count("?")).fetchall()[0][0]
            for t, where in corpora.OWNED.items()
        }

    before = rows(kept)
    assert all(rows(doomed).values()), (
        f"the test's corpus has no row in: {[t for t, n in rows(doomed).items() if not n]}"
    )
    delete_corpus(con, doomed)
    assert not any(rows(doomed).values()) and rows(kept) == before
    orphans = con.execute("SELECT count(*) FROM labels WHERE query_id NOT IN (SELECT id FROM queries)").fetchall()[0][0]
    assert orphans == 0


def test_an_ingest_stopped_at_any_progress_update_stores_nothing_of_it(con):
    """The Corpus page's Stop raises inside the progress callback (Streamlit's rerun): wherever it lands
    before the end, nothing of the upload is stored and the corpus already there is intact."""
    load_sample_corpus(con)
    before = con.execute("SELECT count(*) FROM passages").fetchone()[0]
    files = [("a.txt", b"Chains need oil. " * 400), ("b.md", b"# Brakes\nPads wear. " * 300)]
    updates = []
    ingest_files(con, "Counted", files, IngestOptions(), lambda fraction, message: updates.append(message))
    from core.workspace import delete_corpus

    delete_corpus(con, corpora.corpus_id(con, "Counted"))
    assert len(updates) >= 4 and updates[-1] == "done"

    class Stopped(Exception):
        pass

    for stop_at in range(len(updates) - 1):  # every update but the last, which comes after the commit
        seen = []

        def progress(fraction, message):
            seen.append(message)
            if len(seen) > stop_at:
                raise Stopped

        with pytest.raises(Stopped):
            ingest_files(con, "Stopped", files, IngestOptions(), progress)
        assert corpora.corpus_id(con, "Stopped") is None, updates[stop_at]
        assert con.execute("SELECT count(*) FROM passages").fetchone()[0] == before


def test_passages_are_listed_in_the_order_a_person_counts_their_ids(con):
    lines = "".join(json.dumps({"_id": i, "text": f"Passage number {i}."}) + "\n" for i in ["10", "2", "1", "100"])
    corpus = ingest_files(con, "numbered", [("c.jsonl", lines.encode())]).corpus_id
    page, total = corpora.search_passages(con, corpus)
    assert total == 4 and page["doc_id"].tolist() == ["1", "2", "10", "100"]
