"""The two training objectives, as sentence-transformers losses.

Written here because no sentence-transformers loss is exactly either: the library's
MultipleNegativesRankingLoss adds in-batch negatives (LCE uses only the query's own
group), and DistillKLDivLoss has no InfoNCE term or teacher/student temperatures.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def lce(scores: Tensor) -> Tensor:
    """Localized Contrastive Estimation: softmax cross-entropy of the positive (column 0)
    within each row's group of scores, averaged over rows.

    >>> round(float(lce(torch.tensor([[2.0, 0.0, 0.0]]))), 4)  # -log(e^2 / (e^2 + 2))
    0.2395
    """
    return F.cross_entropy(scores, torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device))


def listwise_distillation(
    student: Tensor,
    teacher: Tensor,
    student_temperature: float = 0.05,
    teacher_temperature: float = 0.3,
    infonce_temperature: float = 0.01,
    infonce_weight: float = 0.1,
    near_positive: float = 0.6,
) -> Tensor:
    """KL(teacher || student) over each query's candidate list, plus a small InfoNCE term.

    Args:
        student: the student's similarities, shape (queries, candidates).
        teacher: the teacher's scores (a reranker's scores or LLM grades), same shape.
        near_positive: candidates the teacher scores above this fraction of its top score
            are not InfoNCE negatives. The InfoNCE positive is the teacher's top candidate.

    Defaults are those of Tamber et al. (2025)'s code.
    """
    target = F.softmax(teacher / teacher_temperature, dim=1)
    log_student = F.log_softmax(student / student_temperature, dim=1)
    kl = F.kl_div(log_student, target, reduction="batchmean")
    if infonce_weight == 0:
        return kl
    best = teacher.argmax(dim=1)
    top = teacher.gather(1, best[:, None])
    excluded = (teacher > near_positive * top) & ~F.one_hot(best, teacher.shape[1]).bool()
    logits = (student / infonce_temperature).masked_fill(excluded, float("-inf"))
    return kl + infonce_weight * F.cross_entropy(logits, best)


class BiEncoderLCELoss(nn.Module):
    """LCE over a bi-encoder's cosine similarities: columns (query, positive, negative_1..n).

    ``scale`` is 1 / temperature (20 = temperature 0.05).
    """

    def __init__(self, model, scale: float = 20.0):
        super().__init__()
        self.model = model
        self.scale = scale

    def forward(self, sentence_features, labels=None) -> Tensor:
        embeddings = [self.model(features)["sentence_embedding"] for features in sentence_features]
        with torch.autocast(embeddings[0].device.type, enabled=False):  # scores and loss in fp32
            query = F.normalize(embeddings[0].float(), dim=-1)
            documents = torch.stack([F.normalize(e.float(), dim=-1) for e in embeddings[1:]], dim=1)
            return lce(torch.einsum("qd,qkd->qk", query, documents) * self.scale)

    def get_config_dict(self):
        return {"scale": self.scale}


class ListwiseDistillationLoss(nn.Module):
    """Listwise distillation for a bi-encoder: columns (query, candidate_1..m), label = the
    teacher's m scores."""

    def __init__(
        self,
        model,
        student_temperature=0.05,
        teacher_temperature=0.3,
        infonce_temperature=0.01,
        infonce_weight=0.1,
        near_positive=0.6,
    ):
        super().__init__()
        self.model = model
        self.settings = dict(
            student_temperature=student_temperature,
            teacher_temperature=teacher_temperature,
            infonce_temperature=infonce_temperature,
            infonce_weight=infonce_weight,
            near_positive=near_positive,
        )

    def forward(self, sentence_features, labels: Tensor) -> Tensor:
        embeddings = [self.model(f)["sentence_embedding"] for f in sentence_features]
        with torch.autocast(embeddings[0].device.type, enabled=False):  # scores and loss in fp32
            embeddings = [F.normalize(e.float(), dim=-1) for e in embeddings]
            query, candidates = embeddings[0], torch.stack(embeddings[1:], dim=1)
            student = torch.einsum("qd,qkd->qk", query, candidates)
            return listwise_distillation(student, labels.to(student.dtype), **self.settings)

    def get_config_dict(self):
        return dict(self.settings)


def cross_encoder_lce(model):
    """LCE for a cross-encoder: the library's MultipleNegativesRankingLoss with no in-batch
    negatives, no scaling and no activation is exactly the softmax over the query's group."""
    from sentence_transformers.cross_encoder.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, num_negatives=0, scale=1.0, activation_fn=nn.Identity())


class FrozenDocumentLoss(nn.Module):
    """LCE or listwise distillation for a query encoder against fixed document vectors.

    The documents keep their base model's embeddings (``documents``, unit rows), so only
    the short queries pass through the model: training costs a fraction of a full
    bi-encoder's, the corpus is never re-encoded, and every cached vector stays valid.
    Labels index rows of ``documents``: for "lce" the group (positive first); for "distill"
    m indexes followed by the teacher's m scores. ``in_batch``: the documents of every group in
    the batch join each query's group as negatives, all but copies of the query's own positive
    (DPR's in-batch negatives; a query's own hard negatives thus count twice, the variant that
    measured best). Measured, CISI's long requests gain and MedQuAD's questions lose a little,
    so off by default (docs/BENCHMARKS.md).
    """

    def __init__(
        self,
        model,
        documents: Tensor,
        objective: str = "lce",
        scale: float = 20.0,
        in_batch: bool = False,
        **distill_settings,
    ):
        super().__init__()
        if objective not in ("lce", "distill"):
            raise ValueError(f"objective must be lce or distill, got {objective!r}")
        self.model, self.objective, self.scale, self.distill_settings = model, objective, scale, distill_settings
        self.in_batch = in_batch
        self.register_buffer("documents", documents.float(), persistent=False)

    def forward(self, sentence_features, labels: Tensor) -> Tensor:
        query = self.model(sentence_features[0])["sentence_embedding"]
        with torch.autocast(query.device.type, enabled=False):  # under mixed precision, scores and loss stay fp32
            return self._loss(F.normalize(query.float(), dim=-1), labels)

    def _loss(self, query: Tensor, labels: Tensor) -> Tensor:
        if self.objective == "lce":
            labels = labels.long()
            groups = self.documents.to(query.device)[labels]
            scores = torch.einsum("qd,qkd->qk", query, groups)
            if self.in_batch:  # the batch's documents join each group as negatives, all but the query's own positive
                batch = groups.reshape(-1, groups.shape[-1])
                others = (query @ batch.T).masked_fill(labels.reshape(-1) == labels[:, :1], float("-inf"))
                scores = torch.cat([scores, others], dim=1)
            return lce(scores * self.scale)
        m = labels.shape[1] // 2
        documents = self.documents.to(query.device)[labels[:, :m].long()]
        student = torch.einsum("qd,qkd->qk", query, documents)
        return listwise_distillation(student, labels[:, m:].to(student.dtype), **self.distill_settings)

    def get_config_dict(self):
        return {"objective": self.objective, "scale": self.scale, "in_batch": self.in_batch, **self.distill_settings}
