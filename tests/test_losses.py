"""Tests for ranksuite.shared.losses: hand-computed values, shapes, edge cases, registry."""

from __future__ import annotations

import doctest
import importlib
import math

import pytest
import torch

from ranksuite.shared.losses import (
    LOSSES,
    NEEDS_TEACHER,
    InBatchInfoNCE,
    ListwiseKL,
    LocalizedContrastive,
    MarginMSE,
    PointwiseBCE,
    RankNet,
    build_loss,
)

EXPECTED_NAMES = {"bce", "contrastive", "infonce", "margin-mse", "kl", "ranknet"}


def softplus(x: float) -> float:
    """log(1 + e^x), written out by hand."""
    return math.log(1.0 + math.exp(x))


def neg_log_softmax(row: list[float], index: int) -> float:
    """-log(e^row[index] / sum_k e^row[k]), written out by hand."""
    return -row[index] + math.log(sum(math.exp(v) for v in row))


def assert_close(actual: torch.Tensor, expected: float) -> None:
    assert actual.dim() == 0, f"loss must be a scalar, got shape {tuple(actual.shape)}"
    assert actual.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


# ----------------------------------------------------------------------------- PointwiseBCE


def test_bce_hand_computed() -> None:
    scores = torch.tensor([[0.0, 2.0], [-1.0, 3.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # y=1: -log sigmoid(x) = log(1 + e^-x); y=0: -log(1 - sigmoid(x)) = log(1 + e^x)
    cells = [softplus(-0.0), softplus(2.0), softplus(-1.0), softplus(-3.0)]
    assert_close(PointwiseBCE()(scores, labels), sum(cells) / 4)


def test_bce_requires_labels_of_same_shape() -> None:
    with pytest.raises(ValueError):
        PointwiseBCE()(torch.zeros(2, 3), None)
    with pytest.raises(ValueError):
        PointwiseBCE()(torch.zeros(2, 3), torch.zeros(2, 2))


def test_bce_accepts_integer_labels() -> None:
    scores = torch.tensor([[0.0, 0.0]])
    assert_close(PointwiseBCE()(scores, torch.tensor([[1, 0]])), math.log(2.0))


# ----------------------------------------------------------------------------- LocalizedContrastive


def test_lce_hand_computed() -> None:
    scores = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    row0 = -2.0 + math.log(math.exp(2.0) + math.exp(1.0) + math.exp(0.0))
    row1 = math.log(3.0)
    assert_close(LocalizedContrastive()(scores, None), (row0 + row1) / 2)


def test_lce_temperature_and_targets_ignored() -> None:
    scores = torch.tensor([[2.0, 1.0, 0.0]])
    # temperature 2 -> logits [1, 0.5, 0]
    expected = -1.0 + math.log(math.exp(1.0) + math.exp(0.5) + 1.0)
    loss = LocalizedContrastive(temperature=2.0)
    assert_close(loss(scores, None), expected)
    assert_close(loss(scores, torch.tensor([[9.0, 9.0, 9.0]])), expected)


def test_lce_positive_must_be_column_zero() -> None:
    good = torch.tensor([[5.0, 0.0]])
    bad = torch.tensor([[0.0, 5.0]])
    loss = LocalizedContrastive()
    assert_close(loss(good, None), softplus(-5.0))
    assert_close(loss(bad, None), softplus(5.0))


def test_lce_rejects_single_column() -> None:
    with pytest.raises(ValueError):
        LocalizedContrastive()(torch.zeros(3, 1), None)


# ----------------------------------------------------------------------------- InBatchInfoNCE


def test_infonce_hand_computed_layout() -> None:
    # B=2, G=2: columns [q0+, q0-, q1+, q1-]; row 0 targets col 0, row 1 targets col 2.
    scores = torch.tensor([[0.5, 0.2, 0.1, -0.3], [0.4, 0.0, 0.6, 0.3]])
    t = 0.5
    row0 = neg_log_softmax([v / t for v in [0.5, 0.2, 0.1, -0.3]], 0)
    row1 = neg_log_softmax([v / t for v in [0.4, 0.0, 0.6, 0.3]], 2)
    assert_close(InBatchInfoNCE(temperature=t)(scores, None), (row0 + row1) / 2)


def test_infonce_default_temperature_is_scale_20() -> None:
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8]])  # G=1, target = diagonal
    row0 = neg_log_softmax([18.0, 2.0], 0)
    row1 = neg_log_softmax([4.0, 16.0], 1)
    assert InBatchInfoNCE().temperature == pytest.approx(0.05)
    assert_close(InBatchInfoNCE()(scores, None), (row0 + row1) / 2)


def test_infonce_targets_are_group_starts_not_diagonal() -> None:
    # B=3, G=3: the targets are columns 0, 3, 6. Put a large score exactly there -> near-zero loss.
    scores = torch.zeros(3, 9)
    scores[0, 0] = scores[1, 3] = scores[2, 6] = 10.0
    assert InBatchInfoNCE(temperature=1.0)(scores, None).item() < 1e-3
    # The diagonal (0, 1, 2) is wrong for rows 1 and 2 -> large loss.
    diag = torch.zeros(3, 9)
    diag[0, 0] = diag[1, 1] = diag[2, 2] = 10.0
    assert InBatchInfoNCE(temperature=1.0)(diag, None).item() > 5.0


def test_infonce_rejects_bad_shape() -> None:
    with pytest.raises(ValueError):
        InBatchInfoNCE()(torch.zeros(2, 5), None)
    with pytest.raises(ValueError):
        InBatchInfoNCE()(torch.zeros(4, 2), None)
    with pytest.raises(ValueError):
        InBatchInfoNCE()(torch.zeros(6), None)


# ----------------------------------------------------------------------------- MarginMSE


def test_margin_mse_hand_computed() -> None:
    student = torch.tensor([[3.0, 1.0, 0.0], [0.0, 1.0, -1.0]])
    teacher = torch.tensor([[2.0, 1.0, 1.0], [4.0, 2.0, 5.0]])
    # row 0: student margins [2, 3], teacher margins [1, 1] -> errors 1, 2
    # row 1: student margins [-1, 1], teacher margins [2, -1] -> errors -3, 2
    squared = [1.0**2, 2.0**2, (-3.0) ** 2, 2.0**2]
    assert_close(MarginMSE()(student, teacher), sum(squared) / 4)


def test_margin_mse_g2_equals_paper_formula() -> None:
    torch.manual_seed(0)
    student = torch.randn(5, 2)
    teacher = torch.randn(5, 2)
    expected = sum(
        ((student[b, 0] - student[b, 1]).item() - (teacher[b, 0] - teacher[b, 1]).item()) ** 2
        for b in range(5)
    )
    assert_close(MarginMSE()(student, teacher), expected / 5)


def test_margin_mse_is_shift_invariant() -> None:
    student = torch.tensor([[1.0, 0.5, -2.0]])
    teacher = torch.tensor([[11.0, 10.5, 8.0]])  # teacher = student + 10
    assert_close(MarginMSE()(student, teacher), 0.0)


def test_margin_mse_errors() -> None:
    with pytest.raises(ValueError):
        MarginMSE()(torch.zeros(2, 2), None)
    with pytest.raises(ValueError):
        MarginMSE()(torch.zeros(2, 1), torch.zeros(2, 1))
    with pytest.raises(ValueError):
        MarginMSE()(torch.zeros(2, 3), torch.zeros(2, 2))


# ----------------------------------------------------------------------------- ListwiseKL


def _kl_by_hand(student: list[float], teacher: list[float], t: float) -> float:
    zs = sum(math.exp(v / t) for v in student)
    zt = sum(math.exp(v / t) for v in teacher)
    q = [math.exp(v / t) / zs for v in student]
    p = [math.exp(v / t) / zt for v in teacher]
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))


def test_kl_hand_computed() -> None:
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    # p = [3/4, 1/4], q = [1/2, 1/2]
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert_close(ListwiseKL()(student, teacher), expected)


def test_kl_batchmean_and_temperature_squared() -> None:
    s = [[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]]
    t = [[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]]
    temp = 2.0
    expected = temp**2 * (_kl_by_hand(s[0], t[0], temp) + _kl_by_hand(s[1], t[1], temp)) / 2
    assert_close(ListwiseKL(temperature=temp)(torch.tensor(s), torch.tensor(t)), expected)


def test_kl_zero_when_student_equals_teacher() -> None:
    torch.manual_seed(1)
    scores = torch.randn(4, 6)
    for temp in (0.5, 1.0, 3.0):
        assert ListwiseKL(temperature=temp)(scores, scores.clone()).abs().item() < 1e-6


def test_kl_is_nonnegative_and_needs_teacher() -> None:
    torch.manual_seed(2)
    assert ListwiseKL()(torch.randn(3, 4), torch.randn(3, 4)).item() >= 0.0
    with pytest.raises(ValueError):
        ListwiseKL()(torch.zeros(2, 2), None)


# ----------------------------------------------------------------------------- RankNet


def test_ranknet_hand_computed_mean_over_batch_pairs() -> None:
    student = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.5, 1.0]])
    teacher = torch.tensor([[3.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
    # row 0: teacher pairs (0,1), (0,2); (1,2) is a tie -> ignored
    #   -log sigmoid(1 - 0) = log(1 + e^-1); -log sigmoid(1 - 2) = log(1 + e^1)
    # row 1: teacher pairs (2,1), (2,0), (1,0)
    #   -log sigmoid(1 - 0.5), -log sigmoid(1 - 0), -log sigmoid(0.5 - 0)
    pairs = [softplus(-1.0), softplus(1.0), softplus(-0.5), softplus(-1.0), softplus(-0.5)]
    assert_close(RankNet()(student, teacher), sum(pairs) / 5)


def test_ranknet_ignores_ties() -> None:
    student = torch.tensor([[0.3, -1.0, 2.0, 0.7]])
    teacher = torch.tensor([[1.0, 0.0, 0.0, 0.0]])  # only (0,1), (0,2), (0,3) count
    pairs = [softplus(-(0.3 - -1.0)), softplus(-(0.3 - 2.0)), softplus(-(0.3 - 0.7))]
    assert_close(RankNet()(student, teacher), sum(pairs) / 3)


def test_ranknet_all_ties_gives_zero_with_graph() -> None:
    student = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    loss = RankNet()(student, torch.ones(1, 3))
    assert_close(loss, 0.0)
    loss.backward()
    assert student.grad is not None
    assert torch.all(student.grad == 0)


def test_ranknet_is_scale_free_in_teacher() -> None:
    student = torch.tensor([[0.1, 0.9, -0.4]])
    teacher = torch.tensor([[3.0, 1.0, 2.0]])
    loss = RankNet()
    assert loss(student, teacher).item() == pytest.approx(loss(student, 100.0 * teacher - 7.0).item())


# ----------------------------------------------------------------------------- shared behaviour


def _inputs(name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(3)
    b, g = 3, 4
    if name == "infonce":
        return torch.randn(b, b * g, generator=gen), None
    if name == "bce":
        return torch.randn(b, g, generator=gen), (torch.rand(b, g, generator=gen) > 0.5).float()
    if name == "contrastive":
        return torch.randn(b, g, generator=gen), None
    return torch.randn(b, g, generator=gen), torch.randn(b, g, generator=gen)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_gradients_flow_to_scores_only(name: str) -> None:
    scores, targets = _inputs(name)
    scores.requires_grad_(True)
    if targets is not None and NEEDS_TEACHER[name]:
        targets.requires_grad_(True)
    loss = build_loss(name)(scores, targets)
    assert loss.dim() == 0
    assert torch.isfinite(loss)
    loss.backward()
    assert scores.grad is not None
    assert torch.isfinite(scores.grad).all()
    assert scores.grad.abs().sum().item() > 0
    if targets is not None and NEEDS_TEACHER[name]:
        assert targets.grad is None  # teacher scores are detached


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_float64_and_batch_mean(name: str) -> None:
    """Scalar output; duplicating the batch leaves the mean unchanged."""
    scores, targets = _inputs(name)
    loss = build_loss(name)
    single = loss(scores.double(), None if targets is None else targets.double())
    assert single.dtype == torch.float64
    if name == "infonce":
        return  # duplicating rows changes the in-batch negatives
    doubled = loss(
        torch.cat([scores, scores]).double(),
        None if targets is None else torch.cat([targets, targets]).double(),
    )
    assert doubled.item() == pytest.approx(single.item(), rel=1e-9)


def test_registry_keys_and_classes() -> None:
    assert set(LOSSES) == EXPECTED_NAMES
    assert set(NEEDS_TEACHER) == EXPECTED_NAMES
    assert {k for k, v in NEEDS_TEACHER.items() if v} == {"margin-mse", "kl", "ranknet"}
    assert LOSSES["bce"] is PointwiseBCE
    assert LOSSES["contrastive"] is LocalizedContrastive
    assert LOSSES["infonce"] is InBatchInfoNCE
    assert LOSSES["margin-mse"] is MarginMSE
    assert LOSSES["kl"] is ListwiseKL
    assert LOSSES["ranknet"] is RankNet
    for cls in LOSSES.values():
        assert issubclass(cls, torch.nn.Module)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_build_loss_returns_instance(name: str) -> None:
    assert isinstance(build_loss(name), LOSSES[name])


def test_build_loss_passes_kwargs() -> None:
    loss = build_loss("kl", temperature=2.0)
    assert isinstance(loss, ListwiseKL)
    assert loss.temperature == 2.0


def test_build_loss_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError) as info:
        build_loss("hinge")
    message = str(info.value)
    assert "hinge" in message
    for name in EXPECTED_NAMES:
        assert name in message


@pytest.mark.parametrize("temp", [0.0, -1.0])
@pytest.mark.parametrize("name", ["contrastive", "infonce", "kl"])
def test_nonpositive_temperature_rejected(name: str, temp: float) -> None:
    with pytest.raises(ValueError):
        build_loss(name, temperature=temp)


@pytest.mark.parametrize(
    "module",
    [
        "ranksuite.shared.losses",
        "ranksuite.shared.losses.pointwise_bce",
        "ranksuite.shared.losses.localized_contrastive",
        "ranksuite.shared.losses.in_batch_infonce",
        "ranksuite.shared.losses.margin_mse",
        "ranksuite.shared.losses.listwise_kl",
        "ranksuite.shared.losses.ranknet",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
