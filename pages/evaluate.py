"""Evaluate: baseline against fine-tuned models on held-out test queries, with charts."""

import pandas as pd
import plotly.express as px
import streamlit as st

from core.errors import QurateError
from core.evaluate import (
    FIRST_STAGE_K,
    breakdown,
    compare_runs,
    evaluate,
    leaderboard,
    learnt_from,
    training_size_curve,
)
from core.ingest import add_test_set
from core.report import report_html
from core.review import freeze_reviewed_queries
from core.systems import LEXICAL_RATIO, System, corpus_systems, untrained_bar
from core.vocabulary import METRICS
from core.workspace import test_sets
from pages._shared import open_page, stop_button

con, corpus = open_page("Evaluate")

sets = test_sets(con, corpus)
with st.expander("Add a test set (queries + qrels)", expanded=sets.empty):
    st.caption(
        "Held-out queries (BEIR queries.jsonl: _id, text) and judgements (TSV: query-id, corpus-id, score) "
        "whose document ids are this corpus's. They are used for evaluation only, never for training."
    )
    name = st.text_input("Name", "uploaded", key="ts_name")
    queries_file = st.file_uploader("queries.jsonl", type=["jsonl"], key="ts_queries")
    qrels_file = st.file_uploader("qrels .tsv", type=["tsv"], key="ts_qrels")
    if st.button("Add test set", key="ts_add", disabled=not (queries_file and qrels_file)):
        try:
            summary = add_test_set(
                con,
                corpus,
                name,
                (queries_file.name, queries_file.getvalue()),
                (qrels_file.name, qrels_file.getvalue()),
            )
        except QurateError as err:
            st.error(f"{err}\n\nNothing was stored.")
        else:
            st.success(
                f"Test set “{summary['name']}”: {summary['n_queries']:,} queries, {summary['n_qrels']:,} judgements."
            )
            st.rerun()
with st.expander("Make a test set from the queries experts reviewed"):
    st.caption(
        "Each reviewed query with a passage graded relevant becomes a test query, judged by the latest human "
        "decisions; those queries then leave training."
    )
    if st.button("Freeze reviewed queries as a test set", key="ts_freeze"):
        try:
            summary = freeze_reviewed_queries(con, corpus)
        except QurateError as err:
            st.error(str(err))
        else:
            st.success(
                f"Test set “{summary['name']}”: {summary['n_queries']:,} queries, {summary['n_qrels']:,} judgements."
            )
            st.rerun()
if sets.empty:
    st.info("This corpus has no held-out test set: add one above, or load a BEIR dataset or the sample corpus.")
    st.stop()

test_set = st.selectbox(
    "Test set",
    sets["id"].tolist(),
    key="eval_test_set",
    format_func=lambda i: (
        lambda r: f"{r['name']} ({r['origin']}): {r['queries']:,} queries, {r['judgements']:,} judgements"
    )(sets.set_index("id").loc[i]),
)
systems = [str(s) for s in corpus_systems(con, corpus)]
label = lambda s: System.parse(s).label(con)  # noqa: E731
chosen = st.multiselect(
    "Systems",
    systems,
    default=systems,
    format_func=label,
    key="eval_systems",
    help="Every system reorders the same pool: the top k of BM25 + MiniLM fusion. "
    "The baseline (MiniLM) is always evaluated, as the reference of the comparisons.",
)
k = st.number_input("First-stage pool (k)", 5, 200, FIRST_STAGE_K, step=5, key="eval_k")
if st.button("Evaluate", type="primary", key="evaluate", disabled=not chosen):
    bar, stop = st.progress(0.0, text="Starting"), st.empty()
    stop_button(stop, "stop_evaluation", "the encoded passages")
    try:
        evaluate(con, int(test_set), chosen, int(k), progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
    except QurateError as err:
        st.error(f"{err}\n\nEarlier evaluation runs are kept.")
    bar.empty()
    stop.empty()  # the run is over: nothing left to stop

board = leaderboard(con, int(test_set))
if not board.rows:
    st.info("No evaluation on this test set yet: pick systems and press Evaluate.")
    st.stop()
table = board.frame()
# a metric every system scores alike (Recall@100: each reorders the same pool, whose order below k is the fusion's)
same = [m for m in METRICS if m in table and len(table) > 1 and table[m].round(6).nunique(dropna=False) == 1]
st.caption(
    f"Test set {test_set}: {board.queries:,} queries; every system reorders the fused top {board.k}. A fine-tuned reranker's "
    f"scores are mixed {LEXICAL_RATIO} with BM25's, as the hybrid mixes MiniLM's (a distilled retriever's are not): the hybrid's row is the share of a gain that lexical evidence alone gives. Metrics computed "
    "with ranx on documents; p-values from a paired t-test (scipy) over per-query nDCG@10 against the baseline MiniLM. "
    "Δ on dev split: the gain training's dev split (synthetic queries of held-out passages) predicted; set beside "
    "the test Δ, it shows how far the dev split can be trusted on this corpus."
    + (
        " Not shown, as every system scores the same on it here: "
        + ", ".join(f"{m} ({board.rows[0].metrics[m]:.3f})" for m in same)
        + "."
        if same
        else ""
    )
)
st.dataframe(table.drop(columns=same), hide_index=True, width="stretch", key="metrics_table")
sources = {row.label: text for row in board.rows if (text := learnt_from(con, row.system))}
if sources:
    st.caption("What each model learnt from: " + "; ".join(f"{label}: {text}" for label, text in sources.items()) + ".")
base = board.baseline
if base:
    for row in board.rows:
        if row is not base and row.metrics.get("judged@10", 1) < 0.8 * base.metrics["judged@10"]:
            st.warning(
                f"{row.label}: only {row.metrics['judged@10']:.0%} of its top 10 are judged (baseline "
                f"{base.metrics['judged@10']:.0%}); it surfaces unjudged documents, so its scores may be underestimated."
            )
    bar = untrained_bar({r.system: r.metrics["ndcg@10"] for r in board.rows})
    for row in board.rows:
        if bar and row.system.startswith(("rerank:", "retrieve:")) and row.metrics["ndcg@10"] < bar[1]:
            st.info(
                f"{row.label} ranks below {board.row(bar[0]).label}, which needs no training: "
                f"{row.metrics['ndcg@10']:.3f} against {bar[1]:.3f} nDCG@10. On these queries the training does not "
                "pay; Compare opens on the hybrid unless a model beats it."
            )
    for row in board.rows:
        if row.dev_disagrees:
            st.warning(
                f"{row.label}: its dev split predicted {row.dev_difference:+.3f} nDCG@10, this test set measured "
                f"{row.difference:+.3f}. The synthetic dev queries do not predict these queries: trust the test set, "
                "and choose among models here rather than by their dev scores."
            )

long = table.melt(
    id_vars="system", value_vars=["ndcg@10", "mrr@10", "recall@10"], var_name="metric", value_name="value"
)
figure = px.bar(
    long, x="metric", y="value", color="system", barmode="group", height=320, title="Metrics by system", text_auto=".3f"
)
st.plotly_chart(figure, width="stretch", key="metrics_chart")

others = {r.run_id: r.label for r in board.rows if r is not base}
if base and others:
    st.subheader("Per query, against the baseline or another system")
    labels = {r.run_id: r.label for r in board.rows}
    left, right = st.columns(2)
    models = [r for r in board.rows if r is not base and System.parse(r.system).model_id is not None]
    newest = max(models, key=lambda r: System.parse(r.system).model_id, default=None)  # what a demo asks about first
    pick = left.selectbox(
        "System",
        list(others),
        index=list(others).index(newest.run_id) if newest else 0,
        format_func=others.get,
        key="eval_per_query",
    )
    against = right.selectbox(
        "Against",
        [base.run_id] + [r for r in others if r != pick],
        format_func=labels.get,
        key="eval_against",
        help="Two fine-tuned models (two settings, two generators) differ by less than either gains "
        "over the baseline: compare them with each other, query by query. The p-value counts the "
        "spread over these queries, not the spread of training: before trusting a small difference "
        "between two models, train one of them again with another seed.",
    )
    comparison = compare_runs(con, int(against), int(pick))
    diffs = pd.DataFrame(sorted(comparison["per_query"].items(), key=lambda kv: kv[1]), columns=["query", "difference"])
    diffs["outcome"] = ["win" if d > 1e-9 else ("loss" if d < -1e-9 else "tie") for d in diffs["difference"]]
    st.caption(
        f"{labels[pick]} against {labels[against]}: {comparison['wins']} wins, {comparison['ties']} ties, "
        f"{comparison['losses']} losses; mean Δ nDCG@10 {comparison['difference']:+.3f} (p = {comparison['p_value']:.3g})."
    )
    figure = px.bar(
        diffs,
        x=diffs.index,
        y="difference",
        color="outcome",
        height=300,
        hover_data=["query"],
        color_discrete_map={"win": "#2f8f4f", "tie": "#bbbbbb", "loss": "#c0392b"},
        title="Δ nDCG@10 per query (sorted)",
    )
    figure.update_layout(xaxis_title="queries", margin=dict(t=40, b=10))
    st.plotly_chart(figure, width="stretch", key="per_query_chart")
    by_field = breakdown(con, int(against), int(pick))
    if not by_field.empty:
        field = st.selectbox("Break down by", sorted(by_field["field"].unique()), key="eval_breakdown")
        part = by_field[by_field["field"] == field]
        figure = px.bar(
            part, x="value", y="difference", height=300, hover_data=["queries"], title=f"Δ nDCG@10 by {field}"
        )
        st.plotly_chart(figure, width="stretch", key="breakdown_chart")

sizes = training_size_curve(con, int(test_set))
if len(sizes) > 1:
    figure = px.line(
        sizes,
        x="train_queries",
        y="ndcg@10",
        color="method",
        markers=True,
        height=300,
        title="nDCG@10 against the number of training queries",
    )
    st.plotly_chart(figure, width="stretch", key="size_curve")

st.download_button(
    "Download report (HTML)",
    report_html(con, int(test_set)),
    file_name=f"qurate-report-test-set-{test_set}.html",
    mime="text/html",
    key="download_report",
)
