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
