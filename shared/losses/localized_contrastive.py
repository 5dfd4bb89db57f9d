"""Localized Contrastive Estimation (LCE): softmax cross-entropy over each group."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LocalizedContrastive(nn.Module):
    """Localized Contrastive Estimation (LCE) loss for group-wise reranker training.

    **What it is for.** Training a cross-encoder reranker on groups made of one relevant passage and
    ``G - 1`` hard negatives drawn from the first-stage retriever's top results ("localized"). Each
    row is a ``G``-way classification problem whose correct class is column 0.

    **Paper.** Gao, Dai & Callan, 2021, "Rethink Training of BERT Rerankers in Multi-Stage Retrieval
    Pipeline" (ECIR 2021, arXiv:2101.08751); used as the contrastive objective in Pezzuti et al.,
    2025.

    ============  ==========  =========================================================
    argument      shape       meaning
    ============  ==========  =========================================================
    ``scores``    ``[B, G]``  student logits; column 0 = positive, columns 1.. = negatives
    ``targets``   any/None    ignored (the target index is always 0)
    return        ``[]``      scalar, mean over the ``B`` rows of
                              ``-log softmax(scores[b] / temperature)[0]``
    ============  ==========  =========================================================

    Args:
        temperature: scores are divided by this before the softmax (default 1.0, as in the paper).

    Example:
        >>> import torch
        >>> loss = LocalizedContrastive()
        >>> scores = torch.tensor([[1.0, 1.0, 1.0, 1.0]])  # 4 equal scores
        >>> round(loss(scores, None).item(), 4)  # log(4)
        1.3863
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, scores: Tensor, targets: Tensor | None = None) -> Tensor:
        if scores.dim() != 2 or scores.shape[1] < 2:
            raise ValueError(f"scores must have shape [B, G] with G >= 2, got {tuple(scores.shape)}")
        labels = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
        return F.cross_entropy(scores / self.temperature, labels)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
