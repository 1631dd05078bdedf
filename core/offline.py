"""The offline query generator: the six query types without any LLM or network.

It works from the passage and from corpus statistics alone, with no word list or rule
written for a domain: salient terms are those frequent in the passage and rare in the
corpus (TF-IDF); questions and casual searches ask first about what the passage itself
says its topic has ("the main symptom of short bowel syndrome"), or, where the topic names a task
("Replacing a chain"), how to do it; else they come from a generic English rule (the subject of an
informative sentence becomes the thing asked about). Where no rule makes a query that reads, it makes
none (an empty query, flagged, never trained on). Claims keep a sentence's content words. Queries it makes are labelled with origin ``offline`` and generator ``NAME``.
"""

import re
from collections import Counter

from core.corpus_grammar import (
    CLAUSE,
    COPULAS,
    DEICTIC,
    DETERMINERS,
    FUNCTION_WORDS,
    MODALS,
    PARTICLES,
    PERSONAL,
    SENTENCE,
    SUBORDINATORS,
    WH,
    CorpusGrammar,
    lower_first,
    words_of,
)

NAME = "offline-v11 (no LLM)"

COPY_LIMIT = 7  # words copied in a row from the passage: core.filters flags a query from 8 on


class OfflineGenerator(CorpusGrammar):
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

    def _question(self, sentence: str, topic: str, phrase: str) -> str:
        """A question a sentence answers, by the first rule that fits (English grammar, no domain rule):
        'X is Y' -> 'What is X?'; 'X may cause Y' -> 'What may cause Y?'; an instruction 'Apply the oil ...' ->
        'How do I apply the oil ...?'; 'If X, Y' -> 'What should I do if X?'; else about the passage's best
        noun phrase: 'What are the symptoms for glaucoma?'."""
        named = {w.lower() for w in words_of(topic) if self._is_content(w)}
        mentions = lambda q: bool({w.lower() for w in words_of(q)} & named)  # noqa: E731  ("of" names no topic)
        clause = _first_clause(sentence)
        if (
            sentence.rstrip().endswith("?")
            or not clause
            or clause[0].isdigit()
            or clause[0].lower() in PERSONAL | SUBORDINATORS
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
            and clause[1].lower() in DETERMINERS | PARTICLES
            and not self.nominal(clause[0])
            and not clause[0].lower().endswith(("ing", "s"))
            and self.verbal(clause[0])
        ):
            # an imperative: a verb ("can apply" in the corpus) then its object or particle: "Apply the oil", "Talk to"
            return f"How do I {lower_first(' '.join(self._to_noun(clause[:COPY_LIMIT])))}?"
        for k, word in enumerate(clause[:8]):
            low = word.lower()
            if k and (clause[0].lower() in DEICTIC or clause[0].lower() in FUNCTION_WORDS - DETERMINERS):
                break  # "This condition is ..." names nothing out of context; "For X is ..." has no subject
            if (
                k
                and low in COPULAS
                and any(self._is_content(w) for w in clause[:k])
                and k <= 6
                and self._ends_well(clause[:k])
            ):
                subject = self._naming_topic(clause[:k], topic)
                if {w.lower() for w in subject[1:]} & (DEICTIC - {"that"}):
                    continue  # "the goal of this research is": a subject pointing at something the query cannot show
                question = f"What {low} {lower_first(' '.join(subject))}"
                return f"{question}?" if mentions(question) else f"{question} for {lower_first(topic)}?"
            if (
                k
                and low in MODALS
                and len(clause) > k + 2
                and self._ends_well(self._to_noun(clause[k + 1 : k + COPY_LIMIT]))
            ):
                question = f"What {' '.join([low, *self._to_noun(clause[k + 1 : k + COPY_LIMIT])])}"
                return f"{question}?" if mentions(question) else f"{question} for {lower_first(topic)}?"
        return self._about(phrase, topic)

    def _naming_topic(self, words: list[str], topic: str) -> list[str]:
        """Words with "this condition" (a noun passages open with, "This condition is ...": it points at their topic)
        replaced by the topic: "the incidence of this condition" -> "the incidence of Sjogren-Larsson syndrome"."""
        for k in range(len(words) - 1):
            if topic and words[k].lower() == "this" and words[k + 1].lower() in self.anaphors:
                return [*words[:k], *words_of(topic), *words[k + 2 :]]
        return words

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
        topic_words = [w.lower() for w in words_of(topic)]
        named = set(topic_words)
        first = next((w for w in topic_words if w not in FUNCTION_WORDS), "")
        count, used = self.siblings.get(title.strip().lower(), (1, Counter()))
        found: list[tuple[str, str]] = []
        for clause in (part for s in SENTENCE.split(text) for part in CLAUSE.split(s)):
            words = words_of(clause)
            for k in range(1, len(words) - 1):
                if words[k].lower() not in ("of", "for"):
                    continue
                after = words[k + 1 : k + 3]
                if not any(
                    w.lower() == first for w in after[:1] + (after[1:] if after[0].lower() in DETERMINERS else [])
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
                    found.append((lower_first(" ".join(run)), words[k].lower()))
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
        return f"What {verb} the {phrase} {preposition} {lower_first(topic)}?"

    def _tells_apart(self, query: str, title: str, topic: str, opens: bool) -> bool:
        """Whether a query could pick its passage out of those sharing its title: it names more than the
        topic ("What is glaucoma?" fits every answer about glaucoma), or no other passage has the title, or
        the passage opens the title (a question about the topic itself is the introduction's)."""
        if opens or self.siblings.get(title.strip().lower(), (1, None))[0] < 2:
            return True
        return bool({w.lower() for w in words_of(query) if self._is_content(w)} - {w.lower() for w in words_of(topic)})

    def topic(self, title: str) -> str:
        """What a searcher would call a title's subject: a short title as it is (in sentence case when the
        title is in Title Case), else its first part before a colon, else its rarest noun phrase. A part that is
        a clause ("Kidney failure: What to expect", "What I need to know about Gas") yields to what it is about."""
        parts = [part for part in re.split(r":\s*", title) if words_of(part)]
        named = [part for part in parts if words_of(part)[0].lower() not in WH]
        if len(parts) > len(named) > 0:
            title = named[0]
        elif parts and not named and " about " in title.lower():
            title = re.split(r"\babout\s+", title, flags=re.IGNORECASE)[-1]
        words = words_of(title)
        if len(words) > 10:
            head = words_of(re.split(r"[:;,(]", title)[0])
            if 2 <= len(head) <= 6:
                words = head
            else:
                best = self.noun_phrases(title, {w.lower(): self.idf(w) for w in words})
                words = words_of(best[0]) if best else words[:6]
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
        verb = words[1].lower() in DETERMINERS | PARTICLES
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

    def make(self, title: str, text: str, qtype: str, index: int = 0, opens: bool = True) -> str:
        """One query of ``qtype`` for a passage; ``index`` picks a different variant. ``opens``: the passage opens a
        run of passages sharing its title (a document's introduction, ``storage.corpora.title_openers``), so a
        question naming only the topic is its; the default suits callers that cannot tell."""
        scores = self.aspect_scores(title, text)
        terms = sorted(scores, key=lambda w: -scores[w]) or [w.lower() for w in words_of(title or text)[:3]]
        nouns = self.noun_phrases(text, scores) or self.phrases(text, scores) or [" ".join(terms[:2])]
        topic = self.topic(title) if title.strip() else nouns[0]
        topic_words = [w.lower() for w in words_of(topic) if self._is_content(w)][:4] if title.strip() else []
        lead = [s for s in SENTENCE.split(text) if len(words_of(s)) >= 4][:1]
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
                count == 1 and len(words_of(title)) >= 3 and index == 0
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
    words, named = [w.lower() for w in words_of(sentence)], [w.lower() for w in words_of(topic)]
    return bool(named) and words[: len(named)] == named and len(words) > len(named) and words[len(named)] in COPULAS


def _first_clause(sentence: str) -> list[str]:
    """The words of a sentence up to its first comma-like break that leaves at least three words."""
    for clause in CLAUSE.split(sentence):
        if len(words_of(clause)) >= 3:
            return words_of(clause)
    return words_of(sentence)
