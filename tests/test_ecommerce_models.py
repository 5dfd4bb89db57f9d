"""E-commerce rankers (DNN, DIN, AW-MoE): build, fit a few steps through the shared Trainer, save, load, predict;
the AW-MoE gate and contrastive term; the CLI train -> evaluate -> rank on a small slice of real Amazon Beauty."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from ranksuite.domains.ecommerce.data import ITEMS_SCHEMA, EcomData, Histories, build_batch
from ranksuite.domains.ecommerce.model import ActivationUnit, ModelConfig, build_model
from ranksuite.domains.ecommerce.train import (
    load_model,
    make_evaluator,
    prepare,
    save_model,
    to_tensors,
    train_ecommerce,
    training_examples,
)
from ranksuite.shared.training import TrainConfig

METRICS = {"auc", "gauc", "ndcg@10", "hr@10"}


def tiny_data(n_users: int = 40, n_items: int = 80, seed: int = 0) -> EcomData:
    rng = np.random.default_rng(seed)
    users, items, pos = [], [], []
    for u in range(1, n_users + 1):
        seq = rng.choice(np.arange(1, n_items + 1), size=int(rng.integers(3, 12)), replace=False)
        users += [u] * seq.size
        items += seq.tolist()
        pos += list(range(seq.size))
    inter = pl.DataFrame(
        {"user_id": users, "item_id": items, "position": pos},
        schema={"user_id": pl.Int64, "item_id": pl.Int64, "position": pl.Int32},
    )
    ids = list(range(1, n_items + 1))
    cats = [[1 + i % 5, 6 + i % 3] if i % 7 else [] for i in ids]
    brand = [1 + i % 4 if i % 3 else None for i in ids]
    frame = pl.DataFrame({"item_id": ids, "category_ids": cats, "brand_id": brand}, schema=ITEMS_SCHEMA)
    return EcomData("tiny", inter, frame)


@pytest.fixture(scope="module")
def prep():
    return prepare(tiny_data(), seed=0, n_negatives=20)


def small_config(prep, arch: str, **kw) -> ModelConfig:
    return ModelConfig(
        architecture=arch,
        n_items=prep.n_items,
        n_categories=prep.n_categories,
        n_brands=prep.n_brands,
        dim=4,
        hidden=(16,),
        attention_hidden=(8,),
        expert_hidden=(8,),
        experts=3,
        max_len=8,
        **kw,
    )


def tensor_batch(prep, max_len: int = 8, n: int = 12) -> dict[str, torch.Tensor]:
    hist = prep.split.histories("train")
    rows = np.arange(n) % len(hist)
    targets = (np.arange(n) % (prep.n_items - 1)) + 1
    labels = (np.arange(n) % 2).astype(np.float32)
    nb = build_batch(hist, rows, targets, labels, features=prep.features, max_len=max_len)
    return to_tensors(nb, torch.device("cpu"))


@pytest.mark.parametrize(
    "arch,contrastive", [("dnn", True), ("din", True), ("awmoe", True), ("awmoe", False)]
)
def test_fit_save_load_predict(tmp_path: Path, prep, arch: str, contrastive: bool) -> None:
    mc = small_config(prep, arch, contrastive=contrastive)
    cfg = TrainConfig(batch_size=40, lr=1e-2, max_steps=3, weight_decay=0.0, seed=1)
    result = train_ecommerce(
        None, tmp_path / "run", mc, cfg, negatives=3, eval_users=None, progress=False, prepared=prep
    )
    assert result.steps == 3
    info = json.loads((tmp_path / "run" / "model" / "ranksuite.json").read_text())
    assert info["domain"] == "ecommerce" and info["architecture"] == arch
    assert info["config"]["n_items"] == prep.n_items and info["config"]["max_len"] == 8
    assert set(info["metrics"]["valid"]) == METRICS
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(e["loss"]) for e in log if "loss" in e)

    model = load_model(tmp_path / "run")  # run folder -> model/
    # the reloaded model reproduces the validation metrics the trainer recorded for it
    ev = make_evaluator(prep, 8, None, seed=1)
    again = ev(model)
    for k in METRICS:
        assert again[k] == pytest.approx(info["metrics"]["valid"][k], abs=1e-6)
    # save -> load -> identical outputs
    save_model(model, tmp_path / "copy", {"data": None})
    twin = load_model(tmp_path / "copy")
    batch = tensor_batch(prep)
    with torch.no_grad():
        a, b = model(batch), twin(batch)
    assert a["logit"].shape == (12,)
    torch.testing.assert_close(a["logit"], b["logit"], rtol=0, atol=0)
    assert ("gate" in a) == (arch == "awmoe")


def test_gate_sums_to_one(prep) -> None:
    torch.manual_seed(0)
    model = build_model(small_config(prep, "awmoe")).eval()
    batch = tensor_batch(prep)
    batch["hist_mask"][0] = False  # a user with no behaviour at all still gets a valid gate
    with torch.no_grad():
        gate = model(batch)["gate"]
    assert gate.shape == (12, 3)
    assert torch.isfinite(gate).all() and (gate >= 0).all()
    torch.testing.assert_close(gate.sum(-1), torch.ones(12))


def test_masking_and_contrastive_loss_reach_the_gate(prep) -> None:
    torch.manual_seed(0)
    model = build_model(small_config(prep, "awmoe", mask_ratio=0.5, temperature=0.2))
    batch = tensor_batch(prep)
    masked = model.random_mask(batch["hist_mask"])
    assert not (masked & ~batch["hist_mask"]).any()  # masking only removes behaviours
    assert masked.sum() < batch["hist_mask"].sum()
    g1, g2 = model.gate_views(batch)
    assert not torch.equal(g1, g2)  # two different random views
    loss = model.contrastive_loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for p in (model.gate_unit.weight, model.gate_attention.mlp.net[0].weight, model.embedding.item.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert all(p.grad is None for e in model.experts for p in e.parameters())


def test_activation_unit_equals_din_concatenation() -> None:
    torch.manual_seed(0)
    unit = ActivationUnit(6, (5, 4))
    keys, query = torch.randn(3, 7, 6), torch.randn(3, 6)
    mask = torch.rand(3, 7) > 0.3
    q = query.unsqueeze(1).expand_as(keys)
    ref = unit.mlp(torch.cat([keys, q, keys - q, keys * q], -1)).squeeze(-1) * mask
    torch.testing.assert_close(unit.weights(keys, query, mask), ref, rtol=1e-5, atol=1e-6)
    soft = ActivationUnit(6, (5,), "softmax").weights(keys, query, mask)
    torch.testing.assert_close(soft.sum(-1), torch.ones(3))
    assert (soft[~mask] == 0).all()


def test_training_examples() -> None:
    hist = Histories.from_lists([[5, 6, 7, 8], [9], [2, 3]], user_ids=[10, 11, 12])
    ex = training_examples(hist, n_items=30, negatives=2, seed=0)
    pos = ex.labels == 1
    got = sorted(zip(ex.rows[pos].tolist(), ex.ends[pos].tolist(), ex.targets[pos].tolist(), strict=True))
    assert got == [(0, 1, 6), (0, 2, 7), (0, 3, 8), (2, 1, 3)]
    assert len(ex) == 4 * 3 and ex[5] == 5
    for r, t in zip(ex.rows[~pos].tolist(), ex.targets[~pos].tolist(), strict=True):
        assert t not in hist.row(r).tolist() and 1 <= t < 30
    last = training_examples(hist, n_items=30, negatives=0, max_positions=1)
    assert sorted(last.targets.tolist()) == [3, 8]
    again = training_examples(hist, n_items=30, negatives=2, seed=0)
    assert np.array_equal(again.targets, ex.targets)


# ----------------------------------------------------------------------------- CLI on a real slice


def beauty_slice(shared_data: Path, out: Path, n_users: int = 300) -> Path:
    src = shared_data / "ecommerce" / "amazon_s3rec" / "beauty"
    if not src.is_dir():
        pytest.skip(f"{src} not found")
    with gzip.open(src / "sequences.txt.gz", "rt") as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.strip()][:n_users]
    out.mkdir(parents=True)
    with gzip.open(out / "sequences.txt.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    used = {tok for ln in lines for tok in ln.split()[1:]}
    with gzip.open(src / "item2attributes.json.gz", "rt") as fh:
        attrs = json.load(fh)
    with gzip.open(out / "item2attributes.json.gz", "wt") as fh:
        json.dump({k: v for k, v in attrs.items() if k in used}, fh)
    return out


def test_cli_train_evaluate_rank(tmp_path: Path, shared_data: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from ranksuite.domains.ecommerce import cli

    root = typer.Typer()
    root.add_typer(cli.app, name="ecommerce")

    @root.callback()
    def _root() -> None:  # keep `ecommerce` a sub-command
        pass

    data = beauty_slice(shared_data, tmp_path / "beauty300")
    runner = CliRunner()
    run = tmp_path / "run"
    res = runner.invoke(
        root,
        ["ecommerce", "train", "--data", str(data), "--model", "awmoe", "--experts", "2", "--mask-ratio", "0.2",
         "--cl-weight", "0.5", "--temperature", "0.2", "--batch-size", "128", "--max-steps", "5",
         "--dim", "4", "--max-len", "10", "--eval-users", "100",
         "--out", str(run)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    info = json.loads((run / "model" / "ranksuite.json").read_text())
    assert info["config"]["experts"] == 2 and info["config"]["cl_weight"] == 0.5
    assert info["data"]["kind"] == "amazon"

    res = runner.invoke(root, ["ecommerce", "evaluate", "--data", str(data), "--model", str(run),
                               "--out", str(tmp_path / "eval")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "long tail" in res.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics) == {"overall", "long_tail", "long_tail_truncated", "info"}
    for key in ("overall", "long_tail", "long_tail_truncated"):
        assert set(metrics[key]) == METRICS
        assert all(0.0 <= v <= 1.0 for v in metrics[key].values())
    assert metrics["info"]["users"] == 300 and 0 < metrics["info"]["long_tail_users"] < 300

    with gzip.open(data / "sequences.txt.gz", "rt") as fh:
        user, *hist = fh.readline().split()
    cands = tmp_path / "cands.txt"
    cands.write_text("1\n2, 3\n" + hist[0] + "\n")
    res = runner.invoke(root, ["ecommerce", "rank", "--model", str(run), "--user", user, "--items", str(cands),
                               "--data", str(data)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "gate" in res.output
    res = runner.invoke(root, ["ecommerce", "rank", "--model", str(run), "--user", "999999",
                               "--items", str(cands), "--data", str(data)])  # fmt: skip
    assert res.exit_code == 2 and "not in" in res.output


# ----------------------------------------------------------------------------- padding, trimming, fast scoring


@pytest.mark.parametrize("arch", ["dnn", "din", "awmoe"])
def test_outputs_do_not_depend_on_padding(prep, arch: str) -> None:
    """Trimmed batches (only the longest history's columns) and packed attention give the padded result."""
    torch.manual_seed(0)
    model = build_model(small_config(prep, arch)).eval()
    hist = prep.split.histories("train")
    rows = np.arange(len(hist))
    targets = (rows % (prep.n_items - 1)) + 1
    ends = np.minimum(hist.lengths, 1 + rows % 3)  # short prefixes: most columns are padding
    full = build_batch(hist, rows, targets, features=prep.features, max_len=8, ends=ends)
    trim = build_batch(hist, rows, targets, features=prep.features, max_len=8, ends=ends, trim=True)
    assert trim["hist_items"].shape[1] == ends.max() < 8
    assert np.array_equal(full["hist_items"][:, -ends.max() :], trim["hist_items"])
    with torch.no_grad():
        a = model(to_tensors(full, torch.device("cpu")))["logit"]
        b = model(to_tensors(trim, torch.device("cpu")))["logit"]
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_score_candidates_keeps_user_order(prep) -> None:
    from ranksuite.domains.ecommerce.train import score_candidates

    torch.manual_seed(0)
    model = build_model(small_config(prep, "din")).eval()
    hist = prep.split.histories("test")
    cands = prep.candidates["test"]
    rows = hist.rows_of(cands.user_ids)
    got = score_candidates(model, hist, rows, cands.items, prep.features, 8, chunk_rows=50)
    for u in (0, 7, len(rows) - 1):
        nb = build_batch(hist, np.full(cands.items.shape[1], rows[u]), cands.items[u], features=prep.features,
                         max_len=8)  # fmt: skip
        with torch.no_grad():
            ref = model(to_tensors(nb, torch.device("cpu")))["logit"].numpy()
        np.testing.assert_allclose(got[u], ref, rtol=1e-5, atol=1e-6)


def test_evaluate_valid_stage(prep) -> None:
    from ranksuite.domains.ecommerce.evaluate import evaluate_model

    torch.manual_seed(0)
    model = build_model(small_config(prep, "awmoe")).eval()
    valid = evaluate_model(model, prep, stage="valid")
    test = evaluate_model(model, prep)
    assert valid["info"]["stage"] == "valid" and test["info"]["stage"] == "test"
    assert set(valid["overall"]) == METRICS and valid["overall"] != test["overall"]
    with pytest.raises(ValueError):
        evaluate_model(model, prep, stage="train")
