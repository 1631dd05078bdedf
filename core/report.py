"""A shareable HTML report of a test set's latest evaluation runs (tables and plotly charts)."""

import html

import duckdb
import pandas as pd
import plotly.express as px

from core.evaluate import compare_runs, system_label
from storage import evaluations as store


def report_html(con: duckdb.DuckDBPyConnection, test_set: int) -> str:
    """The metrics of every system's latest run, the differences to the baseline with p-values, and a chart."""
    runs = store.latest_runs(con, test_set)
    name = con.execute("SELECT name FROM test_sets WHERE id = ?", [test_set]).fetchone()
    if runs.empty:
        return f"<html><body><h1>Qurate report</h1><p>No evaluation of test set {test_set} yet.</p></body></html>"
    base = runs[runs["system"] == "dense"]
    rows = []
    for _, run in runs.iterrows():
        row = {"system": system_label(con, run["system"]),
               **{m: round(float(run[m]), 4) for m in ["ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100", "judged@10"]}}
        if not base.empty and run["id"] != base["id"].iloc[0]:
            comparison = compare_runs(con, int(base["id"].iloc[0]), int(run["id"]))
            row.update({"Δ nDCG@10": round(comparison["difference"], 4), "p-value": f"{comparison['p_value']:.3g}",
                        "wins/ties/losses": f"{comparison['wins']}/{comparison['ties']}/{comparison['losses']}"})
        rows.append(row)
    table = pd.DataFrame(rows)
    chart = px.bar(table, x="system", y="ndcg@10", title="nDCG@10 by system", height=380).to_html(full_html=False, include_plotlyjs=True)
    return (
        "<html><head><meta charset='utf-8'><title>Qurate report</title></head><body style='font-family:sans-serif'>"
        f"<h1>Qurate evaluation report</h1><p>Test set: {html.escape(name[0] if name else str(test_set))}; "
        "baseline: MiniLM (dense); p-values from a paired t-test over per-query nDCG@10.</p>"
        + table.to_html(index=False, border=0) + chart + "</body></html>"
    )
