"""Where a workspace lives, read in one place.

A workspace is a folder holding one DuckDB file (everything the user curates) and the
folders of training jobs and models. ``QURATE_WORKSPACE`` names the folder; without it
the default is ``~/.qurate/default``.
"""

import os
from pathlib import Path

from core.errors import BadWorkspace, InvalidInput

WORKSPACE_ENV = "QURATE_WORKSPACE"
MAX_UPLOAD_ENV = "QURATE_MAX_UPLOAD_MB"
SAMPLE_DIR = Path(__file__).parent / "sample"  # the sample corpus: passages, test queries, qrels
DEFAULT_MAX_UPLOAD_MB = 500  # keep equal to server.maxUploadSize in .streamlit/config.toml


def workspace_dir() -> Path:
    """The workspace folder, created if missing.

    Raises:
        BadWorkspace: it is a file, or cannot be made.

    Returns:
        The folder named by ``QURATE_WORKSPACE``, else ``~/.qurate/default``.
    """
    folder = Path(os.environ.get(WORKSPACE_ENV) or Path.home() / ".qurate" / "default")
    folder = folder.expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        what = "is a file, not a folder" if folder.is_file() else f"cannot be made ({err.strerror or err})"
        raise BadWorkspace(
            f"The workspace folder {folder} {what}: point {WORKSPACE_ENV} at a folder Qurate can write to "
            "(a new or empty one starts a fresh workspace). Nothing was changed."
        ) from None
    return folder


def database_path() -> Path:
    """The workspace's DuckDB file."""
    return workspace_dir() / "qurate.duckdb"


def max_upload_bytes() -> int:
    """The largest upload (one file, or a zip's unpacked content) accepted, in bytes."""
    raw = os.environ.get(MAX_UPLOAD_ENV, str(DEFAULT_MAX_UPLOAD_MB))
    try:
        megabytes = float(raw)
    except ValueError:
        raise InvalidInput(f"{MAX_UPLOAD_ENV} must be a number of megabytes, got {raw!r}") from None
    return int(megabytes * 1024 * 1024)
