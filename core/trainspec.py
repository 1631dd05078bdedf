"""A training job's spec: every default in one place, the one check of a spec, and what a spec will cost.

The calling process (the Train page, ``qurate train``, ``core.jobs``) refuses a bad spec with ``checked_spec``
before any job row or folder exists; the training process (``core.train``) checks the spec it reads again.
"""

import json
import os
from pathlib import Path

from core.errors import InvalidInput
from core.vocabulary import METHODS, TUNE, method, query_only

# Every default chosen by bench/quality.py on two corpora (docs/BENCHMARKS.md says what each choice measured):
# query-only LCE, three epochs, batches of 64 queries at 5e-5, groups of 8, in-batch negatives off, and each of
# your users' queries counted five times beside one per generated query.
DEFAULTS = {
    "method": "lce",
    "base_model": "all-MiniLM-L6-v2 (bundled)",
    "tune": "query",
    "epochs": 3,
    "learning_rate": 5e-5,
    "batch_size": 64,
    "group_size": 8,
    "list_size": 20,
    "max_length": 128,
    "seed": 0,  # orders the training data and initialises what training adds
    "split_seed": 0,  # draws the dev split: one split for every training seed, so their dev figures compare
    "dev_fraction": 0.1,
    "max_steps": -1,
    "eval_steps": 100,
    "warmup_ratio": 0.1,
    "teacher": "ensemble",
    "in_batch": False,
    "users_weight": 5,
}


# Training rates per CPU core by precision (queries/s query-only, texts/s fully fine-tuned) and on one H200, as
# bench/train_throughput.py measures them (docs/BENCHMARKS.md, Training throughput); estimates scale them by cores.
CPU_RATE_PER_CORE = {"fp32": {"query": 35.0, "full": 6.0}, "bf16": {"query": 57.0, "full": 10.0}}
GPU_RATE = {"query": 1140.0, "full": 1230.0}


def texts_per_query(spec: dict) -> int:
    """Texts one training query passes through the model: itself, plus its group or list unless they are frozen."""
    if query_only(spec):
        return 1
    return 1 + (spec["list_size"] if METHODS[spec["method"]].loss == "distill" else spec["group_size"])


def estimate_seconds(
    spec: dict, train_queries: int, cuda: bool = False, cores: int | None = None, precision: str = "fp32"
) -> float:
    """Expected time of the training loop: on a CPU from the measured per-core rates of its precision (fp32 or
    bf16, ``training_precision``), on a GPU from the H200's."""
    spec = {**DEFAULTS, **spec}
    tune = "query" if query_only(spec) else "full"
    per_query = texts_per_query(spec)
    items = train_queries * float(spec["epochs"]) * per_query
    if spec.get("max_steps", -1) > 0:
        items = min(items, spec["max_steps"] * spec["batch_size"] * per_query)
    return items / (GPU_RATE[tune] if cuda else CPU_RATE_PER_CORE[precision][tune] * (cores or os.cpu_count() or 2))


def training_precision() -> str:
    """How training computes here: bf16 mixed precision on a GPU that has it (else fp16), and on a CPU that computes
    bf16 natively (AVX-512 BF16 or AMX) unless ``QURATE_PRECISION=fp32``; else fp32. The weights stay in fp32."""
    import torch

    from core.embed import expected_precision

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return expected_precision()  # the encoder's rule on a CPU


def device_summary() -> str:
    """The accelerator training will use, in words."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA: {torch.cuda.get_device_name(0)} ({training_precision()})"
    return f"CPU ({os.cpu_count()} cores, {training_precision()})"


# Each number a spec holds: (its type, the least value it may take, whether that value is allowed itself).
_NUMBERS = {
    "epochs": (float, 0, False),
    "learning_rate": (float, 0, False),
    "batch_size": (int, 1, True),
    "group_size": (int, 2, True),
    "list_size": (int, 2, True),
    "max_length": (int, 8, True),
    "seed": (int, 0, True),
    "eval_steps": (int, 1, True),
    "warmup_ratio": (float, 0, True),
    "users_weight": (int, 1, True),
    "dev_fraction": (float, 0, True),
    "split_seed": (int, 0, True),
}


def checked_spec(spec) -> dict:
    """A training spec with the defaults filled in, checked: the calling process refuses a bad one before any job row
    or folder exists, and the training process checks it again.

    Raises:
        InvalidInput: not an object, an unknown method or tune, or a number of the wrong type or range.
    """
    if not isinstance(spec, dict):
        raise InvalidInput(f'a training spec is a JSON object such as {{"epochs": 1}}, not {json.dumps(spec)[:60]}')
    spec = {**DEFAULTS, **spec}
    method(spec["method"])
    if spec["tune"] not in TUNE:
        raise InvalidInput(f"unknown tune {spec['tune']!r}; use one of {sorted(TUNE)}")
    for name, (kind, least, allowed) in _NUMBERS.items():
        value = spec[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise InvalidInput(f"{name} must be {'a whole number' if kind is int else 'a number'}, got {value!r}")
        if value < least or (value == least and not allowed):
            raise InvalidInput(f"{name} must be {'at least' if allowed else 'above'} {least}, got {value!r}")
        spec[name] = kind(value)
    if spec["dev_fraction"] >= 1:
        raise InvalidInput(f"dev_fraction must be below 1 (a share of the queries), got {spec['dev_fraction']!r}")
    if not isinstance(spec["max_steps"], int) or isinstance(spec["max_steps"], bool):
        raise InvalidInput(f"max_steps must be a whole number (-1: the epochs decide), got {spec['max_steps']!r}")
    return spec


def load_spec(folder: Path) -> dict:
    """spec.json with the defaults filled in, checked (``checked_spec``)."""
    return checked_spec(json.loads((folder / "spec.json").read_text()))
