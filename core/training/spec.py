"""A training job's spec: a frozen ``TrainSpec`` holding every default, checked when it is made, and what a spec
will cost.

The calling process (the Train page, ``qurate train``, ``core.training.jobs``) makes the spec, so a bad one is refused
before any job row or folder exists; the training process (``core.training.run``) reads the same class from
spec.json.
"""

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.embed import BUNDLED
from core.errors import InvalidInput
from core.training.methods import LISTS, TUNE, Method, method


@dataclass(frozen=True)
class TrainSpec:
    """Every default chosen by bench/quality.py on two corpora (docs/BENCHMARKS.md says what each choice measured):
    query-only LCE, three epochs, batches of 64 queries at 5e-5, groups of 8, in-batch negatives off, and each of
    your users' queries counted five times beside one per generated query."""

    name: str = ""  # the model's name (empty: the job names it by its kind, id and method)
    method: str = "lce"
    base_model: str = BUNDLED
    tune: str = "query"
    epochs: float = 3.0
    learning_rate: float = 5e-5
    batch_size: int = 64
    group_size: int = 8
    list_size: int = 20
    max_length: int = 128
    seed: int = 0  # orders the training data and initialises what training adds
    split_seed: int = 0  # draws the dev split: one split for every training seed, so their dev figures compare
    dev_fraction: float = 0.1
    max_steps: int = -1  # -1: the epochs decide
    eval_steps: int = 100
    warmup_ratio: float = 0.1
    teacher: str = "ensemble"  # distillation's ranker beside the grades: the ensemble, or a system of the corpus
    in_batch: bool = False
    users_weight: int = 5
    # set by the job, not by the user: the corpus it trains for and what its exported data holds
    corpus_id: int | None = None
    data_counts: dict | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self):
        method(self.method)
        if not isinstance(self.name, str):
            raise InvalidInput(f"a model's name is text, got {self.name!r}")
        if self.tune not in TUNE:
            raise InvalidInput(f"unknown tune {self.tune!r}; use one of {sorted(TUNE)}")
        for name, (kind, least, allowed) in _NUMBERS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
                raise InvalidInput(f"{name} must be {'a whole number' if kind is int else 'a number'}, got {value!r}")
            if value < least or (value == least and not allowed):
                raise InvalidInput(f"{name} must be {'at least' if allowed else 'above'} {least}, got {value!r}")
            object.__setattr__(self, name, kind(value))
        if self.dev_fraction >= 1:
            raise InvalidInput(f"dev_fraction must be below 1 (a share of the queries), got {self.dev_fraction!r}")
        if not isinstance(self.max_steps, int) or isinstance(self.max_steps, bool):
            raise InvalidInput(f"max_steps must be a whole number (-1: the epochs decide), got {self.max_steps!r}")
        if not isinstance(self.in_batch, bool):
            raise InvalidInput(f"in_batch is true or false, got {self.in_batch!r}")
        if self.in_batch and not self.takes_in_batch:
            raise InvalidInput(
                f"in-batch negatives apply to query-only training of a method that takes them (lce with tune query), "
                f"not to {self.method} with tune {self.tune}; leave in_batch off"
            )
        if self.teacher != "ensemble" and self.trainer.data != LISTS:
            raise InvalidInput(f"a teacher applies to distillation only, not to {self.method}; leave it at 'ensemble'")

    @classmethod
    def of(cls, spec: "TrainSpec | dict") -> "TrainSpec":
        """A spec from a JSON object's settings (the defaults fill the rest), checked; a TrainSpec as it is.

        Raises:
            InvalidInput: not an object, an unknown setting, method or tune, or a number of the wrong type or range.
        """
        if isinstance(spec, TrainSpec):
            return spec
        if not isinstance(spec, dict):
            raise InvalidInput(f'a training spec is a JSON object such as {{"epochs": 1}}, not {json.dumps(spec)[:60]}')
        unknown = sorted(set(spec) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InvalidInput(f"unknown training setting {unknown[0]!r}; the settings are {sorted(DEFAULTS)}")
        return cls(**spec)

    @classmethod
    def load(cls, folder: Path) -> "TrainSpec":
        """A job folder's spec.json, checked."""
        return cls.of(json.loads((folder / "spec.json").read_text()))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "TrainSpec":
        """A copy with these settings changed, checked again."""
        return dataclasses.replace(self, **changes)

    @property
    def trainer(self) -> Method:
        """The registry entry of the spec's method."""
        return method(self.method)

    @property
    def query_only(self) -> bool:
        """Whether the job trains a query encoder against frozen document vectors."""
        return self.tune == "query" and self.trainer.frozen_documents

    @property
    def takes_in_batch(self) -> bool:
        """Whether the job's loss can take in-batch negatives (query-only training of a method that takes them)."""
        return self.query_only and self.trainer.in_batch


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

# The user's settings and their defaults (the job's own fields left out), for pages and the command line.
DEFAULTS = {k: v for k, v in TrainSpec().to_dict().items() if k not in ("corpus_id", "data_counts")}


# Training rates per CPU core by precision (queries/s query-only, texts/s fully fine-tuned) and on one H200, as
# bench/train_throughput.py measures them (docs/BENCHMARKS.md, Training throughput); estimates scale them by cores.
CPU_RATE_PER_CORE = {"fp32": {"query": 35.0, "full": 6.0}, "bf16": {"query": 57.0, "full": 10.0}}
GPU_RATE = {"query": 1140.0, "full": 1230.0}
# What a job costs besides its steps: the process started, the model loaded, the dev split scored before and after
# and at each weight mix, the model saved (bench/estimates.py: the sample's job, 41 queries).
JOB_START_S = 14.0


def texts_per_query(spec: TrainSpec) -> int:
    """Texts one training query passes through the model: itself, plus its group or list unless they are frozen."""
    if spec.query_only:
        return 1
    return 1 + (spec.list_size if spec.trainer.data == LISTS else spec.group_size)


def estimate_seconds(
    spec: TrainSpec, train_queries: int, cuda: bool = False, cores: int | None = None, precision: str = "fp32"
) -> float:
    """Expected time of the job, start to model: its steps on a CPU from the measured per-core rates of its precision
    (fp32 or bf16, ``training_precision``), on a GPU from the H200's, plus what a job costs besides."""
    tune = "query" if spec.query_only else "full"
    per_query = texts_per_query(spec)
    items = train_queries * spec.epochs * per_query
    if spec.max_steps > 0:
        items = min(items, spec.max_steps * spec.batch_size * per_query)
    rate = GPU_RATE[tune] if cuda else CPU_RATE_PER_CORE[precision][tune] * (cores or os.cpu_count() or 2)
    return JOB_START_S + items / rate


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
