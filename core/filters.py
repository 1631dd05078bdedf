"""Checks on generated queries. A failed check adds a flag; flagged queries are kept,
shown with their flags, left out of training, and can be restored by the user."""

import re

_WORD = re.compile(r"\w+")
_LABEL = re.compile(r"^\s*(?:\d+[.)]\s*|[-*•]\s*|(?:query|question|claim|title|keywords|search|answer)\s*:\s*)", re.I)

MIN_TOKENS = 2
MAX_TOKENS = 40
COPY_RUN = 8
NEAR_DUPLICATE = 0.8


def parse_query(raw: str | None) -> str:
    """The query in a model's answer: its first non-empty line, without labels, numbering or quotes."""
    for line in (raw or "").splitlines():
        previous = None
        while previous != line:
            previous, line = line, _LABEL.sub("", line).strip().strip("\"'“”‘’`").strip()
        if line:
            return line
    return ""


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(text)]


def longest_copied_run(query: str, passage: str) -> int:
    """The length, in words, of the longest run of the query's words found verbatim in the passage."""
    q, p = _tokens(query), _tokens(passage)
    positions: dict[str, list[int]] = {}
    for i, token in enumerate(p):
        positions.setdefault(token, []).append(i)
    best = 0
    previous: dict[int, int] = {}
    for token in q:
        current = {i: previous.get(i - 1, 0) + 1 for i in positions.get(token, [])}
        best = max(best, *current.values()) if current else best
        previous = current
    return best


def jaccard(a: str, b: str) -> float:
    """Overlap of two texts' word sets (1.0: the same words)."""
    x, y = set(_tokens(a)), set(_tokens(b))
    return len(x & y) / len(x | y) if x | y else 1.0


# What a language model writes that no user would: chat-template tokens and markup, assistant chatter.
_DEBRIS = re.compile(
    r"<<?/?[A-Za-z_|]+>>?|\[/?INST\]|<\|[^>]*\|>|\b(glad to help|as an ai|thank you|thanks for|"
    r"here is|here's a|i hope|happy to)\b",
    re.I,
)
ECHO_RUN = 5  # words in a row that a query shares with the prompt's own text (not the passage): an echo


def flags_for(query: str, passage: str, earlier: list[str], prompt: str = "") -> list[str]:
    """The flags a query earns: empty, too short, too long, copied, near-duplicate, not a query (chat debris,
    markup, assistant chatter), echoes the prompt.

    Args:
        query: the parsed query.
        passage: its source passage's text.
        earlier: the queries already kept for the same passage.
        prompt: the prompt the model saw, less the passage: a run of its words in the query is an echo.
    """
    n = len(_tokens(query))
    if n == 0:
        return ["empty"]
    flags = []
    if _DEBRIS.search(query):
        flags.append("not a query")
    if prompt and n >= 3 and longest_copied_run(query, prompt) >= min(ECHO_RUN, n):
        flags.append("echoes the prompt")
    if n < MIN_TOKENS:
        flags.append("too short")
    if n > MAX_TOKENS:
        flags.append("too long")
    if longest_copied_run(query, passage) >= COPY_RUN:
        flags.append("copied")
    if any(jaccard(query, other) >= NEAR_DUPLICATE for other in earlier):
        flags.append("near-duplicate")
    return flags
