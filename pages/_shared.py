"""What every page shares: the workspace connection and the active-corpus picker."""

import streamlit as st

from core.settings import database_path
from storage import corpora, workspace
from storage.db import shared_cursor

ACTIVE_CORPUS = "active_corpus"


def connection():
    """A cursor on the workspace database (one connection per process, shared by sessions)."""
    return shared_cursor(database_path())


def active_corpus(con) -> int | None:
    """Show the corpus picker in the sidebar and return the active corpus id (None if none yet)."""
    listing = corpora.list_corpora(con)
    st.sidebar.caption(f"Workspace: `{database_path().parent}`")
    if listing.empty:
        st.sidebar.info("No corpus yet: add one on the Corpus page.")
        return None
    ids = listing["id"].tolist()
    names = dict(zip(listing["id"], listing["name"]))
    stored = workspace.get_setting(con, ACTIVE_CORPUS)
    current = int(stored) if stored and stored.isdigit() and int(stored) in ids else ids[-1]
    chosen = st.sidebar.selectbox(
        "Active corpus", ids, index=ids.index(current), format_func=lambda i: names[i], key="active_corpus_picker"
    )
    if chosen != current or stored != str(chosen):
        workspace.set_setting(con, ACTIVE_CORPUS, str(chosen))
    return chosen


def set_active_corpus(con, corpus: int) -> None:
    """Make ``corpus`` the active one for every page (and the next visit)."""
    workspace.set_setting(con, ACTIVE_CORPUS, str(corpus))
    st.session_state.pop("active_corpus_picker", None)
