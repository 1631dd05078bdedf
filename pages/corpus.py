"""Corpus: upload files (or load the sample), split them into passages, browse them."""

import plotly.express as px
import streamlit as st

from core import readers
from core.errors import QurateError
from core.ingest import (
    IngestOptions,
    corpus_summary,
    ingest_files,
    ingested_files,
    load_sample_corpus,
    passage_lengths,
    sample_size,
    search_passages,
)
from core.passages import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS
from core.workspace import delete_corpus, list_corpora, test_sets
from pages._shared import STOPPED, active_corpus, connection, count_of, set_active_corpus, show_stopped, stop_button

PAGE_SIZE = 20
AUTO = "(automatic)"

st.title("Corpus")
if deleted := st.session_state.pop("deleted_corpus", None):
    st.success(f"Deleted “{deleted}” and everything made from it.")
con = connection()
corpus = active_corpus(con)


def show_report(report) -> None:
    st.success(
        f"Stored {count_of(report.n_passages, 'passage')} from {count_of(report.n_documents, 'document')} in "
        f"“{report.corpus_name}” ({report.seconds:.1f} s)"
        + (f"; skipped {count_of(report.n_duplicates, 'duplicate')}" if report.n_duplicates else "")
        + "."
    )
    if report.test_set:
        t = report.test_set
        st.info(
            f"Held-out test set “{t['name']}”: {t['n_queries']:,} queries with {t['n_qrels']:,} judgements (kept for evaluation only)."
        )
    for warning in report.warnings:
        st.warning(warning)


def run_ingest(action, label: str) -> None:
    """Run an ingest with a progress bar and a Stop button; show a domain error instead of a traceback."""
    bar = st.progress(0.0, text=label)
    stop_button(
        st,
        "stop_ingest",
        "nothing from this upload is stored (a corpus is written at the end, in one go)",
        notice="Stopped. Nothing from this upload was stored; press the same button to start it again.",
    )
    try:
        report = action(lambda fraction, message: bar.progress(min(fraction, 1.0), text=message))
    except QurateError as err:
        bar.empty()
        st.error(f"{err}\n\nNothing from this upload was stored.")
        return
    st.session_state["last_ingest"] = report
    set_active_corpus(con, report.corpus_id)
    st.rerun()


if "last_ingest" in st.session_state:
    st.session_state.pop(STOPPED, None)  # it was stored before a Stop could take effect
    show_report(st.session_state.pop("last_ingest"))
show_stopped()

upload_tab, sample_tab = st.tabs(["Upload files", "Sample corpus"])
with upload_tab:
    names = list_corpora(con)["name"].tolist()
    name = st.text_input(
        "Corpus name",
        value="My corpus",
        key="corpus_name",
        help="A new name makes a new corpus; an existing name adds to it.",
    )
    if name.strip() in names:
        st.caption(f"Files will be added to the existing corpus “{name.strip()}”; duplicate passages are skipped.")
    uploads = st.file_uploader(
        "Files: .txt, .md, .pdf, .csv, .tsv, .jsonl, or a .zip of them (a BEIR dataset zip brings its test queries too)",
        type=[s.lstrip(".") for s in readers.SUPPORTED],
        accept_multiple_files=True,
        key="uploads",
    )
    with st.expander("Splitting, encoding and columns"):
        left, right = st.columns(2)
        chunk = left.number_input(
            "Passage size (tokens)",
            16,
            2048,
            DEFAULT_CHUNK_TOKENS,
            step=10,
            key="chunk_tokens",
            help="Words and punctuation marks; the default fits a 256-token model such as MiniLM.",
        )
        overlap = right.number_input("Overlap (tokens)", 0, 1024, DEFAULT_OVERLAP_TOKENS, step=5, key="overlap_tokens")
        split_records = st.checkbox(
            "Also split long CSV/JSONL records",
            value=False,
            key="split_records",
            help="Records are usually passages already; text files and PDFs are always split.",
        )
        encoding = st.text_input("Text encoding (blank: UTF-8)", value="", key="encoding")
    fields = readers.Fields()
    tables = [f for f in uploads or [] if readers.kind_of(f.name) in ("csv", "tsv", "jsonl")]
    if tables:
        try:
            columns = readers.table_columns(tables[0].name, tables[0].getvalue(), encoding.strip() or None)
        except QurateError as err:
            st.error(str(err))
            columns = []
        if columns:
            st.caption(f"Columns of {tables[0].name} (applied to every table file in this upload):")
            a, b, c = st.columns(3)
            pick = lambda label, key: (lambda v: None if v == AUTO else v)(  # noqa: E731
                st.selectbox(label, [AUTO, *columns], key=key)
            )
            fields = readers.Fields(
                text=pick("Text column", "text_field"),
                id=pick("Id column", "id_field"),
                title=pick("Title column", "title_field"),
            )
    if st.button("Ingest", type="primary", disabled=not uploads, key="ingest"):
        files = [(f.name, f.getvalue()) for f in uploads]
        options = IngestOptions(int(chunk), int(overlap), split_records, encoding.strip() or None, fields)
        run_ingest(lambda progress: ingest_files(con, name, files, options, progress), "Reading files")

with sample_tab:
    passages, questions = sample_size()
    st.write(
        f"{passages} passages on home bicycle maintenance, with {questions} held-out test questions worded as riders "
        "ask them, to try the whole flow in minutes."
    )
    if st.button("Load sample corpus", key="load_sample"):
        run_ingest(lambda progress: load_sample_corpus(con, progress), "Loading the sample corpus")

if corpus is None:
    st.info("No corpus yet: upload files above, or load the sample corpus.")
    st.stop()

summary = corpus_summary(con, corpus)
st.header(summary["name"])
cols = st.columns(5)
cols[0].metric("Passages", f"{summary['passages']:,}")
cols[1].metric("Documents", f"{summary['documents']:,}")
cols[2].metric("Files", f"{summary['files']:,}")
cols[3].metric("Median tokens", f"{summary['median_tokens']:.0f}")
cols[4].metric("Test queries", f"{summary['test_queries']:,}")

lengths = passage_lengths(con, corpus)
if lengths:
    figure = px.histogram(x=lengths, nbins=40, labels={"x": "tokens per passage"}, title="Passage lengths")
    figure.update_layout(yaxis_title="passages", height=280, margin=dict(t=40, b=10))
    st.plotly_chart(figure, width="stretch")

search = st.text_input("Search passages (id, title or text)", key="search")
_, total = search_passages(con, corpus, search, 0, 1)
pages = max(1, -(-total // PAGE_SIZE))
page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="page")
rows, total = search_passages(con, corpus, search, (page - 1) * PAGE_SIZE, PAGE_SIZE)
st.caption(f"{total:,} passages match" + (f" “{search}”" if search else ""))
st.dataframe(rows, width="stretch", hide_index=True, key="passages_table")

with st.expander("Files and test sets"):
    st.dataframe(ingested_files(con, corpus), width="stretch", hide_index=True)
    st.dataframe(test_sets(con, corpus), width="stretch", hide_index=True)

with st.expander("Delete this corpus"):
    sure = st.checkbox(f"Yes, delete “{summary['name']}” and everything made from it", key="confirm_delete")
    if st.button("Delete corpus", disabled=not sure, key="delete_corpus"):
        try:
            delete_corpus(con, corpus)
        except QurateError as err:  # another session is working on it
            st.error(str(err))
        else:
            st.session_state.pop("active_corpus_picker", None)
            st.session_state["deleted_corpus"] = summary["name"]
            st.rerun()
