"""The project's vocabulary, in one place: grades, review actions, metrics, origins.

Imported by core, storage, pages and the command line alike. Training methods are a registry of their own
(core/training/methods.py), evaluation systems a type of their own (core/systems.py).
"""

GRADES = {0: "not relevant", 1: "related", 2: "partially answers", 3: "answers"}  # the judge's and reviewers' scale
RELEVANT = 2  # a grade at or above this counts as relevant: positives, qrels, agreement
ACTIONS = {
    "relevant": 3,
    "partially": 2,
    "not relevant": 0,
}  # review actions that set a grade ("bad query" and "undo" do not)
METRICS = [
    "ndcg@10",
    "mrr@10",
    "map@10",
    "recall@10",
    "recall@100",
]  # what every evaluation run stores, per query (ranx)
HEADLINE = "ndcg@10"  # the metric charts, p-values and wins/losses are about
# A training job's states: queued (its folder prepared), running, then done, failed or cancelled
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)  # a job that may still write to its folder
USERS = "users"  # the origin and type of your users' real queries (core.userqueries), which have no source passage


def count_of(n: int, noun: str) -> str:
    """``1 passage``, ``2 passages``: a count and its noun, as a sentence says them."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
