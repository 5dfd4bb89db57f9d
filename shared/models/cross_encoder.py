"""Cross-encoder: query and document read together by one transformer, a linear head gives the score.

The most accurate and the slowest scorer (every pair is a full forward pass), so it reranks a first stage's top-k.
Any backbone folder works: the classification head is new unless the folder already holds one. Saved folders are
plain Hugging Face sequence-classification models, so ``sentence_transformers.CrossEncoder(path)`` loads them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ranksuite.shared.models.base import Scorer
from ranksuite.shared.models.registry import backbone_label, resolve_backbone


class CrossEncoder(Scorer):
    architecture = "cross"

    def __init__(self, model_path: str | Path, max_length: int = 256, backbone: str | None = None) -> None:
        super().__init__()
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        if self.tokenizer.pad_token is None:  # causal-LM backbones (SmolLM2) have no pad token
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1)
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.max_length = max_length
        self.meta["backbone"] = backbone or backbone_label(model_path)

    @classmethod
    def from_backbone(cls, backbone: str | None = None, max_length: int = 256) -> CrossEncoder:
        return cls(resolve_backbone(backbone), max_length=max_length, backbone=backbone_label(backbone))

    def tokenize(self, queries: Sequence[str], docs: Sequence[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(
            list(queries),
            list(docs),
            truncation="longest_first",
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        self.tokens_seen += int(enc["attention_mask"].sum())
        return {k: v.to(self.device) for k, v in enc.items()}

    def pair_scores(self, queries: Sequence[str], docs: Sequence[str]) -> torch.Tensor:
        return self.model(**self.tokenize(queries, docs)).logits.view(-1)

    def save(self, path: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        self.write_meta(path, {"max_length": self.max_length}, extra_meta)
        return path
