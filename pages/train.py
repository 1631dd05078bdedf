"""Train: fine-tune a reranker (LCE) or a retriever (listwise distillation) in a background job."""

import plotly.express as px
import streamlit as st

from core.embed import BUNDLED
from core.errors import QurateError
from core.rates import duration
from core.systems import System, corpus_systems
from core.training.data import build_training_data
from core.training.jobs import cancel_job, export_model_zip, launch_job, list_jobs, list_models, model_card
from core.training.methods import LISTS, METHODS, TUNE
from core.training.spec import DEFAULTS, TrainSpec, device_summary, estimate_seconds, training_precision
from core.vocabulary import RUNNING
from pages._shared import connection, open_page

con, corpus = open_page("Train")

st.subheader("Training data")
a, b, c, d = st.columns(4)
group_size = a.number_input("Group size (1 positive + n negatives)", 2, 64, DEFAULTS["group_size"], key="train_group")
dev_fraction = b.slider(
    "Dev split",
    0.0,
    0.5,
    DEFAULTS["dev_fraction"],
    0.05,
    key="train_dev",
    help="By source passage; drawn from your users' graded queries alone when enough of them fall in it.",
)
seed = c.number_input(
    "Training seed",
    0,
    10_000,
    DEFAULTS["seed"],
    key="train_seed",
    help="Orders the training data and initialises training; the dev split stays the same for every seed, so two "
    "seeds' dev figures compare.",
)
users_weight = d.number_input(
    "Weight of your users' queries",
    1,
    50,
    DEFAULTS["users_weight"],
    key="train_users_weight",
    help="How many times each of your users' queries counts, beside one for each generated query.",
)
try:
    data = build_training_data(
        con,
        corpus,
        int(group_size),
        DEFAULTS["list_size"],
        dev_fraction,
        DEFAULTS["split_seed"],
        users_weight=int(users_weight),
    )
except QurateError as err:
    st.info(f"{err}.")
    st.stop()
counts = data.counts
cols = st.columns(6)
cols[0].metric("Training groups", f"{counts['train_queries']:,}")
cols[1].metric("Dev queries", f"{counts['dev_queries']:,}", help=f"drawn from {counts['dev_from']} queries")
cols[2].metric("Hard negatives", f"{counts['negatives']:,}")
cols[3].metric("Human-reviewed queries", f"{counts['reviewed_queries']:,}")
cols[4].metric(
    "Your users' queries",
    f"{counts['users_queries']:,}",
    help=f"with a passage graded relevant (LCE groups); {counts['users_lists']:,} teach the retriever's distillation",
)
cols[5].metric("Expert grades on them", f"{counts['expert_grades']:,}")
st.caption(
    "By type: "
    + ", ".join(f"{t} {n:,}" for t, n in counts["by_type"].items())
    + f". Left out: {counts['skipped_bad_query']:,} bad queries (source judged not relevant), "
    f"{counts['skipped_held_out_text']:,} identical to a held-out test query, {counts['skipped_no_negative']:,} without a negative."
)

st.subheader("Launch")
method = st.selectbox(
    "Method", list(METHODS), format_func=lambda m: f"{m}: {METHODS[m].description}", key="train_method"
)
base = st.text_input(
    "Base model (name or folder)",
    BUNDLED if not METHODS[method].cross_encoder else "",
    key=f"train_base_{method}",
    help="The offline default is the bundled MiniLM bi-encoder. For the cross-encoder path, name a trained "
    "cross-encoder (a folder, or a hub name on a machine with network).",
)
tune = st.radio(
    "What learns",
    list(TUNE),
    format_func=lambda t: f"{t}: {TUNE[t]}",
    key="train_tune",
    disabled=not METHODS[method].frozen_documents,
    help="Query-only training keeps every passage's cached vector, so it trains on a whole corpus in minutes "
    "on a CPU and the model needs no re-indexing. Full fine-tuning re-encodes passages at every step (a GPU's "
    "job) and can move further from the base model: confirm its gain on a test set of your own queries.",
)
teacher = "ensemble"
if METHODS[method].data == LISTS:
    tuned = [str(s) for s in corpus_systems(con, corpus) if s.model_id is not None]
    teacher = st.selectbox(
        "Teacher",
        ["ensemble"] + tuned[::-1],
        key="train_teacher",
        format_func=lambda t: (
            "ensemble: grades + dense + BM25 scores" if t == "ensemble" else f"grades + {System.parse(t).label(con)}"
        ),
        help="The student learns the teacher's order of each query's candidates: the judge's grade decides what is relevant, "
        "the teacher's scores (as evaluation computes them) order the rest: the grades weigh most and the teacher "
        "breaks their ties.",
    )
in_batch = DEFAULTS["in_batch"]
if TrainSpec(method=method, tune=tune).takes_in_batch:
    in_batch = st.checkbox(
        "In-batch negatives",
        DEFAULTS["in_batch"],
        key="train_in_batch",
        help="Every document of the batch (the other queries' groups) joins each query's group as a negative, free "
        "when the documents are frozen. More negatives per query; off by default. Try it where your queries are long "
        "descriptions of a topic, and confirm it on a test set of your own queries.",
    )
h = st.columns(6)
learning_rate = h[0].number_input("Learning rate", 1e-7, 1e-3, DEFAULTS["learning_rate"], format="%.1e", key="train_lr")
epochs = h[1].number_input("Epochs", 1, 20, int(DEFAULTS["epochs"]), key="train_epochs")
batch = h[2].number_input("Batch (queries)", 1, 512, DEFAULTS["batch_size"], key="train_batch")
max_length = h[3].number_input(
    "Max length (tokens)",
    32,
    512,
    DEFAULTS["max_length"],
    key="train_max_length",
    help="Training truncates query and passages to this many tokens (shorter is faster); "
    "a bi-encoder is saved with its base model's length for use.",
)
max_steps = h[4].number_input(
    "Max steps (0: all)", 0, 1_000_000, 0, key="train_max_steps", help="Stop after this many steps: a quick trial."
)
name = h[5].text_input("Model name", f"{method} on {counts['train_queries']} queries", key="train_name")
device = device_summary()
draft = TrainSpec(
    method=method,
    tune=tune,
    epochs=int(epochs),
    batch_size=int(batch),
    group_size=int(group_size),
    max_steps=int(max_steps) or -1,
)
on_gpu = not device.startswith("CPU")
seconds = estimate_seconds(draft, counts["train_queries"], cuda=on_gpu, precision=training_precision())
estimate = duration(seconds) + (" at the rate measured on an H200" if on_gpu else "")
st.caption(f"Device: {device}. Estimated time of the job, start to model: {estimate}.")
if not on_gpu and (tune == "full" or not METHODS[method].frozen_documents):
    st.info(
        "This method passes every passage of every group through the model at each step: on a CPU that is slow. "
        "A GPU helps: `qurate train CORPUS --tune full --epochs 1 --prepare-only` writes the job folder; copy it to the GPU "
        "machine and run `python -m core.training.run FOLDER` (several GPUs: `accelerate launch --multi_gpu --num_processes N "
        "-m core.training.run FOLDER`; bf16 where the GPU supports it), copy the folder back, and this page records the model."
    )
if st.button(
    "Start training", type="primary", key="start_training", disabled=METHODS[method].cross_encoder and not base.strip()
):
    try:
        spec = draft.replace(
            name=name.strip(),
            base_model=base.strip() or BUNDLED,
            learning_rate=learning_rate,
            max_length=int(max_length),
            seed=int(seed),
            dev_fraction=dev_fraction,
            teacher=teacher,
            in_batch=bool(in_batch),
            users_weight=int(users_weight),
        )
        with st.spinner(
            "Exporting the training data" + (" (the teacher scores every list first)" if teacher != "ensemble" else "")
        ):
            job_id = launch_job(con, corpus, spec)
    except QurateError as err:
        st.error(str(err))
    else:
        st.success(f"Job {job_id} started; it runs on even if you leave this page.")


def _cancel(job_id: int) -> None:
    cancel_job(connection(), job_id)  # the click's run's connection (a bound one would be a closed run's)


@st.fragment(run_every=3)
def jobs_panel() -> None:
    jobs = list_jobs(connection(), corpus)
    if not jobs:
        st.caption("No training job yet.")
        return
    running = {job["id"] for job in jobs if job["status"] == RUNNING}
    if st.session_state.get("running_jobs", set()) - running:  # a job just ended: refresh the models below
        st.session_state["running_jobs"] = running
        st.rerun(scope="app")
    st.session_state["running_jobs"] = running
    for newest, job in enumerate(jobs[:10]):
        logs = [p for p in job["progress"] if p.get("event") == "log"]
        start = next((p for p in job["progress"] if p.get("event") == "start"), {})
        took = "" if job["seconds"] is None else f" · {job['seconds'] // 60:.0f} min {job['seconds'] % 60:02.0f} s"
        title = f"Job {job['id']}: {job['spec'].get('name') or job['spec']['method']} · {job['status']}{took}"
        with st.expander(title, expanded=job["status"] == RUNNING or newest == 0):
            if start:
                st.caption(
                    f"{start['train_examples']:,} examples, {start['dev_queries']:,} dev queries, {start['device']} "
                    f"{start['precision']}; baseline dev nDCG@10 "
                    + ("-" if start.get("baseline_dev_ndcg@10") is None else f"{start['baseline_dev_ndcg@10']:.3f}")
                )
            if logs:
                last = logs[-1]
                total = max(last.get("total_steps") or 1, 1)
                eta = (
                    f", about {last['eta_s'] / 60:.0f} min left"
                    if last.get("eta_s") and job["status"] == RUNNING
                    else ""
                )
                st.progress(min(last["step"] / total, 1.0), text=f"step {last['step']:,}/{total:,}{eta}")
                losses = [p for p in logs if "loss" in p]
                if losses:
                    figure = px.line(
                        x=[p["step"] for p in losses],
                        y=[p["loss"] for p in losses],
                        labels={"x": "step", "y": "loss"},
                        height=220,
                    )
                    figure.update_layout(margin=dict(t=10, b=10))
                    st.plotly_chart(figure, width="stretch", key=f"loss_{job['id']}")
                evals = [p for p in logs if "eval_dev_ndcg@10" in p]
                if evals:
                    st.caption(
                        "Dev nDCG@10 by step: " + ", ".join(f"{p['step']}: {p['eval_dev_ndcg@10']:.3f}" for p in evals)
                    )
            if job["status"] == RUNNING:
                st.button("Cancel", key=f"cancel_{job['id']}", on_click=_cancel, args=(job["id"],))
            card = model_card(job)
            if card:
                st.text(card)  # the model card the zip carries, as written (text: not rendered)
            if job["error"]:
                st.error(job["error"])
                log = __import__("pathlib").Path(job["folder"]) / "train.log"
                if log.exists():
                    st.code(log.read_text()[-3000:])


st.subheader("Jobs")
jobs_panel()

st.subheader("Models")
models = list_models(con, corpus)
if models.empty:
    st.caption("No fine-tuned model yet.")
else:
    worse = models[models["worse_than_baseline"]]
    if not worse.empty:
        st.warning(
            f"{len(worse)} model(s) rank worse than their baseline on the dev split: they are flagged and not promoted "
            f"({', '.join(worse['name'])})."
        )
    st.dataframe(
        models[
            [
                "id",
                "name",
                "kind",
                "base_model",
                "baseline_dev_ndcg@10",
                "dev_ndcg@10",
                "mixed_with_base",
                "worse_than_baseline",
                "path",
            ]
        ],
        hide_index=True,
        width="stretch",
    )
    chosen = st.selectbox(
        "Export a model",
        models["id"].tolist(),
        format_func=lambda i: models.set_index("id").loc[i, "name"],
        key="export_model",
    )
    if st.button("Prepare zip", key="prepare_zip"):
        try:
            path = export_model_zip(con, int(chosen), corpus)
        except QurateError as err:
            st.error(str(err))
        else:
            st.download_button("Download zip", path.read_bytes(), file_name=path.name, key="download_zip")
