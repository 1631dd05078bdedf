"""The offline query generator: the six query types without any LLM or network.

It works from the passage and from corpus statistics alone, with no word list or rule
written for a domain: salient terms are those frequent in the passage and rare in the
corpus (TF-IDF); questions and casual searches ask first about what the passage itself
says its topic has ("the main symptom of short bowel syndrome"), or, where the topic names a task
("Replacing a chain"), how to do it; else they come from a generic English rule (the subject of an
informative sentence becomes the thing asked about). Where no rule makes a query that reads, it makes
none (an empty query, flagged, never trained on). Claims keep a sentence's content words. Queries it makes are labelled with origin ``offline`` and generator ``NAME``.
"""

import math
import re
from collections import Counter

NAME = "offline-v11 (no LLM)"

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
_COPULAS = {"is", "are", "was", "were"}
_DETERMINERS = {"the", "a", "an", "this", "these", "its", "their", "your", "our", "each", "every", "any", "some", "no"}
_MODALS = {"can", "may", "might", "should", "must", "will", "could", "would"}
_DEICTIC = {"this", "these", "that", "those", "it", "they", "such"}
_PERSONAL = {"i", "we", "you", "he", "she", "they", "our", "my", "your"}  # a subject that names nobody out of context
_PARTICLES = {"to", "with", "for", "on", "in", "at", "about", "into", "up", "out", "off"}
_WH = {"what", "how", "why", "when", "where", "who", "which"}
_SUBORDINATORS = {
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
_CLAUSE = re.compile(r"[,;:()]| - | – | — ")
COPY_LIMIT = 7  # words copied in a row from the passage: core.filters flags a query from 8 on
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
    'chain care chains need oil'
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
            words = [w.lower() for w in _words(text)] + [""]
            self.seen.update(words)
            self.after_determiner.update(b for a, b in zip(words, words[1:]) if a in _DETERMINERS)
            self.after_modal.update(b for a, b in zip(words, words[1:]) if a in _MODALS)
            self.after_to.update(b for a, b in zip(words, words[1:]) if a == "to")
            self.before_be.update(a for a, b in zip(words, words[1:]) if b in ("be", "have", "been"))
            for k, word in enumerate(words[:-2]):
                if word in _DETERMINERS:
                    end = next(
                        (j for j in range(k + 1, min(k + 5, len(words))) if words[j] in FUNCTION_WORDS or not words[j]),
                        None,
                    )
                    if end is not None and end > k + 1:
                        self.heads[words[end - 1]] += 1
            self.before_relation.update(a for a, b in zip(words, words[1:]) if b in ("of", "for"))
        bodies = (text.removeprefix(f"{title}. ") for title, text in zip(titles, texts))  # texts as models read them
        opening = Counter(
            w[1].lower() for w in (_words(body)[:2] for body in bodies) if len(w) == 2 and w[0].lower() == "this"
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
        topic = {w.lower() for w in _words(title)}
        tf = Counter(
            w.lower() for w in _words(text) if self._is_content(w) and not w.isdigit() and w.lower() not in topic
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

    def _sentences(self, text: str, scores: dict[str, float]) -> list[str]:
        """The passage's sentences, richest in aspect terms first."""
        sentences = [s for s in _SENTENCE.split(text) if _words(s)]
        sentences = [s for s in sentences if 4 <= len(_words(s)) <= 60] or sentences
        return sorted(
            sentences, key=lambda s: -sum(scores.get(w.lower(), 0) for w in set(_words(s))) / len(_words(s)) ** 0.5
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
        for sentence in (part for s in _SENTENCE.split(text) for part in _CLAUSE.split(s)):
            run: list[str] = []
            for word in [*_words(sentence), ""]:
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
        return [_lower_first(p) for score, p in ranked if score > 0 and score >= 0.3 * best]  # weak phrases say little

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

    def _question(self, sentence: str, topic: str, phrase: str) -> str:
        """A question a sentence answers, by the first rule that fits (English grammar, no domain rule):
        'X is Y' -> 'What is X?'; 'X may cause Y' -> 'What may cause Y?'; an instruction 'Apply the oil ...' ->
        'How do I apply the oil ...?'; 'If X, Y' -> 'What should I do if X?'; else about the passage's best
        noun phrase: 'What are the symptoms for glaucoma?'."""
        named = {w.lower() for w in _words(topic) if self._is_content(w)}
        mentions = lambda q: bool({w.lower() for w in _words(q)} & named)  # noqa: E731  ("of" names no topic)
        clause = _first_clause(sentence)
        if (
            sentence.rstrip().endswith("?")
            or not clause
            or clause[0].isdigit()
            or clause[0].lower() in _PERSONAL | _SUBORDINATORS
        ):
            return self._about(phrase, topic)  # a question already, a number cut from its figure, "we", "although ..."
        condition = self._to_noun(clause[1:COPY_LIMIT])
        if len(clause) > 3 and clause[0].lower() == "if" and condition == clause[1:] and self._ends_well(condition):
            # the whole condition: one cut short loses its verb ("What should I do if a brake lever?")
            return f"What should I do if {' '.join(condition)}?"
        if (
            len(clause) > 2
            and clause[0][:1].isupper()
            and clause[0].lower() not in FUNCTION_WORDS
            and clause[1].lower() in _DETERMINERS | _PARTICLES
            and not self.nominal(clause[0])
            and not clause[0].lower().endswith(("ing", "s"))
            and self.verbal(clause[0])
        ):
            # an imperative: a verb ("can apply" in the corpus) then its object or particle: "Apply the oil", "Talk to"
            return f"How do I {_lower_first(' '.join(self._to_noun(clause[:COPY_LIMIT])))}?"
        for k, word in enumerate(clause[:8]):
            low = word.lower()
            if k and (clause[0].lower() in _DEICTIC or clause[0].lower() in FUNCTION_WORDS - _DETERMINERS):
                break  # "This condition is ..." names nothing out of context; "For X is ..." has no subject
            if (
                k
                and low in _COPULAS
                and any(self._is_content(w) for w in clause[:k])
                and k <= 6
                and self._ends_well(clause[:k])
            ):
                subject = self._naming_topic(clause[:k], topic)
                if {w.lower() for w in subject[1:]} & (_DEICTIC - {"that"}):
                    continue  # "the goal of this research is": a subject pointing at something the query cannot show
                question = f"What {low} {_lower_first(' '.join(subject))}"
                return f"{question}?" if mentions(question) else f"{question} for {_lower_first(topic)}?"
            if (
                k
                and low in _MODALS
                and len(clause) > k + 2
                and self._ends_well(self._to_noun(clause[k + 1 : k + COPY_LIMIT]))
            ):
                question = f"What {' '.join([low, *self._to_noun(clause[k + 1 : k + COPY_LIMIT])])}"
                return f"{question}?" if mentions(question) else f"{question} for {_lower_first(topic)}?"
        return self._about(phrase, topic)

    def _naming_topic(self, words: list[str], topic: str) -> list[str]:
        """Words with "this condition" (a noun passages open with, "This condition is ...": it points at their topic)
        replaced by the topic: "the incidence of this condition" -> "the incidence of Sjogren-Larsson syndrome"."""
        for k in range(len(words) - 1):
            if topic and words[k].lower() == "this" and words[k + 1].lower() in self.anaphors:
                return [*words[:k], *_words(topic), *words[k + 2 :]]
        return words

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

    def _claim(self, sentence: str) -> str:
        """A sentence's first clause in headline style: articles dropped, then other function words
        while it still copies a run of the passage the copy filter would flag, at most 12 words."""
        from core.filters import longest_copied_run

        clause = [w for w in _first_clause(sentence) if w.lower() not in {"a", "an", "the"}][:12]
        droppable = [
            i
            for i, w in enumerate(clause)
            if i and w.lower() in FUNCTION_WORDS and w.lower() not in {"no", "not", "nor"}
        ]
        while longest_copied_run(" ".join(clause), sentence) > COPY_LIMIT and droppable:
            clause.pop(droppable.pop())
        return " ".join(clause[:COPY_LIMIT] if longest_copied_run(" ".join(clause), sentence) > COPY_LIMIT else clause)

    def relations(self, text: str, topic: str, title: str = "") -> list[tuple[str, str]]:
        """What the passage itself says the topic has: noun phrases right before "of" or "for" and the topic's first
        word ("the standard treatment for megalencephaly", "the main symptom of short bowel syndrome"), as (phrase,
        preposition), in the passage's order; where other passages share the title, only phrases with a word that
        not all of them use (a sentence they all repeat tells none of them apart)."""
        topic_words = [w.lower() for w in _words(topic)]
        named = set(topic_words)
        first = next((w for w in topic_words if w not in FUNCTION_WORDS), "")
        count, used = self.siblings.get(title.strip().lower(), (1, Counter()))
        found: list[tuple[str, str]] = []
        for clause in (part for s in _SENTENCE.split(text) for part in _CLAUSE.split(s)):
            words = _words(clause)
            for k in range(1, len(words) - 1):
                if words[k].lower() not in ("of", "for"):
                    continue
                after = words[k + 1 : k + 3]
                if not any(
                    w.lower() == first for w in after[:1] + (after[1:] if after[0].lower() in _DETERMINERS else [])
                ):
                    continue
                run = []
                for word in reversed(words[:k]):
                    if not self._is_content(word) or word.isdigit() or not self.in_noun_phrase(word) or len(run) == 3:
                        break
                    run.insert(0, word)
                run = self._trimmed(run)
                if (
                    run
                    and not {w.lower() for w in run} & named
                    and (count < 2 or any(used.get(w.lower(), 0) < count for w in run))
                ):
                    found.append((_lower_first(" ".join(run)), words[k].lower()))
        return found

    def _about(self, phrase: str, topic: str, preposition: str = "for", said: bool = False) -> str:
        """'What is the <phrase> for <topic>?', or 'What is <topic>?' for the topic itself; "" (no query) where
        that would not read: a phrase that is part of the topic ("What is spoke?"), or one whose head is no
        aspect of a subject ("What is the clean rag for cleaning a chain?"), unless the passage ``said`` it
        ("the treatment for X")."""
        if not phrase:
            return ""
        head = phrase.split()[-1].lower()
        verb = "are" if head.endswith("s") and not head.endswith(("ss", "us", "is")) else "is"
        if not topic or phrase.lower() == topic.lower():
            return f"What {verb} {phrase}?"
        if phrase.lower() in topic.lower() or not (said or self.aspect(head)):
            return ""
        return f"What {verb} the {phrase} {preposition} {_lower_first(topic)}?"

    def _tells_apart(self, query: str, title: str, topic: str, opens: bool) -> bool:
        """Whether a query could pick its passage out of those sharing its title: it names more than the
        topic ("What is glaucoma?" fits every answer about glaucoma), or no other passage has the title, or
        the passage opens the title (a question about the topic itself is the introduction's)."""
        if opens or self.siblings.get(title.strip().lower(), (1, None))[0] < 2:
            return True
        return bool({w.lower() for w in _words(query) if self._is_content(w)} - {w.lower() for w in _words(topic)})

    def topic(self, title: str) -> str:
        """What a searcher would call a title's subject: a short title as it is (in sentence case when the
        title is in Title Case), else its first part before a colon, else its rarest noun phrase. A part that is
        a clause ("Kidney failure: What to expect", "What I need to know about Gas") yields to what it is about."""
        parts = [part for part in re.split(r":\s*", title) if _words(part)]
        named = [part for part in parts if _words(part)[0].lower() not in _WH]
        if len(parts) > len(named) > 0:
            title = named[0]
        elif parts and not named and " about " in title.lower():
            title = re.split(r"\babout\s+", title, flags=re.IGNORECASE)[-1]
        words = _words(title)
        if len(words) > 10:
            head = _words(re.split(r"[:;,(]", title)[0])
            if 2 <= len(head) <= 6:
                words = head
            else:
                best = self.noun_phrases(title, {w.lower(): self.idf(w) for w in words})
                words = _words(best[0]) if best else words[:6]
        content = [w for w in words if w.lower() not in FUNCTION_WORDS]
        if content and sum(w[:1].isupper() for w in content) >= 0.6 * len(content):
            words = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
        return " ".join(words)

    def task(self, topic: str) -> str:
        """A topic that names a task ("Replacing a chain", "Caring for an e-bike battery") as what a searcher asks to
        do ("replace a chain", "care for an e-bike battery"); "" for any other topic. Each -ing word that starts the
        topic or follows "and" / "or" becomes the base form the corpus itself uses (replace, set, care), so a word
        whose base form the corpus never uses is no task."""
        words = topic.split()
        if len(words) < 2:
            return ""
        # "Replacing a chain", "Caring for": the -ing word takes an object or a particle, so it is a verb; "Bleeding
        # hydraulic brakes" reads as a task only where the corpus does the verb ("to bleed") and the -ing word is no
        # noun's modifier ("hearing loss", "relapsing polychondritis": they follow a determiner)
        verb = words[1].lower() in _DETERMINERS | _PARTICLES
        out = []
        for k, word in enumerate(words):
            low = word.lower()
            if k == 2 and words[1].lower() in ("and", "or") and not low.endswith("ing"):
                return ""  # "Smoking and your heart" is about two things, no task
            if k == 0 or (words[k - 1].lower() in ("and", "or") and low.endswith("ing")):
                stem = low[:-3]
                forms = [f for f in (stem, stem + "e", stem[:-1] if stem[-1:] == stem[-2:-1] else "") if len(f) > 1]
                verbs = [
                    f
                    for f in forms
                    if f not in FUNCTION_WORDS
                    and self.seen.get(f, 0)
                    and (verb or (self._does(f) and not self.after_determiner.get(low, 0)))
                ]
                if not low.endswith("ing") or len(low) < 5 or not verbs:
                    return ""
                word = max(verbs, key=len)  # "care" over "car", "use" over "us"
            out.append(word if word.isupper() else word.lower())
        return " ".join(out)

    def _does(self, word: str) -> bool:
        """Whether the corpus uses a word as a verb one does: after "to" or a modal ("to replace", "can replace") at
        least twice, and more often than after a determiner ("the relapse")."""
        low = word.lower()
        done = self.after_to.get(low, 0) + self.after_modal.get(low, 0)
        return done >= 2 and done > self.after_determiner.get(low, 0)

    def make(self, title: str, text: str, qtype: str, index: int = 0, opens: bool = True) -> str:
        """One query of ``qtype`` for a passage; ``index`` picks a different variant. ``opens``: the passage opens a
        run of passages sharing its title (a document's introduction, ``storage.corpora.title_openers``), so a
        question naming only the topic is its; the default suits callers that cannot tell."""
        scores = self.aspect_scores(title, text)
        terms = sorted(scores, key=lambda w: -scores[w]) or [w.lower() for w in _words(title or text)[:3]]
        nouns = self.noun_phrases(text, scores) or self.phrases(text, scores) or [" ".join(terms[:2])]
        topic = self.topic(title) if title.strip() else nouns[0]
        topic_words = [w.lower() for w in _words(topic) if self._is_content(w)][:4] if title.strip() else []
        lead = [s for s in _SENTENCE.split(text) if len(_words(s)) >= 4][:1]
        sentences = lead + self._sentences(text, scores) or [text]
        pick = lambda items, offset=0: items[(index + offset) % len(items)]  # noqa: E731
        if qtype == "keywords":
            return " ".join(dict.fromkeys([*topic_words[:3], *terms[index : index + 2]]))
        if qtype == "web":  # each type draws its own noun phrase, so a passage's queries differ
            words = [*topic_words, *[w for w in pick(nouns, 1).lower().split() if w not in topic_words]]
            return " ".join(words[:7])
        if qtype == "claim":
            return self._claim(pick(sentences))
        relations = self.relations(text, topic, title) if title.strip() else []  # what the passage says the topic has
        if qtype == "title":
            count, _ = self.siblings.get(title.strip().lower(), (0, None))
            if (
                count == 1 and len(_words(title)) >= 3 and index == 0
            ):  # a title of its own: a person wrote it for this text
                return title.strip()
            noun = pick(relations)[0] if relations else pick(nouns)
            if not title.strip() or noun.lower() in topic.lower():
                return noun[:1].upper() + noun[1:]
            return f"{topic[:1].upper() + topic[1:]}: {noun}"
        task = self.task(topic) if title.strip() and opens and index == 0 else ""  # the task the passage opens
        if qtype == "question" and task:
            return f"How do I {task}?"
        if qtype == "question" and relations and not (opens and index == 0 and _is_definition(sentences[0], topic)):
            phrase, preposition = pick(relations)  # what the passage says the topic has: "the treatment for X"
            return self._about(phrase, topic, preposition, said=True)
        if qtype == "question":
            question = self._question(pick(sentences), topic, pick(nouns))
            return question if self._tells_apart(question, title, topic, opens) else self._about(pick(nouns), topic)
        if (
            qtype == "casual" and relations
        ):  # what the passage says the topic has, typed: "treatment for wolman disease"
            phrase, preposition = pick(relations, 1)
            return f"{phrase} {preposition} {topic}".lower()
        if (
            qtype == "casual"
        ):  # a different sentence's question, said the way people type it; else "<phrase> for <topic>"
            question = self._question(pick(sentences, 1), topic, "")
            if (
                question.startswith("What is the  for")
                or question.startswith("What is ?")
                or not question.strip("? ")
                or not self._tells_apart(question, title, topic, opens)
            ):
                phrase = pick(nouns, 2)
                if task:
                    return f"how to {task}"
                if title.strip() and phrase.lower() in topic.lower():
                    return ""  # "broken spoke for broken spokes" says nothing
                question = f"{phrase} for {topic}" if title.strip() else phrase
            return question.rstrip("?").lower()
        raise ValueError(f"unknown query type {qtype!r}; use one of question, claim, title, keywords, web, casual")


def _is_definition(sentence: str, topic: str) -> bool:
    """Whether a sentence defines the topic: "Glaucoma is a disease ..." (its question is "What is glaucoma?")."""
    words, named = [w.lower() for w in _words(sentence)], [w.lower() for w in _words(topic)]
    return bool(named) and words[: len(named)] == named and len(words) > len(named) and words[len(named)] in _COPULAS


def _first_clause(sentence: str) -> list[str]:
    """The words of a sentence up to its first comma-like break that leaves at least three words."""
    for clause in _CLAUSE.split(sentence):
        if len(_words(clause)) >= 3:
            return _words(clause)
    return _words(sentence)


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the word is an acronym (ALL, DNA) or a name with capitals inside it."""
    first = text.split(" ", 1)[0]
    if (first.isupper() and len(first) > 1) or any(
        c.isupper() for c in first[1:]
    ):  # "DNA", "Galloway-Mowat", "McArdle"
        return text
    return text[:1].lower() + text[1:]
