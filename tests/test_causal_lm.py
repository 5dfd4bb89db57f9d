"""The shared causal-LM helpers: left padding must not change a row's scores, the loss must ignore the prompt."""

from __future__ import annotations

import torch

from ranksuite.shared.models.causal_lm import (
    LoraSpec,
    answer_lm_loss,
    answer_logprobs,
    chat_prompt,
    generate_texts,
    load_causal_lm,
    save_causal_lm,
)

PROMPTS = ["Is 2 + 2 equal to 4?", "Is the sky green on a clear day, in every country of the world?", "SQL?"]


def test_single_pass_scores_do_not_depend_on_batching(tiny_causal_lm):
    model, tok = load_causal_lm(tiny_causal_lm, device="cpu")
    prompts = [chat_prompt(tok, p) for p in PROMPTS]
    batched = answer_logprobs(model, tok, prompts, answers=("Yes", "No"), batch_size=8)
    alone = torch.cat([answer_logprobs(model, tok, [p], answers=("Yes", "No")) for p in prompts])
    assert batched.shape == (3, 2)
    assert torch.allclose(batched, alone, atol=1e-5)
    assert torch.allclose(batched.exp().sum(-1), torch.ones(3), atol=1e-5)


def test_loss_covers_only_the_answer(tiny_causal_lm):
    model, tok = load_causal_lm(tiny_causal_lm, device="cpu")
    prompt, answer = chat_prompt(tok, PROMPTS[1]), "Yes"
    loss = answer_lm_loss(model, tok, [prompt], [answer])
    ids = tok(prompt + answer, add_special_tokens=False, return_tensors="pt")["input_ids"]
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    expected = torch.nn.functional.cross_entropy(logits[n_prompt - 1 : -1], ids[0, n_prompt:])
    assert torch.allclose(loss, expected, atol=1e-4)
    # the same row padded beside a longer one gives the same loss
    pair = answer_lm_loss(model, tok, [prompt, chat_prompt(tok, PROMPTS[0] * 5)], [answer, "No"])
    other = answer_lm_loss(model, tok, [chat_prompt(tok, PROMPTS[0] * 5)], ["No"])
    n_a = len(tok(prompt + answer, add_special_tokens=False)["input_ids"]) - n_prompt
    n_b = len(tok(chat_prompt(tok, PROMPTS[0] * 5) + "No", add_special_tokens=False)["input_ids"]) - len(
        tok(chat_prompt(tok, PROMPTS[0] * 5), add_special_tokens=False)["input_ids"]
    )
    assert torch.allclose(pair, (loss * n_a + other * n_b) / (n_a + n_b), atol=1e-4)


def test_greedy_generation_is_batch_invariant(tiny_causal_lm):
    model, tok = load_causal_lm(tiny_causal_lm, device="cpu")
    prompts = [chat_prompt(tok, p) for p in PROMPTS]
    batched = generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=3)
    alone = [generate_texts(model, tok, [p], max_new_tokens=6)[0] for p in prompts]
    assert batched == alone
    assert all(len(r) == 1 for r in batched)


def test_lora_adapter_round_trip(tiny_causal_lm, tmp_path):
    model, tok = load_causal_lm(tiny_causal_lm, lora=LoraSpec(r=4, alpha=8, dropout=0.0), device="cpu")
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n in trainable)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.add_(0.05)  # move away from the identity start so the adapter matters
    prompts = [chat_prompt(tok, p) for p in PROMPTS]
    before = answer_logprobs(model, tok, prompts, answers=("Yes", "No"))
    folder = save_causal_lm(model, tok, tmp_path / "orm", {"domain": "test"})
    assert (folder / "adapter_config.json").exists()
    reloaded, tok2 = load_causal_lm(folder, device="cpu")
    assert torch.allclose(before, answer_logprobs(reloaded, tok2, prompts, answers=("Yes", "No")), atol=1e-5)
