"""Training losses for ranksuite's rankers, all sharing one call signature.

Every loss is an :class:`torch.nn.Module` called as::

    loss(scores: Tensor, targets: Tensor | None) -> Tensor  # scalar, mean over the batch

where ``scores`` are the student's scores, normally ``[B, G]`` (``B`` groups of ``G`` candidates;
in group-wise losses column 0 is the relevant document and columns ``1..`` are negatives), so a
trainer can pick any of them by name with :func:`build_loss`.

Loss selection
--------------

===========================================  ============  ==============  ===========  ====================
Training data you have                       ``scores``    ``targets``     name         class
===========================================  ============  ==============  ===========  ====================
labelled (query, doc) pairs, cross-encoder   ``[B, G]``    labels [B, G]   bce          PointwiseBCE
query + positive + hard negs, cross-encoder  ``[B, G]``    ``None``        contrastive  LocalizedContrastive
query + positive [+ hard negs], bi-encoder   ``[B, B*G]``  ``None``        infonce      InBatchInfoNCE
groups + teacher scores; other score scale   ``[B, G]``    teacher [B, G]  margin-mse   MarginMSE
groups + teacher scores; full distribution   ``[B, G]``    teacher [B, G]  kl           ListwiseKL
groups + teacher scores/grades; order only   ``[B, G]``    teacher [B, G]  ranknet      RankNet
===========================================  ============  ==============  ===========  ====================

Classification heads (not ranking losses, so not in :data:`LOSSES`): :class:`ClassWeightedCE`, class-weighted
cross-entropy with partial targets, and :func:`balanced_class_weights` (code rankers: CodeRanker, RankEF).

``NEEDS_TEACHER[name]`` says whether the loss needs teacher scores as ``targets``; ``bce`` needs
labels instead, and ``contrastive`` / ``infonce`` ignore ``targets`` (pass ``None``).
For ``infonce``, ``scores`` is the query x in-batch-document similarity matrix with the documents
laid out group by group (see :class:`InBatchInfoNCE`).

Example:
    >>> import torch
    >>> loss = build_loss("contrastive", temperature=1.0)
    >>> round(loss(torch.zeros(2, 4), None).item(), 4)  # log(4)
    1.3863
"""

from __future__ import annotations

from torch import nn

from .class_weighted_ce import ClassWeightedCE, balanced_class_weights
from .in_batch_infonce import InBatchInfoNCE
from .listwise_kl import ListwiseKL
from .localized_contrastive import LocalizedContrastive
from .margin_mse import MarginMSE
from .pointwise_bce import PointwiseBCE
from .ranknet import RankNet

__all__ = [
    "LOSSES",
    "NEEDS_TEACHER",
    "ClassWeightedCE",
    "InBatchInfoNCE",
    "ListwiseKL",
    "LocalizedContrastive",
    "MarginMSE",
    "PointwiseBCE",
    "RankNet",
    "balanced_class_weights",
    "build_loss",
]

LOSSES: dict[str, type[nn.Module]] = {
    "bce": PointwiseBCE,
    "contrastive": LocalizedContrastive,
    "infonce": InBatchInfoNCE,
    "margin-mse": MarginMSE,
    "kl": ListwiseKL,
    "ranknet": RankNet,
}

NEEDS_TEACHER: dict[str, bool] = {
    "bce": False,
    "contrastive": False,
    "infonce": False,
    "margin-mse": True,
    "kl": True,
    "ranknet": True,
}


def build_loss(name: str, **kwargs: object) -> nn.Module:
    """Instantiate the loss registered under ``name`` with ``kwargs`` (e.g. ``temperature``).

    Raises:
        ValueError: if ``name`` is not a key of :data:`LOSSES`; the message lists the valid names.
    """
    try:
        cls = LOSSES[name]
    except KeyError:
        valid = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown loss {name!r}; valid names: {valid}") from None
    return cls(**kwargs)
