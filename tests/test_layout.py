"""Guards on the layout README describes: storage owns the SQL, pages talk to core only."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/review_fixture.py fills a workspace with synthetic rows by SQL for the review benchmark: a fixture, not the product
APP_CODE = sorted(
    {*ROOT.glob("core/**/*.py"), *ROOT.glob("pages/*.py"), *ROOT.glob("bench/*.py"), ROOT / "app.py"}
    - {ROOT / "bench" / "review_fixture.py"}
)


def _calls_execute(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("execute", "executemany", "sql")
    ]


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
    pages = sorted([*ROOT.glob("pages/*.py"), ROOT / "app.py", *ROOT.glob("core/cli*.py")])  # the entry points
    assert len(pages) >= 8
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in _imported_modules(p) if m.split(".")[0] in ("storage", "duckdb"))
        for p in pages
    }
    assert {k: v for k, v in offenders.items() if v} == {}, "pages call core functions; core calls storage"


def test_the_guards_see_a_violation(tmp_path):
    sample = tmp_path / "page.py"
    sample.write_text("from storage import corpora\nimport duckdb\ncon.execute('SELECT 1')\n")
    assert _calls_execute(sample) == [3]
    assert {"storage", "duckdb"} <= _imported_modules(sample)


def _module_graph() -> dict[str, set[str]]:
    """core.* and storage.* modules and the ones of them each imports, at the top or inside a function."""
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p
        for p in [*ROOT.glob("core/*.py"), *ROOT.glob("storage/*.py")]
        if p.name != "__init__.py"
    }
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
            for n in ast.walk(block)
        }
        imported = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}  # from core import embed
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph, or [] (depth-first search)."""
    state, path = {}, []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "closed"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_import_circle_in_core_and_storage():
    graph = _module_graph()
    assert len(graph) > 25 and "core.embed" in graph["core.systems"]
    assert _cycle(graph) == [], "modules import each other (inside functions too): move what both need down a layer"
    assert not any(
        m.startswith("core.")
        for deps in [graph[n] for n in graph if n.startswith("storage.")]
        for m in deps
        if m not in ("core.errors", "core.vocabulary", "core.settings")
    ), "storage reads core's errors and words only"


def test_the_circle_guard_sees_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
