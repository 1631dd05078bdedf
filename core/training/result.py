"""What a finished training run measured, as the training process writes it and every reader reads it.

The figures are stored as a JSON object (result.json's ``metrics``, the ``models.metrics`` column) under the keys
``metrics()`` writes; ``TrainResult.of`` reads them back, so a key is spelt in this module only.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainResult:
    baseline_dev_ndcg: float | None  # the base model on the dev split, at the training length
    dev_ndcg: float | None  # the kept model on the dev split (the chosen weight mix's, where mixed)
    train_examples: int
    dev_queries: int
    steps: int
    weight_mix: float | None = None  # a x fine-tuned + (1 - a) x base, for a bi-encoder
    dev_ndcg_by_mix: dict | None = None  # every mix tried, the base (0) included

    @property
    def worse_than_baseline(self) -> bool:
        """Whether the kept model ranks the dev split below its base model: such a model is not promoted."""
        return (
            self.dev_ndcg is not None and self.baseline_dev_ndcg is not None and self.dev_ndcg < self.baseline_dev_ndcg
        )

    @property
    def dev_gain(self) -> float | None:
        """Dev nDCG@10 over the base model's, where both were measured."""
        if self.dev_ndcg is None or self.baseline_dev_ndcg is None:
            return None
        return self.dev_ndcg - self.baseline_dev_ndcg

    def metrics(self) -> dict:
        """The stored form."""
        stored = {
            "baseline_dev_ndcg@10": self.baseline_dev_ndcg,
            "dev_ndcg@10": self.dev_ndcg,
            "train_examples": self.train_examples,
            "dev_queries": self.dev_queries,
            "steps": self.steps,
            "worse_than_baseline": self.worse_than_baseline,
        }
        if self.weight_mix is not None:
            stored.update(weight_mix=self.weight_mix, **{"dev_ndcg@10_by_mix": self.dev_ndcg_by_mix})
        return stored

    @classmethod
    def of(cls, metrics: dict) -> "TrainResult":
        """A stored result read back (figures missing from it are None or 0)."""
        return cls(
            baseline_dev_ndcg=metrics.get("baseline_dev_ndcg@10"),
            dev_ndcg=metrics.get("dev_ndcg@10"),
            train_examples=int(metrics.get("train_examples") or 0),
            dev_queries=int(metrics.get("dev_queries") or 0),
            steps=int(metrics.get("steps") or 0),
            weight_mix=metrics.get("weight_mix"),
            dev_ndcg_by_mix=metrics.get("dev_ndcg@10_by_mix"),
        )
