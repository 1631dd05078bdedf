"""The query types and their default prompt templates.

A template sees ``{title}``, ``{passage}`` and ``{examples}`` (the user's few-shot
examples, or nothing). Users can edit them; an edit is a new prompt version (a hash of
the text), recorded with every query made from it.
"""

QUERY_TYPES = ["question", "claim", "title", "keywords", "web", "casual"]
# What the offline generator makes unless told otherwise: its two natural-language types. Its claims, titles,
# keywords and web queries are fragments of the passage's own words; trained on questions and casual searches
# alone the reranker ranked better on both MedQuAD and CISI (docs/BENCHMARKS.md). An LLM makes all six by default.
OFFLINE_TYPES = ["question", "casual"]

TYPE_LABELS = {
    "question": "Question",
    "claim": "Claim",
    "title": "Title",
    "keywords": "Keywords",
    "web": "Web search",
    "casual": "Casual search",
}

SYSTEM = (
    "You write search queries used to train a search engine. Each query must be answered by "
    "the given passage, make sense on its own without the passage, and use your own words."
)

_COMMON = (
    '\n\n{examples}Passage title: {title}\nPassage:\n"""\n{passage}\n"""\n\n'
    "Do not copy phrases of more than three words from the passage. Name the subject instead of "
    "writing 'this' or 'the passage'. Reply with the {what} only, on one line."
)

DEFAULT_TEMPLATES = {
    "question": "Write one question that a person might ask and that the passage below answers."
    + _COMMON.replace("{what}", "question"),
    "claim": "Write one short factual statement (a claim) that the passage below supports."
    + _COMMON.replace("{what}", "claim"),
    "title": "Write a short title, at most ten words, that describes what the passage below is about."
    + _COMMON.replace("{what}", "title"),
    "keywords": "Write a keyword query of two to five keywords that someone would type to find the passage below."
    + _COMMON.replace("{what}", "keywords, separated by spaces,"),
    "web": "Write a short web-search query of three to eight words, as typed into a search engine, that the passage below answers."
    + _COMMON.replace("{what}", "query"),
    "casual": "Write a casual search request in plain everyday words, as someone who is not an expert would type it (lowercase and informal is fine), that the passage below answers."
    + _COMMON.replace("{what}", "request"),
}

VARIANT = "\n\nThis is variant {number} for this passage: make it differ from the most obvious one."


def render(template: str, title: str, passage: str, examples: str = "", index: int = 0) -> str:
    """Fill a template for one passage; ``index`` > 0 asks for a different variant."""
    shots = f"Examples of good {''}queries:\n{examples.strip()}\n\n" if examples.strip() else ""
    text = template.replace("{title}", title or "(none)").replace("{passage}", passage).replace("{examples}", shots)
    return text + (VARIANT.format(number=index + 1) if index else "")


# Base models continue patterns and follow no instruction: they get a few-shot completion prompt instead (InPars,
# Promptagator): documents from other domains, each with a query of the type, then the passage; the answer is the
# rest of one line. The user's pasted queries, when given, head the prompt as the way their users write.
SHOT_DOCUMENTS = [
    "Coral bleaching happens when water stays too warm for weeks: corals expel the algae living in their tissue, "
    "lose their colour and, if the heat lasts, starve. The Great Barrier Reef bleached in 2016, 2017 and 2020.",
    "To reset a home router, hold the reset button on its back for ten seconds until the lights blink. This restores "
    "the factory password and erases your Wi-Fi name, so set them again from the admin page afterwards.",
    "Sourdough rises with wild yeast and lactic bacteria kept in a starter of flour and water. Feed the starter daily; "
    "a loaf needs a long, cool proof, often overnight in the fridge, for its sour taste and open crumb.",
]
SHOT_QUERIES = {
    "question": [
        "what makes corals bleach",
        "how do i reset my router to factory settings",
        "how long should sourdough proof",
    ],
    "claim": [
        "warm water makes corals lose their algae",
        "a router reset erases the wifi name",
        "sourdough rises with wild yeast",
    ],
    "title": ["Coral bleaching on the Great Barrier Reef", "Resetting a home router", "Proofing sourdough bread"],
    "keywords": ["coral bleaching cause", "router factory reset", "sourdough starter proof"],
    "web": ["why does coral bleaching happen", "reset router button how long", "sourdough overnight proof fridge"],
    "casual": [
        "why is the reef turning white",
        "forgot my wifi password how to start over",
        "my sourdough isnt sour enough",
    ],
}
SHOT_LABELS = TYPE_LABELS  # a few-shot prompt's line names its type as the pages do: "Question: ...", "Web search: ..."
LINE_TOKENS = 32  # a completion prompt's answer is one line (a query, a yes or no): at most this many tokens
# a query is written from the passage's opening words: reading them is most of a small model's time, and the shorter
# cut trained as well (docs/BENCHMARKS.md, "The local model")
COMPLETION_WORDS = 60


def completion_prompt(qtype: str, title: str, passage: str, examples: str = "") -> str:
    """A base model's few-shot prompt for one query of ``qtype``; its answer ends at the line's end."""
    label = SHOT_LABELS[qtype]
    users = [line.strip() for line in examples.splitlines() if line.strip()]
    head = "Queries our users type: " + "; ".join(users[:8]) + "\n\n" if users else ""
    shots = "".join(f"Document: {d}\n{label}: {q}\n\n" for d, q in zip(SHOT_DOCUMENTS, SHOT_QUERIES[qtype]))
    words = passage.split()
    text = " ".join(words[:COMPLETION_WORDS]) + (" ..." if len(words) > COMPLETION_WORDS else "")
    return f"{head}{shots}Document: {(title + '. ') if title else ''}{text}\n{label}:"
