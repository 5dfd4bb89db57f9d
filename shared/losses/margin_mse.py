"""Margin-MSE knowledge distillation loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MarginMSE(nn.Module):
    """Margin-MSE: match the student's positive-negative score margins to the teacher's.

    **What it is for.** Distilling a (usually cross-encoder) teacher into a student whose scores live
    on a different scale (e.g. a bi-encoder): only score *differences* are matched, so the absolute
    scale and offset of the two models need not agree.

    **Paper.** Hofstätter, Althammer, Schröder, Sertkan & Hanbury, 2020, "Improving Efficient Neural
    Ranking Models with Cross-Architecture Knowledge Distillation" (arXiv:2010.02666).

    ============  ==========  =========================================================
    argument      shape       meaning
    ============  ==========  =========================================================
    ``scores``    ``[B, G]``  student scores; column 0 = positive, 1.. = negatives; G >= 2
    ``targets``   ``[B, G]``  teacher scores for the same cells; **required**
    return        ``[]``      scalar, mean over rows ``b`` and negatives ``j >= 1`` of
                              ``((s[b,0] - s[b,j]) - (t[b,0] - t[b,j]))**2``
    ============  ==========  =========================================================

    With ``G = 2`` this is exactly the paper's
    ``MSE(M_s(q, p+) - M_s(q, p-), M_t(q, p+) - M_t(q, p-))``. Teacher scores are detached.

    Example:
        >>> import torch
        >>> loss = MarginMSE()
        >>> student = torch.tensor([[3.0, 1.0]])  # margin 2
        >>> teacher = torch.tensor([[5.0, 4.0]])  # margin 1
        >>> round(loss(student, teacher).item(), 4)  # (2 - 1) ** 2
        1.0
    """

    def forward(self, scores: Tensor, targets: Tensor | None) -> Tensor:
        if targets is None:
            raise ValueError("MarginMSE needs teacher scores as targets, got None")
        if scores.dim() != 2 or scores.shape[1] < 2:
            raise ValueError(f"scores must have shape [B, G] with G >= 2, got {tuple(scores.shape)}")
        if targets.shape != scores.shape:
            raise ValueError(
                f"targets shape {tuple(targets.shape)} must equal scores shape {tuple(scores.shape)}"
            )
        teacher = targets.detach().to(scores.dtype)
        student_margin = scores[:, :1] - scores[:, 1:]
        teacher_margin = teacher[:, :1] - teacher[:, 1:]
        return F.mse_loss(student_margin, teacher_margin, reduction="mean")
