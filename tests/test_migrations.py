import duckdb
import pytest

from storage import db
from storage.migrations import MIGRATIONS

LATEST = max(version for version, _, _ in MIGRATIONS)


def test_fresh_file_gets_every_migration_in_order(tmp_path):
    con = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    applied = db.migrate(con)
    assert applied == sorted(version for version, _, _ in MIGRATIONS)
    assert db.schema_version(con) == LATEST
    recorded = con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert recorded == [(version, name) for version, name, _ in sorted(MIGRATIONS)]


def test_reopening_applies_nothing_and_keeps_data(tmp_path):
    path = tmp_path / "again.duckdb"
    con = db.connect(path)
    con.execute("INSERT INTO corpora (name) VALUES ('kept')")
    con.close()
    con = duckdb.connect(str(path))
    assert db.migrate(con) == []
    assert con.execute("SELECT name FROM corpora").fetchall() == [("kept",)]


def test_existing_file_at_an_older_version_is_brought_up_to_date(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:1])
    assert db.migrate(con) == [1]
    con.execute("INSERT INTO corpora (name) VALUES ('from v1')")
    con.close()
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS)
    con = duckdb.connect(str(path))
    assert db.migrate(con) == list(range(2, LATEST + 1))
    assert con.execute("SELECT name FROM corpora").fetchall() == [("from v1",)]
    assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_a_failing_migration_is_rolled_back_and_not_recorded(tmp_path, monkeypatch):
    con = db.connect(tmp_path / "broken.duckdb")
    bad = (LATEST + 1, "broken", "CREATE TABLE half_made (x INTEGER); SELECT * FROM no_such_table;")
    monkeypatch.setattr(db, "MIGRATIONS", [*MIGRATIONS, bad])
    with pytest.raises(duckdb.CatalogException):
        db.migrate(con)
    assert db.schema_version(con) == LATEST
    tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "half_made" not in tables


def test_transaction_keeps_all_or_nothing(con):
    with pytest.raises(RuntimeError):
        with db.transaction(con):
            con.execute("INSERT INTO corpora (name) VALUES ('lost')")
            raise RuntimeError("boom")
    assert con.execute("SELECT count(*) FROM corpora").fetchone()[0] == 0


def test_workspace_location_comes_from_one_setting(workspace):
    from core.settings import database_path

    assert database_path() == workspace.resolve() / "qurate.duckdb"
    assert workspace.is_dir()


def test_duplicates_stored_by_two_sessions_before_version_8_are_merged_into_the_earliest_row(tmp_path, monkeypatch):
    path = tmp_path / "v7.duckdb"
    con = duckdb.connect(str(path))
    monkeypatch.setattr(db, "MIGRATIONS", [m for m in MIGRATIONS if m[0] <= 7])
    db.migrate(con)
    con.execute("INSERT INTO corpora (name) VALUES ('c')")
    for text, key in [
        ("first", "k"),
        ("second", "k"),
        ("third", "k"),
        ("other", "k2"),
        ("typed by hand", None),
        ("also by hand", None),
    ]:
        con.execute(
            """INSERT INTO queries (corpus_id, passage_id, text, qtype, origin, generator, prompt_version, cache_key)
                       VALUES (1, 'p', ?, 'question', 'llm', 'm', 'v', ?)""",
            [text, key],
        )
    con.execute("UPDATE queries SET edited_text = 'an expert''s edit' WHERE text = 'second'")
    con.execute("INSERT INTO mining_runs (corpus_id, settings) VALUES (1, '{}')")
    for query in (1, 2, 3):
        con.execute("INSERT INTO candidates VALUES (1, ?, 'p', 1, 1, 1, 1, true)", [query])
    labels = [(1, "judge", "failed", None), (2, "judge", "ok", 3), (3, "judge", "ok", 1), (2, "other judge", "ok", 2)]
    for query, judge, status, grade in labels:
        con.execute(
            """INSERT INTO labels (query_id, passage_id, grade, judge, prompt_version, status)
                       VALUES (?, 'p', ?, ?, 'v', ?)""",
            [query, grade, judge, status],
        )
    con.execute(
        "INSERT INTO reviews (query_id, passage_id, reviewer, new_grade, action) VALUES (3, 'p', 'ada', 0, 'not relevant')"
    )
    con.close()

    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS)
    con = db.connect(path)
    assert con.execute("SELECT id, text, edited_text FROM queries WHERE cache_key = 'k'").fetchall() == [
        (1, "first", "an expert's edit")
    ]
    assert con.execute("SELECT count(*) FROM queries").fetchone()[0] == 4  # k2 and the two keyless ones untouched
    assert con.execute("SELECT query_id FROM candidates").fetchall() == [(1,)]
    kept = con.execute("SELECT query_id, judge, status, grade FROM labels ORDER BY judge").fetchall()
    assert kept == [(1, "judge", "ok", 3), (1, "other judge", "ok", 2)]  # the answered label, not the failed one
    assert con.execute("SELECT query_id, reviewer, new_grade FROM reviews").fetchall() == [(1, "ada", 0)]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("""INSERT INTO queries (corpus_id, passage_id, text, qtype, origin, generator, prompt_version, cache_key)
                       VALUES (1, 'p', 'again', 'question', 'llm', 'm', 'v', 'k')""")
