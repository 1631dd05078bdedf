"""The losses against hand computation: LCE, listwise distillation, InfoNCE, frozen documents, in-batch
negatives, bf16 mixed precision, the cross-encoder's group softmax."""

import math

import pytest
import torch
import torch.nn.functional as F

from core.training.losses import BiEncoderLCELoss, cross_encoder_lce, lce, listwise_distillation


def test_lce_is_the_softmax_cross_entropy_of_the_positive():
    scores = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    expected = (-math.log(math.exp(2) / (math.exp(2) + math.exp(1) + 1)) - math.log(1 / 3)) / 2
    assert float(lce(scores)) == pytest.approx(expected)


def test_lce_gradient_pushes_the_positive_up_and_negatives_down():
    scores = torch.tensor([[0.5, 0.4, 0.3]], requires_grad=True)
    lce(scores).backward()
    assert scores.grad[0, 0] < 0 and (scores.grad[0, 1:] > 0).all()


def test_distillation_equals_the_hand_computed_kl():
    student = torch.tensor([[0.9, 0.5, 0.1]])
    teacher = torch.tensor([[3.0, 1.0, 0.0]])
    p = [math.exp(t / 0.3) for t in (3.0, 1.0, 0.0)]
    p = [x / sum(p) for x in p]
    q = [math.exp(s / 0.05) for s in (0.9, 0.5, 0.1)]
    q = [x / sum(q) for x in q]
    kl = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    assert float(listwise_distillation(student, teacher, infonce_weight=0)) == pytest.approx(kl, rel=1e-4)


def test_distillation_is_zero_when_student_and_teacher_agree():
    teacher = torch.tensor([[3.0, 1.5, 0.0, 0.3]])
    student = teacher * (0.05 / 0.3)  # the same distribution after each temperature
    assert float(listwise_distillation(student, teacher, infonce_weight=0)) == pytest.approx(0.0, abs=1e-6)


def test_infonce_term_ignores_near_positives():
    teacher = torch.tensor([[3.0, 2.5, 0.0]])  # candidate 1 is above 0.6 x top: not a negative
    with_near = listwise_distillation(torch.tensor([[0.5, 0.9, 0.1]]), teacher, infonce_weight=1.0)
    kl_only = listwise_distillation(torch.tensor([[0.5, 0.9, 0.1]]), teacher, infonce_weight=0.0)
    infonce = F.cross_entropy(torch.tensor([[0.5, float("-inf"), 0.1]]) / 0.01, torch.tensor([0]))
    assert float(with_near - kl_only) == pytest.approx(float(infonce), rel=1e-5)


def test_frozen_document_loss_is_lce_and_distillation_over_the_fixed_vectors():
    from core.training.losses import FrozenDocumentLoss

    class Identity(torch.nn.Module):  # the "query encoder": a query's features are its embedding
        def forward(self, features):
            return {"sentence_embedding": features["x"]}

    documents = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]]), dim=-1)
    queries = {"x": torch.tensor([[1.0, 0.0], [0.0, 2.0]])}
    group = torch.tensor([[0, 1, 3], [1, 2, 0]])
    cosine = torch.tensor([[1.0, 0.0, -1.0], [1.0, 0.8, 0.0]])
    assert float(FrozenDocumentLoss(Identity(), documents, "lce")([queries], group)) == pytest.approx(
        float(lce(cosine * 20.0))
    )
    teacher = torch.tensor([[3.0, 0.5, 0.0], [3.5, 1.0, 0.0]])
    packed = torch.cat([group.float(), teacher], dim=1)
    expected = listwise_distillation(cosine, teacher)
    assert float(FrozenDocumentLoss(Identity(), documents, "distill")([queries], packed)) == pytest.approx(
        float(expected)
    )
    with pytest.raises(ValueError, match="lce or distill"):
        FrozenDocumentLoss(Identity(), documents, "mse")


def test_with_in_batch_negatives_the_batchs_documents_join_each_group_but_the_querys_own_positive():
    from core.training.losses import FrozenDocumentLoss

    class Identity(torch.nn.Module):
        def forward(self, features):
            return {"sentence_embedding": features["x"]}

    documents = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0], [0.8, 0.6]]), dim=-1)
    queries = {"x": torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.8, 0.6]])}
    group = torch.tensor([[0, 3], [1, 2], [0, 4]])  # queries 0 and 2 share their positive, document 0
    cosine = F.normalize(queries["x"], dim=-1) @ documents.T
    # each row: its group (positive first), then the batch's documents 0, 3, 1, 2, 0, 4 less every copy of its positive
    rows = [[0, 3, 3, 1, 2, 4], [1, 2, 0, 3, 2, 0, 4], [0, 4, 3, 1, 2, 4]]
    by_hand = [float(torch.logsumexp(20.0 * cosine[i, r], 0) - 20.0 * cosine[i, r[0]]) for i, r in enumerate(rows)]
    loss = FrozenDocumentLoss(Identity(), documents, "lce", in_batch=True)([queries], group)
    assert float(loss) == pytest.approx(sum(by_hand) / 3, rel=1e-4)
    assert float(loss) > float(FrozenDocumentLoss(Identity(), documents, "lce")([queries], group))
    assert FrozenDocumentLoss(Identity(), documents, "lce", in_batch=True).get_config_dict()["in_batch"] is True


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
        ),
    ],
)
def test_under_bf16_mixed_precision_the_scores_and_loss_stay_float32(device):
    """Training runs under bf16 autocast on a GPU and where the CPU has it: only the encoder's arithmetic may round;
    the cosine scores (about 3 significant digits in bf16, then times 20) and the loss are computed in fp32."""
    from core.training.losses import FrozenDocumentLoss

    class Linear(torch.nn.Module):  # an "encoder" whose matmul autocast runs in bf16
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(16, 16)

        def forward(self, features):
            return {"sentence_embedding": self.layer(features["x"])}

    torch.manual_seed(0)
    encoder, documents = Linear().to(device), F.normalize(torch.randn(12, 16), dim=-1).to(device)
    queries, group = {"x": torch.randn(4, 16, device=device)}, torch.randint(0, 12, (4, 5), device=device)
    columns = [{"x": torch.randn(4, 16, device=device)} for _ in range(4)]
    with torch.autocast(device, dtype=torch.bfloat16):
        frozen = FrozenDocumentLoss(encoder, documents, "lce")([queries], group)
        both = BiEncoderLCELoss(encoder)([queries, *columns])
        query, others = encoder(queries)["sentence_embedding"], [encoder(c)["sentence_embedding"] for c in columns]
    assert query.dtype == torch.bfloat16  # autocast was on for the encoder
    query, others = F.normalize(query.float(), dim=-1), torch.stack([F.normalize(c.float(), dim=-1) for c in others], 1)
    expected_frozen = lce(
        torch.einsum("qd,qkd->qk", query, documents[group]) * 20.0
    )  # the same embeddings, fp32 scores
    expected_both = lce(torch.einsum("qd,qkd->qk", query, others) * 20.0)
    assert frozen.dtype == both.dtype == torch.float32
    assert float(frozen) == pytest.approx(float(expected_frozen), rel=1e-5)
    assert float(both) == pytest.approx(float(expected_both), rel=1e-5)


def test_cross_encoder_lce_is_the_group_softmax():
    from sentence_transformers import CrossEncoder

    from core.embed import bundled_model_path

    loss = cross_encoder_lce(CrossEncoder(str(bundled_model_path()), num_labels=1))
    columns = [torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])]  # positive, negatives
    assert float(loss.calculate_loss(columns, 2)) == pytest.approx(float(lce(torch.stack(columns, dim=1))))
