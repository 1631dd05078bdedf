"""Every kind of bad upload gets a clear error naming the file, and stores nothing."""

import pytest

from core.errors import BadUpload, InvalidInput
from core.ingest import IngestOptions, ingest_files, load_sample_corpus
from core.readers import Fields
from tests.conftest import make_pdf, make_zip


@pytest.fixture
def before(con):
    """A workspace that already holds the sample corpus; returns a snapshot function."""
    load_sample_corpus(con)

    def snapshot():
        return (
            con.execute("SELECT count(*), sum(hash(text)) FROM passages").fetchone(),
            con.execute("SELECT list(name ORDER BY name) FROM corpora").fetchone(),
            con.execute("SELECT count(*) FROM ingested_files").fetchone(),
            con.execute("SELECT count(*) FROM test_sets").fetchone(),
        )

    return snapshot


def assert_refused(con, before, files, match, options=None, corpus="Sample: home bicycle maintenance"):
    """The upload raises BadUpload matching ``match`` and leaves the database as it was."""
    state = before()
    with pytest.raises(BadUpload, match=match):
        ingest_files(con, corpus, files, options)
    assert before() == state
    with pytest.raises(BadUpload, match=match):  # into a new corpus: not even the corpus is made
        ingest_files(con, "new corpus", files, options)
    assert before() == state


def test_empty_file(con, before):
    assert_refused(con, before, [("ok.txt", b"Fine text."), ("empty.txt", b"  \n")], r"empty\.txt: the file is empty")


def test_binary_file_renamed_txt(con, before):
    assert_refused(
        con,
        before,
        [("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)],
        r"photo\.txt: this looks like a binary file",
    )


def test_wrong_encoding_names_the_line_and_the_fix(con, before):
    data = "first line\nsecond line café\n".encode("cp1252")
    assert_refused(con, before, [("latin.txt", data)], r"latin\.txt, line 2: not valid UTF-8 .*pick its encoding")
    report = ingest_files(con, "latin", [("latin.txt", data)], IngestOptions(encoding="cp1252"))
    assert report.n_passages == 1
    assert "café" in con.execute("SELECT text FROM passages WHERE source = 'latin.txt'").fetchone()[0]


def test_unknown_encoding_name(con, before):
    assert_refused(con, before, [("a.txt", b"text")], r"unknown encoding 'klingon'", IngestOptions(encoding="klingon"))


def test_malformed_csv_row_names_its_line(con, before):
    data = b"id,text\n1,fine\n2,has,too,many\n"
    assert_refused(con, before, [("rows.csv", data)], r"rows\.csv, line 3: has 4 cells but the header has 2")


def test_malformed_jsonl_line_names_its_line(con, before):
    data = b'{"_id": "1", "text": "fine"}\n{"_id": "2", "text": \n'
    assert_refused(con, before, [("c.jsonl", data)], r"c\.jsonl, line 2: is not valid JSON")


def test_jsonl_line_that_is_not_an_object(con, before):
    assert_refused(con, before, [("c.jsonl", b'{"text": "a"}\n["a list"]\n')], r"c\.jsonl, line 2: holds a list")


def test_missing_text_column_lists_the_columns(con, before):
    assert_refused(
        con, before, [("t.csv", b"key,body_text\n1,abc\n")], r"t\.csv: no text field found among \['key', 'body_text'\]"
    )


def test_picked_column_that_does_not_exist(con, before):
    options = IngestOptions(fields=Fields(text="content"))
    assert_refused(
        con, before, [("t.csv", b"text\nabc\n")], r"has no text field 'content'; its fields are \['text'\]", options
    )


def test_jsonl_record_missing_the_text_field(con, before):
    data = b'{"_id": "1", "text": "fine"}\n{"_id": "2", "body": "elsewhere"}\n'
    assert_refused(con, before, [("c.jsonl", data)], r"c\.jsonl, line 2: has no field 'text'")


def test_zip_with_path_traversal_names(con, before):
    archive = make_zip({"../../etc/evil.txt": b"evil"})
    assert_refused(con, before, [("evil.zip", archive)], r"evil\.zip: contains an unsafe path '../../etc/evil.txt'")


def test_zip_with_absolute_path(con, before):
    archive = make_zip({"/abs.txt": b"evil"})
    assert_refused(con, before, [("abs.zip", archive)], r"unsafe path")


def test_zip_bomb(con, before):
    archive = make_zip({"bomb.txt": b"0" * 30_000_000})
    assert len(archive) < 100_000
    assert_refused(con, before, [("bomb.zip", archive)], r"bomb\.zip: member 'bomb.txt' unpacks at a ratio above")


def test_zip_bomb_of_many_small_members(con, before):
    archive = make_zip({f"part{i}.txt": b"0" * 900_000 for i in range(40)})  # each under 1 MB, 36 MB in all
    assert_refused(con, before, [("many.zip", archive)], r"many\.zip: unpacks to 34 MB from .*, a ratio above 200:1")


def test_zip_member_with_a_bad_crc(con, before):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("notes.txt", b"Chains need oil every month and a wipe after rain.")
    damaged = buffer.getvalue().replace(b"Chains need oil", b"Chains need OIL")
    assert_refused(
        con, before, [("damaged.zip", damaged)], r"damaged\.zip: member 'notes.txt' cannot be unpacked \(Bad CRC-32"
    )


def test_zip_unpacking_beyond_the_limit(con, before, monkeypatch):
    monkeypatch.setenv("QURATE_MAX_UPLOAD_MB", "0.5")
    archive = make_zip({f"f{i}.txt": bytes(range(256)) * 1000 for i in range(3)})
    assert_refused(con, before, [("big.zip", archive)], r"big\.zip: unpacks to .* above the limit")


def test_not_a_zip(con, before):
    assert_refused(con, before, [("fake.zip", b"just text")], r"fake\.zip: is not a valid zip file")


def test_pdf_without_text_layer(con, before):
    assert_refused(con, before, [("scan.pdf", make_pdf([]))], r"scan\.pdf: no text layer .* run OCR")


def test_corrupt_pdf(con, before):
    assert_refused(
        con, before, [("broken.pdf", b"%PDF-1.4\nthis is not really a pdf")], r"broken\.pdf: cannot read this PDF"
    )


def test_upload_above_the_size_limit(con, before, monkeypatch):
    monkeypatch.setenv("QURATE_MAX_UPLOAD_MB", "0.001")
    assert_refused(
        con,
        before,
        [("big.txt", b"word " * 1000)],
        r"big\.txt: is 0\.0 MB, above the limit of 0\.0 MB.*QURATE_MAX_UPLOAD_MB",
    )


def test_unsupported_type(con, before):
    assert_refused(con, before, [("doc.docx", b"PK...")], r"doc\.docx: is not a supported type")


def test_the_same_id_with_different_text(con, before):
    assert_refused(con, before, [("d.csv", b"id,text\n1,alpha\n1,beta\n")], r"id '1' is used twice with different text")


def test_good_files_before_a_bad_one_are_not_stored(con, before):
    files = [("a.txt", b"Good one."), ("b.txt", b"Good two."), ("c.jsonl", b"not json\n")]
    assert_refused(con, before, files, r"c\.jsonl, line 1")


def test_empty_corpus_name_is_refused(con):
    with pytest.raises(InvalidInput, match="give the corpus a name"):
        ingest_files(con, "  ", [("a.txt", b"text")])


def test_uploaded_names_never_become_paths(con):
    report = ingest_files(con, "c", [("../../x/../notes.txt", b"Some text.")])
    doc_id = con.execute("SELECT doc_id FROM passages").fetchone()[0]
    assert ".." not in doc_id and not doc_id.startswith("/")
    assert report.n_passages == 1


def test_a_stray_quote_in_a_csv_is_refused_with_its_line_instead_of_swallowing_the_rows_after_it(con):
    from core.errors import BadUpload
    from core.ingest import ingest_files

    good = "".join(f'{i},"Row {i} says something about wheel {i}."\n' for i in range(1000))
    for text, line in ((good.replace('2,"Row 2', '2,"Row 2 "bad', 1), 4), (good + '1000,"never closed\n', 1002)):
        with pytest.raises(BadUpload, match=f"line {line}: is not valid CSV .*quoted cell opened on line {line}"):
            ingest_files(con, "rows", [("rows.csv", ("id,text\n" + text).encode())])
    assert con.execute("SELECT count(*) FROM passages").fetchone()[0] == 0  # a failed upload stores nothing
    assert ingest_files(con, "rows", [("rows.csv", ("id,text\n" + good).encode())]).n_passages == 1000


def test_a_jsonl_text_that_is_an_object_is_refused_not_stored_as_a_repr(con, before):
    data = b'{"_id": "a", "text": "Plain text."}\n{"_id": "b", "text": {"body": "nested"}}\n'
    assert_refused(
        con, before, [("nested.jsonl", data)], r"nested\.jsonl, line 2: field 'text' holds an object, not text"
    )


def test_an_upload_whose_every_member_is_skipped_says_why(con, before):
    archive = make_zip({"inner.zip": make_zip({"a.txt": b"text"}), "tool.exe": b"MZ binary"})
    assert_refused(
        con,
        before,
        [("outer.zip", archive)],
        r"no text was found in the upload \(skipped outer\.zip/inner\.zip: a zip inside a zip is not opened .*"
        r"skipped outer\.zip/tool\.exe: not a supported type \(\.csv, .*\.txt\)\)",
    )


def test_uploading_the_same_files_again_records_no_empty_file(con, before):
    load_sample_corpus(con)  # the fixture loaded it once already: every passage is a duplicate now
    state = before()
    assert state[2][0] == len({r[0] for r in con.execute("SELECT filename FROM ingested_files").fetchall()})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sample", "-5"], "a sample needs at least 1 passage, got -5"),
        (["--types", "question=100000"], "ask for 0 to 5 queries of each type per passage"),
    ],
)
def test_generate_refuses_a_negative_sample_and_an_uncapped_count(argv, message, capsys):
    from core.cli import main
    from core.settings import database_path
    from storage.db import connect

    assert main(["sample"]) == 0
    assert main(["generate", "Sample: home bicycle maintenance", *argv]) == 2
    assert message in capsys.readouterr().err
    workspace = connect(database_path())
    assert workspace.execute("SELECT count(*) FROM queries").fetchall() == [(0,)]
    workspace.close()
