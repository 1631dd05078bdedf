"""Synthetic queries for passages: through an LLM (litellm) or the offline generator.

Each (passage, type, variant) is one request with a cache key built from the model,
the prompt version, the passage's content hash, the type and the variant number. A
query is stored the moment its answer arrives; a run that is stopped or killed and
started again skips what is stored and pays for nothing twice.
"""

import hashlib
import random
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import duckdb

from core import filters, rates
from core.errors import InvalidInput
from core.llm import LOCAL, LLMConfig, LLMRequest, LLMResult, Meter, cache_key, estimate, prompt_version, run_requests
from core.offline import NAME as OFFLINE_NAME
from core.offline import OfflineGenerator
from core.prompts import (
    COMPLETION_WORDS,
    DEFAULT_TEMPLATES,
    OFFLINE_TYPES,
    QUERY_TYPES,
    SYSTEM,
    completion_prompt,
    render,
)
from storage import corpora
from storage import queries as store
from storage.corpora import one_at_a_time
from storage.db import transaction
from storage.queries import counts_by_type, delete_query, edit_query, flag_counts, list_queries, restore_query  # noqa: F401  (pages)

MAX_PER_TYPE = 5  # queries of one type per passage, at most


def default_types(offline: bool) -> dict[str, int]:
    """One query per passage of each type made by default: the offline generator's two natural-language
    types (``OFFLINE_TYPES``, measured), or all six from an LLM (Tamber et al.: a mix of types helps)."""
    return {t: 1 for t in (OFFLINE_TYPES if offline else QUERY_TYPES)}


def default_in_turn(offline: bool) -> bool:
    """Whether the default types take turns over the passages (``GenerationSettings.in_turn``): offline yes,
    one query per passage (measured as good as both types for every passage, at half the cost); with an
    LLM no, one of each type (unmeasured here)."""
    return offline


@dataclass
class GenerationSettings:
    """What to generate and with what.

    Attributes:
        per_type: query type -> queries per passage (types left out make none).
        in_turn: each passage gets one of the asked types, the types taking turns over the passages
            (chosen from the passage id, so a rerun or a wider selection picks the same), instead of
            every type for every passage. The offline generator's default: with its two types in turn,
            models ranked real queries as well as with both types for every passage, on both benchmark
            corpora, for half the queries and half the training time (docs/BENCHMARKS.md).
        templates: type -> prompt template (defaults in core.prompts).
        examples: few-shot examples pasted by the user, added to every prompt.
        llm: the model; ``LLMConfig()`` (model "offline") uses the offline generator.
    """

    per_type: dict[str, int] = field(default_factory=lambda: default_types(offline=True))
    in_turn: bool = False
    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    examples: str = ""
    llm: LLMConfig = field(default_factory=LLMConfig)

    def __post_init__(self):
        unknown = set(self.per_type) - set(QUERY_TYPES)
        if unknown:
            raise InvalidInput(f"unknown query types {sorted(unknown)}; use {QUERY_TYPES}")
        if not any(n > 0 for n in self.per_type.values()):
            raise InvalidInput("ask for at least one query of one type")
        beyond = {t: n for t, n in self.per_type.items() if not 0 <= n <= MAX_PER_TYPE}
        if beyond:
            raise InvalidInput(
                f"ask for 0 to {MAX_PER_TYPE} queries of each type per passage, got {beyond}: "
                "more of one type from one passage only repeats it"
            )


@dataclass
class GenerationReport:
    """What a run made: counts, the failures with their reasons, and the meter."""

    generator: str
    planned: int
    made: int
    skipped: int  # already made by an earlier run
    flagged: int
    failures: list[dict]
    meter: Meter
    seconds: float


@dataclass
class _Item:
    passage_id: str
    title: str
    text: str
    text_hash: str
    qtype: str
    index: int
    version: str
    key: str
    request: LLMRequest | None


def select_passages(
    con: duckdb.DuckDBPyConnection, corpus: int, mode: str = "all", n: int = 100, seed: int = 0, contains: str = ""
) -> list[str]:
    """Passage ids to generate for: ``all``, a seeded random ``sample`` of n, or those whose text ``contains`` a string."""
    ids = corpora.matching_passages(con, corpus, contains)
    if mode == "sample" and n < 1:
        raise InvalidInput(f"a sample needs at least 1 passage, got {n}")
    if mode == "sample":
        return sorted(random.Random(seed).sample(ids, min(n, len(ids))))
    if mode not in ("all", "filter"):
        raise InvalidInput(f"mode must be all, sample or filter, got {mode!r}")
    return ids


def _plan(con, corpus: int, passage_ids: list[str], settings: GenerationSettings, salt: str = "") -> list[_Item]:
    rows = corpora.passages_by_id(con, corpus, passage_ids)
    model = OFFLINE_NAME if settings.llm.offline else settings.llm.model
    items = []
    asked = [t for t in QUERY_TYPES if settings.per_type.get(t, 0) > 0]
    for passage_id, title, text, text_hash in sorted(rows):
        for qtype in [_turn(passage_id, asked)] if settings.in_turn else QUERY_TYPES:
            template = settings.templates.get(qtype, DEFAULT_TEMPLATES[qtype])
            version = (
                "offline"
                if settings.llm.offline
                else prompt_version(completion_prompt(qtype, "", "", settings.examples), f"words {COMPLETION_WORDS}")
                if settings.llm.base_model
                else prompt_version(SYSTEM, template, settings.examples)
            )
            for index in range(settings.per_type.get(qtype, 0)):
                key = cache_key(model, version, text_hash, qtype, index, salt)
                request = None
                if (
                    settings.llm.base_model
                ):  # few-shot completion; another answer of the same prompt needs a warmer model
                    prompt = completion_prompt(qtype, title, text, settings.examples)
                    request = LLMRequest(key, [{"role": "user", "content": prompt}], completion=True, stop=("\n",))
                elif not settings.llm.offline:
                    prompt = render(template, title, text, settings.examples, index)
                    request = LLMRequest(
                        key, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
                    )
                items.append(_Item(passage_id, title, text, text_hash, qtype, index, version, key, request))
    return items


def _offline_query(generator: OfflineGenerator, item: _Item, others: list[str], opens: bool) -> tuple[_Item, str]:
    """The rules' query for an item (the item relabelled if another type made it): of its own type, else of the
    first of ``others`` that makes one; "" where none reads (stored, flagged empty, never trained on)."""
    for qtype in dict.fromkeys([item.qtype, *others]):
        text = generator.make(item.title, item.text, qtype, item.index, opens=opens)
        if text.strip():
            return (item if qtype == item.qtype else replace(item, qtype=qtype)), text
    return item, ""


def _instructions(item: _Item) -> str:
    """What the model was shown besides the passage and its title (instructions, few-shot examples): a query that
    repeats a run of it echoes the prompt."""
    if item.request is None:
        return ""
    prompt = item.request.messages[-1]["content"]
    if item.request.completion:  # the passage is the last document
        prompt = prompt.rsplit("Document:", 1)[0]
    return prompt.replace(item.text, "").replace(item.title, "") if item.title else prompt.replace(item.text, "")


def _turn(passage_id: str, types: list[str]) -> str:
    """The one type a passage gets when types take turns: fixed by its id."""
    return types[int(hashlib.sha1(passage_id.encode()).hexdigest()[:8], 16) % len(types)]


def estimate_generation(con, corpus: int, passage_ids: list[str], settings: GenerationSettings) -> dict:
    """Calls, tokens and cost (None when unknown or offline) that a run would take, before running it."""
    items = _plan(con, corpus, passage_ids, settings)
    done = store.existing_keys(con, corpus)
    todo = [i for i in items if i.key not in done]
    generator = "rules" if settings.llm.offline else ("local" if settings.llm.model == LOCAL else settings.llm.model)
    counts = {
        "queries": len(todo),
        "already_made": len(items) - len(todo),
        "seconds": rates.generation_seconds(len(todo), generator),  # None: a remote model's speed is its provider's
    }
    if settings.llm.offline:
        return {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, **counts}
    return {**estimate(settings.llm.model, [i.request for i in todo], settings.llm.max_tokens), **counts}


@one_at_a_time("generating queries")
def generate_queries(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    passage_ids: list[str],
    settings: GenerationSettings,
    progress: Callable[[Meter], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    salt: str = "",
) -> GenerationReport:
    """Generate and store queries for passages; resumes where an earlier run stopped.

    Args:
        con: the workspace database.
        corpus: the corpus the passages belong to.
        passage_ids: which passages (see ``select_passages``).
        settings: types and counts, prompts, model.
        progress: called with the live Meter (counts, tokens, cost).
        should_stop: polled between calls; True ends the run cleanly.
        salt: makes new cache keys (regenerating a passage).

    Returns:
        A GenerationReport.

    Raises:
        LLMUnavailable: the provider refused the key or the model.
    """
    started = time.perf_counter()
    items = _plan(con, corpus, passage_ids, settings, salt)
    done = store.existing_keys(con, corpus)
    todo = [i for i in items if i.key not in done]
    kept = store.kept_texts(con, corpus)
    made = flagged = 0
    failures: list[dict] = []

    def keep(item: _Item, raw: str | None, origin: str, generator: str) -> dict:
        nonlocal made, flagged
        text = filters.parse_query(raw)
        asked = _instructions(item)
        flags = filters.flags_for(text, item.text, kept.get(item.passage_id, []), asked)
        if not flags:
            kept.setdefault(item.passage_id, []).append(text)
        made += 1
        flagged += bool(flags)
        return {
            "passage_id": item.passage_id,
            "text": text,
            "qtype": item.qtype,
            "origin": origin,
            "generator": generator,
            "prompt_version": item.version,
            "cache_key": item.key,
            "flags": flags,
        }

    if settings.llm.offline:
        # types in turn: where the rules make no readable query of a passage's type, its next asked type that reads
        asked = [t for t in QUERY_TYPES if settings.per_type.get(t, 0) > 0] if settings.in_turn else []
        meter = Meter(planned=len(todo))
        records = corpora.passage_records(con, corpus)
        read = dict(zip(*corpora.passage_texts(con, corpus)))  # each passage as models read it (storage's PASSAGE_TEXT)
        generator = OfflineGenerator([read[i] for i in records], [title for _, title, _ in records.values()])
        openers = corpora.title_openers(con, corpus)
        for start in range(0, len(todo), 500):
            if should_stop and should_stop():
                meter.stopped = "stopped by user"
                break
            batch = todo[start : start + 500]
            rows = [
                keep(*_offline_query(generator, i, asked, i.passage_id in openers), "offline", OFFLINE_NAME)
                for i in batch
            ]
            with transaction(con):
                store.insert_queries(con, corpus, rows)
            meter.done += len(batch)
            if progress:
                progress(meter)
    else:
        by_key = {i.key: i for i in todo}

        def on_results(results: list[LLMResult]) -> None:
            rows = []
            for result in results:
                item = by_key[result.key]
                if result.error is not None:
                    failures.append(
                        {"passage_id": item.passage_id, "qtype": item.qtype, "index": item.index, "error": result.error}
                    )
                else:
                    rows.append(keep(item, result.text, "llm", settings.llm.name))
            store.insert_queries(con, corpus, rows)

        # one type's prompts one after another: they share their few-shot part, which the local model (its slots
        # decode a group together) or a provider's prompt cache then reads once rather than at every call
        ordered = sorted(todo, key=lambda i: QUERY_TYPES.index(i.qtype))
        meter = run_requests(con, settings.llm, [i.request for i in ordered], on_results, progress, should_stop)
    return GenerationReport(
        OFFLINE_NAME if settings.llm.offline else settings.llm.name,
        len(items),
        made,
        len(items) - len(todo),
        flagged,
        failures,
        meter,
        time.perf_counter() - started,
    )


@one_at_a_time("regenerating a passage's queries")
def regenerate_passage(
    con: duckdb.DuckDBPyConnection, corpus: int, passage_id: str, settings: GenerationSettings, progress=None
) -> GenerationReport:
    """Delete a passage's live queries and make new ones (new cache keys, so new answers)."""
    with transaction(con):
        for query_id in store.live_queries_of_passage(con, corpus, passage_id):
            store.delete_query(con, query_id)
    salt = f"regenerated-{store.deleted_count_for_passage(con, corpus, passage_id)}"
    return generate_queries(con, corpus, [passage_id], settings, progress, salt=salt)
