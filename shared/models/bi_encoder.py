"""Bi-encoder: query and document embedded apart (mean pooling, L2-normalised); the score is their cosine.

Fast at scale (documents are embedded once, retrieval is a matrix product) and the student of choice for
distillation. Built on sentence-transformers' own modules, so a saved folder is a normal SentenceTransformer folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer
from sentence_transformers.models import Normalize, Pooling
from tqdm.auto import tqdm

from ranksuite.shared.device import autocast, eval_mode
from ranksuite.shared.models.base import Scorer
from ranksuite.shared.models.registry import backbone_label, resolve_backbone


class BiEncoder(Scorer):
    architecture = "bi"
    supports_in_batch = True
    # A cosine lies in [-1, 1], so its margins cannot reach a cross-encoder teacher's (≈ 4 logits on SciFact):
    # unscaled, Margin-MSE only pushes every margin to its ceiling. 20 is the scale InfoNCE trains it at
    # (temperature 0.05, sentence-transformers' MultipleNegativesRankingLoss), so both losses see the same logits.
    logit_scale = 20.0

    def __init__(self, model_path: str | Path, max_length: int = 256, backbone: str | None = None) -> None:
        super().__init__()
        st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        modules = list(st._modules.values())
        if not any(isinstance(m, Pooling) for m in modules):  # a plain HF folder: add mean pooling
            st.append(
                Pooling(st.get_sentence_embedding_dimension() or modules[0].get_word_embedding_dimension())
            )
        if not any(isinstance(m, Normalize) for m in st._modules.values()):
            st.append(Normalize())
        st.max_seq_length = max_length
        self.st = st
        self.max_length = max_length
        self.meta["backbone"] = backbone or backbone_label(model_path)

    @classmethod
    def from_backbone(cls, backbone: str | None = None, max_length: int = 256) -> BiEncoder:
        return cls(resolve_backbone(backbone), max_length=max_length, backbone=backbone_label(backbone))

    @property
    def dim(self) -> int:
        get = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
        return int(get())

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Differentiable, normalised embeddings [N, dim]."""
        prep = getattr(self.st, "preprocess", None) or self.st.tokenize  # sentence-transformers 6 renamed it
        features = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in prep(list(texts)).items()}
        self.tokens_seen += int(features["attention_mask"].sum())
        return self.st(features)["sentence_embedding"]

    def pair_scores(self, queries: Sequence[str], docs: Sequence[str]) -> torch.Tensor:
        return (self.embed(queries) * self.embed(docs)).sum(-1)

    def group_scores(
        self, queries: Sequence[str], docs: Sequence[str], in_batch: bool = False
    ) -> torch.Tensor:
        b, g = len(queries), self.group_size(queries, docs)
        q = self.embed(queries)
        d = self.embed(docs)
        if in_batch:
            return q @ d.T
        return torch.einsum("bd,bgd->bg", q, d.view(b, g, -1))

    def encode(self, texts: Sequence[str], batch_size: int = 128, progress: bool | str = False) -> np.ndarray:
        """Inference embeddings (float32 numpy), length-sorted batches, bf16 on CUDA."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        desc = progress if isinstance(progress, str) else "encoding"
        with eval_mode(self), torch.inference_mode(), autocast(self.device):
            for start in tqdm(
                range(0, len(texts), batch_size), desc=desc, disable=not progress, unit="batch"
            ):
                idx = order[start : start + batch_size]
                emb = self.embed([texts[i] for i in idx])
                out[idx] = F.normalize(emb.float(), dim=-1).cpu().numpy()
        return out

    def save(self, path: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.st.save(str(path))
        self.write_meta(path, {"max_length": self.max_length}, extra_meta)
        return path
