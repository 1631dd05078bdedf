"""Opening a workspace database and bringing its schema up to date."""

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from storage.migrations import MIGRATIONS

_open: dict[str, duckdb.DuckDBPyConnection] = {}
_open_lock = threading.Lock()


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open (or create) a DuckDB file and apply any missing migrations.

    Args:
        path: the database file, or ``":memory:"``.

    Returns:
        A new connection with the schema at the latest version.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    migrate(con)
    return con


def shared_cursor(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A cursor on one connection per database file, kept for the life of the process.

    DuckDB lets one process open a file once for writing; the app's sessions run in
    threads of one process, so they share a connection and each takes its own cursor.
    """
    key = str(Path(path).resolve())
    with _open_lock:
        if key not in _open:
            _open[key] = connect(key)
        return _open[key].cursor()


def close_shared(path: str | Path | None = None) -> None:
    """Close the shared connection of one file, or of all files (tests, shutdown)."""
    with _open_lock:
        keys = [str(Path(path).resolve())] if path else list(_open)
        for key in keys:
            con = _open.pop(key, None)
            if con is not None:
                con.close()


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this database lacks, in order, each in one transaction.

    Returns:
        The versions applied now (empty when the schema was already current).
    """
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
               applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"""
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in sorted(MIGRATIONS):
        if version in done:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
        applied.append(version)
    return applied


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to this database (0 for an empty one)."""
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Write the write-ahead log into the database file (its size is then the data's)."""
    con.execute("CHECKPOINT")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block as one transaction: all of its writes land, or none do."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame, columns: list[str], ignore_duplicates: bool = False) -> None:
    """Insert a DataFrame's ``columns`` into the same-named columns of ``table``, in one statement.

    DuckDB casts on the way in (VARCHAR to JSON, lists of floats to FLOAT[]).
    """
    name = f"frame_{table}"
    con.register(name, frame)
    try:
        listed = ", ".join(columns)
        con.execute(f"INSERT {'OR IGNORE ' if ignore_duplicates else ''}INTO {table} ({listed}) SELECT {listed} FROM {name}")
    finally:
        con.unregister(name)
