"""Compare: baseline and fine-tuned rankings side by side, for a test query or any query typed."""

import streamlit as st

from core.errors import QurateError
from core.evaluate import leaderboard, showcase_query, side_by_side, test_set_data
from core.systems import System, corpus_systems, default_pair
from core.workspace import test_sets
from pages._shared import as_text, open_page

con, corpus = open_page("Compare")

systems = [str(s) for s in corpus_systems(con, corpus)]
systems.insert(0, systems.pop(systems.index("dense")))
system_label = lambda s: System.parse(s).label(con)  # noqa: E731
default_left, default_right = default_pair(con, corpus)
a, b = st.columns(2)
left = a.selectbox(
    "Left (before)", systems, index=systems.index(str(default_left)), format_func=system_label, key="cmp_left"
)
right = b.selectbox(
    "Right (after)",
    systems,
    index=systems.index(str(default_right)),
    format_func=system_label,
    key="cmp_right",
    help="Opens on the newest model that neither its dev split flagged as worse than the baseline "
    "nor its latest evaluation on a test set scored below it.",
)
if not any(System.parse(s).model_id for s in systems):
    st.caption("No fine-tuned model yet: train one on the Train page to compare it with the baseline.")

sets = test_sets(con, corpus)
evaluated = {int(t): showcase_query(con, int(t), right) for t in sets["id"]} if left == "dense" else {}
showcase = next(((t, found) for t, found in evaluated.items() if found), None)
if (
    not showcase
    and System.parse(right).model_id is not None
    and any(any(r.system == right for r in leaderboard(con, t).rows) for t in evaluated)
):  # said whichever query source is picked
    st.warning(f"{system_label(right)} improved no test query over the baseline in its latest evaluation.")
options = ["Type a query", "Pick a test query"] if not sets.empty else ["Type a query"]
source = st.radio("Query", options, index=1 if showcase else 0, horizontal=True, key="cmp_source")
qrels = None
if source == "Pick a test query":
    ids = sets["id"].tolist()
    test_set = (
        int(sets["id"].iloc[0])
        if len(sets) == 1
        else st.selectbox(
            "Test set",
            ids,
            index=ids.index(showcase[0]) if showcase else 0,
            key="cmp_test_set",
            format_func=lambda i: sets.set_index("id").loc[i, "name"],
        )
    )
    _, queries, all_qrels = test_set_data(con, test_set)
    found = showcase_query(con, test_set, right) if left == "dense" else None
    ordered = sorted(queries)
    query_id = st.selectbox(
        "Test query",
        ordered,
        index=ordered.index(found[0]) if found else 0,
        format_func=lambda q: queries[q],
        key="cmp_query_id",
    )
    if found and query_id == found[0]:
        st.success(
            f"Opened on the test query {system_label(right)} improved most in its latest evaluation "
            f"(nDCG@10 {found[1]:+.3f} over the baseline)."
        )
    query, qrels = queries[query_id], all_qrels.get(query_id, {})
    st.markdown(f"**Query:** {as_text(query)}")  # whole: the select box cuts a long one
else:
    query = st.text_input("Query", key="cmp_query", placeholder="type what a user would search for")

if not query.strip():
    st.info("Type a query above: both systems rank the corpus for it, side by side.")
    st.stop()
try:
    result = side_by_side(con, corpus, query, left, right, qrels)
except QurateError as err:
    st.error(str(err))
    st.stop()
st.caption(
    f"Ranked in {result['seconds']:.2f} s. Each passage says whether the test set judged it relevant, not "
    "relevant, or not at all; arrows: places gained (▲) or lost (▼) against the left ranking, new: not in it."
)


def mark(row) -> str:
    """The judgement in words and colour: emoji need a font many machines lack, and then all marks look alike."""
    if row["relevance"] is None:
        return ":gray[not judged]"
    return ":green[**relevant**]" if row["relevance"] > 0 else ":red[not relevant]"


def move(row) -> str:
    if "moved" not in row:
        return ""
    if row["moved"] is None:
        return " new"
    return f" ▲{row['moved']}" if row["moved"] > 0 else (f" ▼{-row['moved']}" if row["moved"] < 0 else " =")


for column, side, system in zip(st.columns(2), ("left", "right"), (left, right)):
    with column:
        st.markdown(f"**{system_label(system)}**")
        for row in result[side]:
            with st.expander(
                f"{row['rank']}. {mark(row)} {as_text(row['title'] or row['passage_id'])}{move(row)} · {row['score']:.3f}"
            ):
                st.markdown(as_text(row["text"]))
                st.caption(f"passage {row['passage_id']} (document {row['doc_id']})")
