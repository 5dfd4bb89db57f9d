"""Code rankers: classify a candidate program as correct / execution error / intent error; score = P(correct).

Two objectives, on two backbone families:

- ``classifier`` (CodeRanker, Inala et al. 2022): a 3-class head, class-weighted cross-entropy. Nothing else.
- ``rankef`` (RankEF, ASE 2024): the same head plus learning the *execution feedback* the program produced, so the
  representation has to encode why programs fail, not only that they do; at ranking time nothing is executed and
  the score is still P(correct). Loss ``0.5 * CE + 0.5 * feedback``.

Backbones:

- **causal** (SmolLM2-135M-Instruct + LoRA, RankEF's own design): the head reads the last prompt token's hidden
  state; for ``rankef`` the feedback is a text ("IndexError: list index out of range at line 12: `x = a[i+1]`")
  learnt with the prompt-masked LM loss, and classification and LM loss come from one forward pass
  (``answer_lm_loss(return_hidden=True)``). ``generate_feedback`` writes the predicted feedback.
- **encoder** (MiniLM, a cross-encoder over "problem [SEP] code"; mean-pooled): an encoder cannot generate text,
  so its ``rankef`` is an *encoder adaptation* of RankEF, not the paper's method: auxiliary heads predict the
  feedback's structure — the error type (the frequent types of the training data, "passed" and "other"), where
  the failure is (code, test, unknown), and which tokens belong to the failing line of the code.

Why not the shared ``CrossEncoder`` scorer: it is a one-logit relevance scorer over a sequence-classification
model; these rankers need three classes and heads on the token states, so they hold the backbone
(``AutoModel``) and their heads themselves, and save both with a ``ranksuite.json`` (``architecture:
code-ranker``) that :func:`load_ranker` reads.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ranksuite.domains.code.data import CLASS_NAMES
from ranksuite.domains.code.inputs import LOCATIONS, Cut, fit_pair, line_of, line_span
from ranksuite.shared.device import autocast, eval_mode
from ranksuite.shared.losses import ClassWeightedCE
from ranksuite.shared.models.base import META_FILE, read_meta
from ranksuite.shared.models.registry import backbone_label, quiet_transformers, resolve_backbone

MODELS = ("classifier", "rankef")
ARCHITECTURE = "code-ranker"
HEADS = "heads.pt"
OTHER = "other"
PASSED = "passed"
SYSTEM = "You judge Python programs written for a programming problem."
QUESTION = "Will this program pass the problem's tests? Answer with the execution feedback it will produce."


@dataclass
class RankerConfig:
    """What a code ranker is; saved in its folder so it loads the same way."""

    model: str = "classifier"  # classifier | rankef
    backbone: str = "minilm"
    family: str = "encoder"  # encoder | causal
    max_length: int = 256  # tokens of problem + code (causal: of the prompt, the feedback comes on top)
    problem_tokens: int = 96  # the problem keeps at least this many tokens when the code is long
    feedback_tokens: int = 48  # causal rankef: feedback text budget (training and generation)
    feedback_weight: float = 0.5  # loss = (1 - w) * CE + w * feedback loss
    class_weights: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    error_types: list[str] = field(default_factory=list)  # encoder rankef: "passed", frequent types, "other"
    lora: dict[str, Any] | None = None  # causal: LoraSpec fields
    train_layers: int | None = (
        None  # encoder: fine-tune only the top N layers (None = all; see EncoderRanker)
    )

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown code ranker {self.model!r}: use {' or '.join(MODELS)}")
        if self.family not in ("encoder", "causal"):
            raise ValueError(f"unknown backbone family {self.family!r}: encoder or causal")


def backbone_family(backbone: str) -> str:
    """``causal`` for decoder-only language models (SmolLM2, a Llama folder), else ``encoder``."""
    if backbone == "smollm2":
        return "causal"
    if backbone in ("minilm", "mpnet"):
        return "encoder"
    config = Path(backbone) / "config.json"
    if config.is_file():
        cfg = json.loads(config.read_text())
        if any("CausalLM" in a for a in cfg.get("architectures") or []) or cfg.get("model_type") in (
            "llama",
            "mistral",
            "qwen2",
            "gpt2",
        ):
            return "causal"
    return "encoder"


def error_type_vocab(error_types: Sequence[str | None], keep: int = 8) -> list[str]:
    """``passed``, the ``keep`` most frequent error types, ``other`` (the encoder rankef's type classes)."""
    counts: dict[str, int] = {}
    for t in error_types:
        if t is not None and t != "unknown":
            counts[t] = counts.get(t, 0) + 1
    frequent = sorted(counts, key=lambda t: (-counts[t], t))[:keep]
    return [PASSED, *frequent, OTHER]


def type_index(vocab: Sequence[str], error_type: str | None) -> int:
    """Class of an error type in ``vocab``; -100 (ignored) when it is unknown whether and how it failed."""
    if error_type is None:
        return 0
    if error_type == "unknown":
        return -100
    return vocab.index(error_type) if error_type in vocab else vocab.index(OTHER)


def class_targets(labels: Sequence[int]) -> torch.Tensor:
    """``[B, 3]`` masks of allowed classes: one class, or both failure classes for ``-1`` (failed, how unknown)."""
    mask = torch.zeros(len(labels), len(CLASS_NAMES), dtype=torch.bool)
    for i, y in enumerate(labels):
        if y == -1:
            mask[i, 1:] = True
        elif y >= 0:
            mask[i, y] = True
    return mask


class _Ranker(nn.Module):
    """What both families share: the class head's loss, batched prediction, the saved config."""

    config: RankerConfig
    meta: dict[str, Any]

    def _init_common(self, config: RankerConfig, hidden: int) -> None:
        self.config = config
        self.meta = {}
        self.cls_head = nn.Linear(hidden, len(CLASS_NAMES))
        self.ce = ClassWeightedCE(config.class_weights)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def class_loss(self, logits: torch.Tensor, batch: Sequence[dict[str, Any]]) -> torch.Tensor:
        return self.ce(logits, class_targets([ex["label"] for ex in batch]).to(logits.device))

    def predict(
        self,
        problems: Sequence[str],
        codes: Sequence[str],
        batch_size: int = 32,
        progress: bool | str = False,
    ) -> dict[str, Any]:
        """Class probabilities ``probs [N, 3]`` (and the heads' feedback, where there is one), input order.

        Batches are sorted by length so padding stays small.
        """
        if len(problems) != len(codes):
            raise ValueError(f"{len(problems)} problems but {len(codes)} programs")
        order = sorted(range(len(codes)), key=lambda i: len(problems[i]) + len(codes[i]))
        out: dict[str, Any] = {"probs": np.zeros((len(codes), len(CLASS_NAMES)), dtype=np.float32)}
        desc = progress if isinstance(progress, str) else "scoring candidates"
        bar = tqdm(total=len(codes), desc=desc, disable=not progress, unit="program")
        with eval_mode(self), torch.inference_mode(), autocast(self.device):
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                part = self._predict_batch([problems[i] for i in idx], [codes[i] for i in idx])
                for key, values in part.items():
                    if key == "probs":
                        out["probs"][idx] = values
                    else:
                        slot = out.setdefault(key, [None] * len(codes))
                        for i, v in zip(idx, values, strict=True):
                            slot[i] = v
                bar.update(len(idx))
        bar.close()
        return out

    def _predict_batch(self, problems: list[str], codes: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def input_key(self, problem: str, code: str) -> Any:
        """What the model actually reads for a pair: programs that differ only where the model cannot see
        (MiniLM's tokenizer drops whitespace; cut-away code) get the same key, hence the same score."""
        raise NotImplementedError

    def _meta(self, extra: dict[str, Any] | None) -> dict[str, Any]:
        return {
            **self.meta,
            **(extra or {}),
            "architecture": ARCHITECTURE,
            "config": asdict(self.config),
            "classes": list(CLASS_NAMES),
            "backbone": backbone_label(self.config.backbone),
        }


_BOTTOM_CACHE: OrderedDict[tuple[str, str, str], torch.Tensor] = OrderedDict()
BOTTOM_CACHE_ENTRIES = 20_000


class EncoderRanker(_Ranker):
    """A cross-encoder over "problem [SEP] code" (mean pooling) with a class head and, for rankef, feedback heads.

    ``train_layers=N`` fine-tunes only the top N transformer layers (BERT-family backbones): the embeddings and the
    layers below are frozen and run without dropout, so their output for a given (problem, code) never changes
    and is computed once per process (an in-memory cache shared by every ranker on the same frozen weights). On a
    CPU this makes training and scoring several times cheaper, and it lets two rankers compared on the same data
    share the frozen part's work.
    """

    def __init__(self, path: str | Path, config: RankerConfig) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        quiet_transformers()
        self.encoder = AutoModel.from_pretrained(path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        hidden = self.encoder.config.hidden_size
        self._init_common(config, hidden)
        self.dropout = nn.Dropout(0.1)
        if config.model == "rankef":
            if not config.error_types:
                raise ValueError("an encoder rankef ranker needs its error-type classes (config.error_types)")
            self.type_head = nn.Linear(hidden, len(config.error_types))
            self.location_head = nn.Linear(hidden, len(LOCATIONS))
            self.line_head = nn.Linear(hidden, 1)
            self.type_ce = ClassWeightedCE()
            self.location_ce = ClassWeightedCE()
        self.frozen = 0
        self._fingerprint: str | None = None
        if config.train_layers is not None:
            layers = getattr(getattr(self.encoder, "encoder", None), "layer", None)
            if layers is None or not hasattr(self.encoder, "embeddings"):
                raise ValueError(
                    f"--train-layers needs a BERT-family encoder, not {type(self.encoder).__name__}"
                )
            self.frozen = max(0, len(layers) - config.train_layers)
            for module in [self.encoder.embeddings, *layers[: self.frozen]]:
                module.requires_grad_(False)

    def train(self, mode: bool = True) -> EncoderRanker:
        super().train(mode)
        if self.frozen:  # the frozen part never drops out: its output is a fixed function of the input
            self.encoder.embeddings.eval()
            for layer in self.encoder.encoder.layer[: self.frozen]:
                layer.eval()
        return self

    # -- encoding ----------------------------------------------------------------------------------------
    def cut(self, problem: str, code: str) -> Cut:
        return fit_pair(self.tokenizer, problem, code, self.config.max_length - 3, self.config.problem_tokens)

    def encode(self, cuts: Sequence[Cut]) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Token states ``[B, T, H]``, the attention mask and the tokenizer's encoding (for offsets)."""
        enc = self.tokenizer(
            [c.problem for c in cuts],
            [c.code for c in cuts],
            truncation="longest_first",
            max_length=self.config.max_length,
            padding=True,
            return_tensors="pt",
            return_offsets_mapping=True,
        )
        inputs = {k: v.to(self.device) for k, v in enc.items() if k != "offset_mapping"}
        if not self.frozen:
            return self.encoder(**inputs).last_hidden_state, inputs["attention_mask"], enc
        states = self._bottom(cuts, inputs)
        mask = inputs["attention_mask"]
        return self._layers(states, mask, self.encoder.encoder.layer[self.frozen :]), mask, enc

    def _layers(self, states: torch.Tensor, mask: torch.Tensor, layers: Sequence[nn.Module]) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        attention = create_bidirectional_mask(
            config=self.encoder.config, inputs_embeds=states, attention_mask=mask
        )
        for layer in layers:
            states = layer(states, attention)
        return states

    def _bottom(self, cuts: Sequence[Cut], inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Output of the frozen layers ``[B, T, H]``, from the cache where it holds the row."""
        if self._fingerprint is None:
            digest = hashlib.sha1(str(self.frozen).encode())
            for p in [
                *self.encoder.embeddings.parameters(),
                *self.encoder.encoder.layer[: self.frozen].parameters(),
            ]:
                digest.update(p.detach().flatten()[:256].cpu().numpy().tobytes())
            self._fingerprint = digest.hexdigest()
        keys = [(self._fingerprint, c.problem, c.code) for c in cuts]
        mask = inputs["attention_mask"]
        missing = [i for i, k in enumerate(keys) if k not in _BOTTOM_CACHE]
        if missing:
            with torch.no_grad():
                sub = {k: v[missing] for k, v in inputs.items()}
                width = int(sub["attention_mask"].sum(-1).max())
                sub = {k: v[:, :width] for k, v in sub.items()}
                hidden = self.encoder.embeddings(
                    input_ids=sub["input_ids"], token_type_ids=sub.get("token_type_ids")
                )
                hidden = self._layers(
                    hidden, sub["attention_mask"], self.encoder.encoder.layer[: self.frozen]
                )
            for j, i in enumerate(missing):
                _BOTTOM_CACHE[keys[i]] = hidden[j, : int(mask[i].sum())].detach().clone()
                while len(_BOTTOM_CACHE) > BOTTOM_CACHE_ENTRIES:
                    _BOTTOM_CACHE.popitem(last=False)
        out = torch.zeros(*mask.shape, self.encoder.config.hidden_size, device=mask.device)
        for i, key in enumerate(keys):
            row = _BOTTOM_CACHE[key].to(mask.device)
            out[i, : row.shape[0]] = row
        return out

    @staticmethod
    def pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(states.dtype)
        return (states * m).sum(1) / m.sum(1).clamp(min=1.0)

    @staticmethod
    def code_tokens(enc: Any, row: int) -> list[int]:
        """Positions of the code's tokens (the second sequence) in row ``row``."""
        return [t for t, s in enumerate(enc.sequence_ids(row)) if s == 1]

    def input_key(self, problem: str, code: str) -> tuple[int, ...]:
        cut = self.cut(problem, code)
        enc = self.tokenizer(
            cut.problem, cut.code, truncation="longest_first", max_length=self.config.max_length
        )
        return tuple(enc["input_ids"])

    # -- training ----------------------------------------------------------------------------------------
    def loss(self, batch: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, dict[str, float]]:
        cuts = [self.cut(ex["problem"], ex["code"]) for ex in batch]
        states, mask, enc = self.encode(cuts)
        pooled = self.dropout(self.pool(states, mask))
        loss = self.class_loss(self.cls_head(pooled), batch)
        stats = {"tokens": float(mask.sum())}
        if self.config.model == "rankef":
            aux = self._feedback_loss(batch, cuts, states, pooled, enc)
            w = self.config.feedback_weight
            loss = (1 - w) * loss + w * aux
        return loss, stats

    def _feedback_loss(
        self,
        batch: Sequence[dict[str, Any]],
        cuts: Sequence[Cut],
        states: torch.Tensor,
        pooled: torch.Tensor,
        enc: Any,
    ) -> torch.Tensor:
        """Mean of three losses: error type, failure location, failing-line tokens (BCE over the code's tokens)."""
        dev = pooled.device
        types = torch.tensor([ex["error_type"] for ex in batch], device=dev)
        locations = torch.tensor([ex["location"] for ex in batch], device=dev)
        parts = [
            self.type_ce(self.type_head(pooled), types),
            self.location_ce(self.location_head(pooled), locations),
        ]
        line_logits = self.line_head(self.dropout(states)).squeeze(-1)
        picked, targets = [], []
        for row, (ex, cut) in enumerate(zip(batch, cuts, strict=True)):
            loc = ex["location"]
            if loc < 0 or loc == LOCATIONS.index("unknown"):
                continue
            span = cut.to_cut(line_span(ex["code"], ex["line"])) if loc == LOCATIONS.index("code") else None
            if loc == LOCATIONS.index("code") and span is None:
                continue  # failed in the code, but the line is unknown or was cut away
            offsets = enc["offset_mapping"][row]
            for t in self.code_tokens(enc, row):
                a, b = int(offsets[t][0]), int(offsets[t][1])
                picked.append((row, t))
                targets.append(1.0 if span is not None and a < span[1] and b > span[0] else 0.0)
        if picked:
            rows, cols = zip(*picked, strict=True)
            logits = line_logits[list(rows), list(cols)]
            parts.append(
                nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(targets, device=dev))
            )
        return torch.stack(parts).mean()

    # -- inference ---------------------------------------------------------------------------------------
    def _predict_batch(self, problems: list[str], codes: list[str]) -> dict[str, Any]:
        cuts = [self.cut(p, c) for p, c in zip(problems, codes, strict=True)]
        states, mask, enc = self.encode(cuts)
        pooled = self.pool(states, mask)
        out: dict[str, Any] = {"probs": torch.softmax(self.cls_head(pooled).float(), -1).cpu().numpy()}
        if self.config.model != "rankef":
            return out
        # the class head decides pass or fail; the feedback heads say how it fails (their "passed" left out)
        types = (self.type_head(pooled).float()[:, 1:].argmax(-1) + 1).tolist()
        locations = (self.location_head(pooled).float()[:, 1:].argmax(-1) + 1).tolist()
        line_logits = self.line_head(states).squeeze(-1).float()
        passes = (out["probs"].argmax(1) == 0).tolist()
        out["error_type"] = [self.config.error_types[t] for t in types]
        out["location"] = [LOCATIONS[i] for i in locations]
        lines: list[int | None] = []
        for row, cut in enumerate(cuts):
            tokens = self.code_tokens(enc, row)
            if not tokens:
                lines.append(None)
                continue
            best = tokens[int(line_logits[row, tokens].argmax())]
            pos = cut.to_original(int(enc["offset_mapping"][row][best][0]))
            lines.append(None if pos is None else line_of(codes[row], pos))
        out["line"] = lines
        out["feedback"] = [
            encoder_feedback(codes[i], passes[i], out["error_type"][i], out["location"][i], lines[i])
            for i in range(len(codes))
        ]
        return out

    # -- persistence -------------------------------------------------------------------------------------
    def save(self, folder: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
        from ranksuite.shared.data.atomic import atomic_write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        torch.save(
            {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}, folder / HEADS
        )
        self.meta = self._meta(extra_meta)
        atomic_write_json(folder / META_FILE, self.meta)
        return folder

    @classmethod
    def load(cls, folder: str | Path, meta: dict[str, Any]) -> EncoderRanker:
        model = cls(folder, RankerConfig(**meta["config"]))
        model.load_state_dict(torch.load(Path(folder) / HEADS, map_location="cpu"), strict=False)
        model.meta = meta
        return model


def encoder_feedback(code: str, passes: bool, error_type: str, location: str, line: int | None) -> str:
    """The encoder rankef's heads as a sentence: "likely IndexError at line 12: `x = a[i+1]`"."""
    if passes:
        return "likely passes"
    kind = "an error" if error_type in (PASSED, OTHER) else error_type
    if location == "code" and line is not None:
        source = code.split("\n")[line - 1].strip()
        return f"likely {kind} at line {line}: `{source[:80]}`"
    if location == "test":
        return f"likely {kind} in the test"
    return f"likely {kind}"


class CausalRanker(_Ranker):
    """SmolLM2 (+ LoRA) with a class head on the last prompt token; rankef also learns the feedback text."""

    def __init__(self, lm: nn.Module, tokenizer: Any, config: RankerConfig) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self._init_common(config, lm.config.hidden_size)
        self._overhead: int | None = None

    @classmethod
    def create(cls, config: RankerConfig) -> CausalRanker:
        from ranksuite.shared.models.causal_lm import LoraSpec, load_causal_lm

        lm, tokenizer = load_causal_lm(config.backbone, lora=LoraSpec(**config.lora) if config.lora else None)
        return cls(lm, tokenizer, config)

    # -- prompts -----------------------------------------------------------------------------------------
    def _template(self, body: str) -> str:
        from ranksuite.shared.models.causal_lm import chat_prompt

        return chat_prompt(self.tokenizer, f"{body}\n\n{QUESTION}", system=SYSTEM)

    def prompt(self, problem: str, code: str) -> str:
        """The chat prompt around the problem and the program, both cut to ``max_length`` tokens in all."""
        if self._overhead is None:
            self._overhead = len(
                self.tokenizer(self._template(_body("", "")), add_special_tokens=False)["input_ids"]
            )
        cut = fit_pair(
            self.tokenizer, problem, code, self.config.max_length - self._overhead, self.config.problem_tokens
        )
        return self._template(_body(cut.problem, cut.code))

    def answer(self, feedback: str) -> str:
        end = self.tokenizer.eos_token or ""
        ids = self.tokenizer(feedback, add_special_tokens=False)["input_ids"][
            : self.config.feedback_tokens - 1
        ]
        return self.tokenizer.decode(ids) + end

    def input_key(self, problem: str, code: str) -> str:
        return self.prompt(problem, code)

    # -- training ----------------------------------------------------------------------------------------
    def loss(self, batch: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, dict[str, float]]:
        from ranksuite.shared.models.causal_lm import answer_lm_loss, last_hidden

        prompts = [self.prompt(ex["problem"], ex["code"]) for ex in batch]
        window = self.config.max_length + self.config.feedback_tokens
        if self.config.model == "rankef":
            answers = [self.answer(ex["feedback"]) for ex in batch]
            lm_loss, hidden = answer_lm_loss(
                self.lm, self.tokenizer, prompts, answers, max_length=window, return_hidden=True
            )
            ce = self.class_loss(self.cls_head(hidden.float()), batch)
            w = self.config.feedback_weight
            loss = (1 - w) * ce + w * lm_loss
            texts = [p + a for p, a in zip(prompts, answers, strict=True)]
        else:
            hidden = last_hidden(self.lm, self.tokenizer, prompts, max_length=window)
            loss = self.class_loss(self.cls_head(hidden.float()), batch)
            texts = prompts
        tokens = sum(len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"])
        return loss, {"tokens": float(tokens)}

    # -- inference ---------------------------------------------------------------------------------------
    def _predict_batch(self, problems: list[str], codes: list[str]) -> dict[str, Any]:
        from ranksuite.shared.models.causal_lm import last_hidden

        prompts = [self.prompt(p, c) for p, c in zip(problems, codes, strict=True)]
        hidden = last_hidden(self.lm, self.tokenizer, prompts, max_length=self.config.max_length + 8)
        return {"probs": torch.softmax(self.cls_head(hidden.float()), -1).cpu().numpy()}

    def generate_feedback(
        self, problems: Sequence[str], codes: Sequence[str], batch_size: int = 8, progress: bool | str = False
    ) -> list[str]:
        """The feedback text the model expects each program to produce (greedy), without running anything."""
        from ranksuite.shared.models.causal_lm import generate_texts

        prompts = [self.prompt(p, c) for p, c in zip(problems, codes, strict=True)]
        texts = generate_texts(
            self.lm,
            self.tokenizer,
            prompts,
            max_new_tokens=self.config.feedback_tokens,
            batch_size=batch_size,
            max_length=self.config.max_length + 8,
            progress=progress,
        )
        return [t[0].strip() for t in texts]

    # -- persistence -------------------------------------------------------------------------------------
    def save(self, folder: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
        from ranksuite.shared.models.causal_lm import save_causal_lm

        folder = Path(folder)
        self.meta = self._meta(extra_meta)
        save_causal_lm(self.lm, self.tokenizer, folder, {k: v for k, v in self.meta.items() if k != "base"})
        torch.save({k: v for k, v in self.state_dict().items() if not k.startswith("lm.")}, folder / HEADS)
        return folder

    @classmethod
    def load(cls, folder: str | Path, meta: dict[str, Any]) -> CausalRanker:
        from ranksuite.shared.models.causal_lm import load_causal_lm

        lm, tokenizer = load_causal_lm(folder)
        model = cls(lm, tokenizer, RankerConfig(**meta["config"]))
        model.load_state_dict(torch.load(Path(folder) / HEADS, map_location="cpu"), strict=False)
        model.meta = meta
        return model


def _body(problem: str, code: str) -> str:
    return f"Problem:\n{problem}\n\nProgram:\n```python\n{code}\n```"


def build_ranker(config: RankerConfig) -> EncoderRanker | CausalRanker:
    """A fresh ranker (new heads) on ``config.backbone``: an offline name or a local folder."""
    if config.family == "causal":
        return CausalRanker.create(config)
    return EncoderRanker(resolve_backbone(config.backbone), config)


def load_ranker(path: str | Path) -> EncoderRanker | CausalRanker:
    """Load a code ranker saved by training: a run folder (its ``model/``) or the model folder itself."""
    path = Path(path)
    folder = path / "model" if (path / "model" / META_FILE).is_file() else path
    meta = read_meta(folder)
    if meta.get("architecture") != ARCHITECTURE:
        raise ValueError(f"{path}: not a code ranker (train one with `ranksuite code train`)")
    cls = CausalRanker if meta["config"]["family"] == "causal" else EncoderRanker
    return cls.load(folder, meta)


def ranker_config(model: str, backbone: str, max_length: int | None = None, **kwargs: Any) -> RankerConfig:
    """A config with the family's defaults: 256 tokens for an encoder, 384 prompt tokens and LoRA for SmolLM2."""
    family = backbone_family(backbone)
    if family == "causal":
        from ranksuite.shared.models.causal_lm import LoraSpec, lora_settings

        kwargs.setdefault("lora", lora_settings(LoraSpec()))
    return RankerConfig(
        model=model,
        backbone=str(backbone),
        family=family,
        max_length=max_length or (384 if family == "causal" else 256),
        **kwargs,
    )
