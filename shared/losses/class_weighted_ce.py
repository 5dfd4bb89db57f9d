"""Class-weighted cross-entropy for classification heads, with partial ("one of these classes") targets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def balanced_class_weights(counts: Sequence[int]) -> list[float]:
    """``n / (C * count_c)`` (scikit-learn's "balanced"): each class weighs as much in total as any other.

    A class with no examples gets weight 1 (it never occurs, so its weight only matters for partial targets).
    """
    total, classes = sum(counts), len(counts)
    return [total / (classes * c) if c else 1.0 for c in counts]


class ClassWeightedCE(nn.Module):
    """Cross-entropy over ``C`` classes, each example weighted by its class's weight (mean over the weights).

    **What it is for.** Classifying ranking candidates whose classes are skewed, e.g. generated programs (most
    CodeGen samples fail a test, most GPT-4 programs pass): CodeRanker (Inala et al., 2022) and RankEF (ASE 2024)
    train their correct / execution-error / intent-error heads with class weights from the training label counts,
    so the rare class is not ignored.

    **Partial targets.** Some examples only say which classes are possible (a program known to fail, but not how):
    pass a boolean mask ``[B, C]`` instead of class ids; the loss is ``-log sum_{c allowed} p_c`` weighted by the
    mean weight of the allowed classes. With one allowed class per row this is the ordinary weighted CE.

    ============  ==========  ===========================================================================
    argument      shape       meaning
    ============  ==========  ===========================================================================
    ``logits``    ``[B, C]``  raw class scores
    ``targets``   ``[B]``     class ids (``ignore_index`` rows are skipped), or a bool mask ``[B, C]``
    return        ``[]``      ``sum_i w_i * nll_i / sum_i w_i`` (torch's weighted mean); 0 with no rows
    ============  ==========  ===========================================================================

    Example:
        >>> loss = ClassWeightedCE([1.0, 3.0])
        >>> round(loss(torch.zeros(2, 2), torch.tensor([0, 1])).item(), 4)  # log(2), whatever the weights
        0.6931
    """

    def __init__(self, weight: Sequence[float] | Tensor | None = None, ignore_index: int = -100) -> None:
        super().__init__()
        w = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
        self.register_buffer("weight", w, persistent=False)
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        if logits.dim() != 2:
            raise ValueError(f"logits must have shape [B, C], got {tuple(logits.shape)}")
        b, c = logits.shape
        weight = self.weight.to(logits.device) if self.weight is not None else logits.new_ones(c)
        if weight.numel() != c:
            raise ValueError(f"{weight.numel()} class weights for {c} classes")
        if targets.dim() == 1:
            keep = targets != self.ignore_index
            mask = F.one_hot(targets.clamp(min=0), c).bool() & keep[:, None]
        elif targets.shape == (b, c):
            mask = targets.bool()
        else:
            raise ValueError(f"targets must be [B] class ids or a [B, C] mask, got {tuple(targets.shape)}")
        rows = mask.any(-1)
        if not rows.any():
            return logits.sum() * 0.0
        logp = torch.log_softmax(logits.float(), dim=-1)
        nll = -torch.logsumexp(logp.masked_fill(~mask, float("-inf")), dim=-1)
        w = (mask.float() * weight).sum(-1) / mask.sum(-1).clamp(min=1)
        return (w * nll)[rows].sum() / w[rows].sum()
