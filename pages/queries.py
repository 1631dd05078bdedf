"""Queries: generate synthetic queries of several types per passage; preview, edit, filter."""

import plotly.express as px
import streamlit as st

from core.errors import QurateError
from core.generate import (
    MAX_PER_TYPE,
    GenerationSettings,
    counts_by_type,
    default_in_turn,
    default_types,
    delete_query,
    edit_query,
    estimate_generation,
    flag_counts,
    generate_queries,
    list_queries,
    regenerate_passage,
    restore_query,
    select_passages,
)
from core.llm import LOCAL, prompt_version
from core.prompts import DEFAULT_TEMPLATES, QUERY_TYPES, SYSTEM, TYPE_LABELS
from core.rates import duration
from core.userqueries import add_user_queries, user_query_counts
from core.vocabulary import USERS
from pages._shared import llm_settings, meter_text, missing_key, open_page, stop_button

con, corpus = open_page("Queries")

if "last_generation" in st.session_state:
    report = st.session_state.pop("last_generation")
    message = (
        f"{report.generator}: made {report.made:,} queries ({report.flagged:,} flagged), "
        f"{report.skipped:,} already there; {meter_text(report.meter)}."
    )
    (st.warning if report.meter.stopped or (report.failures and not report.made) else st.success)(
        message + (f" Run ended early: {report.meter.stopped}." if report.meter.stopped else "")
    )
    if report.failures:
        st.error(
            f"{len(report.failures)} calls failed after their retries; run again to retry them (queries made are "
            f"kept). First failure: {report.failures[0]['error'][:300]}"
        )
        st.dataframe(report.failures[:50], hide_index=True)

if "last_user_queries" in st.session_state:
    added = st.session_state.pop("last_user_queries")
    st.success(f"{added.added:,} users' queries stored; {added.duplicates:,} were there already or repeated.")
    if added.in_test_set:
        st.warning(
            f"{len(added.in_test_set):,} refused: a test set of this corpus holds the same text, and a model trained "
            "on a test query would be judged on what it learnt. First: " + added.in_test_set[0]
        )

users = user_query_counts(con, corpus)
with st.expander(f"Your users' queries ({users['queries']:,})", expanded=users["queries"] == 0):
    st.markdown(
        "The queries your users really type (a search log, a help-desk inbox, the questions your team answers "
        "every week) teach a model more than any generated query: they are the words your test will be in. "
        "They have no source passage, so they are mined like the others and then graded by an expert (Labels & "
        "review, queue *your users' queries*, the least certain first) or an LLM judge; the retriever's teacher "
        "scores the rest. docs/BENCHMARKS.md measures what they and an expert's hour buy."
    )
    upload = st.file_uploader(
        "A .txt (one query per line), .csv, .tsv or .jsonl with a query column",
        key="users_file",
        type=["txt", "csv", "tsv", "jsonl"],
    )
    pasted = st.text_area("Or paste them, one per line", key="users_pasted", height=100)
    column = st.text_input("Query column (CSV, TSV, JSONL; empty: query, text, question, ...)", key="users_column")
    if st.button("Add users' queries", key="add_users", disabled=upload is None and not pasted.strip()):
        name, data = (upload.name, upload.getvalue()) if upload is not None else ("pasted.txt", pasted.encode())
        try:
            st.session_state["last_user_queries"] = add_user_queries(con, corpus, name, data, column.strip() or None)
        except QurateError as err:
            st.error(f"{err}\n\nNothing was stored.")
            st.stop()
        st.rerun()

generated = counts_by_type(con, corpus)
with st.expander("Generate queries", expanded=generated[generated["qtype"] != USERS].empty):
    config = llm_settings(con, "gen")
    if config.offline:
        st.caption(
            "The offline generator (no LLM) builds each type from the passage and corpus statistics: "
            "questions from an informative sentence's subject or a task's title (\"How do I replace a chain?\"), "
            "keywords from TF-IDF, claims from content words. Where no rule makes a query that reads, it makes none "
            "(flagged 'empty'). By default it makes its two natural-language types, questions and casual searches, "
            "in turn (one query per passage; the other type where a passage's own makes none). Its queries use the "
            "passage's own words, where users use theirs: your users' queries (above) or an LLM's are closer to "
            "what your users type."
        )
    scope = st.radio("Passages", ["All", "Random sample", "Containing text"], horizontal=True, key="gen_scope")
    a, b = st.columns(2)
    sample_n = a.number_input("Sample size", 1, 1_000_000, 100, key="gen_sample_n", disabled=scope != "Random sample")
    contains = b.text_input("Text to contain", key="gen_contains", disabled=scope != "Containing text")
    mode = {"All": "all", "Random sample": "sample", "Containing text": "filter"}[scope]
    passage_ids = select_passages(con, corpus, mode, int(sample_n), 0, contains if mode == "filter" else "")

    st.write("Queries per passage, by type")
    columns = st.columns(len(QUERY_TYPES))
    small = config.offline or config.model == LOCAL  # the rules, and the local model (a CPU's pace): two types in turn
    made = default_types(small)  # the rules: their two natural-language types (measured); an LLM: all six
    suffix = "" if config.offline else "_local" if small else "_llm"  # each has its own inputs and defaults
    per_type = {
        t: int(columns[i].number_input(TYPE_LABELS[t], 0, MAX_PER_TYPE, made.get(t, 0), key=f"gen_n_{t}{suffix}"))
        for i, t in enumerate(QUERY_TYPES)
    }
    in_turn = st.checkbox(
        "Types in turn: each passage gets one of these types, not all of them",
        value=default_in_turn(small),
        key=f"gen_in_turn{suffix}",
        help="One query per passage, its type taken in turn: half the queries and half the training time "
        "of every type for every passage.",
    )
    templates = dict(DEFAULT_TEMPLATES)
    examples = ""
    if config.model == LOCAL:
        examples = st.text_area(
            "Your users' queries, to head every prompt (one per line; optional)",
            key="gen_examples_local",
            help="The local model continues a pattern: a few of your users' queries show it how they write.",
        )
    elif not config.offline:
        with st.popover("Prompts and few-shot examples"):
            tabs = st.tabs([TYPE_LABELS[t] for t in QUERY_TYPES])
            for tab, qtype in zip(tabs, QUERY_TYPES):
                templates[qtype] = tab.text_area(
                    "Template ({title}, {passage}, {examples})",
                    DEFAULT_TEMPLATES[qtype],
                    height=220,
                    key=f"gen_prompt_{qtype}",
                )
            examples = st.text_area(
                "Few-shot examples (one query per line; optional)",
                key="gen_examples",
                help="A few real queries of your users, so the LLM writes in their words.",
            )
            st.caption(
                "Versions: " + ", ".join(f"{t} `{prompt_version(SYSTEM, templates[t], examples)}`" for t in QUERY_TYPES)
            )

    try:
        settings = GenerationSettings(
            per_type=per_type, in_turn=in_turn, templates=templates, examples=examples, llm=config
        )
    except QurateError as err:
        st.error(str(err))
        st.stop()
    plan = estimate_generation(con, corpus, passage_ids, settings)
    cost = (
        "free (offline)"
        if config.offline
        else ("unknown (no price for this model)" if plan["cost_usd"] is None else f"about ${plan['cost_usd']:.4f}")
    )
    st.info(
        f"{len(passage_ids):,} passages → {plan['queries']:,} new queries ({plan['already_made']:,} already made); "
        + (
            ""
            if config.offline
            else f"{plan['calls']:,} LLM calls, about {plan['tokens_in'] + plan['tokens_out']:,} tokens; "
        )
        + f"cost {cost}"
        + ("." if plan["seconds"] is None else f"; time on this machine {duration(plan['seconds'])}.")
    )
    go, stop = st.columns([1, 5])
    if go.button(
        "Generate",
        type="primary",
        key="generate",
        disabled=plan["queries"] == 0 or missing_key(config) is not None,
        help=f"Set {missing_key(config)} first (see above)." if missing_key(config) else None,
    ):
        bar = st.progress(0.0, text="Starting")
        stop_button(stop, "stop_generation", "the queries")

        def show(meter):
            bar.progress(meter.done / max(meter.planned, 1), text=meter_text(meter))

        try:
            st.session_state["last_generation"] = generate_queries(con, corpus, passage_ids, settings, show)
        except QurateError as err:
            st.error(f"{err}\n\nQueries made before the error are kept; run again to resume.")
            st.stop()
        st.rerun()

counts = generated
if counts.empty:
    st.info("No queries yet: generate some above.")
    st.stop()

st.subheader("Queries by type")
long = counts.melt(id_vars="qtype", var_name="status", value_name="queries")
figure = px.bar(
    long,
    x="qtype",
    y="queries",
    color="status",
    barmode="stack",
    height=280,
    color_discrete_map={"kept": "#2f6f8f", "flagged": "#e0a030", "deleted": "#bbbbbb"},
)
figure.update_layout(margin=dict(t=10, b=10), xaxis_title=None)
st.plotly_chart(figure, width="stretch")
flags = flag_counts(con, corpus)
if flags:
    st.caption(
        "Flagged (left out of training unless restored): " + ", ".join(f"{k} {v:,}" for k, v in sorted(flags.items()))
    )

st.subheader("Preview and edit")
f1, f2, f3 = st.columns([1, 2, 2])
show = f1.selectbox("Show", ["kept", "flagged", "deleted", "all"], key="q_show")
types = f2.multiselect("Types", [*QUERY_TYPES, USERS], key="q_types")
contains = f3.text_input("Query contains", key="q_contains")
page, total = list_queries(con, corpus, qtypes=types, show=show, contains=contains, limit=200)
st.caption(
    f"{total:,} queries match; showing the first {len(page):,}. Edit a query's text, tick 'delete' or 'restore', then save."
)
page["delete"] = page["deleted"]
page["restore"] = page["restored"]
edited = st.data_editor(
    page[["id", "passage_id", "passage_title", "query", "qtype", "generator", "flags", "delete", "restore"]],
    disabled=["id", "passage_id", "passage_title", "qtype", "generator", "flags"],
    hide_index=True,
    width="stretch",
    key="query_editor",
)
if st.button("Save changes", key="save_queries"):
    changed = 0
    for (_, before), (_, after) in zip(page.iterrows(), edited.iterrows()):
        try:
            if after["query"] != before["query"]:
                edit_query(con, int(after["id"]), after["query"])
                changed += 1
            if bool(after["delete"]) != bool(before["deleted"]):
                delete_query(con, int(after["id"]), bool(after["delete"]))
                changed += 1
            if bool(after["restore"]) != bool(before["restored"]):
                restore_query(con, int(after["id"]), bool(after["restore"]))
                changed += 1
        except QurateError as err:
            st.error(f"Query {after['id']}: {err}")
    st.success(f"Saved {changed} changes.")
    st.rerun()

with st.expander("Regenerate the queries of one passage"):
    passage = st.selectbox("Passage", sorted(set(page["passage_id"].dropna())), key="regen_passage")
    st.caption("Its current queries are deleted (kept in the database) and new ones are made with the settings above.")
    if st.button("Regenerate", key="regenerate", disabled=passage is None):
        try:
            st.session_state["last_generation"] = regenerate_passage(con, corpus, passage, settings)
        except QurateError as err:
            st.error(str(err))
            st.stop()
        st.rerun()
