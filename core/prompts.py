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
    "\n\n{examples}Passage title: {title}\nPassage:\n\"\"\"\n{passage}\n\"\"\"\n\n"
    "Do not copy phrases of more than three words from the passage. Name the subject instead of "
    "writing 'this' or 'the passage'. Reply with the {what} only, on one line."
)

DEFAULT_TEMPLATES = {
    "question": "Write one question that a person might ask and that the passage below answers." + _COMMON.replace("{what}", "question"),
    "claim": "Write one short factual statement (a claim) that the passage below supports." + _COMMON.replace("{what}", "claim"),
    "title": "Write a short title, at most ten words, that describes what the passage below is about." + _COMMON.replace("{what}", "title"),
    "keywords": "Write a keyword query of two to five keywords that someone would type to find the passage below." + _COMMON.replace("{what}", "keywords, separated by spaces,"),
    "web": "Write a short web-search query of three to eight words, as typed into a search engine, that the passage below answers." + _COMMON.replace("{what}", "query"),
    "casual": "Write a casual search request in plain everyday words, as someone who is not an expert would type it (lowercase and informal is fine), that the passage below answers." + _COMMON.replace("{what}", "request"),
}

VARIANT = "\n\nThis is variant {number} for this passage: make it differ from the most obvious one."


def render(template: str, title: str, passage: str, examples: str = "", index: int = 0) -> str:
    """Fill a template for one passage; ``index`` > 0 asks for a different variant."""
    shots = f"Examples of good {''}queries:\n{examples.strip()}\n\n" if examples.strip() else ""
    text = template.replace("{title}", title or "(none)").replace("{passage}", passage).replace("{examples}", shots)
    return text + (VARIANT.format(number=index + 1) if index else "")
