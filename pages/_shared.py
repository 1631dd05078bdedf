"""What every page shares: the workspace connection and the active-corpus picker."""

import re
import threading

import streamlit as st

from core.errors import QurateError
from core.llm import LOCAL, OFFLINE, LLMConfig
from core.settings import database_path
from core.vocabulary import count_of  # noqa: F401  (pages say counts through it)
from core.workspace import get_setting, held_workspace, list_corpora, set_setting

ACTIVE_CORPUS = "active_corpus"


def _leave_legacy_multipage_mode() -> bool:
    """Mend a Streamlit start-up quirk, once per server process.

    Until some session has run app.py's st.navigation, Streamlit runs a deep-linked (or
    reloaded) /queries as pages/queries.py alone, in its legacy multipage mode: no
    navigation, a sidebar listing files. Turning that mode off when this module is
    first imported, and rerunning that one session, sends it through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        return True
    return False


_rerun_through_app = _leave_legacy_multipage_mode()


_run = threading.local()  # the workspace connection held by this thread (a session's script run)


def connection():
    """The workspace connection for this script run (a page, a fragment's rerun, a button's callback).

    Held from the first call until the run's thread ends: between runs the app holds nothing,
    so the command line, a notebook or a second app can use the workspace meanwhile."""
    global _rerun_through_app
    if _rerun_through_app:
        _rerun_through_app = False
        st.rerun()
    con = getattr(_run, "con", None)
    if con is None:
        try:
            hold = held_workspace()
            con = hold.__enter__()
        except QurateError as err:  # another process holds it, or it cannot be used: say so, and stop this page cleanly
            st.error(str(err))
            st.stop()
        _run.con = con
        threading.Thread(
            target=_release_after, args=(threading.current_thread(), hold), daemon=True, name="qurate-workspace-release"
        ).start()
    return con


def _release_after(thread: threading.Thread, hold) -> None:
    thread.join()
    hold.__exit__(None, None, None)


def active_corpus(con) -> int | None:
    """Show the corpus picker in the sidebar and return the active corpus id (None if none yet)."""
    listing = list_corpora(con)
    st.sidebar.caption(f"Workspace: `{database_path().parent}`")
    if listing.empty:
        st.sidebar.info("No corpus yet: add one on the Corpus page.")
        return None
    ids = listing["id"].tolist()
    names = dict(zip(listing["id"], listing["name"]))
    stored = get_setting(con, ACTIVE_CORPUS)
    current = int(stored) if stored and stored.isdigit() and int(stored) in ids else ids[-1]
    chosen = st.sidebar.selectbox(
        "Active corpus", ids, index=ids.index(current), format_func=lambda i: names[i], key="active_corpus_picker"
    )
    if chosen != current or stored != str(chosen):
        set_setting(con, ACTIVE_CORPUS, str(chosen))
    return chosen


def set_active_corpus(con, corpus: int) -> None:
    """Make ``corpus`` the active one for every page (and the next visit)."""
    set_setting(con, ACTIVE_CORPUS, str(corpus))
    st.session_state.pop("active_corpus_picker", None)


def load_secrets() -> None:
    """Copy Streamlit secrets (API keys) into the environment, where litellm reads them.

    Values already in the environment win. Nothing is written anywhere else.
    """
    import os

    from streamlit.errors import StreamlitSecretNotFoundError

    try:
        secrets = {k: v for k, v in st.secrets.items() if isinstance(v, str)}
    except StreamlitSecretNotFoundError:
        return
    for name, value in secrets.items():
        os.environ.setdefault(name, value)


KEY_NAMES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
}


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ("anthropic" if model.startswith("claude") else "openai")


def missing_key(config: LLMConfig) -> str | None:
    """The API key variable a hosted model needs and the environment lacks (None: set, not needed, or a server of
    your own at an API base, which may need none). Pages disable their LLM button while it is missing."""
    import os

    name = KEY_NAMES.get(_provider(config.model))
    return (
        None if config.offline or config.model == LOCAL or config.api_base or not name or os.environ.get(name) else name
    )


def key_status(model: str) -> str:
    """Which API key variable litellm will use for a model, and whether it is set (never its value)."""
    import os

    provider = _provider(model)
    name = KEY_NAMES.get(provider)
    if name is None:
        return f"provider `{provider}`: litellm reads its own settings (a local server may need no key)"
    return f"`{name}` is {'set' if os.environ.get(name) else 'NOT set: add it to the environment or .streamlit/secrets.toml'}"


def llm_settings(con, prefix: str, default_concurrency: int = LLMConfig.concurrency, label: str = "Generator"):
    """The model chooser shared by the Queries page (``label`` "Generator") and the Labels page ("Judge"); returns an
    LLMConfig: the rules (no model), the bundled local model, or any model litellm reaches.

    The choice, model and API base last used are remembered in the workspace (never the key).
    """
    from core.localmodel import LABEL, available

    load_secrets()
    modes = {"offline": "Rules (no model)", "local": LABEL, "llm": "LLM through litellm"}
    stored_mode = get_setting(con, "llm_mode")
    mode = st.radio(
        label,
        list(modes),
        format_func=modes.get,
        horizontal=True,
        key=f"{prefix}_mode",
        index=list(modes).index(stored_mode) if stored_mode in modes else 0,
        help="The rules need no model, key or network; their output is labelled 'no LLM' everywhere. The local "
        "model is a small real LLM that runs on this machine (Gemma's terms of use apply: "
        "https://ai.google.dev/gemma/terms). docs/BENCHMARKS.md measures both.",
    )
    set_setting(con, "llm_mode", mode)
    if mode == "offline":
        return LLMConfig(model=OFFLINE)
    if mode == "local":
        problem = available()
        if problem:
            st.warning(problem[0].upper() + problem[1:] + ".")
        st.caption(
            "Gemma 3 270M, a base model: it writes one line per few-shot prompt, on this machine's CPU "
            "(llama.cpp, in this process). Gemma's terms of use apply."
        )
        return LLMConfig(model=LOCAL, temperature=0.2, max_tokens=32)
    left, right = st.columns(2)
    stored = get_setting(con, "llm_model")
    model = left.text_input(
        "Model (litellm name)",
        value=stored or "gpt-4o-mini",
        key=f"{prefix}_model",
        help="e.g. gpt-4o-mini, anthropic/claude-3-5-haiku-latest, ollama/llama3.1, hosted_vllm/<name>",
    )
    api_base = right.text_input(
        "API base (self-hosted only)",
        value=get_setting(con, "llm_api_base") or "",
        help="A vLLM or Ollama server's URL; several, separated by commas, share the calls.",
        key=f"{prefix}_api_base",
    )
    st.caption(key_status(model))
    base = st.checkbox(
        "Base model (not instruction-tuned)",
        value=get_setting(con, "llm_base_model") == "yes",
        key=f"{prefix}_base_model",
        help="A base model continues text and follows no instruction: it gets few-shot prompts of one line each "
        "(text completion) instead of chat, and judges by its probability of 'yes'.",
    )
    a, b, c, d, e = st.columns(5)
    temperature = a.slider("Temperature", 0.0, 1.5, 0.7, 0.1, key=f"{prefix}_temperature")
    concurrency = b.number_input("Concurrency", 1, 64, default_concurrency, key=f"{prefix}_concurrency")
    budget = c.number_input("Budget (USD, 0 = none)", 0.0, 10_000.0, 1.0, 0.5, key=f"{prefix}_budget")
    tries = d.number_input("Tries per call", 1, 10, 4, key=f"{prefix}_tries")
    timeout = e.number_input(
        "Timeout per try (s)",
        0.1,
        600.0,
        60.0,
        5.0,
        key=f"{prefix}_timeout",
        help="A call that takes longer is abandoned and tried again (up to the tries above).",
    )
    set_setting(con, "llm_model", model.strip())
    set_setting(con, "llm_api_base", api_base.strip())
    set_setting(con, "llm_base_model", "yes" if base else "no")
    return LLMConfig(
        model=model.strip(),
        api_base=api_base.strip() or None,
        temperature=temperature,
        concurrency=int(concurrency),
        budget_usd=budget or None,
        max_tries=int(tries),
        timeout_s=float(timeout),
        completion=base,
    )


def meter_text(meter) -> str:
    """One line of live counts for a progress bar."""
    cost = (
        f"${meter.cost_usd:.4f}" + ("" if meter.cost_known else " + unknown")
        if meter.tokens_in or meter.cost_usd
        else "$0"
    )
    return (
        f"{meter.done:,}/{meter.planned:,} done ({meter.cached:,} cached), {meter.failed:,} failed, "
        f"{meter.tokens_in + meter.tokens_out:,} tokens, {cost}, {meter.seconds:.0f} s"
    )


STOPPED = "stopped_notice"


def stop_button(container, key: str, kept: str, notice: str | None = None) -> None:
    """A Stop button beside a long step's progress bar. A click makes Streamlit rerun the page, which
    ends the step at its next progress update; ``kept`` (what the step had stored) stays, and running
    the step again resumes from it. The next run of the page says so, or says ``notice`` instead
    (a step that stores nothing until its end)."""
    hint = (
        f"Stops now; {kept} so far are kept, and running the step again resumes."
        if notice is None
        else f"Stops now; {kept}."
    )
    notice = notice or f"Stopped. {kept[:1].upper() + kept[1:]} so far are kept; run the step again to resume."
    container.button("Stop", key=key, on_click=_stopped, args=(notice,), help=hint)


def _stopped(notice: str) -> None:
    st.session_state[STOPPED] = notice


def show_stopped() -> None:
    """Say that a step was stopped (once, on the run after the click)."""
    notice = st.session_state.pop(STOPPED, None)
    if notice:
        st.warning(notice)


def open_page(title: str) -> tuple:
    """The head of a page that works on the active corpus: its title, a stopped step's notice, the workspace
    and the active corpus; with no corpus yet, it says where to add one and stops the page."""
    st.title(title)
    show_stopped()
    con = connection()
    corpus = active_corpus(con)
    if corpus is None:
        st.info("No corpus yet: add one on the Corpus page first.")
        st.stop()
    return con, corpus


MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:&])")  # what Markdown and Streamlit's directives read


# a web address written out: Markdown makes a link of it, escaped or not ("http\://..."): a zero-width space after
# its scheme keeps it text
ADDRESS = re.compile(r"\b(https?|ftp|www)(?=\\[:.])", re.IGNORECASE)


def as_text(text: str) -> str:
    """Stored text for ``st.markdown`` shown as itself: every character Markdown or Streamlit would read (images,
    links, web addresses, HTML, LaTeX, colour directives, emphasis) escaped, so a passage can neither fetch from a
    host nor offer a link to one, nor change what the reader sees."""
    return ADDRESS.sub("\\1\u200b", MARKUP.sub(r"\\\1", text))
