"""Opening a workspace database and bringing its schema up to date."""

import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from core.errors import BadWorkspace, Busy, DiskFull, WorkspaceLocked
from storage.migrations import MIGRATIONS

_open: dict[str, duckdb.DuckDBPyConnection] = {}
_holders: dict[str, int] = {}  # blocks holding each open file (held(); shared_cursor holds for good)
_open_lock = threading.Lock()
_busy: dict[tuple[str, str], tuple[int, str, float, int]] = {}  # (file, subject) -> (thread, doing, since, depth)
_busy_lock = threading.Lock()


def connect(path: str | Path, wait_s: float = 5.0) -> duckdb.DuckDBPyConnection:
    """Open (or create) a DuckDB file and apply any missing migrations.

    DuckDB lets one process at a time open a file. When another holds it, this retries for
    ``wait_s`` seconds (a command that is just finishing lets go), then raises WorkspaceLocked,
    whose message names the holder and what to do.

    Args:
        path: the database file, or ``":memory:"``.

    Returns:
        A new connection with the schema at the latest version.
    """
    if str(path) != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _unusable(Path(path), f"its folder cannot be made ({err.strerror or err})") from None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise _unusable(Path(path), str(err).removeprefix("IO Error: ").rstrip("!. ")) from None
            if time.monotonic() >= deadline:
                raise WorkspaceLocked(_locked_message(Path(path), str(err))) from None
            time.sleep(0.25)
        except duckdb.Error as err:  # a truncated or damaged file
            raise _unusable(Path(path), f"it is damaged ({err})") from None
    if _foreign(con):
        con.close()
        raise _unusable(Path(path), "it is a DuckDB database of another program (it has tables, none of them Qurate's)")
    migrate(con)
    return con


def _unusable(path: Path, why: str) -> BadWorkspace:
    return BadWorkspace(
        f"The workspace database {path} cannot be used: {why}. Point QURATE_WORKSPACE at a folder Qurate "
        "can write to (a new or empty one starts a fresh workspace); a damaged workspace can be restored "
        "from a backup of its folder. Nothing was changed."
    )


def _foreign(con: duckdb.DuckDBPyConnection) -> bool:
    tables = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    return bool(tables) and "schema_migrations" not in tables


def _locked_message(path: Path, error: str) -> str:
    """Who holds the lock (DuckDB's message names the PID) and what the user can do."""
    holder = "another process"
    match = re.search(r"PID (\d+)", error)
    if match:
        pid = match.group(1)
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            command = " ".join(command.split())
        except OSError:
            command = ""
        holder = f"process {pid}" + (f" ({command[:120]})" if command else "")
    return (
        f"The workspace {path.parent} is in use by {holder}. DuckDB lets one process open a workspace at a "
        "time: stop that process (the app, or a command still running) or wait for it to finish, then try again; "
        "or point QURATE_WORKSPACE at another folder. Nothing was changed."
    )


def _acquire(path: str | Path) -> tuple[str, duckdb.DuckDBPyConnection]:
    key = str(Path(path).resolve())
    with _open_lock:
        if key not in _open:
            _open[key] = connect(key)
            _holders[key] = 0
        _holders[key] += 1
        return key, _open[key]


@contextmanager
def held(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the process's one connection to a database file, for the length of a block.

    DuckDB lets one process open a file for writing, so the app's sessions (threads of one
    process) share a connection, each block with its own cursor. The connection closes when
    the last block holding it ends: between two page runs the app holds nothing, and the
    command line, a notebook or a second app can open the workspace.
    """
    key, con = _acquire(path)
    cursor = con.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
        with _open_lock:
            if key in _holders:  # (close_shared may have closed it under us)
                _holders[key] -= 1
                if _holders[key] == 0:
                    _holders.pop(key)
                    _open.pop(key).close()


def shared_cursor(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A cursor on the process's connection to a file, held until ``close_shared`` (tests, scripts)."""
    return _acquire(path)[1].cursor()


def close_shared(path: str | Path | None = None) -> None:
    """Close the shared connection of one file, or of all files (tests, shutdown)."""
    with _open_lock:
        keys = [str(Path(path).resolve())] if path else list(_open)
        for key in keys:
            _holders.pop(key, None)
            con = _open.pop(key, None)
            if con is not None:
                con.close()


@contextmanager
def exclusive(con: duckdb.DuckDBPyConnection, subject: str, doing: str) -> Iterator[None]:
    """One long write step at a time on a subject (a corpus) of a workspace.

    DuckDB's file lock keeps other processes out, but the app's sessions are threads of one
    process sharing its connection: two tabs pressing Generate would both find the same work
    missing, pay for it twice and store it twice. The second gets Busy at once instead (a
    step may nest another of its own thread). Nothing is changed by a refused step.
    """
    key = (_database_path(con), subject)
    me = threading.get_ident()
    with _busy_lock:
        holder = _busy.get(key)
        if holder and holder[0] != me:
            since = time.strftime("%H:%M:%S", time.localtime(holder[2]))
            raise Busy(
                f"{subject} is busy: another session has been {holder[1]} since {since}. Wait for it to finish "
                "(its page shows the progress), then run this again: it resumes where that one stopped and pays "
                "for nothing twice. Nothing was changed."
            )
        _busy[key] = (me, doing, holder[2] if holder else time.time(), (holder[3] if holder else 0) + 1)
    try:
        yield
    finally:
        with _busy_lock:
            thread, what, since, depth = _busy[key]
            if depth > 1:
                _busy[key] = (thread, what, since, depth - 1)
            else:
                del _busy[key]


def _database_path(con: duckdb.DuckDBPyConnection) -> str:
    return str(
        con.execute(
            "SELECT coalesce(path, database_name) FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()[0]
    )


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


_NO_ROOM = ("no space left", "file too large", "disk quota", "not enough space")


def _no_room(err: Exception) -> bool:
    return any(words in str(err).lower() for words in _NO_ROOM)


def _disk_full(con: duckdb.DuckDBPyConnection) -> DiskFull:
    try:
        where = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[
            0
        ]
    except Exception:  # (a connection whose write just failed may refuse any statement)
        where = "the workspace"
    return DiskFull(
        f"The disk holding {where} is full (or a file size limit was reached): this step's writes were "
        "undone and everything stored before is intact. Free some space (or point QURATE_WORKSPACE at a "
        "folder on a larger disk), then run the step again; it resumes where it stopped."
    )


@contextmanager
def _refused_disk_is_disk_full(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A write the disk refused (DuckDB's error carries the OS's) becomes DiskFull; other errors pass."""
    try:
        yield
    except duckdb.Error as err:
        if _no_room(err):
            raise _disk_full(con) from None
        raise


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block as one transaction: all of its writes land, or none do.

    Raises:
        DiskFull: the disk refused the writes (they were rolled back).
    """
    con.execute("BEGIN TRANSACTION")
    try:
        with _refused_disk_is_disk_full(con):
            yield con
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed write may have ended the transaction already
        raise
    with _refused_disk_is_disk_full(con):
        con.execute("COMMIT")


def insert_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame,
    columns: list[str],
    ignore_duplicates: bool = False,
    replace: bool = False,
    on_conflict: str = "",
) -> None:
    """Insert a DataFrame's ``columns`` into the same-named columns of ``table``, in one statement;
    rows whose key exists are skipped (``ignore_duplicates``), replace the old ones (``replace``) or
    meet an ``ON CONFLICT ...`` clause of the caller's (``on_conflict``).

    Raises:
        DiskFull: the disk refused the rows (none of them was written).

    DuckDB casts on the way in (VARCHAR to JSON, lists of floats to FLOAT[]).
    """
    name = f"frame_{table}"
    con.register(name, frame)
    try:
        listed = ", ".join(columns)
        with _refused_disk_is_disk_full(
            con
        ):  # bulk writes are where a disk fills; outside a transaction this commits itself
            con.execute(
                f"INSERT {'OR IGNORE ' if ignore_duplicates else 'OR REPLACE ' if replace else ''}INTO {table} ({listed}) "
                f"SELECT {listed} FROM {name} {on_conflict}"
            )
    finally:
        try:
            con.unregister(name)
        except Exception:  # (after a failed write DuckDB refuses further work on this cursor)
            pass
