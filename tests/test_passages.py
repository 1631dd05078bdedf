import pytest

from core.errors import InvalidInput
from core.passages import Document, check_sizes, count_tokens, make_passages, normalise, split_text


def test_normalise_collapses_whitespace_and_drops_control_characters():
    assert normalise("  Ｈello\u200b\tworld\r\n\n\x07again ") == "Hello world again"


def test_count_tokens_counts_words_and_punctuation():
    assert count_tokens("Don't stop, please.") == 4 + 3  # Don t stop please + three marks


def test_windows_respect_the_size_and_overlap_whole_sentences():
    text = " ".join(f"Sentence {i} is here." for i in range(30))  # 5 tokens each
    windows = split_text(text, chunk_tokens=20, overlap_tokens=5)
    assert all(count_tokens(w) <= 20 for w in windows)
    assert len(windows) > 1
    for before, after in zip(windows, windows[1:]):
        last_sentence = before.rsplit(" Sentence ", 1)[-1]
        assert after.startswith("Sentence " + last_sentence) or after.startswith(last_sentence)
    assert "Sentence 29 is here." in windows[-1]


def test_a_sentence_longer_than_a_window_is_cut_at_words():
    windows = split_text("word " * 50, chunk_tokens=16, overlap_tokens=0)
    assert [count_tokens(w) for w in windows] == [16, 16, 16, 2]


def test_short_document_keeps_its_id_and_long_one_gets_numbered_windows():
    short = make_passages(Document("d1", "One short passage.", "T"), split=True)
    assert [p.passage_id for p in short] == ["d1"]
    long = make_passages(Document("d2", "Some words here. " * 100, "T"), split=True, chunk_tokens=40, overlap_tokens=0)
    assert [p.passage_id for p in long] == [f"d2#{i}" for i in range(len(long))]
    assert {p.doc_id for p in long} == {"d2"}
    assert make_passages(Document("d3", "Some words here. " * 100), split=False)[0].passage_id == "d3"


def test_empty_document_gives_no_passage():
    assert make_passages(Document("d", "   \n "), split=True) == []


@pytest.mark.parametrize(
    "chunk, overlap, message", [(8, 0, "at least 16"), (100, 60, "between 0 and half"), (100, -1, "between 0")]
)
def test_impossible_sizes_say_what_to_change(chunk, overlap, message):
    with pytest.raises(InvalidInput, match=message):
        check_sizes(chunk, overlap)
