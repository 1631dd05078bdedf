"""Evaluate: baseline against fine-tuned models on held-out test queries, with charts."""

import json

import pandas as pd
import plotly.express as px
import streamlit as st

from core.errors import QurateError
from core.evaluate import compare_runs, evaluate_system, system_label
from core.ingest import add_test_set
from core.report import report_html
from core.review import freeze_reviewed_queries
from pages._shared import active_corpus, connection
from storage import corpora
from storage import evaluations as store
from storage.models import list_models

st.title("Evaluate")
con = connection()
corpus = active_corpus(con)
if corpus is None:
    st.info("No corpus yet: add one on the Corpus page first.")
    st.stop()

sets = corpora.test_sets(con, corpus)
with st.expander("Add a test set (queries + qrels)", expanded=sets.empty):
    st.caption("Held-out queries (BEIR queries.jsonl: _id, text) and judgements (TSV: query-id, corpus-id, score) "
               "whose document ids are this corpus's. They are used for evaluation only, never for training.")
    name = st.text_input("Name", "uploaded", key="ts_name")
    queries_file = st.file_uploader("queries.jsonl", type=["jsonl"], key="ts_queries")
    qrels_file = st.file_uploader("qrels .tsv", type=["tsv"], key="ts_qrels")
    if st.button("Add test set", key="ts_add", disabled=not (queries_file and qrels_file)):
        try:
            summary = add_test_set(con, corpus, name, (queries_file.name, queries_file.getvalue()), (qrels_file.name, qrels_file.getvalue()))
        except QurateError as err:
            st.error(f"{err}\n\nNothing was stored.")
        else:
            st.success(f"Test set “{summary['name']}”: {summary['n_queries']:,} queries, {summary['n_qrels']:,} judgements.")
            st.rerun()
with st.expander("Make a test set from the queries experts reviewed"):
    st.caption("Each reviewed query with a passage graded relevant becomes a test query, judged by the latest human "
               "decisions; those queries then leave training.")
    if st.button("Freeze reviewed queries as a test set", key="ts_freeze"):
        try:
            summary = freeze_reviewed_queries(con, corpus)
        except QurateError as err:
            st.error(str(err))
        else:
            st.success(f"Test set “{summary['name']}”: {summary['n_queries']:,} queries, {summary['n_qrels']:,} judgements.")
            st.rerun()
if sets.empty:
    st.info("This corpus has no held-out test set: add one above, or load a BEIR dataset or the sample corpus.")
    st.stop()

test_set = st.selectbox("Test set", sets["id"].tolist(), key="eval_test_set",
                        format_func=lambda i: (lambda r: f"{r['name']} ({r['origin']}): {r['queries']:,} queries, {r['judgements']:,} judgements")(sets.set_index("id").loc[i]))
models = list_models(con, corpus)
systems = ["bm25", "dense", "fused"]
for _, model in models.iterrows():
    systems.append(f"{'rerank' if model['kind'] == 'reranker' else 'retrieve'}:{model['id']}")
chosen = st.multiselect("Systems", systems, default=systems, format_func=lambda s: system_label(con, s), key="eval_systems",
                        help="Rerankers reorder the top 30 of BM25 + MiniLM fusion; retrievers rank the whole corpus.")
if st.button("Evaluate", type="primary", key="evaluate", disabled=not chosen):
    bar = st.progress(0.0, text="Starting")
    for index, system in enumerate(chosen):
        try:
            evaluate_system(con, int(test_set), system,
                            progress=lambda f, m: bar.progress((index + f) / len(chosen), text=m))
        except QurateError as err:
            st.error(f"{system_label(con, system)}: {err}")
    bar.empty()

runs = store.latest_runs(con, int(test_set))
if runs.empty:
    st.info("No evaluation on this test set yet: pick systems and press Evaluate.")
    st.stop()
runs["system name"] = [system_label(con, s) for s in runs["system"]]
baseline = runs[runs["system"] == "dense"]
base_run = int(baseline["id"].iloc[0]) if not baseline.empty else None
rows = []
for _, run in runs.iterrows():
    row = {"system": run["system name"], **{m: run[m] for m in ["ndcg@10", "mrr@10", "map@10", "recall@10", "recall@100", "judged@10"]}}
    if base_run and run["id"] != base_run:
        comparison = compare_runs(con, base_run, int(run["id"]))
        row.update({"Δ nDCG@10 vs baseline": comparison["difference"], "p-value": comparison["p_value"],
                    "wins/ties/losses": f"{comparison['wins']}/{comparison['ties']}/{comparison['losses']}"})
    rows.append(row)
table = pd.DataFrame(rows)
queries_n = json.loads(runs["settings"].iloc[0]).get("queries")
st.caption(f"Test set {test_set}: {queries_n:,} queries. Metrics computed with ranx on documents; p-values from a paired t-test "
           "(scipy) over per-query nDCG@10 against the baseline MiniLM.")
st.dataframe(table, hide_index=True, width="stretch", key="metrics_table")
if base_run:
    base_judged = float(baseline["judged@10"].iloc[0])
    holes = runs[(runs["judged@10"] < 0.8 * base_judged) & (runs["id"] != base_run)]
    for _, run in holes.iterrows():
        st.warning(f"{run['system name']}: only {run['judged@10']:.0%} of its top 10 are judged (baseline {base_judged:.0%}); "
                   "it surfaces unjudged documents, so its scores may be underestimated.")

long = table.melt(id_vars="system", value_vars=["ndcg@10", "mrr@10", "recall@10"], var_name="metric", value_name="value")
figure = px.bar(long, x="metric", y="value", color="system", barmode="group", height=320, title="Metrics by system")
st.plotly_chart(figure, width="stretch", key="metrics_chart")

others = runs[runs["id"] != base_run] if base_run else runs.iloc[0:0]
if base_run and not others.empty:
    st.subheader("Per query, against the baseline")
    pick = st.selectbox("System", others["id"].tolist(), format_func=lambda i: others.set_index("id").loc[i, "system name"], key="eval_per_query")
    comparison = compare_runs(con, base_run, int(pick))
    diffs = pd.DataFrame(sorted(comparison["per_query"].items(), key=lambda kv: kv[1]), columns=["query", "difference"])
    diffs["outcome"] = ["win" if d > 1e-9 else ("loss" if d < -1e-9 else "tie") for d in diffs["difference"]]
    st.caption(f"{comparison['wins']} wins, {comparison['ties']} ties, {comparison['losses']} losses; "
               f"mean Δ nDCG@10 {comparison['difference']:+.3f} (p = {comparison['p_value']:.3g}).")
    figure = px.bar(diffs, x=diffs.index, y="difference", color="outcome", height=300, hover_data=["query"],
                    color_discrete_map={"win": "#2f8f4f", "tie": "#bbbbbb", "loss": "#c0392b"}, title="Δ nDCG@10 per query (sorted)")
    figure.update_layout(xaxis_title="queries", margin=dict(t=40, b=10))
    st.plotly_chart(figure, width="stretch", key="per_query_chart")
    breakdown = store.breakdown(con, base_run, int(pick))
    if not breakdown.empty:
        field = st.selectbox("Break down by", sorted(breakdown["field"].unique()), key="eval_breakdown")
        part = breakdown[breakdown["field"] == field]
        figure = px.bar(part, x="value", y="difference", height=300, hover_data=["queries"], title=f"Δ nDCG@10 by {field}")
        st.plotly_chart(figure, width="stretch", key="breakdown_chart")

sizes = store.training_size_curve(con, int(test_set))
if len(sizes) > 1:
    figure = px.line(sizes, x="train_queries", y="ndcg@10", color="method", markers=True, height=300,
                     title="nDCG@10 against the number of training queries")
    st.plotly_chart(figure, width="stretch", key="size_curve")

st.download_button("Download report (HTML)", report_html(con, int(test_set)), file_name=f"qurate-report-test-set-{test_set}.html",
                   mime="text/html", key="download_report")
