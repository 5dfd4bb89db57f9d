"""Pointwise binary cross-entropy over every (query, document) cell."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class PointwiseBCE(nn.Module):
    """Pointwise binary cross-entropy with logits.

    **What it is for.** The simplest way to fine-tune a cross-encoder (monoBERT-style) reranker from
    binary relevance labels: every (query, document) score is treated as an independent logit of
    "this document is relevant". Useful when you have labelled pairs but no grouping / no teacher.

    **Paper.** Nogueira & Cho, 2019, "Passage Re-ranking with BERT" (arXiv:1901.04085), which trains
    monoBERT with exactly this pointwise cross-entropy.

    ============  ==========  =========================================================
    argument      shape       meaning
    ============  ==========  =========================================================
    ``scores``    ``[B, G]``  raw logits (no sigmoid applied) from the student
    ``targets``   ``[B, G]``  binary labels, 1.0 = relevant, 0.0 = not (float; soft
                              labels in ``[0, 1]`` also work); **required**
    return        ``[]``      scalar, mean of the BCE over all ``B * G`` cells
    ============  ==========  =========================================================

    The group layout (column 0 positive) is *not* assumed: any cell may be positive.

    Example:
        >>> import torch
        >>> loss = PointwiseBCE()
        >>> scores = torch.tensor([[0.0, 0.0]])
        >>> labels = torch.tensor([[1.0, 0.0]])
        >>> round(loss(scores, labels).item(), 4)  # log(2)
        0.6931
    """

    def forward(self, scores: Tensor, targets: Tensor | None) -> Tensor:
        if targets is None:
            raise ValueError("PointwiseBCE needs binary labels as targets, got None")
        if scores.dim() != 2:
            raise ValueError(f"scores must have shape [B, G], got {tuple(scores.shape)}")
        if targets.shape != scores.shape:
            raise ValueError(
                f"targets shape {tuple(targets.shape)} must equal scores shape {tuple(scores.shape)}"
            )
        return F.binary_cross_entropy_with_logits(scores, targets.to(scores.dtype), reduction="mean")
