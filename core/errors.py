"""What can go wrong for a user, named so that pages can catch it and say what to do.

Pages catch these by class and show the message; anything else is a bug and is left to
surface as one.
"""


class QurateError(Exception):
    """Base class of every error a user can act on; the message says what to do."""


class BadUpload(QurateError):
    """An uploaded or named file cannot be read as a corpus, test set or qrels."""

    def __init__(self, message: str, *, filename: str | None = None, line: int | None = None):
        where = filename or ""
        if filename and line is not None:
            where = f"{filename}, line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.filename = filename
        self.line = line


class NotFound(QurateError):
    """A corpus, query or model the user named does not exist in this workspace."""


class LLMUnavailable(QurateError):
    """The configured LLM cannot be reached or refuses every call."""


class JobFailed(QurateError):
    """A training or evaluation job ended with an error; its log says why."""


class InvalidInput(QurateError, ValueError):
    """A setting or value the user gave is out of range or unknown; the message says what is allowed.

    Also a ValueError, so that callers written against plain validation still catch it.
    """


class WorkspaceLocked(QurateError):
    """Another process holds the workspace database (DuckDB allows one process per file)."""


class DiskFull(QurateError):
    """The workspace's disk (or a file size limit) refused a write; the step's writes were rolled back."""


class Busy(QurateError):
    """Another session of this app is running a long step on the same corpus; the message says which and since when."""


class BadWorkspace(QurateError):
    """The workspace folder or its database file cannot be used (a file in the way, no permission, a damaged
    or foreign database); nothing in it was changed."""
