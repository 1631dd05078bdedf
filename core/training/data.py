"""Training sets built from the effective labels (human overrides win over the LLM's).

- LCE groups (reranker): a query, its source passage as the positive, and n hard
  negatives: candidates graded 0, best-ranked first (random corpus passages fill a
  group that has too few). Skipping the best-ranked, sampling among them or putting the
  source's title-mates first helped CISI by about 0.005 and cost MedQuAD as much
  (docs/BENCHMARKS.md): the hardest negatives stay.
- Distillation lists (retriever): a query, its labelled candidates and the teacher's
  scores for them, best-ranked first, padded with random passages. The teacher is the
  effective grade (0-3) plus a ranker's score, min-max normalised within the query's list
  (random padding gets 0). The ranker is by default an ensemble, the candidate's dense and
  BM25 scores weighted 0.5 each; a fine-tuned model of the workspace can take its place
  (``teacher``: its scores as evaluation computes them). The grade decides what is relevant;
  the ranker orders the rest, so the student learns the labels without unlearning what the
  rankers already get right (soft labels, as in GPL).

A query's text written for several passages (the same topic question of two documents' introductions, say)
has each of them for its source: the others are relevant to it, never its negatives, unless a reviewer graded
them (``training_labels``, which the export reads too). Queries whose source passage was judged not relevant, or that a reviewer called bad, are left out, and so is any query
whose text is also a held-out test query of the corpus. A dev split, by source passage
so that no passage is on both sides, drives early stopping and model selection.
"""

import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pandas as pd

from core.errors import InvalidInput, QurateError
from core.vocabulary import RELEVANT, USERS
from storage import labels as store
from storage.labels import training_counts  # noqa: F401  (what the command line reports after judging)

POSITIVE = RELEVANT
# Users' queries in the dev split for it to be drawn from them alone: the weight mix is chosen by a paired test over
# the dev queries, and with a handful of them nothing tells two mixes apart (docs/BENCHMARKS.md, users' queries).
MIN_USERS_DEV = 50


@dataclass
class TrainingData:
    groups: list[dict] = field(default_factory=list)
    lists: list[dict] = field(default_factory=list)
    dev: list[dict] = field(default_factory=list)
    counts: dict = field(default_factory=dict)


def _in_dev(passage_id: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha1(f"{seed}:{passage_id}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < fraction


def build_training_data(
    con: duckdb.DuckDBPyConnection,
    corpus: int,
    group_size: int = 8,
    list_size: int = 20,
    dev_fraction: float = 0.1,
    seed: int = 0,
    teacher: Callable[[list[str], list[list[str]]], list[np.ndarray]] | None = None,
    users_weight: int = 1,
) -> TrainingData:
    """LCE groups, distillation lists and a dev split from a corpus's effective labels.

    ``teacher`` scores each list's passages (queries, lists of passage ids -> one array per list);
    None: the dense + BM25 ensemble of the mining scores.

    Your users' queries (no source passage) join as their grades allow: an LCE group per passage graded
    relevant (by an expert or an LLM judge) with the candidates graded 0 as negatives, and a distillation list of
    their graded candidates, or of all their candidates scored by the teacher alone when none is graded. Each
    appears ``users_weight`` times, so a few hundred real queries are not drowned by thousands of generated ones.
    When at least ``MIN_USERS_DEV`` of them would fall in the dev split, the dev split is drawn from them alone
    (real queries judge a model better than generated ones); ``counts["dev_from"]`` says which.

    Raises:
        QurateError: no labelled query to train on.
    """
    if group_size < 2 or list_size < 2:
        raise InvalidInput("a group needs a positive and at least one negative (group size >= 2)")
    if users_weight < 1:
        raise InvalidInput(f"users_weight must be a whole number of at least 1, got {users_weight}")
    labels, twins = training_labels(con, corpus)
    labels = pd.concat([labels, _teacher_only(con, corpus, labels)], ignore_index=True)
    if labels.empty:
        raise QurateError(
            "no labelled candidates yet: mine and judge first (the Labels & review page, or `qurate mine` then "
            "`qurate judge`)"
        )
    from storage.corpora import held_out_texts, passage_texts
    from storage.queries import query_records
    from storage.reviews import bad_queries

    texts = dict(zip(*passage_texts(con, corpus)))
    queries = {i: (q["text"], q["qtype"], q["passage_id"]) for i, q in query_records(con, corpus).items()}
    held_out = held_out_texts(con, corpus)

    rejected = bad_queries(con, corpus)
    rng = random.Random(seed)
    all_ids = sorted(texts)
    data = TrainingData()
    judged = []  # per list: the grades of its labelled candidates, and the ensemble's scores of them
    skipped = {"bad_query": 0, "held_out_text": 0, "no_negative": 0}
    graded_users = {q for q, g in zip(labels["query_id"], labels["grade"]) if queries[q][2] is None and g >= POSITIVE}
    users_dev = sum(_in_dev(same_text(queries[q][0]), dev_fraction, seed) for q in graded_users) >= MIN_USERS_DEV
    for query_id, rows in _by_query(labels):
        text, qtype, source = queries[query_id]
        user = source is None
        copies = users_weight if user else 1
        if query_id in rejected:
            skipped["bad_query"] += 1
            continue
        if text.strip().lower() in held_out:
            skipped["held_out_text"] += 1
            continue
        if not _source_relevant(rows):
            skipped["bad_query"] += 1
            continue
        shared = twins.get(query_id, set())
        positives = [r["passage_id"] for r in rows if r["is_source"] or r["grade"] >= POSITIVE]
        negatives = [r["passage_id"] for r in rows if r["grade"] == 0]
        if not negatives:
            skipped["no_negative"] += 1
            continue
        reviewed = any(pd.notna(r["human_grade"]) for r in rows)
        in_dev = _in_dev(same_text(text), dev_fraction, seed) if user else _in_dev(source, dev_fraction, seed)
        if (user and users_dev and in_dev and positives) or (not user and not users_dev and in_dev):
            data.dev.append(
                {"query": text, "positive": [texts[p] for p in positives], "negative": [texts[p] for p in negatives]}
            )
            continue
        known = {r["passage_id"] for r in rows}
        fill = [
            p
            for p in rng.sample(all_ids, min(len(all_ids), group_size + list_size + len(known)))
            if p not in known and p not in shared
        ]
        group_negatives = (negatives + fill)[: group_size - 1]
        for positive in ([p for p in positives if p != source] if user else [source]) * copies:
            data.groups.append(
                {
                    "query_id": int(query_id),
                    "qtype": qtype,
                    "reviewed": reviewed,
                    "query": text,
                    "positive": texts[positive],
                    "negatives": [texts[p] for p in group_negatives],
                }
            )
        ranked = rows[:list_size]
        dense = np.array([r["dense_score"] for r in ranked], dtype=float)
        bm25 = np.array([r["bm25_score"] for r in ranked], dtype=float)
        for _ in range(copies):
            judged.append((np.array([r["grade"] for r in ranked], dtype=float), 0.5 * (_unit(dense) + _unit(bm25))))
            data.lists.append(
                {
                    "query_id": int(query_id),
                    "qtype": qtype,
                    "query": text,
                    "candidates": [r["passage_id"] for r in ranked] + fill[: list_size - len(ranked)],
                }
            )
    if teacher and judged:
        scores = teacher(
            [r["query"] for r in data.lists], [r["candidates"][: len(g)] for r, (g, _) in zip(data.lists, judged)]
        )
        ranker = [_unit(np.asarray(s, dtype=float)) for s in scores]
    else:
        ranker = [ensemble for _, ensemble in judged]
    for row, (grades, _), ranks in zip(data.lists, judged, ranker):  # random padding gets 0
        row["teacher"] = (grades + ranks).tolist() + [0.0] * (len(row["candidates"]) - len(grades))
        row["candidates"] = [texts[p] for p in row["candidates"]]
    data.counts = {
        "train_queries": len(data.groups),
        "dev_queries": len(data.dev),
        "dev_from": USERS if users_dev else "generated",
        "reviewed_queries": sum(g["reviewed"] for g in data.groups),
        "users_queries": len({g["query_id"] for g in data.groups if g["qtype"] == USERS}),
        "users_lists": len({r["query_id"] for r in data.lists if r["qtype"] == USERS}),
        "expert_grades": int(
            (labels["human_grade"].notna() & labels["query_id"].map(lambda q: queries[q][2] is None)).sum()
        ),
        "negatives": sum(len(g["negatives"]) for g in data.groups),
        "shared_text_positives": int(labels["twin"].sum()),
        "by_type": dict(
            sorted({t: sum(g["qtype"] == t for g in data.groups) for t in {g["qtype"] for g in data.groups}}.items())
        ),
        **{f"skipped_{k}": v for k, v in skipped.items()},
    }
    return data


def _teacher_only(con: duckdb.DuckDBPyConnection, corpus: int, graded: pd.DataFrame) -> pd.DataFrame:
    """The candidates of users' queries that nobody graded, each at grade 0: their distillation lists are the
    teacher's scores alone (they make no LCE group, having no positive)."""
    from storage.queries import query_records

    sourceless = {q for q, r in query_records(con, corpus).items() if r["passage_id"] is None}
    every = store.effective_labels(con, corpus)
    every = every[every["query_id"].isin(sourceless - set(graded["query_id"]))].copy()
    every["grade"], every["twin"] = 0, False
    return every


def training_labels(con: duckdb.DuckDBPyConnection, corpus: int) -> tuple[pd.DataFrame, dict[int, set[str]]]:
    """The graded effective labels as training reads them and the export writes them, and per query the other
    passages its text was written for.

    A text written for several passages has each of them for its source: a twin's source graded below relevant
    by a judge is lifted to relevant (``twin`` marks the row); a reviewer's grade stands.
    """
    from storage.queries import query_records
    from storage.reviews import bad_queries

    labels = store.effective_labels(con, corpus)
    labels = labels[labels["grade"].notna()].copy()
    queries = query_records(con, corpus)
    rejected = bad_queries(con, corpus)
    sources_of: dict[str, set[str]] = {}
    for query_id, rows in _by_query(labels):
        if query_id not in rejected and queries[query_id]["passage_id"] is not None and _source_relevant(rows):
            sources_of.setdefault(same_text(queries[query_id]["text"]), set()).add(queries[query_id]["passage_id"])
    twins = {
        int(q): others
        for q in labels["query_id"].unique()
        if (others := sources_of.get(same_text(queries[q]["text"]), set()) - {queries[q]["passage_id"]})
    }
    in_twins = pd.Series(
        [p in twins.get(q, ()) for q, p in zip(labels["query_id"], labels["passage_id"])], index=labels.index
    )
    labels["twin"] = in_twins & labels["human_grade"].isna() & (labels["grade"] < POSITIVE)
    labels.loc[labels["twin"], "grade"] = POSITIVE
    return labels, twins


def _by_query(labels: pd.DataFrame):
    """(query id, its label rows as dicts, best-ranked first) in query id order: plain records, as a DataFrame per
    query cost a CISI-sized export several seconds of pandas overhead."""
    records = labels.sort_values(["query_id", "rank"], kind="stable").to_dict("records")  # a missing rank last
    return ((int(q), list(rows)) for q, rows in itertools.groupby(records, key=lambda r: r["query_id"]))


def _source_relevant(rows: list[dict]) -> bool:
    """Whether a query's labels judge its own source relevant (or do not grade it)."""
    source = [r for r in rows if r["is_source"]]
    return not source or source[0]["grade"] >= POSITIVE


def same_text(text: str) -> str:
    """A query's text as two queries are the same query: case and spacing aside."""
    return " ".join(text.lower().split())


def _unit(values: np.ndarray) -> np.ndarray:
    """Min-max normalised to [0, 1] (all zeros when the values are equal; a missing value stays missing)."""
    if np.isnan(values).all():
        return values
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    return (values - low) / (high - low) if high > low else values * 0.0


def export(data: TrainingData, folder: Path) -> None:
    """Write train_groups.jsonl, train_lists.jsonl and dev.jsonl into a job folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train_groups", data.groups), ("train_lists", data.lists), ("dev", data.dev)):
        with (folder / f"{name}.jsonl").open("w") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
