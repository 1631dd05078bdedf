"""Queries: Generate synthetic queries of several types for each passage, with an LLM or the offline generator."""

import streamlit as st

from pages._shared import active_corpus, connection
from storage.workspace import flow_counts

st.title("Queries")
st.write("Generate synthetic queries of several types for each passage, with an LLM or the offline generator.")
corpus = active_corpus(connection())
st.warning("This step is not built yet (tracked in issue #3); the counts below show what it will start from.")
st.json(flow_counts(connection(), corpus))
