"""What a corpus says about its words: the English a query needs, read off the corpus with no word list beyond
the language's function words. Which words follow a determiner (nouns), a modal or "to" (verbs), which close a noun
phrase, which name an aspect of a subject ("the cause of"), which set a passage apart from those sharing its title
(TF-IDF, or rarity among its siblings), and the noun phrases of a text. ``core.offline`` makes queries from it.
"""

import math
import re
from collections import Counter

# English function words: a property of the language, not of any domain.
FUNCTION_WORDS = set(
    """a an the and or but if then else of in on at to for from by with without about into onto over under
    between through during before after above below up down out off again further once here there when where why
    how what which who whom whose this that these those am is are was were be been being have has had having do
    does did doing will would shall should can could may might must not no nor only own same so than too very
    just also any all both each few more most other some such it its itself they them their theirs themselves
    he him his she her hers we us our ours you your yours i me my mine as while because until against among
    per via etc e g ie eg one two three four five six seven eight nine ten""".split()
)
COPULAS = {"is", "are", "was", "were"}
DETERMINERS = {"the", "a", "an", "this", "these", "its", "their", "your", "our", "each", "every", "any", "some", "no"}
MODALS = {"can", "may", "might", "should", "must", "will", "could", "would"}
DEICTIC = {"this", "these", "that", "those", "it", "they", "such"}
PERSONAL = {"i", "we", "you", "he", "she", "they", "our", "my", "your"}  # a subject that names nobody out of context
PARTICLES = {"to", "with", "for", "on", "in", "at", "about", "into", "up", "out", "off"}
WH = {"what", "how", "why", "when", "where", "who", "which"}
SUBORDINATORS = {
    "although",
    "though",
    "whereas",
    "whenever",
    "unless",
    "since",
    "whether",
    "when",
    "while",
    "because",
    "once",
}
CLAUSE = re.compile(r"[,;:()]| - | – | — ")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the word is an acronym (ALL, DNA) or a name with capitals inside it."""
    first = text.split(" ", 1)[0]
    if (first.isupper() and len(first) > 1) or any(
        c.isupper() for c in first[1:]
    ):  # "DNA", "Galloway-Mowat", "McArdle"
        return text
    return text[:1].lower() + text[1:]


class CorpusGrammar:
    """Word statistics of one corpus (its texts, and their titles where they have some) and the word classes and
    phrases read from them."""

    def __init__(self, texts: list[str], titles: list[str] | None = None):
        titles = titles if titles is not None else [""] * len(texts)
        self.n = max(len(texts), 1)
        self.df: Counter = Counter()
        self.siblings: dict[str, tuple[int, Counter]] = {}
        for title, text in zip(titles, texts):
            seen = {w.lower() for w in words_of(text)}
            self.df.update(seen)
            count, sf = self.siblings.setdefault(title.strip().lower(), (0, Counter()))
            sf.update(seen)
            self.siblings[title.strip().lower()] = (count + 1, sf)
        self.siblings.pop("", None)
        self.spread: Counter = (
            Counter()
        )  # how many sibling groups use a word: aspect words ("treatment") recur across topics
        for count, sf in self.siblings.values():
            if count >= 3:
                self.spread.update(sf.keys())
        self.after_determiner: Counter = Counter()  # "the X", "a X": X is a noun or an adjective
        self.after_modal: Counter = Counter()  # "can X", "should X": X is a verb, or an adverb ...
        self.after_to: Counter = Counter()  # "to X": X is a verb, or a noun ("to the", "to surgery")
        self.before_be: Counter = Counter()  # ... as in "can often be": a verb is not followed by "be"
        self.heads: Counter = Counter()  # "the X", "the Y X" closed by a function word: X heads a noun phrase
        self.seen: Counter = Counter()
        self.before_relation: Counter = Counter()  # "X of", "X for": X names an aspect of something
        for text in texts:
            words = [w.lower() for w in words_of(text)] + [""]
            self.seen.update(words)
            self.after_determiner.update(b for a, b in zip(words, words[1:]) if a in DETERMINERS)
            self.after_modal.update(b for a, b in zip(words, words[1:]) if a in MODALS)
            self.after_to.update(b for a, b in zip(words, words[1:]) if a == "to")
            self.before_be.update(a for a, b in zip(words, words[1:]) if b in ("be", "have", "been"))
            for k, word in enumerate(words[:-2]):
                if word in DETERMINERS:
                    end = next(
                        (j for j in range(k + 1, min(k + 5, len(words))) if words[j] in FUNCTION_WORDS or not words[j]),
                        None,
                    )
                    if end is not None and end > k + 1:
                        self.heads[words[end - 1]] += 1
            self.before_relation.update(a for a, b in zip(words, words[1:]) if b in ("of", "for"))
        bodies = (text.removeprefix(f"{title}. ") for title, text in zip(titles, texts))  # texts as models read them
        opening = Counter(
            w[1].lower() for w in (words_of(body)[:2] for body in bodies) if len(w) == 2 and w[0].lower() == "this"
        )
        # "This condition ...", "This paper ..." opening passages: with nothing before them to point at, they name the topic
        self.anaphors = {w for w, c in opening.items() if c >= 2 and self.nominal(w)}
        common = {w for w, c in self.df.items() if self.n >= 20 and c / self.n > 0.5}
        self.stop = FUNCTION_WORDS | common

    def idf(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word.lower(), 0) + 1)) + 1.0

    def _is_content(self, word: str) -> bool:
        return word.lower() not in self.stop and (len(word) > 2 or word.isdigit() or word.isupper())

    def aspect_scores(self, title: str, text: str) -> dict[str, float]:
        """Content words of ``text`` outside its title, scored by tf x rarity among siblings (tf x idf without siblings)."""
        count, sf = self.siblings.get(title.strip().lower(), (1, Counter()))
        topic = {w.lower() for w in words_of(title)}
        tf = Counter(
            w.lower() for w in words_of(text) if self._is_content(w) and not w.isdigit() and w.lower() not in topic
        )
        if count < 3:  # too few siblings to contrast with: plain TF-IDF
            return {w: c * self.idf(w) for w, c in tf.items()}
        return {
            w: c * math.log((count + 1) / max(sf.get(w, 1), 1)) * math.log(2 + self.spread.get(w, 0)) ** 2
            for w, c in tf.items()
        }

    def phrases(self, text: str, scores: dict[str, float]) -> list[str]:
        """Runs of up to four content words, best (highest summed aspect score) first."""
        scored: dict[str, float] = {}
        for sentence in SENTENCE.split(text):
            run: list[str] = []
            for word in [*words_of(sentence), ""]:
                if word and self._is_content(word) and len(run) < 4:
                    run.append(word)
                    continue
                if run:
                    phrase = " ".join(run).lower()
                    scored[phrase] = max(scored.get(phrase, 0), sum(scores.get(w.lower(), 0) for w in run))
                run = [word] if word and self._is_content(word) else []
        return sorted((p for p in scored if scored[p] > 0), key=lambda p: -scored[p])

    def _sentences(self, text: str, scores: dict[str, float]) -> list[str]:
        """The passage's sentences, richest in aspect terms first."""
        sentences = [s for s in SENTENCE.split(text) if words_of(s)]
        sentences = [s for s in sentences if 4 <= len(words_of(s)) <= 60] or sentences
        return sorted(
            sentences, key=lambda s: -sum(scores.get(w.lower(), 0) for w in set(words_of(s))) / len(words_of(s)) ** 0.5
        )

    def nominal(self, word: str) -> bool:
        """Whether the corpus uses a word in a noun phrase: it follows a determiner ("the pads") often enough."""
        low = word.lower()
        return self.after_determiner.get(low, 0) >= max(1, 0.1 * self.seen.get(low, 0))

    def verbal(self, word: str) -> bool:
        """Whether the corpus uses a word as a verb's base form: it follows a modal ("can apply") more often than a
        determiner ("the apply") or than it comes before "be" (an adverb: "can often be")."""
        low = word.lower()
        modal = self.after_modal.get(low, 0)
        return modal >= 2 and modal > self.after_determiner.get(low, 0) and modal > 2 * self.before_be.get(low, 0)

    def in_noun_phrase(self, word: str) -> bool:
        """Whether a word can stand inside a noun phrase: it follows a determiner ("the urinary") or closes
        determiner phrases ("the urinary tract is"); a verb ("lacks", "called") or an adverb ("often") does neither."""
        low = word.lower()
        if self.nominal(word):
            return True
        return (
            self.heads.get(low, 0) >= max(1, 0.05 * self.seen.get(low, 0))
            and not low.endswith(("ed", "ing"))
            and not self.verbal(word)
        )

    def aspect(self, word: str) -> bool:
        """Whether a noun names an aspect of a subject, so that "the X for <topic>" reads: the corpus puts it
        before "of" or "for" ("the cause of", "the distribution of") in a tenth of its uses, or sections of
        several documents use it (their "treatment", "symptoms"). A "rag" or a "lever" is no aspect of a task."""
        low = word.lower()
        return self.spread.get(low, 0) >= 3 or self.before_relation.get(low, 0) >= max(2, 0.1 * self.seen.get(low, 0))

    def noun_end(self, word: str) -> bool:
        """Whether a word can end a noun phrase: it closes determiner phrases ("the pads wear"), or
        follows a determiner at least half the time it occurs (a noun, rarely an adjective)."""
        low = word.lower()
        seen = self.seen.get(low, 0)
        return self.nominal(word) and (
            self.heads.get(low, 0) >= max(1, 0.05 * seen) or self.after_determiner.get(low, 0) >= 0.5 * seen
        )

    def noun_phrases(self, text: str, scores: dict[str, float]) -> list[str]:
        """Runs of up to four content words ending on a noun, within one clause (a list's items are not one phrase),
        best (highest summed aspect score) first."""
        scored: dict[str, float] = {}
        for sentence in (part for s in SENTENCE.split(text) for part in CLAUSE.split(s)):
            run: list[str] = []
            for word in [*words_of(sentence), ""]:
                if word and self._is_content(word) and not word.isdigit() and (self.in_noun_phrase(word) or not run):
                    if run and word[:1].isupper() and run[-1][:1].islower():  # a new item of a list or heading
                        self._add_noun_phrase(run, scores, scored)
                        run = []
                    run.append(word)
                    continue
                self._add_noun_phrase(run, scores, scored)
                run = []
        ranked = sorted(scored.values(), key=lambda x: -x[0])
        best = ranked[0][0] if ranked else 0
        return [lower_first(p) for score, p in ranked if score > 0 and score >= 0.3 * best]  # weak phrases say little

    def _add_noun_phrase(self, run: list[str], scores: dict[str, float], scored: dict) -> None:
        """Score the noun phrases that end a run of content words (cut back to end on a noun, start on a nominal word)."""
        run = self._trimmed(run)
        for size in range(1, min(len(run), 4) + 1):
            phrase = " ".join(run[-size:])
            low = phrase.lower()
            score = sum(scores.get(w.lower(), 0) for w in run[-size:]) / size**0.3
            if score > scored.get(low, (0, ""))[0]:
                scored[low] = (score, phrase)

    def _trimmed(self, run: list[str]) -> list[str]:
        """A run of content words cut back to end on a noun and to start on a nominal word (the caller's list is kept)."""
        run = list(run)
        while run and not self.noun_end(run[-1]):
            run.pop()
        while run and not self.nominal(run[0]):
            run.pop(0)
        return run

    @staticmethod
    def _ends_well(words: list[str]) -> bool:
        """Whether a cut clause can end a question: not on a word that needs more ("with", "to", "has")."""
        return bool(words) and words[-1].lower() not in FUNCTION_WORDS

    def _to_noun(self, words: list[str]) -> list[str]:
        """Words cut back to end on a noun (keeping at least three), so a shortened clause still reads."""
        end = len(words)
        while end > 3 and not self.nominal(words[end - 1]):
            end -= 1
        return words[:end]

    def _does(self, word: str) -> bool:
        """Whether the corpus uses a word as a verb one does: after "to" or a modal ("to replace", "can replace") at
        least twice, and more often than after a determiner ("the relapse")."""
        low = word.lower()
        done = self.after_to.get(low, 0) + self.after_modal.get(low, 0)
        return done >= 2 and done > self.after_determiner.get(low, 0)
