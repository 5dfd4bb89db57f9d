"""Late interaction (ColBERT, Khattab & Zaharia 2020): one small vector per token, scored by MaxSim.

As in ColBERT v1: a marker token after [CLS] tells queries ([Q], BERT's [unused0]) from documents ([D], [unused1]);
queries are padded to a fixed length with [MASK] tokens that *are* attended to (query augmentation); every token
vector is projected to 128 dimensions by a linear layer without bias and L2-normalised; document punctuation is
masked out; the score is the sum over query tokens of the best cosine with any document token.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, AutoTokenizer

from ranksuite.shared.models.base import Scorer
from ranksuite.shared.models.registry import backbone_label, resolve_backbone

LINEAR_FILE = "colbert_linear.safetensors"


class LateInteraction(Scorer):
    architecture = "colbert"
    supports_in_batch = True

    def __init__(
        self,
        model_path: str | Path,
        dim: int = 128,
        query_length: int = 32,
        max_length: int = 256,
        backbone: str | None = None,
    ) -> None:
        super().__init__()
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.encoder = AutoModel.from_pretrained(model_path)
        vocab = self.tokenizer.get_vocab()
        if "[unused0]" in vocab and "[unused1]" in vocab:  # BERT vocabularies: ColBERT's own choice
            self.q_marker, self.d_marker = vocab["[unused0]"], vocab["[unused1]"]
        else:  # other vocabularies: two new tokens (they are learned in fine-tuning)
            self.tokenizer.add_special_tokens({"additional_special_tokens": ["[Q]", "[D]"]})
            self.encoder.resize_token_embeddings(len(self.tokenizer))
            self.q_marker, self.d_marker = self.tokenizer.convert_tokens_to_ids(["[Q]", "[D]"])
        mask = self.tokenizer.mask_token_id
        self.mask_id = mask if mask is not None else self.tokenizer.pad_token_id
        self.linear = nn.Linear(self.encoder.config.hidden_size, dim, bias=False)
        self.dim, self.query_length, self.max_length = dim, query_length, max_length
        punct = {i for ch in string.punctuation for i in self.tokenizer.encode(ch, add_special_tokens=False)}
        self.register_buffer("punct_ids", torch.tensor(sorted(punct), dtype=torch.long), persistent=False)
        self.meta["backbone"] = backbone or backbone_label(model_path)

    @classmethod
    def from_backbone(cls, backbone: str | None = None, **kwargs: Any) -> LateInteraction:
        return cls(resolve_backbone(backbone), backbone=backbone_label(backbone), **kwargs)

    def _tokens(self, texts: Sequence[str], marker: int, length: int, fixed: bool) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=length - 1,
            padding="max_length" if fixed else True,
            return_tensors="pt",
        )
        ids, att = enc["input_ids"], enc["attention_mask"]
        ids = torch.cat([ids[:, :1], torch.full_like(ids[:, :1], marker), ids[:, 1:]], dim=1)
        att = torch.cat([att[:, :1], torch.ones_like(att[:, :1]), att[:, 1:]], dim=1)
        self.tokens_seen += int(att.sum())
        if fixed:  # query augmentation: [MASK] in every padding slot, attended to
            ids = torch.where(att.bool(), ids, torch.full_like(ids, self.mask_id))
            att = torch.ones_like(att)
        return {"input_ids": ids.to(self.device), "attention_mask": att.to(self.device)}

    def _vectors(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encoder(**enc).last_hidden_state
        return F.normalize(self.linear(hidden), dim=-1)

    def encode_queries(self, queries: Sequence[str]) -> torch.Tensor:
        """[B, query_length, dim] normalised token vectors (every slot counts, [MASK]s included)."""
        return self._vectors(self._tokens(queries, self.q_marker, self.query_length, fixed=True))

    def encode_docs(self, docs: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, L, dim] token vectors and an [N, L] mask (padding and punctuation off)."""
        enc = self._tokens(docs, self.d_marker, self.max_length, fixed=False)
        mask = enc["attention_mask"].bool() & ~torch.isin(enc["input_ids"], self.punct_ids)
        return self._vectors(enc), mask

    @staticmethod
    def maxsim(q: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor, pairwise: bool) -> torch.Tensor:
        """Sum over query tokens of the max cosine over document tokens.

        ``pairwise``: q[i] against d[i] -> [B]; otherwise every query against every document -> [B, N].
        """
        if pairwise:
            sim = torch.einsum("bqd,bld->bql", q, d)
            sim = sim.masked_fill(~d_mask[:, None, :], float("-inf"))
            return sim.max(-1).values.sum(-1)
        sim = torch.einsum("bqd,nld->bnql", q, d)
        sim = sim.masked_fill(~d_mask[None, :, None, :], float("-inf"))
        return sim.max(-1).values.sum(-1)

    def pair_scores(self, queries: Sequence[str], docs: Sequence[str]) -> torch.Tensor:
        d, mask = self.encode_docs(docs)
        return self.maxsim(self.encode_queries(queries), d, mask, pairwise=True)

    def group_scores(
        self, queries: Sequence[str], docs: Sequence[str], in_batch: bool = False
    ) -> torch.Tensor:
        b, g = len(queries), self.group_size(queries, docs)
        q = self.encode_queries(queries)
        d, mask = self.encode_docs(docs)
        if in_batch:
            return self.maxsim(q, d, mask, pairwise=False)
        qg = q.repeat_interleave(g, dim=0)
        return self.maxsim(qg, d, mask, pairwise=True).view(b, g)

    def save(self, path: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        save_file({"weight": self.linear.weight.detach().cpu().contiguous()}, str(path / LINEAR_FILE))
        config = {"dim": self.dim, "query_length": self.query_length, "max_length": self.max_length}
        self.write_meta(path, config, extra_meta)
        return path

    def load_extra(self, path: Path) -> None:
        self.linear.weight.data.copy_(load_file(str(path / LINEAR_FILE))["weight"])
