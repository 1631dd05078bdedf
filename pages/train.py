"""Train: Fine-tune a reranker (LCE) and a retriever (listwise distillation)."""

import streamlit as st

from pages._shared import active_corpus, connection
from storage.workspace import flow_counts

st.title("Train")
st.write("Fine-tune a reranker (LCE) and a retriever (listwise distillation).")
corpus = active_corpus(connection())
st.warning("This step is not built yet (tracked in issue #6); the counts below show what it will start from.")
st.json(flow_counts(connection(), corpus))
