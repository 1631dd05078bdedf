"""Labels & review: Mine candidate passages, have them judged, and review the labels."""

import streamlit as st

from pages._shared import active_corpus, connection
from storage.workspace import flow_counts

st.title("Labels & review")
st.write("Mine candidate passages, have them judged, and review the labels.")
corpus = active_corpus(connection())
st.warning("This step is not built yet (tracked in issue #4 and #5); the counts below show what it will start from.")
st.json(flow_counts(connection(), corpus))
