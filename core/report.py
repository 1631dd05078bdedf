"""A shareable HTML report of a test set's leaderboard (a table and a plotly chart)."""

import html

import duckdb
import plotly.express as px

from core.evaluate import leaderboard
from core.systems import LEXICAL_RATIO
from storage.corpora import test_set_name


def report_html(con: duckdb.DuckDBPyConnection, test_set: int) -> str:
    """The metrics of every system's latest run, the differences to the baseline with p-values, and a chart."""
    board = leaderboard(con, test_set)
    name = test_set_name(con, test_set)
    if not board.rows:
        return f"<html><body><h1>Qurate report</h1><p>No evaluation of test set {test_set} yet.</p></body></html>"
    table = board.frame().round(4)
    chart = px.bar(table, x="system", y="ndcg@10", title="nDCG@10 by system", height=380).to_html(
        full_html=False, include_plotlyjs=True
    )
    return (
        "<html><head><meta charset='utf-8'><title>Qurate report</title></head><body style='font-family:sans-serif'>"
        f"<h1>Qurate evaluation report</h1><p>Test set: {html.escape(name or str(test_set))}; "
        f"{board.queries:,} queries; every system reorders the fused top {board.k}; "
        f"baseline: MiniLM (dense); fine-tuned rerankers' scores are mixed {LEXICAL_RATIO} with BM25's, as the hybrid row mixes "
        "MiniLM's; p-values from a paired t-test over per-query nDCG@10.</p>"
        + table.to_html(index=False, border=0)
        + chart
        + "</body></html>"
    )
