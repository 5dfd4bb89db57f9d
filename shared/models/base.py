"""The one interface every scorer shares, and the inference loop they all use.

A scorer maps (query, document) text pairs to relevance scores. Training code only needs
:meth:`Scorer.group_scores` (differentiable scores of groups of candidates); inference code only needs
:meth:`Scorer.score` (batched, length-sorted, no grad, bf16 on CUDA). Architectures differ only in how they
compute ``pair_scores`` and, for the encoders, in-batch score matrices.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ranksuite.shared.device import autocast, eval_mode, pick_device

META_FILE = "ranksuite.json"


class Scorer(nn.Module):
    """Base class: subclasses set ``architecture`` and implement ``pair_scores``, ``save`` and ``load``."""

    architecture: ClassVar[str] = "base"
    supports_in_batch: ClassVar[bool] = False
    # Factor that puts this scorer's scores on a logit scale when they are matched to a teacher's logits
    # (Margin-MSE, listwise KL, RankNet on teacher scores). 1 for scorers whose scores are already unbounded.
    logit_scale: ClassVar[float] = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, Any] = {}
        self.tokens_seen = 0  # non-padding tokens fed to the encoder so far (for throughput and MFU figures)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to_device(self, device: str | torch.device | None = None) -> Scorer:
        return self.to(pick_device(device))

    # -- training -----------------------------------------------------------------------------------------
    def pair_scores(self, queries: Sequence[str], docs: Sequence[str]) -> torch.Tensor:
        """Differentiable scores [N] for N aligned (query, document) pairs."""
        raise NotImplementedError

    @staticmethod
    def group_size(queries: Sequence[str], docs: Sequence[str]) -> int:
        """G for B queries and B*G documents laid out group by group."""
        b = len(queries)
        if b == 0 or len(docs) % b:
            raise ValueError(f"{len(docs)} documents do not split into groups for {b} queries")
        return len(docs) // b

    def group_scores(
        self, queries: Sequence[str], docs: Sequence[str], in_batch: bool = False
    ) -> torch.Tensor:
        """Scores of B queries against their groups of G documents (``docs`` flat, group by group: B*G).

        Returns [B, G]; with ``in_batch=True`` (encoders only) the full [B, B*G] query x document matrix, where
        row i's own group is columns i*G .. i*G+G-1 and every other column is an in-batch negative.
        """
        b, g = len(queries), self.group_size(queries, docs)
        if in_batch:
            raise ValueError(f"{self.architecture} scorers have no in-batch negatives; use a group-wise loss")
        rep = [q for q in queries for _ in range(g)]
        return self.pair_scores(rep, docs).view(b, g)

    # -- inference ----------------------------------------------------------------------------------------
    def score(
        self,
        queries: Sequence[str],
        docs: Sequence[str],
        batch_size: int = 64,
        progress: bool | str = False,
    ) -> np.ndarray:
        """Scores for aligned pairs, batched by length (dynamic padding wastes little), in the input order."""
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents")
        order = np.argsort([-(len(q) + len(d)) for q, d in zip(queries, docs, strict=True)], kind="stable")
        out = np.empty(len(order), dtype=np.float32)
        batches = range(0, len(order), batch_size)
        desc = progress if isinstance(progress, str) else f"scoring ({self.architecture})"
        with eval_mode(self), torch.inference_mode(), autocast(self.device):
            for start in tqdm(batches, desc=desc, disable=not progress, unit="batch"):
                idx = order[start : start + batch_size]
                s = self.pair_scores([queries[i] for i in idx], [docs[i] for i in idx])
                out[idx] = s.float().cpu().numpy()
        return out

    # -- persistence --------------------------------------------------------------------------------------
    def save(self, path: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path) -> Scorer:
        """Rebuild a saved scorer from its folder: the constructor's settings are in ``ranksuite.json``."""
        meta = read_meta(path)
        model = cls(path, **meta.get("config", {}), backbone=meta.get("backbone"))  # type: ignore[call-arg]
        model.meta = meta
        model.load_extra(Path(path))
        return model

    def load_extra(self, path: Path) -> None:
        """Weights kept outside the backbone's own files (ColBERT's projection); nothing by default."""

    def write_meta(self, path: Path, config: dict[str, Any], extra_meta: dict[str, Any] | None) -> None:
        """Write ``ranksuite.json``: what the folder is and how to load it, plus training provenance."""
        meta = {**self.meta, **(extra_meta or {}), "architecture": self.architecture, "config": config}
        meta.setdefault("format", 1)
        from ranksuite.shared.data.atomic import atomic_write_json

        atomic_write_json(path / META_FILE, meta)
        self.meta = meta


def read_meta(path: str | Path) -> dict[str, Any]:
    p = Path(path) / META_FILE
    return json.loads(p.read_text()) if p.exists() else {}
