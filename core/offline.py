"""The offline query generator: the six query types without any LLM or network.

It works from the passage and from corpus statistics alone, with no word list or rule
written for a domain: salient terms are those frequent in the passage and rare in the
corpus (TF-IDF); questions come from a generic English rule (the subject of an
informative sentence becomes the thing asked about); claims keep a sentence's content
words. Queries it makes are labelled with origin ``offline`` and generator ``NAME``.
"""

import math
import re
from collections import Counter

NAME = "offline-v2 (no LLM)"

# English function words: a property of the language, not of any domain.
FUNCTION_WORDS = set(
    """a an the and or but if then else of in on at to for from by with without about into onto over under
    between through during before after above below up down out off again further once here there when where why
    how what which who whom whose this that these those am is are was were be been being have has had having do
    does did doing will would shall should can could may might must not no nor only own same so than too very
    just also any all both each few more most other some such it its itself they them their theirs themselves
    he him his she her hers we us our ours you your yours i me my mine as while because until against among
    per via etc e g ie eg one""".split()
)
_COPULAS = {"is", "are", "was", "were"}
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


class OfflineGenerator:
    """Makes queries of every type for the passages of one corpus.

    A query names the passage's topic (its title) and its aspect: the terms that set the
    passage apart from the passages sharing its title (its siblings: the sections of one
    document, or the answers about one subject), weighted by their rarity in the corpus.
    Without siblings the aspect is plain TF-IDF. That is what a searcher must tell apart
    and what the hard negatives mined for the query will be.

    >>> gen = OfflineGenerator(["Chains need oil. Oil keeps chains quiet.", "Brake pads wear out."], ["Chain care", "Brakes"])
    >>> gen.make("Chain care", "Chains need oil. Oil keeps chains quiet.", "web")
    'chain care chains oil'
    """

    name = NAME

    def __init__(self, texts: list[str], titles: list[str] | None = None):
        titles = titles if titles is not None else [""] * len(texts)
        self.n = max(len(texts), 1)
        self.df: Counter = Counter()
        self.siblings: dict[str, tuple[int, Counter]] = {}
        for title, text in zip(titles, texts):
            seen = {w.lower() for w in _words(text)}
            self.df.update(seen)
            count, sf = self.siblings.setdefault(title.strip().lower(), (0, Counter()))
            sf.update(seen)
            self.siblings[title.strip().lower()] = (count + 1, sf)
        self.siblings.pop("", None)
        common = {w for w, c in self.df.items() if self.n >= 20 and c / self.n > 0.5}
        self.stop = FUNCTION_WORDS | common

    def idf(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word.lower(), 0) + 1)) + 1.0

    def _is_content(self, word: str) -> bool:
        return word.lower() not in self.stop and (len(word) > 2 or word.isdigit() or word.isupper())

    def aspect_scores(self, title: str, text: str) -> dict[str, float]:
        """Content words of ``text`` outside its title, scored by tf x rarity among siblings (tf x idf without siblings)."""
        count, sf = self.siblings.get(title.strip().lower(), (1, Counter()))
        topic = {w.lower() for w in _words(title)}
        tf = Counter(w.lower() for w in _words(text) if self._is_content(w) and not w.isdigit() and w.lower() not in topic)
        if count < 3:  # too few siblings to contrast with: plain TF-IDF
            return {w: c * self.idf(w) for w, c in tf.items()}
        return {w: c * math.log((count + 1) / max(sf.get(w, 1), 1)) for w, c in tf.items()}

    def phrases(self, text: str, scores: dict[str, float]) -> list[str]:
        """Runs of up to four content words, best (highest summed aspect score) first."""
        scored: dict[str, float] = {}
        for sentence in _SENTENCE.split(text):
            run: list[str] = []
            for word in [*_words(sentence), ""]:
                if word and self._is_content(word) and len(run) < 4:
                    run.append(word)
                    continue
                if run:
                    phrase = " ".join(run).lower()
                    scored[phrase] = max(scored.get(phrase, 0), sum(scores.get(w.lower(), 0) for w in run))
                run = [word] if word and self._is_content(word) else []
        return sorted((p for p in scored if scored[p] > 0), key=lambda p: -scored[p])

    def _sentences(self, text: str, scores: dict[str, float]) -> list[list[str]]:
        """The passage's sentences as words, richest in aspect terms first."""
        sentences = [_words(s) for s in _SENTENCE.split(text)]
        sentences = [s for s in sentences if 4 <= len(s) <= 60] or [s for s in sentences if s]
        return sorted(sentences, key=lambda s: -sum(scores.get(w.lower(), 0) for w in set(s)) / len(s) ** 0.5)

    def _question(self, sentence: list[str], topic: str, aspect: str) -> str:
        """Ask about the subject of a sentence: 'X is Y' -> 'What is X?', 'X may cause Y' -> 'What may cause Y?'."""
        mentions = lambda q: bool({w.lower() for w in _words(q)} & {w.lower() for w in _words(topic)})  # noqa: E731
        for k, word in enumerate(sentence[:10]):
            low = word.lower()
            if k and low in _COPULAS and any(self._is_content(w) for w in sentence[:k]):
                question = f"What {low} {_lower_first(' '.join(sentence[:k][-7:]))}"
                return f"{question}?" if mentions(question) else f"{question} in {topic}?"
            if k and low in {"can", "may", "might", "should", "must", "will", "could", "would"}:
                question = f"What {' '.join([low, *sentence[k + 1:k + 7]])}"
                return f"{question}?" if mentions(question) else f"{question} in {topic}?"
        return f"What is known about {aspect} in {topic}?"

    def make(self, title: str, text: str, qtype: str, index: int = 0) -> str:
        """One query of ``qtype`` for a passage; ``index`` picks a different variant."""
        scores = self.aspect_scores(title, text)
        terms = sorted(scores, key=lambda w: -scores[w]) or [w.lower() for w in _words(title or text)[:3]]
        phrases = self.phrases(text, scores) or [" ".join(terms[:3])]
        topic = title.strip() or phrases[0]
        topic_words = [w.lower() for w in _words(topic)][:5] if title.strip() else []
        lead = [_words(s) for s in _SENTENCE.split(text) if len(_words(s)) >= 4][:1]
        sentences = lead + self._sentences(text, scores) or [_words(text)]
        pick = lambda items, offset=0: items[(index + offset) % len(items)]  # noqa: E731
        if qtype == "keywords":
            return " ".join([*topic_words[:3], *terms[index:index + 3]])
        if qtype == "web":
            return " ".join([*topic_words, *terms[index % 2:index % 2 + 2]])
        if qtype == "title":
            return f"{topic}: {pick(phrases)}" if title.strip() else " ".join(pick(phrases).split()[:8])
        if qtype == "question":
            return self._question(pick(sentences), topic, pick(phrases))
        if qtype == "casual":
            question = self._question(pick(sentences, 1), topic, pick(phrases, 1)).rstrip("?")
            return _lower_first(question.replace("What ", "what ", 1))
        if qtype == "claim":
            content = [w for w in pick(sentences) if self._is_content(w)][:12]
            named = {w.lower() for w in content} & set(topic_words)
            return " ".join(content if named or not topic_words else [*topic_words[:4], *content[:10]])
        raise ValueError(f"unknown query type {qtype!r}; use one of question, claim, title, keywords, web, casual")


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the word is an acronym (ALL, DNA)."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() and len(first) > 1 else text[:1].lower() + text[1:]
