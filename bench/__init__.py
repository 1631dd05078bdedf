"""Benchmarks of Qurate, each a module run with ``python -m bench.NAME``; figures in docs/BENCHMARKS.md."""

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # the real corpora, read where they lie
