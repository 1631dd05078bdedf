"""Guards on the layout README describes: storage owns the SQL, pages talk to core only."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_CODE = sorted([*ROOT.glob("core/**/*.py"), *ROOT.glob("pages/*.py"), *ROOT.glob("bench/*.py"), ROOT / "app.py"])


def _calls_execute(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("execute", "executemany", "sql")]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_sql_outside_storage():
    assert len(APP_CODE) > 20
    offenders = {str(p.relative_to(ROOT)): lines for p in APP_CODE if (lines := _calls_execute(p))}
    assert offenders == {}, "SQL belongs in storage/: move these statements into a storage function"


def test_pages_import_core_not_storage():
    pages = sorted([*ROOT.glob("pages/*.py"), ROOT / "app.py"])
    assert len(pages) >= 8
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _imported_modules(p) if m.split(".")[0] in ("storage", "duckdb"))
                 for p in pages}
    assert {k: v for k, v in offenders.items() if v} == {}, "pages call core functions; core calls storage"


def test_the_guards_see_a_violation(tmp_path):
    sample = tmp_path / "page.py"
    sample.write_text("from storage import corpora\nimport duckdb\ncon.execute('SELECT 1')\n")
    assert _calls_execute(sample) == [3]
    assert {"storage", "duckdb"} <= _imported_modules(sample)
