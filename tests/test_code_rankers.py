"""Code rankers: pass@k (plain, ranked, random, oracle), the class-weighted loss, input cutting and feedback
targets, and both ranker families (tiny random encoder / tiny random Llama) through loss, prediction and save/load.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ranksuite.domains.code.inputs import (
    LOCATIONS,
    MARKER,
    Shown,
    feedback_of,
    fit_pair,
    line_span,
    shown_code,
)
from ranksuite.domains.code.model import (
    CausalRanker,
    EncoderRanker,
    build_ranker,
    class_targets,
    error_type_vocab,
    load_ranker,
    ranker_config,
    type_index,
)
from ranksuite.shared.losses import ClassWeightedCE, balanced_class_weights
from ranksuite.shared.metrics.code import mean_pass_at_k, oracle_pass_at_k, pass_at_k, ranked_pass_at_k

# -- pass@k ---------------------------------------------------------------------------------------------------


@given(st.integers(1, 40), st.data())
def test_pass_at_k_is_the_combinatorial_estimator(n: int, data: st.DataObject) -> None:
    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    expected = 1.0 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
    assert pass_at_k(n, c, n + 5) == pass_at_k(n, c, n) == float(c > 0)  # k beyond n draws everything


def _brute_force_ranked(scores: list[float], passed: list[bool], k: int) -> float:
    """Average over every order consistent with the scores (ties in every possible order)."""
    hits = []
    for perm in itertools.permutations(range(len(scores))):
        if all(scores[perm[i]] >= scores[perm[i + 1]] for i in range(len(perm) - 1)):
            hits.append(any(passed[j] for j in perm[:k]))
    return float(np.mean(hits))


pools = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.integers(1, n + 1),
    )
)


@settings(max_examples=60, deadline=None)
@given(pools)
def test_ranked_pass_at_k_is_the_expectation_over_tie_breaks(
    pool: tuple[list[float], list[bool], int],
) -> None:
    scores, passed, k = pool
    assert ranked_pass_at_k(scores, passed, k) == pytest.approx(_brute_force_ranked(scores, passed, k))


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.integers(1, 10), st.randoms())
def test_random_oracle_and_order_invariance(passed: list[bool], k: int, rnd) -> None:
    n, c = len(passed), sum(passed)
    # a constant scorer is exactly the random baseline; the label itself as score is the oracle
    assert ranked_pass_at_k([1.0] * n, passed, k) == pytest.approx(pass_at_k(n, c, k))
    assert ranked_pass_at_k([float(p) for p in passed], passed, k) == oracle_pass_at_k(passed, k)
    scores = [rnd.random() for _ in passed]
    order = list(range(n))
    rnd.shuffle(order)
    shuffled = ranked_pass_at_k([scores[i] for i in order], [passed[i] for i in order], k)
    assert shuffled == ranked_pass_at_k(scores, passed, k)
    assert ranked_pass_at_k(scores, passed, k) <= ranked_pass_at_k(scores, passed, k + 1) <= 1.0
    assert pass_at_k(n, c, k) <= oracle_pass_at_k(passed, k)


def test_mean_pass_at_k_over_problems() -> None:
    pools = [(np.array([0.9, 0.1]), np.array([False, True])), (None, np.array([True, False, False, False]))]
    result = mean_pass_at_k(pools, (1, 2))
    assert result["pass@1"] == pytest.approx((0.0 + 0.25) / 2)
    assert result["pass@2"] == pytest.approx((1.0 + 0.5) / 2)
    assert ranked_pass_at_k([np.nan, 1.0], [True, False], 1) == 0.0  # NaN ranks last
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


# -- class-weighted cross-entropy -----------------------------------------------------------------------------


def test_class_weighted_ce_matches_torch_and_handles_partial_targets() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    targets = torch.tensor([0, 1, 2, 2, 1, 0])
    weights = balanced_class_weights([10, 3, 7])
    assert weights == pytest.approx([20 / 30, 20 / 9, 20 / 21])
    ours = ClassWeightedCE(weights)(logits, targets)
    ref = torch.nn.functional.cross_entropy(logits, targets, weight=torch.tensor(weights))
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    # ignored rows drop out
    masked = ClassWeightedCE(weights)(logits, torch.tensor([0, -100, 2, 2, 1, 0]))
    ref = torch.nn.functional.cross_entropy(
        logits, torch.tensor([0, -100, 2, 2, 1, 0]), weight=torch.tensor(weights)
    )
    assert masked.item() == pytest.approx(ref.item(), rel=1e-5)
    # "failed, kind unknown": -log(p1 + p2), weighted by the mean of the two weights
    mask = class_targets([-1])
    loss = ClassWeightedCE(weights)(logits[:1], mask)
    p = torch.softmax(logits[0], -1)
    assert loss.item() == pytest.approx(-math.log(p[1] + p[2]), rel=1e-5)
    assert ClassWeightedCE()(logits, torch.full((6,), -100)).item() == 0.0


# -- inputs and feedback targets ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from ranksuite.shared.models import resolve_backbone

    return AutoTokenizer.from_pretrained(resolve_backbone("minilm"))


def test_fit_pair_keeps_budget_head_and_tail_and_moves_spans(minilm_tokenizer) -> None:
    problem = "Return the sum of a list. " * 40
    code = "def f(xs):\n" + "".join(f"    y{i} = xs[{i}] + {i}\n" for i in range(60)) + "    return y59\n"
    cut = fit_pair(minilm_tokenizer, problem, code, budget=120, problem_tokens=30)
    n = len(minilm_tokenizer(cut.problem, add_special_tokens=False)["input_ids"])
    m = len(minilm_tokenizer(cut.code, add_special_tokens=False)["input_ids"])
    assert n <= 120 - 60 and n + m <= 120
    assert (
        cut.code.startswith("def f(xs):\n") and cut.code.endswith("    return y59\n") and MARKER in cut.code
    )
    assert cut.problem and problem.startswith(cut.problem)
    last = line_span(code, code.count("\n"))  # the return line survives in the tail
    moved = cut.to_cut(last)
    assert moved is not None and cut.code[moved[0] : moved[1]] == "    return y59"
    assert cut.to_original(moved[0]) == last[0]
    assert cut.to_cut(line_span(code, 30)) is None  # the middle was cut away
    short = fit_pair(minilm_tokenizer, "tiny", "x = 1\n", budget=120, problem_tokens=30)
    assert (short.problem, short.code, short.head_end) == ("tiny", "x = 1\n", None)


def test_shown_code_and_feedback_targets() -> None:
    prompt = "def add(a, b):\n    '''Add.'''\n"
    code = prompt + "    c = a + b\n    return c[0]\n"
    view = shown_code(code, (prompt,))
    assert view == Shown("    c = a + b\n    return c[0]\n", 2)
    test = "def check(f):\n    assert f(1, 2) == 3\ncheck(add)"
    row = {
        "code": code,
        "passed": False,
        "error_type": "TypeError",
        "error_message": "not subscriptable",
        "fail_line": 4,
    }
    fb = feedback_of(row, view, test)
    assert fb.text == "TypeError: not subscriptable at line 2: `return c[0]`"
    assert (fb.location, fb.line, fb.error_type) == (LOCATIONS.index("code"), 2, "TypeError")
    in_test = feedback_of(
        {**row, "error_type": "AssertionError", "error_message": "", "fail_line": 8}, view, test
    )
    assert in_test.text == "AssertionError in the test: `assert f(1, 2) == 3`" and in_test.line is None
    assert feedback_of({"code": code, "passed": True}, view, test).text == "passed"
    assert feedback_of({"code": code, "passed": False}, view, test).location == -100
    typed = shown_code("from typing import *\ndef f(): pass\n")
    assert typed == Shown("def f(): pass\n", 1)


def test_error_type_vocab() -> None:
    vocab = error_type_vocab(["A", "B", "A", None, "unknown", "C"], keep=2)
    assert vocab == ["passed", "A", "B", "other"]
    assert [type_index(vocab, t) for t in (None, "A", "C", "unknown")] == [0, 1, 3, -100]


# -- the two ranker families on tiny random backbones ---------------------------------------------------------

BATCH = [
    {
        "problem": "def add(a, b):\n    '''Add two numbers.'''\n",
        "code": "    return a + b\n",
        "label": 0,
        "feedback": "passed",
        "error_type": 0,
        "location": 0,
        "line": None,
    },
    {
        "problem": "def add(a, b):\n    '''Add two numbers.'''\n",
        "code": "    c = a + b\n    return c[0]\n",
        "label": 1,
        "feedback": "TypeError: not subscriptable at line 2: `return c[0]`",
        "error_type": 2,
        "location": 1,
        "line": 2,
    },
    {
        "problem": "def add(a, b):\n    '''Add two numbers.'''\n",
        "code": "    return a - b\n",
        "label": 2,
        "feedback": "AssertionError in the test: `assert add(1, 2) == 3`",
        "error_type": 1,
        "location": 2,
        "line": None,
    },
    {
        "problem": "Read n.",
        "code": "print(1)\n",
        "label": -1,
        "feedback": "failed",
        "error_type": -100,
        "location": -100,
        "line": None,
    },
]


@pytest.fixture(scope="module")
def tiny_llama(tiny_causal_lm: Path) -> Path:
    """The shared tiny random Llama (tests/conftest.py) under this module's name."""
    return tiny_causal_lm


def _config(model: str, backbone: Path):
    lora = {"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": "all-linear"}
    extra = {"lora": lora} if "llama" in backbone.name else {}
    vocab = ["passed", "AssertionError", "TypeError", "other"] if model == "rankef" else []
    return ranker_config(model, str(backbone), 96, problem_tokens=24, error_types=vocab, **extra)


@pytest.mark.parametrize("model", ["classifier", "rankef"])
@pytest.mark.parametrize("family", ["encoder", "causal"])
def test_loss_backward_predict_and_round_trip(
    model: str, family: str, tiny_backbone: Path, tiny_llama: Path, tmp_path: Path
) -> None:
    backbone = tiny_backbone if family == "encoder" else tiny_llama
    config = _config(model, backbone)
    assert config.family == family
    torch.manual_seed(0)
    ranker = build_ranker(config)
    assert isinstance(ranker, EncoderRanker if family == "encoder" else CausalRanker)
    loss, stats = ranker.loss(BATCH)
    assert torch.isfinite(loss) and loss.item() > 0 and stats["tokens"] > 0
    loss.backward()
    assert ranker.cls_head.weight.grad is not None and ranker.cls_head.weight.grad.abs().sum() > 0
    if family == "encoder" and model == "rankef":
        assert ranker.line_head.weight.grad.abs().sum() > 0 and ranker.type_head.weight.grad.abs().sum() > 0
    problems, codes = [ex["problem"] for ex in BATCH], [ex["code"] for ex in BATCH]
    out = ranker.predict(problems, codes, batch_size=3)
    assert out["probs"].shape == (4, 3) and np.allclose(out["probs"].sum(1), 1.0, atol=1e-5)
    if family == "encoder" and model == "rankef":
        assert all(f.startswith("likely") for f in out["feedback"])
    ranker.save(tmp_path / "model", extra_meta={"training": {"train_problems": ["x:1"]}})
    loaded = load_ranker(tmp_path / "model")
    assert loaded.config == ranker.config and loaded.meta["training"]["train_problems"] == ["x:1"]
    again = loaded.predict(problems, codes, batch_size=4)
    assert np.allclose(again["probs"], out["probs"], atol=1e-5)


def test_causal_rankef_is_one_forward_pass_with_the_head_on_the_last_prompt_token(tiny_llama: Path) -> None:
    from ranksuite.shared.models.causal_lm import answer_lm_loss, last_hidden

    ranker = build_ranker(_config("rankef", tiny_llama))
    ranker.eval()
    prompts = [ranker.prompt(ex["problem"], ex["code"]) for ex in BATCH[:3]]
    answers = [ranker.answer(ex["feedback"]) for ex in BATCH[:3]]
    assert all(a.endswith(ranker.tokenizer.eos_token) for a in answers)
    with torch.no_grad():
        _, hidden = answer_lm_loss(
            ranker.lm, ranker.tokenizer, prompts, answers, max_length=160, return_hidden=True
        )
        alone = last_hidden(ranker.lm, ranker.tokenizer, prompts, max_length=160)
    # what training reads equals what ranking reads: P(correct) needs no feedback text
    assert torch.allclose(hidden, alone, atol=1e-4)
    texts = ranker.generate_feedback([BATCH[0]["problem"]], [BATCH[0]["code"]])
    assert len(texts) == 1 and isinstance(texts[0], str)


def test_frozen_layers_give_the_same_states_and_train_only_the_top(tiny_backbone: Path) -> None:
    full = EncoderRanker(tiny_backbone, _config("classifier", tiny_backbone))
    top = EncoderRanker(tiny_backbone, replace(_config("classifier", tiny_backbone), train_layers=1))
    top.load_state_dict(full.state_dict())
    full.eval(), top.eval()
    cuts = [full.cut(ex["problem"], ex["code"]) for ex in BATCH]
    with torch.no_grad():
        a, mask, _ = full.encode(cuts)
        b, _, _ = top.encode(cuts)
        c, _, _ = top.encode(cuts)  # the second time from the cache
    m = mask.bool()
    assert torch.allclose(a[m], b[m], atol=1e-5) and torch.allclose(b[m], c[m])
    trainable = {n for n, p in top.named_parameters() if p.requires_grad}
    assert "encoder.encoder.layer.1.output.dense.weight" in trainable
    assert not any(n.startswith(("encoder.embeddings", "encoder.encoder.layer.0.")) for n in trainable)
    top.train()
    assert not top.encoder.encoder.layer[0].training and top.encoder.encoder.layer[1].training
