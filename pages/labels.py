"""Labels & review: mine candidate passages for each query, have them judged, inspect labels."""

import streamlit as st

from core.embed import BUNDLED
from core.errors import QurateError
from core.judge import (
    LISTWISE_PROMPT,
    OFFLINE_RULE,
    POINTWISE_PROMPT,
    JudgeSettings,
    failed_labels,
    judge_candidates,
    training_counts,
)
from core.mine import mine_candidates, mining_summary, queries_to_mine
from pages._review import agreement_panel, bulk_panel, review_panel, reviewer_name
from pages._shared import llm_settings, meter_text, missing_key, open_page, stop_button

con, corpus = open_page("Labels & review")
kept = len(queries_to_mine(con, corpus))
if kept == 0:
    st.info("No queries yet: generate some on the Queries page first.")
    st.stop()


def mine_and_judge() -> None:
    """Steps 1-3: mine, judge, and what the labels give training."""

    for key in ("last_mining", "last_judging"):
        if key in st.session_state:
            level, message = st.session_state.pop(key)
            getattr(st, level)(message)

    mined = mining_summary(con, corpus)
    st.subheader("1. Mine candidates")
    st.caption(
        "BM25 and a dense model rank the whole corpus for every kept query; their reciprocal rank fusion gives "
        "each query's candidates, its source passage always among them. Queries whose source is not in the "
        "top 20 are flagged 'not retrieved' (the round-trip filter)."
    )
    a, b = st.columns(2)
    k = a.number_input("Candidates per query", 5, 100, 30, key="mine_k")
    model = b.text_input("Dense model (name or folder)", BUNDLED, key="mine_model")
    if st.button(
        f"Mine candidates for {kept:,} queries", type="primary" if not mined["queries"] else "secondary", key="mine"
    ):
        bar = st.progress(0.0, text="Starting")
        stop_button(st, "stop_mining", "the encoded passages and the queries' candidates")
        try:
            report = mine_candidates(
                con, corpus, int(k), model.strip() or BUNDLED, progress=lambda f, m: bar.progress(min(f, 1.0), text=m)
            )
        except QurateError as err:
            st.error(str(err))
            return
        st.session_state["last_mining"] = (
            "success",
            (
                f"Mined {report.candidates:,} candidates for {report.queries:,} queries in {report.seconds:.1f} s; the source "
                f"passage is in the top {int(k)} for {report.source_in_top_k:,}; {report.flagged_round_trip:,} queries flagged 'not retrieved'."
            ),
        )
        st.rerun()
    if mined["queries"]:
        st.caption(
            f"{mined['queries']:,} queries have {mined['candidates']:,} candidates; source in the top 10 for "
            f"{mined['source_top10']:,} ({mined['source_top10'] / mined['queries']:.0%})."
        )

    st.subheader("2. Judge")
    if not mined["queries"]:
        st.info("Mine candidates first.")
        return
    config = llm_settings(con, "judge", label="Judge")
    left, right = st.columns(2)
    mode = left.radio(
        "Calls",
        ["pointwise", "listwise"],
        horizontal=True,
        key="judge_calls",
        help="pointwise: one call per (query, passage); listwise: one call grades a query's whole list (cheaper).",
        disabled=config.offline,
    )
    top_n = right.number_input("Judge each query's top", 1, 100, 20, key="judge_top_n")
    margin = 0.05
    if config.offline:
        margin = st.slider("Offline margin", 0.0, 0.3, 0.05, 0.01, key="judge_margin")
        st.caption(OFFLINE_RULE.format(margin=margin))
        prompt = None
    else:
        default = POINTWISE_PROMPT if mode == "pointwise" else LISTWISE_PROMPT
        prompt = st.text_area("Judge prompt", default, height=260, key=f"judge_prompt_{mode}")
    settings = JudgeSettings(mode=mode, prompt=prompt, llm=config, max_candidates=int(top_n), margin=margin)
    if st.button(
        "Judge candidates",
        type="primary",
        key="judge",
        disabled=missing_key(config) is not None,
        help=f"Set {missing_key(config)} first (see above)." if missing_key(config) else None,
    ):
        bar = st.progress(0.0, text="Starting")
        stop_button(st, "stop_judging", "the labels")
        try:
            report = judge_candidates(
                con, corpus, settings, lambda m: bar.progress(m.done / max(m.planned, 1), text=meter_text(m))
            )
        except QurateError as err:
            st.error(f"{err}\n\nLabels made before the error are kept; run again to resume.")
            return
        message = (
            f"{report.judge}: {report.labelled:,} pairs labelled, {report.failed:,} failed, {report.skipped:,} already "
            f"judged; {meter_text(report.meter)}" + (f"; {report.meter.stopped}" if report.meter.stopped else "")
        )
        st.session_state["last_judging"] = ("warning" if report.failed or report.meter.stopped else "success", message)
        st.rerun()

    counts = training_counts(con, corpus)
    if not counts["labelled_queries"]:
        return
    st.subheader("3. What the labels give training")
    cols = st.columns(6)
    for col, (label, key) in zip(
        cols,
        [
            ("Labelled queries", "labelled_queries"),
            ("Confirmed sources", "confirmed_sources"),
            ("Bad queries", "bad_queries"),
            ("Rescued positives", "rescued_positives"),
            ("Hard negatives", "hard_negatives"),
            ("Human-reviewed", "reviewed"),
        ],
    ):
        col.metric(label, f"{counts[key]:,}")
    st.caption(
        "A source passage judged not relevant marks a bad query (left out of training); other candidates graded 2 "
        "or 3 are extra positives, never negatives; candidates graded 0 are the hard negatives, best-ranked first."
    )

    failed = failed_labels(con, corpus)
    if not failed.empty:
        with st.expander(f"Failed judgements ({len(failed):,} most recent): run again to retry them"):
            st.dataframe(failed, hide_index=True, width="stretch")


mine_tab, review_tab, table_tab, agreement_tab = st.tabs(
    ["Mine & judge", "Review", "Table & bulk edit", "Agreement & export"]
)
with mine_tab:
    mine_and_judge()
reviewer = reviewer_name()
with review_tab:
    review_panel(con, corpus, reviewer)
with table_tab:
    bulk_panel(con, corpus, reviewer)
with agreement_tab:
    agreement_panel(con, corpus)
