"""How the bundled model encodes on this machine: bf16 where it agrees with fp32, the override, the errors."""

import numpy as np
import pytest

from core import embed
from core.errors import InvalidInput


def test_bf16_vectors_agree_with_fp32_and_rank_the_sample_the_same(monkeypatch):
    texts = embed.probe_texts()
    monkeypatch.setenv(embed.PRECISION_ENV, "fp32")
    full = embed.load_encoder()
    monkeypatch.setenv(embed.PRECISION_ENV, "bf16")
    half = embed.load_encoder()
    assert (full.precision, half.precision) == ("fp32", "bf16")
    a, b = full.encode(texts), half.encode(texts)
    assert a.dtype == b.dtype == np.float32 and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-3)
    assert (a * b).sum(axis=1).min() >= embed.AGREEMENT
    queries = ["how do I keep a bicycle chain quiet", "when should brake pads be replaced", "tyre pressure"]
    assert (full.encode(queries) @ a.T).argmax(axis=1).tolist() == (half.encode(queries) @ b.T).argmax(axis=1).tolist()


def test_auto_uses_bf16_only_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setenv(embed.PRECISION_ENV, "auto")
    monkeypatch.setattr(embed, "_models", {})
    monkeypatch.setattr(embed, "native_bf16", lambda: False)
    assert embed.load_encoder().precision == "fp32"
    monkeypatch.setattr(embed, "_models", {})
    monkeypatch.setattr(embed, "native_bf16", lambda: True)
    assert embed.load_encoder().precision == "bf16"  # the bundled model agrees on the probe
    monkeypatch.setattr(embed, "_models", {})
    monkeypatch.setattr(embed, "AGREEMENT", 1.01)  # a model that would not agree stays in fp32
    assert embed.load_encoder().precision == "fp32"


def test_a_wrong_precision_setting_says_what_to_write(monkeypatch):
    monkeypatch.setenv(embed.PRECISION_ENV, "half")
    with pytest.raises(InvalidInput, match="auto, fp32 or bf16"):
        embed.load_encoder()


def test_the_expected_precision_follows_the_setting_and_the_cpu(monkeypatch):
    for value in ("fp32", "bf16"):
        monkeypatch.setenv(embed.PRECISION_ENV, value)
        assert embed.expected_precision() == value
    monkeypatch.setenv(embed.PRECISION_ENV, "auto")
    monkeypatch.setattr(embed, "native_bf16", lambda: False)
    assert embed.expected_precision() == "fp32"
    monkeypatch.setattr(embed, "native_bf16", lambda: True)
    assert embed.expected_precision() == "bf16"
