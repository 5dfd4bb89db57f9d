"""In-batch InfoNCE (multiple-negatives ranking) loss for bi-encoders."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InBatchInfoNCE(nn.Module):
    """InfoNCE over a query x document similarity matrix with in-batch negatives.

    **What it is for.** Training bi-encoders (dense retrievers): every query in the batch is scored
    against *every* document in the batch, so each query gets its own hard negatives plus all other
    queries' positives and hard negatives as free "in-batch" negatives.

    **Papers.** van den Oord, Li & Vinyals, 2018, "Representation Learning with Contrastive
    Predictive Coding" (InfoNCE); Karpukhin et al., 2020, "Dense Passage Retrieval for Open-Domain
    Question Answering" (DPR, in-batch negatives). Equivalent to sentence-transformers'
    ``MultipleNegativesRankingLoss`` (whose default ``scale=20`` is ``temperature=0.05``).

    ============  ==============  =====================================================
    argument      shape           meaning
    ============  ==============  =====================================================
    ``scores``    ``[B, B * G]``  similarity of every query with every document in the
                                  batch (e.g. cosine similarity or dot product)
    ``targets``   any/None        ignored (targets are implied by the layout below)
    return        ``[]``          scalar, mean over the ``B`` queries of
                                  ``-log softmax(scores[i] / temperature)[i * G]``
    ============  ==============  =====================================================

    **Column layout.** The ``B * G`` documents are laid out *group by group*, i.e. the documents of
    query 0's group first, then query 1's group, and so on::

        column:    0     1    ... G-1 | G     G+1  ... 2G-1 | ... | (B-1)G ... BG-1
        belongs:   q0+   q0-  ... q0- | q1+   q1-  ... q1-  | ... | q(B-1)+ ... q(B-1)-

    For row ``i``:

    * column ``i * G`` is the query's own positive (the target class);
    * columns ``i * G + 1 .. i * G + G - 1`` are its own hard negatives;
    * every other column (other queries' positives and hard negatives) is an in-batch negative.

    With ``G = 1`` (no hard negatives) the matrix is ``[B, B]`` and the target is the diagonal.
    ``G`` is inferred as ``scores.shape[1] // B``. If the same document appears in two groups
    (e.g. duplicate positives) it is still treated as a negative for the other query; deduplicate
    upstream if that matters.

    Args:
        temperature: logits are ``scores / temperature`` (default 0.05, i.e. scale 20).

    Example:
        >>> import torch
        >>> loss = InBatchInfoNCE(temperature=1.0)
        >>> # B=2 queries, G=2 documents per query -> 4 columns; row 0 targets col 0, row 1 col 2
        >>> scores = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
        >>> round(loss(scores, None).item(), 4)  # -log(e / (e + 3))
        0.7437
    """

    def __init__(self, temperature: float = 0.05) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, scores: Tensor, targets: Tensor | None = None) -> Tensor:
        if scores.dim() != 2:
            raise ValueError(f"scores must have shape [B, B * G], got {tuple(scores.shape)}")
        batch, n_docs = scores.shape
        if batch == 0 or n_docs % batch != 0 or n_docs < batch:
            raise ValueError(
                f"scores must have shape [B, B * G] (columns a positive multiple of rows), "
                f"got {tuple(scores.shape)}"
            )
        group = n_docs // batch
        labels = torch.arange(batch, device=scores.device) * group
        return F.cross_entropy(scores / self.temperature, labels)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
