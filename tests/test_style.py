"""The code's habits, checked: ruff's lint rules and format (pyproject.toml), over the whole tree."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    if (
        shutil.which("ruff") is None
        and subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0
    ):
        pytest.fail('ruff is missing: it comes with the test extras (pip install -e ".[test]")')
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_code_passes_the_lint_rules():
    result = _ruff("check", ".")
    assert result.returncode == 0, f"ruff check . says (ruff check --fix . mends most):\n{result.stdout[-3000:]}"


def test_the_code_is_formatted():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, f"run `ruff format .`:\n{result.stdout[-3000:]}"


def test_the_lint_rules_see_a_fault(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nimport sys\n")
    result = _ruff("check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad))
    assert result.returncode == 1 and "F401" in result.stdout
