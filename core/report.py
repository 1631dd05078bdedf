"""A shareable HTML report of a test set's leaderboard: one self-contained page (no script, no network), a table and
bars drawn in HTML, readable when mailed, printed or opened offline."""

import html

import duckdb
import pandas as pd

from core.evaluate import leaderboard
from core.systems import LEXICAL_RATIO
from core.vocabulary import HEADLINE
from storage.corpora import test_set_name

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f4f6; }
.bars { margin: 1rem 0; }
.bar { display: flex; align-items: center; margin: 0.25rem 0; font-size: 0.9rem; }
.bar .name { width: 22rem; }
.bar .fill { background: #4e79a7; height: 1.1rem; margin-right: 0.5rem; }
.bar.baseline .fill { background: #9ca3af; }
.note { color: #555; font-size: 0.9rem; }
"""


def report_html(con: duckdb.DuckDBPyConnection, test_set: int) -> str:
    """The metrics of every system's latest run, the differences to the baseline with p-values, and bars of the
    headline metric."""
    board = leaderboard(con, test_set)
    name = html.escape(test_set_name(con, test_set) or str(test_set))
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>Qurate report: {name}</title><style>{STYLE}</style></head><body>"
    if not board.rows:
        return f"{head}<h1>Qurate report</h1><p>No evaluation of test set {name} yet.</p></body></html>"
    table = board.frame()
    top = max(float(r.metrics[HEADLINE]) for r in board.rows) or 1.0
    bars = "".join(
        f"<div class='bar{' baseline' if r is board.baseline else ''}'><span class='name'>{html.escape(r.label)}</span>"
        f"<span class='fill' style='width:{20 * float(r.metrics[HEADLINE]) / top:.2f}rem'></span>"
        f"{float(r.metrics[HEADLINE]):.3f}</div>"
        for r in board.rows
    )
    return (
        f"{head}<h1>Qurate evaluation report</h1>"
        f"<p>Test set: {name}; {board.queries:,} queries; every system reorders the fused top {board.k}; "
        f"baseline: MiniLM (dense); fine-tuned rerankers' scores are mixed {LEXICAL_RATIO} with BM25's, as the "
        "hybrid row mixes MiniLM's; p-values from a paired t-test over per-query nDCG@10.</p>"
        f"<h2>nDCG@10 by system</h2><div class='bars'>{bars}</div>"
        "<h2>Every metric</h2>"
        + table.to_html(index=False, border=0, na_rep="", float_format=_figure, escape=True)
        + "<p class='note'>Δ: the difference to the baseline on the same queries; an empty cell: not compared "
        "(the baseline's own row).</p></body></html>"
    )


def _figure(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.3f}"
