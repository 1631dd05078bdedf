"""Qurate: navigation and the home dashboard. Run with `streamlit run app.py`."""

import threading

import streamlit as st

from core.workspace import FLOW, flow_counts, next_step
from pages._shared import active_corpus, connection

st.set_page_config(page_title="Qurate", page_icon=":material/manage_search:", layout="wide")


@st.cache_resource(show_spinner=False)
def _warm_metrics() -> threading.Thread:
    """Once per server process: compile the metric kernels in the background, before the first evaluation."""
    from core.metrics import warm_up

    thread = threading.Thread(target=warm_up, name="qurate-warm-metrics", daemon=True)
    thread.start()
    return thread


_warm_metrics()

PAGES = {
    "corpus": st.Page("pages/corpus.py", title="Corpus", icon=":material/library_books:"),
    "queries": st.Page("pages/queries.py", title="Queries", icon=":material/help:"),
    "labels": st.Page("pages/labels.py", title="Labels & review", icon=":material/fact_check:"),
    "train": st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    "evaluate": st.Page("pages/evaluate.py", title="Evaluate", icon=":material/bar_chart:"),
    "compare": st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
}


def home() -> None:
    """Where the active corpus stands in the flow, one count and one link per step."""
    st.title("Qurate")
    st.write("Turn your own documents into a better reranker and retriever, without labelling by hand.")
    con = connection()
    corpus = active_corpus(con)
    counts = flow_counts(con, corpus)
    step = next_step(con, corpus)
    if counts["passages"] and not counts["users"]:
        st.info(
            "**Have your users' own queries?** A search log, a help-desk inbox, the questions your team answers every "
            "week: they teach a model the words your users really type, which generated queries cannot, and an "
            "expert's hour grading their candidates is the best-spent hour of the flow (docs/BENCHMARKS.md)."
        )
        st.page_link(PAGES["queries"], label="Add them on the Queries page", icon=":material/upload:")
    if step:
        st.info(f"**Next: {step.action}** {step.cost}")
        st.page_link(PAGES[step.page], label=f"Go to {PAGES[step.page].title}", icon=":material/arrow_forward:")
    columns = st.columns(3)
    for index, (key, label, page, hint) in enumerate(FLOW):
        with columns[index % 3].container(border=True):
            st.metric(label, f"{counts[key]:,}")
            st.page_link(PAGES[page], label=f"Go to {PAGES[page].title}", help=hint)


navigation = st.navigation([st.Page(home, title="Home", icon=":material/home:", default=True), *PAGES.values()])
navigation.run()
