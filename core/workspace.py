"""The workspace as pages and the command line see it: its database, settings, corpora and how far each has come.

Pages import core only; the reads they show come from storage through the core module
of their step (this one for the workspace as a whole).
"""

import duckdb

from core.settings import database_path
from storage.corpora import list_corpora, test_sets  # noqa: F401  (re-exported for pages)
from storage.db import shared_cursor
from storage.workspace import flow_counts, get_setting, set_setting  # noqa: F401  (re-exported for pages)


def shared_connection() -> duckdb.DuckDBPyConnection:
    """A cursor on the workspace database (one connection per process, shared by the app's sessions)."""
    return shared_cursor(database_path())
