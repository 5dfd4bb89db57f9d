"""GradeSQL's outcome reward model on a small causal LM: SmolLM2-135M-Instruct (+ LoRA) answers "is this SQL correct?".

What GradeSQL does, and what is done differently here:

- **Prompt.** GradeSQL asks ``Question: {question}\\n{schema}\\n{question}\\nSQL: {sql}\\nIs the SQL correct?`` and reads
  the " Yes" / " No" tokens (with a leading space: a plain-text continuation). SmolLM2-135M-*Instruct* is a chat
  model, so the same text goes into its chat template as the user turn (with "Answer Yes or No." appended) and the
  answer slot is the first assistant token, right after ``<|im_start|>assistant\\n``. There the natural answer tokens
  are ``Yes`` / ``No`` *without* a space. Measured at step 0 on 8 Spider candidates (concert_singer;
  ``benchmarks/sql_lm_answer_tokens.py``), mean answer loss: chat + "Yes"/"No" 1.30 / 0.81 (the model's top-2 next
  tokens); chat + " Yes"/" No" 10.65 / 10.64; GradeSQL's plain prompt + " Yes"/" No" 3.25 / 3.11 ("\\n" is its top
  next token), plain + "Yes"/"No" 10.89 / 10.69. So: chat template,
  answers ``("Yes", "No")`` (:data:`ANSWERS`; saved in the model folder, so scoring always uses what training used).
- **Loss.** GradeSQL's loss covers the whole padded prompt; here only the answer token is learnt
  (:func:`~ranksuite.shared.models.causal_lm.answer_lm_loss`: prompt and padding are masked), with per-question
  balanced labels: each training example is one correct and one incorrect candidate of the same question
  (``orm.balanced_pairs``), answered "Yes" and "No".
- **Scoring.** GradeSQL calls ``generate`` once per candidate; here one batched forward pass reads the Yes/No
  log-probabilities at the answer position (:func:`~ranksuite.shared.models.causal_lm.answer_logprobs`). The score
  is the log-odds log P(Yes) - log P(No) (renormalised over the two answers): it orders like GradeSQL's P(Yes) but
  does not saturate into ties, and sigmoid(score) is P(Yes).
- **Adapter.** LoRA r 16, alpha 64, dropout 0.05 on every linear projection (GradeSQL's), through ``peft``; or full
  fine-tuning (``lora=None``). Saved with :func:`~ranksuite.shared.models.causal_lm.save_causal_lm` (the adapter
  only, or all weights) plus ``ranksuite.json`` with ``"sql_orm": {"kind": "causal_lm", ...}``, which is how
  ``sql evaluate`` / ``sql rank`` know to load it back with :meth:`LmOrm.load`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ranksuite.shared.models.causal_lm import (
    META,
    LoraSpec,
    answer_lm_loss,
    answer_logprobs,
    chat_prompt,
    load_causal_lm,
    lora_settings,
    save_causal_lm,
)

KIND = "causal_lm"
ANSWERS = ("Yes", "No")
QUESTION_SUFFIX = "Is the SQL correct? Answer Yes or No."


class LmOrm(torch.nn.Module):
    """A causal LM that judges (query, candidate) pairs with Yes/No; the same ``score`` API as a cross-encoder.

    ``query`` is the ORM query text of ``orm.orm_query`` (question, schema, question again) and ``candidate`` the
    candidate text of ``orm.candidate_text`` (the SQL, and its result preview when the model was trained with one).
    """

    def __init__(
        self,
        lm: torch.nn.Module,
        tokenizer: Any,
        max_length: int = 1024,
        answers: Sequence[str] = ANSWERS,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.answers = tuple(answers)
        self.meta: dict[str, Any] = dict(meta or {})

    # -- building ---------------------------------------------------------------------------------------------
    @classmethod
    def from_backbone(
        cls, backbone: str | Path = "smollm2", lora: LoraSpec | None = None, max_length: int = 1024
    ) -> LmOrm:
        """A fresh ORM over ``backbone`` (``smollm2`` or a causal-LM folder): a new LoRA adapter, or every weight
        trainable when ``lora`` is None (full fine-tuning)."""
        lm, tok = load_causal_lm(backbone, lora=lora)
        if lora is None:
            for p in lm.parameters():
                p.requires_grad_(True)
        meta = {"backbone": str(backbone), "lora": lora_settings(lora), "sql_orm": {"kind": KIND}}
        return cls(lm, tok, max_length=max_length, meta=meta)

    @classmethod
    def load(cls, folder: str | Path, device: str | None = None) -> LmOrm:
        lm, tok = load_causal_lm(folder, device=device)
        meta = dict(getattr(lm, "ranksuite_meta", {}))
        config = meta.get("sql_orm", {})
        return cls(lm, tok, config.get("max_length", 1024), config.get("answers", ANSWERS), meta)

    def save(self, folder: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
        meta = {k: v for k, v in {**self.meta, **(extra_meta or {})}.items() if k != "base"}
        sql_orm = {**meta.get("sql_orm", {}), "kind": KIND, "answers": list(self.answers)}
        sql_orm["max_length"] = self.max_length
        return save_causal_lm(self.lm, self.tokenizer, folder, {**meta, "sql_orm": sql_orm, "format": 1})

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- prompts, loss, scores --------------------------------------------------------------------------------
    def prompts(self, queries: Sequence[str], candidates: Sequence[str]) -> list[str]:
        """The chat-formatted prompt per pair, ending at the answer slot."""
        if len(queries) != len(candidates):
            raise ValueError(f"{len(queries)} queries but {len(candidates)} candidates")
        return [
            chat_prompt(self.tokenizer, f"{q}\nSQL: {c}\n{QUESTION_SUFFIX}")
            for q, c in zip(queries, candidates, strict=True)
        ]

    def loss(
        self, queries: Sequence[str], candidates: Sequence[str], correct: Sequence[bool]
    ) -> torch.Tensor:
        """Mean cross-entropy of the right answer ("Yes" for a correct candidate, "No" otherwise) at the answer
        slot; the prompt and the padding carry no loss."""
        answers = [self.answers[0] if ok else self.answers[1] for ok in correct]
        return answer_lm_loss(
            self.lm, self.tokenizer, self.prompts(queries, candidates), answers, self.max_length
        )

    def score(
        self,
        queries: Sequence[str],
        candidates: Sequence[str],
        batch_size: int = 16,
        progress: bool | str = False,
    ) -> np.ndarray:
        """log P(Yes) - log P(No) per pair (one batched forward pass per ``batch_size`` prompts), input order."""
        if not len(queries):
            return np.zeros(0, dtype=np.float32)
        lp = answer_logprobs(
            self.lm,
            self.tokenizer,
            self.prompts(queries, candidates),
            answers=self.answers,
            batch_size=batch_size,
            max_length=self.max_length,
            progress=progress,
        )
        return (lp[:, 0] - lp[:, 1]).numpy().astype(np.float32)


def lm_step_fn(texts: dict[str, str]):
    """A trainer step over balanced pair examples (``query``, ``docnos`` = [correct, incorrect])."""

    def step(model: LmOrm, examples: list[dict[str, Any]]) -> tuple[torch.Tensor, dict[str, float]]:
        queries = [ex["query"] for ex in examples for _ in ex["docnos"]]
        candidates = [texts[d] for ex in examples for d in ex["docnos"]]
        correct = [i == 0 for ex in examples for i in range(len(ex["docnos"]))]
        return model.loss(queries, candidates, correct), {}

    return step


def is_causal_lm(backbone: str | Path | None) -> bool:
    """``smollm2``, or a local folder holding a causal LM: a LoRA adapter, a saved LM ORM, or a model whose config
    names a ``...ForCausalLM`` architecture."""
    if backbone is None:
        return False
    if str(backbone) == "smollm2":
        return True
    path = Path(backbone)
    if (path / "adapter_config.json").exists():
        return True
    if (path / META).exists() and json.loads((path / META).read_text()).get("sql_orm", {}).get(
        "kind"
    ) == KIND:
        return True
    if (path / "config.json").exists():
        return any(
            a.endswith("ForCausalLM")
            for a in json.loads((path / "config.json").read_text()).get("architectures") or []
        )
    return False
