"""Normalising text and splitting documents into passages of a bounded size.

Sizes are counted in tokens = words and punctuation marks (the regex below). A
WordPiece model such as MiniLM sees about 1.2-1.4 of its tokens per such token, so the
default of 180 with an overlap of 30 fits a 256-token model with room for the title.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from core.errors import InvalidInput

DEFAULT_CHUNK_TOKENS = 180
DEFAULT_OVERLAP_TOKENS = 30

_TOKEN = re.compile(r"\w+|[^\w\s]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class Document:
    """A unit as the user supplied it: a file, a CSV row, a JSONL record."""

    doc_id: str
    text: str
    title: str = ""
    source: str = ""


@dataclass(frozen=True)
class Passage:
    """What is ranked: a document, or one window of a long document."""

    passage_id: str
    doc_id: str
    title: str
    text: str
    text_hash: str
    n_tokens: int
    position: int
    source: str


def normalise(text: str) -> str:
    """NFKC-normalise, drop control characters and collapse all whitespace to single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    return _SPACES.sub(" ", text).strip()


def count_tokens(text: str) -> int:
    """Number of words and punctuation marks in ``text``."""
    return len(_TOKEN.findall(text))


def content_hash(text: str) -> str:
    """The identity of a passage's (normalised) text, used to drop duplicates."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def split_text(text: str, chunk_tokens: int, overlap_tokens: int) -> list[str]:
    """Split text into windows of at most ``chunk_tokens`` tokens, cutting at sentence ends.

    Consecutive windows share up to ``overlap_tokens`` tokens of whole sentences. A
    sentence longer than a window is cut at word boundaries.

    >>> split_text("One two. Three four. Five six.", chunk_tokens=6, overlap_tokens=0)
    ['One two. Three four.', 'Five six.']
    """
    pieces: list[tuple[str, int]] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        n = count_tokens(sentence)
        if n <= chunk_tokens:
            pieces.append((sentence, n))
            continue
        words, current, size = sentence.split(" "), [], 0
        for word in words:
            w = count_tokens(word)
            if current and size + w > chunk_tokens:
                pieces.append((" ".join(current), size))
                current, size = [], 0
            current.append(word)
            size += w
        if current:
            pieces.append((" ".join(current), size))

    windows: list[str] = []
    current: list[tuple[str, int]] = []
    size = 0
    for piece, n in pieces:
        if current and size + n > chunk_tokens:
            windows.append(" ".join(p for p, _ in current))
            carried: list[tuple[str, int]] = []
            carried_size = 0
            for p, m in reversed(current):
                if carried_size + m > overlap_tokens or carried_size + m + n > chunk_tokens:
                    break
                carried.insert(0, (p, m))
                carried_size += m
            current, size = carried, carried_size
        current.append((piece, n))
        size += n
    if current:
        windows.append(" ".join(p for p, _ in current))
    return windows


def check_sizes(chunk_tokens: int, overlap_tokens: int) -> None:
    """Raise ValueError, saying what to change, for a window size that cannot work."""
    if chunk_tokens < 16:
        raise InvalidInput(f"passage size must be at least 16 tokens, got {chunk_tokens}")
    if not 0 <= overlap_tokens <= chunk_tokens // 2:
        raise InvalidInput(
            f"overlap must be between 0 and half the passage size ({chunk_tokens // 2}), got {overlap_tokens}"
        )


def make_passages(
    document: Document,
    *,
    split: bool,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[Passage]:
    """Normalise a document and, when ``split`` and it is long, cut it into windows.

    A document that stays whole keeps its id as the passage id; windows get
    ``"{doc_id}#{i}"``. Returns an empty list for a document with no text.
    """
    title = normalise(document.title)
    text = normalise(document.text)
    if not text:
        return []
    n_tokens = count_tokens(text)
    windows = split_text(text, chunk_tokens, overlap_tokens) if split and n_tokens > chunk_tokens else [text]
    if len(windows) == 1:
        return [
            Passage(document.doc_id, document.doc_id, title, text, content_hash(text), n_tokens, 0, document.source)
        ]
    return [
        Passage(
            f"{document.doc_id}#{i}",
            document.doc_id,
            title,
            window,
            content_hash(window),
            count_tokens(window),
            i,
            document.source,
        )
        for i, window in enumerate(windows)
    ]
