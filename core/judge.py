"""Relevance labels for (query, candidate) pairs: from an LLM (one pair a call, or a
query's whole list in one call), or from the offline judge (no LLM).

Grades: 0 not relevant, 1 related but does not answer, 2 partially answers, 3 answers.
Every answer is stored with the judge, the prompt version and the raw response; an
answer that cannot be parsed is stored as a failed label with the reason, never dropped.
"""

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import duckdb

from core.errors import InvalidInput
from core.llm import LLMConfig, LLMRequest, LLMResult, Meter, cache_key, prompt_version, run_requests
from core.vocabulary import GRADES
from storage import labels as store
from storage.corpora import one_at_a_time
from storage.labels import effective_labels, failed_labels, training_counts  # noqa: F401  (re-exported for pages)

OFFLINE_JUDGE = "offline-judge-v2 (no LLM)"
OFFLINE_RULE = (
    "No LLM: the passage the query was generated from is graded 3 (answers). A candidate that both "
    "rankers, dense and BM25, score within {margin:.0%} of the source passage (or above it) is left "
    "unlabelled, as it may also answer the query (a possible false negative). Every other candidate, "
    "one that at least one ranker clearly places below the source, is graded 0 (not relevant): a hard "
    "negative, including those the dense model wrongly ranks above the source, which are what training "
    "must correct. Your users' queries have no source passage: the rule leaves their candidates to an expert "
    "(the review queue \"your users' queries\") or an LLM judge, and the retriever's teacher scores them by dense and BM25."
)
SYSTEM = "You judge search results. You are strict, consistent and brief."

POINTWISE_PROMPT = """Grade how well the passage answers the search query.
Grades: 0 = not relevant; 1 = on a related topic but does not answer; 2 = partially answers; 3 = fully answers.

Query: {query}

Passage:
\"\"\"
{passage}
\"\"\"

Reply with JSON only: {{"grade": <0-3>, "reason": "<one short sentence>"}}"""

LISTWISE_PROMPT = """Grade how well each numbered passage answers the search query.
Grades: 0 = not relevant; 1 = on a related topic but does not answer; 2 = partially answers; 3 = fully answers.

Query: {query}

{passages}

Reply with JSON only, one object per passage, in any order:
[{{"id": <number>, "grade": <0-3>, "reason": "<one short sentence>"}}, ...]"""


# A base model (the local one) follows no instruction: it judges by completing a few-shot "Relevant: yes / no" pattern
# (as monoT5 and InPars-v2 ask); graded by its P(yes) where the server gives probabilities (parse_yes_no), else yes 3, no 0.
YES_NO_SHOTS = [
    (
        "why is the reef turning white",
        "Coral bleaching happens when water stays too warm for weeks: corals expel the "
        "algae living in their tissue and lose their colour.",
        "yes",
    ),
    ("how do i reset my router", "Sourdough rises with wild yeast kept in a starter of flour and water.", "no"),
    (
        "sourdough proof time",
        "A loaf needs a long, cool proof, often overnight in the fridge, for its sour taste.",
        "yes",
    ),
    ("coral reef fish species", "To reset a home router, hold the reset button on its back for ten seconds.", "no"),
]
YES_NO_WORDS = 160


def yes_no_prompt(query: str, passage: str) -> str:
    """A base model's few-shot relevance prompt for one pair; the answer is "yes" or "no"."""
    shots = "".join(f"Query: {q}\nDocument: {d}\nRelevant: {a}\n\n" for q, d, a in YES_NO_SHOTS)
    words = passage.split()
    return f"{shots}Query: {query}\nDocument: {' '.join(words[:YES_NO_WORDS])}\nRelevant:"


def p_yes(first: dict[str, float]) -> float | None:
    """P(yes) among yes and no, from the first token's alternatives (log probabilities); None when neither is there."""
    mass = {"yes": 0.0, "no": 0.0}
    for token, logprob in first.items():
        word = token.strip().lower()
        if word in mass:
            mass[word] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    return mass["yes"] / total if total > 0 else None


def parse_yes_no(text: str | None, prior: float | None = None) -> tuple[int | None, str, str | None]:
    """(grade, reason, error) from a base model's answer.

    Where the server sent the first token's probabilities (``LLMRequest.logprobs``: JSON), the grade comes from
    P(yes) among yes and no, as monoT5 and InPars-v2 score relevance, in thirds: round(3 P), so 0.5 and above is
    relevant. ``prior``, the model's P(yes) for the same query with no document (``prior_request``), calibrates it
    first (Zhao et al., 2021, "Calibrate before use"): a small model that says yes to anything says it no more
    readily to this document than to none. Otherwise the first word: yes (3) or no (0).
    """
    if text and text.startswith("{"):
        answer = json.loads(text)
        p = p_yes(answer.get("first") or {})
        if p is not None and prior is not None and 0 < prior < 1:
            odds = (p / prior) / max((1 - p) / (1 - prior), 1e-12)
            calibrated = odds / (1 + odds)
            return (
                round(3 * calibrated),
                f"the model's P(yes) {p:.2f}, {prior:.2f} with no document: calibrated {calibrated:.2f}",
                None,
            )
        if p is not None:
            return round(3 * p), f"the model's P(yes) {p:.2f}", None
        text = answer.get("text", "")
    word = re.match(r"\W*(\w+)", text or "")
    if word and word.group(1).lower() in ("yes", "no"):
        return (
            (3, "the model answered yes", None)
            if word.group(1).lower() == "yes"
            else (0, "the model answered no", None)
        )
    return None, "", f"neither yes nor no in the answer {str(text)[:60]!r}"


NO_DOCUMENT = "N/A"  # the content-free input a base model's bias toward "yes" is read from


def prior_request(settings: "JudgeSettings", query: str) -> LLMRequest:
    """The call that reads a base model's P(yes) for ``query`` with no document (cached like any answer), to calibrate
    its answers on documents by (``parse_yes_no``)."""
    return LLMRequest(
        cache_key(settings.llm.model, settings.version, "yes-no-prior", query),
        [{"role": "user", "content": yes_no_prompt(query, NO_DOCUMENT)}],
        completion=True,
        stop=("\n",),
        logprobs=5,
    )


def prior_of(result: LLMResult) -> float | None:
    """P(yes) from a prior call's answer; None where it failed or the server gave no probabilities."""
    if result.error is None and result.text and result.text.startswith("{"):
        return p_yes(json.loads(result.text).get("first") or {})
    return None


@dataclass
class JudgeSettings:
    """How to judge.

    Attributes:
        mode: "pointwise" (one call per pair) or "listwise" (one call per query).
        prompt: the template for that mode ({query}, {passage} or {passages}).
        llm: the model; model "offline" uses the offline judge.
        max_candidates: judge only each query's top n candidates (the source always).
        margin: the offline judge's relative margin for possible false negatives.
    """

    mode: str = "pointwise"
    prompt: str | None = None
    llm: LLMConfig = field(default_factory=LLMConfig)
    max_candidates: int = 20
    margin: float = 0.05

    def __post_init__(self):
        if self.mode not in ("pointwise", "listwise"):
            raise InvalidInput(f"mode must be pointwise or listwise, got {self.mode!r}")
        if self.prompt is None:
            self.prompt = POINTWISE_PROMPT if self.mode == "pointwise" else LISTWISE_PROMPT
        if self.max_candidates < 1:
            raise InvalidInput("judge at least one candidate per query")

    @property
    def judge(self) -> str:
        return OFFLINE_JUDGE if self.llm.offline else self.llm.name

    @property
    def version(self) -> str:
        if self.llm.offline:
            return f"offline-v2-{self.margin}"
        return (
            prompt_version(yes_no_prompt("", ""), "calibrated by P(yes) with no document")
            if self.llm.base_model
            else prompt_version(SYSTEM, self.mode, self.prompt)
        )


@dataclass
class JudgeReport:
    judge: str
    pairs: int
    labelled: int
    failed: int
    skipped: int  # judged before by this judge and prompt version
    meter: Meter
    seconds: float


def parse_grade(text: str | None) -> tuple[int | None, str, str | None]:
    """(grade, reason, error) from a pointwise answer: JSON first, then a lenient 'grade: N'."""
    if not text or not text.strip():
        return None, "", "empty answer"
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            data = json.loads(match.group(0))
            return _check(data.get("grade"), str(data.get("reason", "")))
        except (json.JSONDecodeError, AttributeError):
            pass
    loose = re.search(r"grade\W{0,5}(-?\d+)", text, re.IGNORECASE)
    if loose:
        return _check(loose.group(1), text.strip()[:300])
    return None, "", "no grade in the answer (a refusal?)"


def _check(raw, reason: str) -> tuple[int | None, str, str | None]:
    try:
        grade = int(raw)
    except (TypeError, ValueError):
        return None, reason, f"grade {raw!r} is not a number"
    if grade not in GRADES:
        return None, reason, f"grade {grade} is outside 0-3"
    return grade, reason.strip(), None


def parse_list(text: str | None, n: int) -> dict[int, tuple[int | None, str, str | None]]:
    """Per passage number (1..n): (grade, reason, error) from a listwise answer."""
    results: dict[int, tuple[int | None, str, str | None]] = {}
    match = re.search(r"\[.*\]", text or "", re.DOTALL)
    items = []
    if match:
        try:
            items = json.loads(match.group(0))
        except json.JSONDecodeError:
            items = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and str(item.get("id", "")).strip().isdigit():
            number = int(str(item["id"]).strip())
            if 1 <= number <= n and number not in results:
                results[number] = _check(item.get("grade"), str(item.get("reason", "")))
    error = "missing from the list answer" if items else "no JSON list in the answer (a refusal?)"
    return {i: results.get(i, (None, "", error)) for i in range(1, n + 1)}


@one_at_a_time("judging pairs")
def judge_candidates(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    settings: JudgeSettings,
    progress: Callable[[Meter], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> JudgeReport:
    """Label the mined candidates of a corpus's kept queries; resumes where it stopped.

    Pairs this judge already labelled with this prompt version are skipped; failed
    ones are asked again. Every answer becomes a label row (status ok, or failed with
    the reason), written together with the cached answer.

    Raises:
        LLMUnavailable: the provider refused the key or the model.
    """
    started = time.perf_counter()
    pairs = store.pairs_to_judge(con, corpus, settings.max_candidates)
    done = store.judged_pairs(con, corpus, settings.judge, settings.version)
    todo = [p for p in pairs if (p["query_id"], p["passage_id"]) not in done]
    counts = {"labelled": 0, "failed": 0}

    rows: list[tuple] = []

    def save(pair: dict, grade, reason, error, raw) -> None:
        rows.append(
            (
                pair["query_id"],
                pair["passage_id"],
                grade,
                reason,
                settings.judge,
                settings.version,
                raw,
                "ok" if error is None else "failed",
                error,
            )
        )
        counts["labelled" if error is None else "failed"] += 1

    if settings.llm.offline:
        meter = _judge_offline(con, todo, settings)
        counts["labelled"] = len(todo)
        if progress:
            progress(meter)
    else:
        requests, members = _requests(todo, settings)
        # a base model's calibration call for each query goes just before the query's pairs, in the same run: its
        # pairs are graded once it has answered (held until then), so a run stopped early wrote nothing uncalibrated
        # and paid for the priors of the queries it judged only
        calibrating: dict[str, str] = {}  # a prior call's key -> its query
        if settings.llm.base_model:
            ordered, asked = [], set()
            for request in requests:
                query = members[request.key][0]["query"]
                if query not in asked:
                    asked.add(query)
                    prior = prior_request(settings, query)
                    calibrating[prior.key] = query
                    ordered.append(prior)
                ordered.append(request)
            requests = ordered
        priors: dict[str, float | None] = {}
        held: dict[str, list[LLMResult]] = {}

        def grade(result: LLMResult) -> None:
            group = members[result.key]
            if result.error is not None:
                for pair in group:
                    save(pair, None, "", result.error, None)
            elif settings.llm.base_model:
                save(group[0], *parse_yes_no(result.text, priors[group[0]["query"]]), result.text)
            elif settings.mode == "pointwise":
                save(group[0], *parse_grade(result.text), result.text)
            else:
                for number, pair in enumerate(group, start=1):
                    save(pair, *parse_list(result.text, len(group))[number], result.text)

        def on_results(results: list[LLMResult]) -> None:
            for result in results:
                if result.key in calibrating:
                    query = calibrating[result.key]
                    priors[query] = prior_of(result)
                    for waiting in held.pop(query, []):
                        grade(waiting)
                elif settings.llm.base_model and members[result.key][0]["query"] not in priors:
                    held.setdefault(members[result.key][0]["query"], []).append(result)
                else:
                    grade(result)
            store.insert_labels(con, rows)
            rows.clear()

        meter = run_requests(con, settings.llm, requests, on_results, progress, should_stop)
    return JudgeReport(
        settings.judge,
        len(pairs),
        counts["labelled"],
        counts["failed"],
        len(pairs) - len(todo),
        meter,
        time.perf_counter() - started,
    )


def _requests(todo: list[dict], settings: JudgeSettings) -> tuple[list[LLMRequest], dict[str, list[dict]]]:
    requests, members = [], {}
    model, version = settings.llm.model, settings.version
    if settings.llm.base_model:  # one pair a call, whatever the mode: a few-shot yes / no
        for pair in todo:
            key = cache_key(model, version, "yes-no-p", pair["query"], pair["text_hash"])
            requests.append(
                LLMRequest(
                    key,
                    [{"role": "user", "content": yes_no_prompt(pair["query"], pair["passage"])}],
                    logprobs=5,
                    completion=True,
                    stop=("\n",),
                )
            )
            members[key] = [pair]
    elif settings.mode == "pointwise":
        for pair in todo:
            prompt = settings.prompt.replace("{query}", pair["query"]).replace("{passage}", pair["passage"])
            key = cache_key(model, version, "pointwise", pair["query"], pair["text_hash"])
            requests.append(
                LLMRequest(key, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}])
            )
            members[key] = [pair]
    else:
        by_query: dict[int, list[dict]] = {}
        for pair in todo:
            by_query.setdefault(pair["query_id"], []).append(pair)
        for group in by_query.values():
            listing = "\n\n".join(f"[{i}] {p['passage']}" for i, p in enumerate(group, start=1))
            prompt = settings.prompt.replace("{query}", group[0]["query"]).replace("{passages}", listing)
            key = cache_key(model, version, "listwise", group[0]["query"], [p["text_hash"] for p in group])
            requests.append(
                LLMRequest(key, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}])
            )
            members[key] = group
    return requests, members


def _judge_offline(con, todo: list[dict], settings: JudgeSettings) -> Meter:
    meter = Meter(planned=len(todo))
    source = {p["query_id"]: p for p in store.source_scores(con, {p["query_id"] for p in todo})}
    rows = []
    for pair in todo:
        near = lambda name: pair[name] >= source[pair["query_id"]][name] * (1 - settings.margin)  # noqa: E731
        if pair["is_source"]:
            grade, status, reason = 3, "ok", "the passage this query was generated from"
        elif pair["source_id"] is None:
            grade, status, reason = (
                None,
                "unsure",
                "a query of your users has no source passage for the rule: an expert or an LLM judge grades it",
            )
        elif pair["query_id"] not in source or (near("dense_score") and near("bm25_score")):
            grade, status, reason = (
                None,
                "unsure",
                "dense and BM25 both score it within the margin of the source passage: possibly relevant, not used as a negative",
            )
        else:
            grade, status, reason = 0, "ok", "a ranker scores it below the source passage by the margin (offline rule)"
        rows.append(
            (pair["query_id"], pair["passage_id"], grade, reason, OFFLINE_JUDGE, settings.version, None, status, None)
        )
    store.insert_labels(con, rows)
    meter.done = len(todo)
    return meter
