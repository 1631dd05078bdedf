"""Evaluate: Compare baseline and fine-tuned models on held-out queries."""

import streamlit as st

from pages._shared import active_corpus, connection
from storage.workspace import flow_counts

st.title("Evaluate")
st.write("Compare baseline and fine-tuned models on held-out queries.")
corpus = active_corpus(connection())
st.warning("This step is not built yet (tracked in issue #7); the counts below show what it will start from.")
st.json(flow_counts(connection(), corpus))
