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

NAME = "offline-v1 (no LLM)"

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

    >>> gen = OfflineGenerator(["Chains need oil. Oil keeps chains quiet.", "Brake pads wear out."])
    >>> gen.make("Chain care", "Chains need oil. Oil keeps chains quiet.", "keywords")
    'chains need oil'
    """

    name = NAME

    def __init__(self, texts: list[str]):
        self.n = max(len(texts), 1)
        self.df: Counter = Counter()
        for text in texts:
            self.df.update({w.lower() for w in _words(text)})
        common = {w for w, c in self.df.items() if self.n >= 20 and c / self.n > 0.5}
        self.stop = FUNCTION_WORDS | common

    def idf(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word.lower(), 0) + 1)) + 1.0

    def _is_content(self, word: str) -> bool:
        return word.lower() not in self.stop and (len(word) > 2 or word.isdigit() or word.isupper())

    def salient_terms(self, text: str, k: int) -> list[str]:
        """The ``k`` terms with the highest TF-IDF in ``text``, in order of first appearance."""
        words = [w for w in _words(text) if self._is_content(w)]
        tf = Counter(w.lower() for w in words)
        top = {w for w, _ in sorted(tf.items(), key=lambda item: -item[1] * self.idf(item[0]))[:k]}
        ordered = []
        for w in words:
            if w.lower() in top and w.lower() not in ordered:
                ordered.append(w.lower())
        return ordered

    def phrases(self, text: str) -> list[str]:
        """Runs of up to four content words, best (highest summed IDF) first."""
        scored = {}
        for sentence in _SENTENCE.split(text):
            run: list[str] = []
            for word in [*_words(sentence), ""]:
                if word and self._is_content(word) and len(run) < 4:
                    run.append(word)
                    continue
                if run:
                    phrase = " ".join(run)
                    scored[phrase.lower()] = max(scored.get(phrase.lower(), 0), sum(self.idf(w) for w in run))
                run = [word] if word and self._is_content(word) else []
        return sorted(scored, key=lambda p: -scored[p])

    def _sentences(self, text: str) -> list[list[str]]:
        """The passage's sentences as words, most informative (mean IDF of content words) first."""
        sentences = [_words(s) for s in _SENTENCE.split(text)]
        sentences = [s for s in sentences if 4 <= len(s) <= 60] or [s for s in sentences if s]
        score = lambda s: sum(self.idf(w) for w in s if self._is_content(w)) / (len(s) ** 0.5)  # noqa: E731
        return sorted(sentences, key=score, reverse=True)

    def _question(self, sentence: list[str], topic: str) -> str:
        """Ask about the subject of a sentence: 'X is Y' -> 'what is X?', 'X may cause Y' -> 'what may cause Y?'."""
        for k, word in enumerate(sentence[:10]):
            low = word.lower()
            if k and low in _COPULAS:
                subject = sentence[:k][-7:]
                named = any(self._is_content(w) for w in subject)
                return f"What {low} {_lower_first(' '.join(subject)) if named else topic}?"
            if k and low in FUNCTION_WORDS and low in {"can", "may", "might", "should", "must", "will", "could", "would"}:
                return f"What {' '.join([low, *sentence[k + 1:k + 7]])}?"
        return f"What about {' '.join(self.salient_terms(' '.join(sentence), 3))} in {topic}?"

    def make(self, title: str, text: str, qtype: str, index: int = 0) -> str:
        """One query of ``qtype`` for a passage; ``index`` picks a different variant."""
        phrases = self.phrases(text) or [title.lower()]
        topic = title.strip() or phrases[0]
        topic_words = {w.lower() for w in _words(topic)}
        aspects = [p for p in phrases if not set(p.split()) & topic_words] or phrases
        sentences = self._sentences(text) or [_words(text)]
        pick = lambda items, offset=0: items[(index + offset) % len(items)]  # noqa: E731
        if qtype == "keywords":
            terms = self.salient_terms(text, 3 + index)
            return " ".join(terms[index % 2:][:4] if index else terms)
        if qtype == "title":
            return f"{topic}: {pick(aspects)}" if title.strip() else " ".join(phrases[index % len(phrases)].split()[:8])
        if qtype == "web":
            return " ".join([*(w.lower() for w in _words(topic)[:4]), *pick(aspects, 1).split()[:3]])
        if qtype == "question":
            return self._question(pick(sentences), topic)
        if qtype == "casual":
            question = self._question(pick(sentences, 1), topic).rstrip("?")
            return _lower_first(question.replace("What ", "what ", 1))
        if qtype == "claim":
            content = [w for w in pick(sentences) if self._is_content(w)]
            return " ".join(content[:12])
        raise ValueError(f"unknown query type {qtype!r}; use one of question, claim, title, keywords, web, casual")


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the word is an acronym (ALL, DNA)."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() and len(first) > 1 else text[:1].lower() + text[1:]
