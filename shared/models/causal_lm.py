"""Small causal language models (SmolLM2) for every domain that generates or judges text.

One place for what GradeSQL-style reward models, RankEF-style code rankers and DUQGen's query generator all need:

- loading an offline causal LM (``smollm2`` or a local folder), optionally with a LoRA adapter through ``peft``;
- **left padding everywhere**, with explicit ``position_ids`` from the attention mask, so that position ``-1`` of
  every row is that row's last real token (scoring reads the answer logits there; generation continues from it);
- batched greedy or sampled generation (``generate_texts``);
- single-pass answer scoring (``answer_logprobs``): the log-probabilities of a few answer tokens (" Yes" / " No") at
  the answer position, read from one batched forward pass instead of a ``generate`` call per candidate;
- a prompt-masked LM loss (``answer_lm_loss``): only the answer tokens are learnt, never the prompt or the padding.

Saved folders hold either full weights (``save_pretrained``) or a LoRA adapter plus ``ranksuite.json`` naming the
base model, so ``load_causal_lm(folder)`` restores both kinds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ranksuite.shared.device import eval_mode, pick_device
from ranksuite.shared.models.registry import quiet_transformers, resolve_backbone

META = "ranksuite.json"


@dataclass
class LoraSpec:
    """GradeSQL's adapter: r 16, alpha 64, dropout 0.05 on every linear projection of the decoder."""

    r: int = 16
    alpha: int = 64
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


def load_causal_lm(
    name_or_path: str | Path = "smollm2",
    lora: LoraSpec | None = None,
    device: str | torch.device | None = None,
) -> tuple[torch.nn.Module, Any]:
    """``(model, tokenizer)`` with the tokenizer set to pad on the left.

    ``name_or_path`` is an offline name, a model folder, or a folder saved by :func:`save_causal_lm` (full weights
    or a LoRA adapter over the base named in its ``ranksuite.json``). ``lora`` adds a fresh trainable adapter.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    path = resolve_backbone(str(name_or_path))
    meta = json.loads((path / META).read_text()) if (path / META).exists() else {}
    if (path / "adapter_config.json").exists():
        from peft import PeftModel

        base_path = resolve_backbone(meta.get("base", "smollm2"))
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, path, is_trainable=lora is not None)
        tokenizer = AutoTokenizer.from_pretrained(
            path if (path / "tokenizer_config.json").exists() else base_path
        )
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if lora is not None:
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=lora.r,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=lora.target_modules,
                task_type="CAUSAL_LM",
            )
            model = get_peft_model(model, config)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.ranksuite_meta = {**meta, "base": meta.get("base", str(name_or_path))}
    return model.to(pick_device(device)), tokenizer


def save_causal_lm(model: torch.nn.Module, tokenizer: Any, folder: str | Path, meta: dict[str, Any]) -> Path:
    """Save weights (or only the LoRA adapter), the tokenizer and ``ranksuite.json`` (base model, training)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    base = getattr(model, "ranksuite_meta", {}).get("base", "smollm2")
    (folder / META).write_text(json.dumps({"base": base, **meta}, indent=2, default=str))
    return folder


def chat_prompt(tokenizer: Any, user: str, system: str | None = None) -> str:
    """The model's chat template around one user turn, ending where the assistant's answer begins."""
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def lora_settings(lora: LoraSpec | None) -> dict[str, Any] | None:
    return asdict(lora) if lora else None


def _encode(tokenizer: Any, texts: Sequence[str], max_length: int | None, device: torch.device):
    """Left-padded batch; over-long texts lose their *beginning* so the answer position is never cut."""
    tokenizer.truncation_side = "left"
    enc = tokenizer(
        list(texts),
        return_tensors="pt",
        padding=True,
        truncation=max_length is not None,
        max_length=max_length,
        add_special_tokens=False,
    )
    mask = enc["attention_mask"]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return enc["input_ids"].to(device), mask.to(device), positions.to(device)


def answer_token_ids(tokenizer: Any, answers: Sequence[str]) -> list[int]:
    """The first token id of each answer string (e.g. " Yes", " No"); they must differ."""
    ids = [tokenizer(a, add_special_tokens=False)["input_ids"][0] for a in answers]
    if len(set(ids)) != len(ids):
        raise ValueError(f"answers {list(answers)} share a first token: pick answers that differ at once")
    return ids


def answer_logprobs(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str] = (" Yes", " No"),
    batch_size: int = 16,
    max_length: int | None = 1024,
    progress: bool | str = False,
) -> torch.Tensor:
    """``[N, len(answers)]`` log-probabilities, renormalised over the answers, at each prompt's next position.

    One forward pass per batch; prompts are sorted by length so padding stays small.
    """
    from ranksuite.shared.device import autocast

    ids = answer_token_ids(tokenizer, answers)
    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = torch.empty(len(prompts), len(ids))
    bar = tqdm(
        total=len(prompts), disable=not progress, desc=progress if isinstance(progress, str) else "scoring"
    )
    with eval_mode(model), torch.inference_mode(), autocast(device):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            input_ids, mask, positions = _encode(tokenizer, [prompts[i] for i in chunk], max_length, device)
            logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions).logits[:, -1]
            out[chunk] = torch.log_softmax(logits[:, ids].float(), dim=-1).cpu()
            bar.update(len(chunk))
    bar.close()
    return out


def answer_lm_loss(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    max_length: int | None = 1024,
    return_hidden: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Mean token cross-entropy of ``answers`` given ``prompts``; prompt and padding tokens are masked out.

    With ``return_hidden`` also the last hidden state at each prompt's final token (``[B, H]``), the position a
    classification head reads, from the same forward pass.
    """
    device = next(model.parameters()).device
    texts = [p + a for p, a in zip(prompts, answers, strict=True)]
    prompt_lens = [len(ids) for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]
    full_lens = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    input_ids, mask, positions = _encode(tokenizer, texts, max_length, device)
    labels = input_ids.clone()
    lengths = mask.sum(-1).tolist()
    width = input_ids.shape[1]
    answer_starts = []
    for row, (n_prompt, n_full, n_all) in enumerate(zip(prompt_lens, full_lens, lengths, strict=True)):
        n_answer = min(n_full - n_prompt, n_all - 1)  # the left cut removes prompt tokens, never the answer
        start = width - n_answer
        labels[row, :start] = -100
        answer_starts.append(start)
    out = model(
        input_ids=input_ids, attention_mask=mask, position_ids=positions, output_hidden_states=return_hidden
    )
    logits = out.logits[:, :-1].float()
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
    )
    if not return_hidden:
        return loss
    rows = torch.arange(len(prompts), device=device)
    last_prompt = torch.tensor(answer_starts, device=device) - 1
    return loss, out.hidden_states[-1][rows, last_prompt]


def last_hidden(
    model: torch.nn.Module, tokenizer: Any, prompts: Sequence[str], max_length: int | None = 1024
) -> torch.Tensor:
    """``[B, H]`` final-layer hidden state at each prompt's last token (left padding: position -1)."""
    device = next(model.parameters()).device
    input_ids, mask, positions = _encode(tokenizer, prompts, max_length, device)
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, output_hidden_states=True)
    return out.hidden_states[-1][:, -1]


def generate_texts(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int = 64,
    batch_size: int = 16,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    num_return_sequences: int = 1,
    max_length: int | None = 1024,
    progress: bool | str = False,
) -> list[list[str]]:
    """For each prompt, ``num_return_sequences`` continuations (special tokens stripped), batched and left-padded.

    Greedy by default (DUQGen's setting); sampling for candidate pools. Seed the caller's RNG for repeatable samples.
    """
    from ranksuite.shared.device import autocast

    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[list[str]] = [[] for _ in prompts]
    bar = tqdm(
        total=len(prompts), disable=not progress, desc=progress if isinstance(progress, str) else "generating"
    )
    with eval_mode(model), torch.inference_mode(), autocast(device):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            input_ids, mask, _ = _encode(tokenizer, [prompts[i] for i in chunk], max_length, device)
            kwargs: dict[str, Any] = {"do_sample": do_sample, "num_return_sequences": num_return_sequences}
            if do_sample:
                kwargs.update(temperature=temperature, top_p=top_p)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            generated = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                **kwargs,
            )
            texts = tokenizer.batch_decode(generated[:, input_ids.shape[1] :], skip_special_tokens=True)
            for j, i in enumerate(chunk):
                results[i] = texts[j * num_return_sequences : (j + 1) * num_return_sequences]
            bar.update(len(chunk))
    bar.close()
    return results
