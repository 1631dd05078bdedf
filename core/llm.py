"""Calling LLMs through litellm: bounded concurrency, retries, a cache, a cost meter, a budget.

One mechanism for every LLM step (query generation, judging): the caller hands a list
of requests, each with a cache key built from its inputs; answers already in the
``llm_cache`` table are reused, the rest are called concurrently, and every answer is
written to the cache as it arrives (a writer task stores whatever arrived since its last
write in one transaction, then rests ``WRITE_PAUSE_S``: one answer at a time when they come
slowly, many at once when they come fast), so a stopped or crashed run resumes without paying
twice. Several API bases (vLLM or Ollama servers of one model) share a run through
litellm's Router. Keys come from the environment (or Streamlit secrets copied into it by
the app); they are never stored.
"""

import asyncio
import hashlib
import json
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import duckdb

from core.errors import LLMUnavailable
from core.prompts import LINE_TOKENS
from storage.cache import cached_answers, store_answers
from storage.db import transaction

# litellm fetches its price table from the network at import unless told otherwise.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

OFFLINE = "offline"
LOCAL = "local"  # the bundled local model (core.localmodel): no key, no network
LOCAL_NAME = "gemma-3-270m (bundled, base)"  # its name in provenance: queries' generator, labels' judge
ROUTED = "qurate-model"  # the Router's name for the model every API base serves
WRITE_PAUSE_S = 0.1  # the writer's rest between writes: answers arriving meanwhile share the next transaction


@dataclass
class LLMConfig:
    """Which model to call and how.

    Attributes:
        model: a litellm model string (``gpt-4o-mini``, ``ollama/llama3.1``,
            ``hosted_vllm/...``); ``"offline"`` means no LLM at all.
        api_base: the server's address, for self-hosted models; several, separated by
            commas or spaces, share the calls (litellm's Router, a server that fails is
            rested and its calls retried on the others).
        temperature, max_tokens: sampling settings.
        concurrency: calls in flight at once.
        max_tries: tries per call before giving up on it (rate limits, server errors,
            timeouts are retried with exponential backoff and jitter).
        timeout_s: seconds one try may take.
        budget_usd: stop before spending more than this (None: no limit).
        completion: a base model: few-shot completion prompts instead of chat (``LLMRequest.completion``).
    """

    model: str = OFFLINE
    api_base: str | None = None
    temperature: float = 0.7
    max_tokens: int = 200
    concurrency: int = 8
    max_tries: int = 4
    timeout_s: float = 60.0
    budget_usd: float | None = None
    backoff_s: float = 1.0
    completion: bool = False

    @property
    def offline(self) -> bool:
        return not self.model or self.model == OFFLINE

    @property
    def name(self) -> str:
        """The model as provenance records it."""
        return LOCAL_NAME if self.model == LOCAL else self.model

    @property
    def base_model(self) -> bool:
        """Whether prompts are few-shot completions (a base model, the local one above all) rather than chat."""
        return self.completion or self.model == LOCAL

    @property
    def api_bases(self) -> list[str]:
        return [b for b in re.split(r"[,\s]+", self.api_base or "") if b]


@dataclass(frozen=True)
class LLMRequest:
    """One call: its cache key (a hash of everything that shapes the answer) and its messages.

    ``completion``: the last message's content is sent as a raw text completion prompt (a base model's few-shot
    prompt, which a chat template would wrap in debris), its answer one line of at most ``LINE_TOKENS``; ``stop``
    ends the answer (e.g. at the line's end).
    ``logprobs``: for a completion, ask for that many likeliest first tokens; the answer is then JSON,
    ``{"text": ..., "first": {token: log probability}}`` (``first`` empty where the server gives none).
    """

    key: str
    messages: list
    completion: bool = False
    stop: tuple[str, ...] = ()
    logprobs: int = 0

    def max_tokens(self, config_max: int) -> int:
        """The tokens its answer may take: the config's, at most a line's for a completion."""
        return min(config_max, LINE_TOKENS) if self.completion else config_max


@dataclass
class LLMResult:
    """The answer to one request: text, or the error that made it give up."""

    key: str
    text: str | None
    error: str | None
    cached: bool


@dataclass
class Meter:
    """Live counts of a run, for progress bars and the final report."""

    planned: int = 0
    done: int = 0
    cached: int = 0
    failed: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    stopped: str | None = None  # None, "stopped by user", "budget reached"
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.I)
_BEARER = re.compile(r"(Bearer|Basic|api[-_ ]?key[\"':= ]+)\s*[A-Za-z0-9._~+/=-]{8,}", re.I)


def redact(text: str) -> str:
    """``text`` with the values of the environment's keys, tokens and secrets (Streamlit secrets are copied there), and
    anything sent as a bearer token or an api key, replaced by [redacted]: a provider's error may echo them, and
    errors are stored and printed."""
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= 8:
            text = text.replace(value, "[redacted]")
    return _BEARER.sub(lambda m: m.group(1) + " [redacted]", text)


def cache_key(*parts) -> str:
    """A stable key for the inputs of a call."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def prompt_version(*texts: str) -> str:
    """A short hash of a prompt template (and its few-shot examples): edits make a new version."""
    return hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:10]


def price_per_token(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token from litellm's price table, or None for an unknown model."""
    import litellm

    info = litellm.model_cost.get(model) or litellm.model_cost.get(model.split("/", 1)[-1])
    if not info or "input_cost_per_token" not in info:
        return None
    return info["input_cost_per_token"], info.get("output_cost_per_token", 0.0)


def estimate(model: str, requests: list[LLMRequest], max_tokens: int) -> dict:
    """Calls, tokens (about 4 characters a token) and cost (None when the price is unknown)."""
    tokens_in = sum(len(json.dumps(r.messages)) // 4 for r in requests)
    tokens_out = sum(r.max_tokens(max_tokens) for r in requests) // 2
    price = price_per_token(model)
    cost = None if price is None else tokens_in * price[0] + tokens_out * price[1]
    return {"calls": len(requests), "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost}


NO_KEY = "no-key"  # what a self-hosted server is sent when its provider's key variable is unset: such servers take any


def _key_for_server(config: LLMConfig) -> dict:
    """``{"api_key": ...}`` for a self-hosted server (an API base) whose provider's key variable is unset: without one
    the OpenAI client refuses to call at all ("Missing credentials"); else nothing, and litellm reads the variable."""
    import litellm

    if not config.api_bases:
        return {}
    provider = litellm.get_llm_provider(config.model)[1]
    return {} if os.environ.get(f"{provider.upper()}_API_KEY") else {"api_key": NO_KEY}


def _router(config: LLMConfig):
    """litellm's Router over the config's API bases (None for one base or none): calls go to a random
    server, one that fails is rested for a while, and a retried call may land on another."""
    if len(config.api_bases) < 2:
        return None
    from litellm import Router

    deployments = [
        {"model_name": ROUTED, "litellm_params": {"model": config.model, "api_base": base, **_key_for_server(config)}}
        for base in config.api_bases
    ]
    return Router(model_list=deployments, num_retries=0, timeout=config.timeout_s, routing_strategy="simple-shuffle")


async def _call(
    config: LLMConfig, request: LLMRequest, meter: Meter, router=None
) -> tuple[str | None, str | None, int, int, float | None]:
    """One request with retries. Returns (text, error, tokens in, tokens out, cost)."""
    import litellm

    litellm.suppress_debug_info = (
        True  # its "Give Feedback / Get Help" banner on every error, to the terminal and server log
    )
    litellm.disable_aiohttp_transport = True  # httpx: each run's event loop ends with its sessions closed (no warnings)
    if request.completion:
        complete = litellm.atext_completion if router is None else router.atext_completion
        asked = {"prompt": request.messages[-1]["content"]}
    else:
        complete = litellm.acompletion if router is None else router.acompletion
        asked = {"messages": request.messages}
    if request.stop:
        asked["stop"] = list(request.stop)
    if request.logprobs and request.completion:
        asked["logprobs"] = request.logprobs
    where = (
        {"model": config.model, "api_base": config.api_base, **_key_for_server(config)}
        if router is None
        else {"model": ROUTED}
    )

    retryable = (
        litellm.RateLimitError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
        litellm.Timeout,
        litellm.APIConnectionError,
    )
    fatal = (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError)
    error = "not tried"
    for attempt in range(config.max_tries):
        if attempt:
            meter.retries += 1
            await asyncio.sleep(config.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
        try:
            response = await complete(
                **where,
                **asked,
                temperature=config.temperature,
                max_tokens=request.max_tokens(config.max_tokens),
                timeout=config.timeout_s,
                num_retries=0,
                max_retries=0,
            )
        except retryable as err:
            if "missing credentials" in str(err).lower() or "api_key client option must be set" in str(err):
                raise LLMUnavailable(
                    f"{config.model} has no API key: set the provider's key variable (e.g. "
                    "OPENAI_API_KEY) or Streamlit secret, or give a self-hosted server's API base"
                ) from None
            error = f"{type(err).__name__}: {redact(str(err))[:300]}"
            continue
        except (*fatal, litellm.BadRequestError) as err:
            # litellm maps some providers' 401/403/404 to BadRequestError: the status code decides.
            if isinstance(err, fatal) or getattr(err, "status_code", None) in (401, 403, 404):
                raise LLMUnavailable(
                    f"{config.model} refused the call ({getattr(err, 'status_code', '')} {redact(str(err))[:200]}); "
                    "check the model name and its API key"
                ) from None
            return None, f"BadRequestError: {redact(str(err))[:300]}", 0, 0, 0.0  # the request itself is wrong
        usage = getattr(response, "usage", None)
        tokens_in = getattr(usage, "prompt_tokens", 0) or 0
        tokens_out = getattr(usage, "completion_tokens", 0) or 0
        price = price_per_token(config.model)
        cost = None if price is None else tokens_in * price[0] + tokens_out * price[1]
        choice = response.choices[0] if response.choices else None
        text = None if choice is None else choice.text if request.completion else choice.message.content
        if request.logprobs and request.completion:
            text = with_first(text or "", _first_token_alternatives(choice))
        return text or "", None, tokens_in, tokens_out, cost
    return None, f"gave up after {config.max_tries} tries: {error}", 0, 0, 0.0


def with_first(text: str, first: dict[str, float]) -> str:
    """An answer that carries its first token's alternatives (``LLMRequest.logprobs``), as callers read it."""
    return json.dumps({"text": text, "first": first})


def _first_token_alternatives(choice) -> dict[str, float]:
    """The first token's likeliest alternatives and their log probabilities, from a completion's choice
    (the OpenAI completions format: ``logprobs.top_logprobs[0]``); empty where the server sent none."""
    logprobs = getattr(choice, "logprobs", None)
    top = (
        getattr(logprobs, "top_logprobs", None)
        if logprobs is not None and not isinstance(logprobs, dict)
        else (logprobs or {}).get("top_logprobs")
    )
    return {str(token): float(value) for token, value in (top[0] if top else {}).items()}


def run_requests(
    con: duckdb.DuckDBPyConnection,
    config: LLMConfig,
    requests: list[LLMRequest],
    on_results: Callable[[list[LLMResult]], None],
    progress: Callable[[Meter], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Meter:
    """Answer every request: from the cache where possible, else by calling the model.

    Args:
        con: the workspace database (holds the cache).
        config: model, concurrency, retries, budget.
        requests: what to ask; requests with the same key are asked once.
        on_results: called in this thread with answers as they are written (the cached
            ones first, in one call), inside the transaction that caches them: the caller
            stores what it makes of them, and the two land together or not at all.
        progress: called with the live Meter after each answer.
        should_stop: polled between calls; True stops the run cleanly (calls in flight
            finish and are kept).

    Returns:
        The Meter, with ``stopped`` set when the user or the budget ended the run early.

    Raises:
        LLMUnavailable: the provider refused the key or does not know the model.
    """
    progress = progress or (lambda meter: None)
    should_stop = should_stop or (lambda: False)
    unique = list({r.key: r for r in requests}.values())
    meter = Meter(planned=len(unique))
    hits = cached_answers(con, [r.key for r in unique])
    reused = [LLMResult(r.key, hits[r.key], None, True) for r in unique if r.key in hits]
    if reused:
        on_results(reused)
    meter.done = meter.cached = len(reused)
    progress(meter)
    pending = [r for r in unique if r.key not in hits]
    if pending and config.model == LOCAL:  # the local model, in this process, for the calls that are not cached
        _run_local(con, config, pending, on_results, progress, should_stop, meter)
    elif pending:
        asyncio.run(_run_pending(con, config, pending, on_results, progress, should_stop, meter))
    return meter


Arrived = tuple[LLMRequest, str | None, str | None, int, int, float | None]  # request, text, error, tokens, cost


def _land(con, config: LLMConfig, arrived: list[Arrived], on_results, progress, meter: Meter) -> None:
    """Cache answers and store what the caller makes of them, in one transaction; count them."""
    if not arrived:
        return
    with transaction(con):  # the answers and what the caller makes of them land together
        store_answers(con, config.model, [(request.key, request.messages, *answer) for request, *answer in arrived])
        on_results([LLMResult(request.key, text, error, False) for request, text, error, *_ in arrived])
    for request, text, error, tokens_in, tokens_out, cost in arrived:
        meter.done += 1
        meter.failed += error is not None
        meter.tokens_in += tokens_in
        meter.tokens_out += tokens_out
    progress(meter)


def _run_local(con, config: LLMConfig, pending: list[LLMRequest], on_results, progress, should_stop, meter) -> None:
    """The bundled model's answers, ``core.localmodel.SLOTS`` prompts decoded together, each group landing as it
    ends. Requests that begin alike are asked together (callers order them so), and the answer's temperature is
    capped (``MAX_TEMPERATURE``), its length too (a line, ``LLMRequest.max_tokens``); a warm answer's draw is seeded by
    its cache key."""
    from core.localmodel import MAX_TEMPERATURE, LocalModel

    with LocalModel() as model:
        for start in range(0, len(pending), model.slots):
            if should_stop():
                meter.stopped = "stopped by user"
                return
            group = pending[start : start + model.slots]
            # one group asks alike: the judge's probabilities, the generator's stop at the line's end
            answers = model.answer(
                [r.messages[-1]["content"] for r in group],
                max_tokens=min(r.max_tokens(config.max_tokens) for r in group),
                temperature=min(config.temperature, MAX_TEMPERATURE),
                stop=tuple(dict.fromkeys(s for r in group for s in r.stop)),
                logprobs=max(r.logprobs for r in group),
                seeds=[int(r.key[:8], 16) for r in group],
            )
            arrived = [
                (
                    request,
                    None if a.error else with_first(a.text, a.first) if request.logprobs else a.text,
                    a.error,
                    a.tokens_in,
                    a.tokens_out,
                    0.0,
                )
                for request, a in zip(group, answers)
            ]
            _land(con, config, arrived, on_results, progress, meter)


async def _run_pending(con, config, pending, on_results, progress, should_stop, meter) -> None:
    queue = list(reversed(pending))
    over_budget = lambda: config.budget_usd is not None and meter.cost_usd >= config.budget_usd  # noqa: E731
    router = _router(config)
    arrived: list[Arrived] = []
    ready = asyncio.Event()

    def flush() -> None:
        """Land the answers that arrived since the last flush."""
        batch = arrived[:]
        arrived.clear()
        _land(con, config, batch, on_results, progress, meter)

    async def worker() -> None:
        while queue:
            if should_stop():
                meter.stopped = meter.stopped or "stopped by user"
                return
            if over_budget():
                meter.stopped = meter.stopped or "budget reached"
                return
            request = queue.pop()
            answer = await _call(config, request, meter, router)
            arrived.append((request, *answer))
            ready.set()
            if answer[4] is None:
                meter.cost_known = False
            else:
                meter.cost_usd += answer[4]  # the budget counts an answer the moment it arrives

    async def writer() -> None:
        """Writes what arrived since its last write, then rests: one commit per answer capped a run at
        ~80 answers/s; a crash loses at most the answers of the last ``WRITE_PAUSE_S``."""
        while True:
            await ready.wait()
            ready.clear()
            flush()
            await asyncio.sleep(WRITE_PAUSE_S)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(config.concurrency, len(pending))))]
    writing = asyncio.create_task(writer())
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        raise
    finally:
        writing.cancel()
        flush()  # what arrived before a stop, a refusal or a crash is kept
