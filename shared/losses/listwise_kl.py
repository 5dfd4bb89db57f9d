"""Listwise KL-divergence distillation loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class ListwiseKL(nn.Module):
    """KL divergence between the teacher's and the student's softmax distributions over each group.

    **What it is for.** Listwise knowledge distillation: the student learns the teacher's whole
    ranking distribution over the ``G`` candidates of a query, not only which one is best.

    **Paper.** Hinton, Vinyals & Dean, 2015, "Distilling the Knowledge in a Neural Network"
    (arXiv:1503.02531), including the ``T**2`` scaling that keeps gradient magnitudes comparable
    across temperatures.

    ============  ==========  =========================================================
    argument      shape       meaning
    ============  ==========  =========================================================
    ``scores``    ``[B, G]``  student logits (any column order; no positive assumed)
    ``targets``   ``[B, G]``  teacher logits for the same cells; **required**
    return        ``[]``      scalar, ``T**2 * (1/B) * sum_b KL(p_b || q_b)`` where
                              ``p_b = softmax(t[b] / T)``, ``q_b = softmax(s[b] / T)``
    ============  ==========  =========================================================

    Teacher scores are detached. The loss is 0 when ``scores == targets``.

    Args:
        temperature: softmax temperature ``T`` applied to both teacher and student (default 1.0).

    Example:
        >>> import math, torch
        >>> loss = ListwiseKL()
        >>> student = torch.tensor([[0.0, 0.0]])             # q = [1/2, 1/2]
        >>> teacher = torch.tensor([[math.log(3.0), 0.0]])   # p = [3/4, 1/4]
        >>> round(loss(student, teacher).item(), 4)  # 3/4 log(3/2) + 1/4 log(1/2)
        0.1308
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, scores: Tensor, targets: Tensor | None) -> Tensor:
        if targets is None:
            raise ValueError("ListwiseKL needs teacher scores as targets, got None")
        if scores.dim() != 2:
            raise ValueError(f"scores must have shape [B, G], got {tuple(scores.shape)}")
        if targets.shape != scores.shape:
            raise ValueError(
                f"targets shape {tuple(targets.shape)} must equal scores shape {tuple(scores.shape)}"
            )
        t = self.temperature
        student_log_probs = F.log_softmax(scores / t, dim=-1)
        teacher_log_probs = F.log_softmax(targets.detach().to(scores.dtype) / t, dim=-1)
        kl = F.kl_div(student_log_probs, teacher_log_probs, reduction="batchmean", log_target=True)
        return kl * (t * t)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
