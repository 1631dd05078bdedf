"""The review panels of the Labels & review page: queues, bulk edit, agreement and export."""

import re

import pandas as pd
import plotly.express as px
import streamlit as st

from core.corpus_grammar import FUNCTION_WORDS
from core.errors import QurateError
from core.export import export_training_set
from core.judge import effective_labels
from core.review import (
    QUEUES,
    agreement,
    decide,
    history,
    latest_review_id,
    query_texts,
    query_types,
    queue,
    record_bulk,
    record_review,
    review_counts,
)
from core.settings import workspace_dir
from core.userqueries import user_query_counts
from core.vocabulary import GRADES
from pages._shared import as_text, connection, count_of

SHORTCUTS = {
    "relevant": "3",
    "partially": "2",
    "not relevant": "0",
    "bad query": "b",
    "skip": "s",
}  # "r" and "c" are Streamlit's own


def reviewer_name() -> str:
    """The signed-in user when authentication is configured, else a name asked once per browser session."""
    if getattr(st.user, "is_logged_in", False):
        return str(st.user.get("email") or st.user.get("name"))
    return st.sidebar.text_input("Reviewer name", key="reviewer", help="Recorded with every decision you make.").strip()


def highlight(text: str, query: str) -> str:
    """The passage as text, with the query's content words in bold (3+ letters, English function words aside)."""
    words = sorted({w for w in re.findall(r"\w{3,}", query.lower()) if w not in FUNCTION_WORDS}, key=len, reverse=True)
    shown = as_text(text)
    if not words:
        return shown
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\w*", re.IGNORECASE)
    return pattern.sub(lambda m: f"**{m.group(0)}**", shown)


def _decide(pair: tuple[int, str], reviewer: str, action: str, note_key: str, queue_name: str, seen: int) -> None:
    """A review button's click: record the decision on the pair that was shown, and keep any notice for the page."""
    if action == "skip":
        st.session_state.setdefault("skipped", set()).add(pair)
        return
    try:
        decision = decide(
            connection(), *pair, reviewer, action, st.session_state.get(note_key, ""), queue=queue_name, seen=seen
        )
    except QurateError as err:
        st.session_state["review_notices"] = [str(err)]
        return
    st.session_state["last_review"] = (
        (pair[0], None) if action == "bad query" else pair
    )  # a verdict on the query itself
    st.session_state["review_notices"] = decision.overtaken


def review_panel(con, corpus: int, reviewer: str) -> None:
    a, b, c = st.columns([2, 1, 1])
    names = list(QUEUES)  # your users' queries first, where there are some to review
    first = 0 if user_query_counts(con, corpus)["mined"] else names.index("spot-check")
    name = a.selectbox(
        "Queue", names, index=first, key="review_queue", help="\n".join(f"- {k}: {v}" for k, v in QUEUES.items())
    )
    types = query_types(con, corpus)
    qtype = b.selectbox("Query type", ["all", *types], key="review_type")
    grade = c.selectbox("Current grade", ["all", 0, 1, 2, 3], key="review_grade")
    st.caption(QUEUES[name])
    items = queue(
        con,
        corpus,
        name,
        qtype=None if qtype == "all" else qtype,
        grade=None if grade == "all" else int(grade),
        seed=st.session_state.setdefault("spot_seed", 0.42),
        limit=50,
    )
    skipped = st.session_state.setdefault("skipped", set())
    kept = [(q, p) not in skipped for q, p in zip(items["query_id"], items["passage_id"])]
    waiting = int(items["waiting"].iloc[0]) - kept.count(False) if len(items) else 0
    items = items[kept]
    counts = review_counts(con, corpus)
    st.caption(
        f"{count_of(waiting, 'item')} waiting in this view; {count_of(counts['decisions'], 'decision')} on "
        f"{count_of(counts['pairs'], 'pair')} by {count_of(counts['reviewers'], 'reviewer')} so far."
    )
    if items.empty:
        st.success("Nothing left in this queue.")
        return
    item = items.iloc[0]
    with st.container(border=True):
        st.markdown(f"**Query** ({item['qtype']}, {item['origin']}): {as_text(item['query'])}")
        current = "unlabelled" if pd.isna(item["grade"]) else f"{int(item['grade'])} ({GRADES[int(item['grade'])]})"
        judge = (
            "unsure" if pd.isna(item["llm_grade"]) else f"{int(item['llm_grade'])} ({GRADES[int(item['llm_grade'])]})"
        )
        st.caption(
            f"Candidate rank {item['rank']}{' · the passage this query was made from' if item['is_source'] else ''} · "
            f"judge {item['judge']}: {judge} — {item['rationale'] or ''} · effective label: {current}"
        )
        st.markdown(f"**{as_text(item['title'])}**")
        st.markdown(highlight(item["passage"], item["query"]))
    pair = (int(item["query_id"]), item["passage_id"])
    note_key = f"note_{pair[0]}_{pair[1]}"
    st.text_input("Note (optional)", key=note_key)
    seen = latest_review_id(con, *pair)  # the pair's newest decision as this reviewer sees it now
    columns = st.columns(len(SHORTCUTS) + 1)
    for column, (action, key) in zip(columns, SHORTCUTS.items()):
        # the callback's arguments are bound now, to the pair on screen: a click records on that pair even
        # if another reviewer's decision has moved it out of this queue in the meantime
        column.button(
            f"{action.capitalize()} ({key})",
            key=f"act_{action}",
            shortcut=key,
            disabled=not reviewer,
            on_click=_decide,
            args=(pair, reviewer, action, note_key, name, seen),
        )
    last = st.session_state.get("last_review")
    if columns[-1].button("Undo last", key="act_undo", disabled=not (reviewer and last)):
        record_review(con, last[0], last[1], reviewer, "undo", "undo from the review page", queue=name)
        st.session_state.pop("last_review")
        st.rerun()
    if not reviewer:
        st.warning("Enter your reviewer name in the sidebar to record decisions.")
    for notice in st.session_state.pop("review_notices", []):
        st.warning(notice)
    with st.expander("History of this pair"):
        st.dataframe(history(con, int(item["query_id"]), item["passage_id"]), hide_index=True, width="stretch")


def bulk_panel(con, corpus: int, reviewer: str) -> None:
    labels = effective_labels(con, corpus)
    labels = labels[labels["llm_grade"].notna() | labels["human_grade"].notna()]
    texts = query_texts(con, corpus)
    labels.insert(0, "query", labels["query_id"].map(texts))
    contains = st.text_input("Filter: query contains", key="bulk_contains")
    if contains:
        labels = labels[labels["query"].str.contains(contains, case=False, regex=False)]
    page = labels.head(500).copy()
    page["new grade"] = page["grade"].astype("Int64")
    st.caption(
        f"{len(labels):,} labelled pairs; the first 500 are editable. Change 'new grade' (0-3) and save: each change "
        "is recorded as your decision."
    )
    edited = st.data_editor(
        page[["query", "passage_id", "rank", "is_source", "llm_grade", "human_grade", "new grade"]],
        disabled=["query", "passage_id", "rank", "is_source", "llm_grade", "human_grade"],
        hide_index=True,
        width="stretch",
        key="bulk_editor",
    )
    if st.button("Save overrides", key="bulk_save", disabled=not reviewer):
        changes = [
            (int(before["query_id"]), before["passage_id"], int(after["new grade"]))
            for (_, before), (_, after) in zip(page.iterrows(), edited.iterrows())
            if pd.notna(after["new grade"])
            and (pd.isna(before["grade"]) or int(after["new grade"]) != int(before["grade"]))
        ]
        try:
            st.success(f"Recorded {record_bulk(con, reviewer, changes):,} overrides.")
        except QurateError as err:
            st.error(str(err))


def agreement_panel(con, corpus: int) -> None:
    figures = agreement(con, corpus)
    overall, spot = figures["overall"], figures["spot_check"]
    a, b, c = st.columns(3)
    a.metric("Reviewed pairs", f"{overall['n']:,}")
    b.metric("Judge-human agreement", "-" if overall["agreement"] is None else f"{overall['agreement']:.0%}")
    c.metric("Cohen's kappa", "-" if overall["kappa"] is None else f"{overall['kappa']:.2f}")
    if spot["n"]:
        st.info(
            f"From {spot['n']} random spot-checks, the judge's accuracy is {spot['accuracy']:.0%} "
            f"(95% interval {spot['low']:.0%}-{spot['high']:.0%})."
        )
    else:
        st.caption("Review items from the spot-check queue to estimate the judge's accuracy honestly.")
    if not figures["by_type"].empty:
        figure = px.bar(
            figures["by_type"],
            x="qtype",
            y="agreement",
            hover_data=["n", "kappa"],
            height=280,
            title="Agreement by query type",
        )
        st.plotly_chart(figure, width="stretch", key="agreement_chart")
    st.subheader("Export the curated training set")
    if st.button("Export JSONL, Hugging Face dataset and BEIR files", key="export_training"):
        try:
            paths = export_training_set(con, corpus, workspace_dir() / "exports" / f"training-corpus-{corpus}")
        except QurateError as err:
            st.error(str(err))
        else:
            st.success("Written: " + ", ".join(f"{k}: `{v}`" for k, v in paths.items()))
            st.download_button(
                "Download training.jsonl",
                paths["jsonl"].read_bytes(),
                file_name="training.jsonl",
                key="download_training",
            )
