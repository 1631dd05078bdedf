"""Benchmarks of Qurate, each a module run with ``python -m bench.NAME``; figures in docs/BENCHMARKS.md."""

import os
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # the real corpora, read where they lie


def machine() -> dict:
    """What a figure was measured on: the cores, the CPU's bf16 flags (they change how bf16 rounds, and so the
    last digits of a benchmark), and the device training uses."""
    import torch

    from core.training.spec import device_summary

    info = Path("/proc/cpuinfo")
    flags = set(info.read_text().split()) if info.exists() else set()
    return {
        "cores": os.cpu_count(),
        "cpu_bf16": sorted(flags & {"avx512_bf16", "amx_bf16"}),
        "device": device_summary(),
        "torch": torch.__version__,
    }
