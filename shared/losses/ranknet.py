"""RankNet pairwise distillation loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class RankNet(nn.Module):
    """RankNet pairwise logistic loss over all teacher-ordered pairs within each group.

    **What it is for.** Pairwise knowledge distillation: the student only has to reproduce the
    teacher's *order* of the candidates in a group, not its score values or scale.

    **Paper.** Burges et al., 2005, "Learning to Rank using Gradient Descent" (ICML 2005); used as the
    pairwise distillation objective ("D") in Pezzuti et al., 2025.

    ============  ==========  =========================================================
    argument      shape       meaning
    ============  ==========  =========================================================
    ``scores``    ``[B, G]``  student scores (any column order; no positive assumed)
    ``targets``   ``[B, G]``  teacher scores (or graded labels) for the same cells;
                              **required**
    return        ``[]``      scalar, mean over every ordered pair ``(b, i, j)`` with
                              ``t[b,i] > t[b,j]`` of ``-log sigmoid(s[b,i] - s[b,j])``
    ============  ==========  =========================================================

    Pairs with equal teacher scores (ties) are ignored. The mean is taken over all valid pairs in the
    whole batch (rows with more distinct teacher scores therefore weigh more). If the batch contains
    no valid pair at all, the loss is 0 (still attached to the graph, with zero gradient). Teacher
    scores are detached. Computed with a ``[B, G, G]`` pair tensor, no Python loops.

    Example:
        >>> import torch
        >>> loss = RankNet()
        >>> student = torch.tensor([[0.0, 0.0, 0.0]])
        >>> teacher = torch.tensor([[2.0, 1.0, 1.0]])  # pairs (0,1), (0,2); tie (1,2) ignored
        >>> round(loss(student, teacher).item(), 4)  # log(2)
        0.6931
    """

    def forward(self, scores: Tensor, targets: Tensor | None) -> Tensor:
        if targets is None:
            raise ValueError("RankNet needs teacher scores as targets, got None")
        if scores.dim() != 2:
            raise ValueError(f"scores must have shape [B, G], got {tuple(scores.shape)}")
        if targets.shape != scores.shape:
            raise ValueError(
                f"targets shape {tuple(targets.shape)} must equal scores shape {tuple(scores.shape)}"
            )
        teacher = targets.detach()
        # pair_mask[b, i, j] is True where the teacher prefers i over j.
        pair_mask = teacher.unsqueeze(2) > teacher.unsqueeze(1)
        student_diff = scores.unsqueeze(2) - scores.unsqueeze(1)
        # -log sigmoid(x) == softplus(-x), numerically stable.
        pair_losses = F.softplus(-student_diff)
        n_pairs = pair_mask.sum().clamp(min=1)  # no valid pair -> 0 / 1 = 0, no host sync
        return (pair_losses * pair_mask).sum() / n_pairs
