"""Training end to end on the demo collection with a tiny random BERT (CPU): CLI runs, exact resume, best-model
keeping, distillation, multi-stage schedules, merging and torchrun."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from ranksuite.cli.app import app
from ranksuite.shared.models import CrossEncoder, load_scorer
from ranksuite.shared.models.merge import slerp
from ranksuite.shared.training import TrainConfig, ir_train
from ranksuite.shared.training.ir_train import RankerSpec, resolve_init, train_ranker

HERE = Path(__file__).resolve().parent


def invoke(args: list[str]):
    return CliRunner().invoke(app, ["--device", "cpu", *[str(a) for a in args]])


def invoke_ok(args: list[str]):
    result = invoke(args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def train_args(demo_dir: Path, backbone: Path, out: Path, *extra: str) -> list[str]:
    return [
        "ir", "train", "--data", demo_dir, "--backbone", backbone, "--max-length", "64",
        "--batch-size", "4", "--dev-queries", "4", "--out", out, *extra,
    ]  # fmt: skip


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_scorer(resolve_init(str(folder))).state_dict()


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-6) -> None:
    assert set(a) == set(b)
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=0), k


def differs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return any(not torch.allclose(a[k].float(), b[k].float()) for k in a)


# ----------------------------------------------------------------------------- fixtures: trained runs


@pytest.fixture(scope="module")
def cross_run(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path, tiny_backbone: Path) -> Path:
    """`ranksuite ir train` of a cross-encoder (contrastive loss, 4 steps)."""
    out = tmp_path_factory.mktemp("runs") / "ce-C"
    invoke_ok(
        train_args(
            demo_dir, tiny_backbone, out, "--arch", "cross", "--loss", "contrastive", "--max-steps", "4"
        )
    )
    return out


@pytest.fixture(scope="module")
def teacher_file(cross_run: Path, demo_dir: Path) -> Path:
    out = cross_run.parent / "teacher.parquet"
    result = invoke_ok(
        ["--json", "ir", "teacher-score", "--model", cross_run, "--data", demo_dir, "--out", out,
         "--batch-size", "32"]
    )  # fmt: skip
    assert json.loads(result.stdout)["out"] == str(out)
    return out


# ----------------------------------------------------------------------------- ir train


def test_cli_train_writes_a_complete_run_folder(cross_run: Path) -> None:
    for name in (
        "config.json",
        "log.jsonl",
        "train_metrics.json",
        "training.png",
        "checkpoint.pt",
        "groups.parquet",
        "model/ranksuite.json",
        "best/ranksuite.json",
    ):
        assert (cross_run / name).exists(), name
    config = json.loads((cross_run / "config.json").read_text())
    assert config["max_steps"] == 4 and config["batch_size"] == 4
    assert config["extra"]["spec"]["arch"] == "cross"
    metrics = json.loads((cross_run / "train_metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["world_size"] == 1
    log = [json.loads(line) for line in (cross_run / "log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 0 and "eval" in log[0]
    assert any("loss" in e for e in log) and log[-1]["step"] == 4
    meta = json.loads((cross_run / "model" / "ranksuite.json").read_text())
    assert meta["architecture"] == "cross" and meta["domain"] == "ir"
    assert meta["training"]["loss"] == "contrastive" and meta["training"]["dataset"] == "minicorpus"
    model = load_scorer(cross_run / "model")
    assert isinstance(model, CrossEncoder) and model.max_length == 64
    assert model.score(["a query"], ["a document"]).shape == (1,)
    assert (cross_run / "training.png").read_bytes()[:4] == b"\x89PNG"
    groups = pl.read_parquet(cross_run / "groups.parquet")
    assert groups["docnos"].list.len().unique().to_list() == [8]


def test_commands_take_the_run_folder_a_training_printed(cross_run: Path, demo_dir: Path) -> None:
    # `ir train --out RUN` prints RUN; evaluating with `--rerank RUN` must load RUN/model, not refuse the folder
    args = ["--json", "ir", "evaluate", "--data", demo_dir, "--model", "bm25", "--top-k", "5", "--rerank"]
    result = invoke([*args, cross_run])
    assert result.exit_code == 0, result.output
    via_run = json.loads(result.stdout)
    result = invoke([*args, cross_run / "model"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ndcg@10"] == via_run["ndcg@10"]


def test_best_model_is_kept_and_the_start_is_evaluated(cross_run: Path) -> None:
    metrics = json.loads((cross_run / "train_metrics.json").read_text())
    assert metrics["initial"] is not None and "ndcg@10" in metrics["initial"]
    assert metrics["best_step"] in (0, 4)
    assert metrics["best"]["ndcg@10"] >= metrics["initial"]["ndcg@10"]
    log = [json.loads(line) for line in (cross_run / "log.jsonl").read_text().splitlines()]
    evals = [e for e in log if "eval" in e]
    assert [e["step"] for e in evals] == [0, 4]  # before training and at the end
    assert evals[0]["eval"] == metrics["initial"]
    assert max(e["eval"]["ndcg@10"] for e in evals) == metrics["best"]["ndcg@10"]
    assert_same_weights(weights(cross_run / "model"), weights(cross_run / "best"), atol=0)


def test_training_resumes_exactly(
    tmp_path: Path, demo_dir: Path, tiny_backbone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = RankerSpec(arch="cross", backbone=str(tiny_backbone), max_length=64)

    def config() -> TrainConfig:
        return TrainConfig(
            max_steps=6, batch_size=4, lr=1e-3, checkpoint_every=2, eval_every=100, device="cpu"
        )

    run_a, run_b = tmp_path / "A", tmp_path / "B"
    train_ranker(demo_dir, run_a, spec, config(), dev_queries=4, progress=False)

    real = ir_train.ranking_step_fn

    def interrupted_step_fn(*args, **kwargs):
        step = real(*args, **kwargs)
        calls = {"n": 0}

        def wrapped(model, examples):
            calls["n"] += 1
            if calls["n"] == 5:  # one micro-batch per step: this is step 5, after the checkpoint of step 4
                raise KeyboardInterrupt
            return step(model, examples)

        return wrapped

    monkeypatch.setattr(ir_train, "ranking_step_fn", interrupted_step_fn)
    with pytest.raises(KeyboardInterrupt):
        train_ranker(demo_dir, run_b, spec, config(), dev_queries=4, progress=False)
    monkeypatch.setattr(ir_train, "ranking_step_fn", real)
    assert torch.load(run_b / "checkpoint.pt", weights_only=False)["step"] == 4
    assert not (run_b / "model").exists()

    result = train_ranker(demo_dir, run_b, spec, config(), dev_queries=4, resume=True, progress=False)
    assert result.steps == 6
    ckpt_a = torch.load(run_a / "checkpoint.pt", weights_only=False)
    ckpt_b = torch.load(run_b / "checkpoint.pt", weights_only=False)
    assert ckpt_a["step"] == ckpt_b["step"] == 6
    assert_same_weights(ckpt_a["model"], ckpt_b["model"])
    assert_same_weights(weights(run_a / "model"), weights(run_b / "model"))
    a_metrics = json.loads((run_a / "train_metrics.json").read_text())
    b_metrics = json.loads((run_b / "train_metrics.json").read_text())
    for key in ("steps", "best_step", "best", "initial"):
        assert a_metrics[key] == b_metrics[key], key
    # the log of B holds every step once: lines written after the checkpoint were dropped and redone
    steps = [json.loads(line)["step"] for line in (run_b / "log.jsonl").read_text().splitlines()]
    log_a = [json.loads(line)["step"] for line in (run_a / "log.jsonl").read_text().splitlines()]
    assert steps == log_a


# ----------------------------------------------------------------------------- distillation


def test_teacher_scores_file(teacher_file: Path) -> None:
    groups = pl.read_parquet(teacher_file)
    assert {"qid", "query", "docnos", "teacher"} <= set(groups.columns)
    assert groups.height > 50
    assert (groups["docnos"].list.len() == groups["teacher"].list.len()).all()


@pytest.mark.parametrize("arch", ["bi", "colbert"])
def test_kd_students_train_from_teacher_scores(
    arch: str, teacher_file: Path, demo_dir: Path, tiny_backbone: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"{arch}-kd"
    args = train_args(demo_dir, tiny_backbone, out, "--arch", arch, "--loss", "margin-mse")
    result = invoke_ok(["--json", *args, "--teacher-scores", teacher_file, "--max-steps", "2"])
    summary = json.loads(result.stdout)
    assert summary["steps"] == 2 and summary["initial_dev"] is not None
    assert not (out / "groups.parquet").exists()  # the teacher's groups were used, none were mined
    model = load_scorer(out / "model")
    assert model.architecture == arch
    meta = json.loads((out / "model" / "ranksuite.json").read_text())
    assert meta["training"]["loss"] == "margin-mse"


def test_label_plus_kd_training_from_the_cli(
    teacher_file: Path, demo_dir: Path, tiny_backbone: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bi-infonce-kd"
    args = train_args(demo_dir, tiny_backbone, out, "--arch", "bi", "--loss", "infonce")
    extra = [
        "--kd-loss",
        "margin-mse",
        "--kd-weight",
        "0.5",
        "--teacher-scores",
        teacher_file,
        "--max-steps",
        "2",
    ]
    invoke_ok(["--json", *args, *extra])
    meta = json.loads((out / "model" / "ranksuite.json").read_text())["training"]
    assert (meta["loss"], meta["kd_loss"], meta["kd_weight"]) == ("infonce", "margin-mse", 0.5)
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    parts = [e for e in logged if "kd_loss" in e]
    assert parts and all(
        e["loss"] == pytest.approx(e["label_loss"] + 0.5 * e["kd_loss"], rel=1e-4) for e in parts
    )


def test_kd_losses_see_a_cosine_student_on_the_logit_scale(tiny_backbone: Path) -> None:
    # A bi-encoder scores by cosine in [-1, 1]; a teacher's margins are logits. The step puts the student on the
    # logit scale (x 20, InfoNCE's scale): a teacher whose scores are exactly 20 x the cosines gives zero loss.
    from ranksuite.shared.models import build_scorer
    from ranksuite.shared.training.ranking import ranking_step_fn

    student = build_scorer("bi", str(tiny_backbone), max_length=32)
    docs = {"a": "first document text", "b": "a second one", "c": "and a third"}
    query = "a query about documents"
    with torch.no_grad():
        cos = student.group_scores([query], [docs[d] for d in "abc"], in_batch=False).float()[0]
    assert student.logit_scale == 20.0 and cos.abs().max() <= 1.0 + 1e-6
    example = {"query": query, "docnos": list("abc")}
    step = ranking_step_fn("margin-mse", docs)
    with torch.no_grad():
        exact, _ = step(student, [{**example, "teacher": (20.0 * cos).tolist()}])
        unscaled, _ = step(student, [{**example, "teacher": cos.tolist()}])
    assert exact.item() == pytest.approx(0.0, abs=1e-8)
    margins = cos[0] - cos[1:]
    assert unscaled.item() == pytest.approx(float(((20.0 * margins - margins) ** 2).mean()), rel=1e-5)


def test_label_plus_kd_step_is_the_sum_of_its_two_losses(tiny_backbone: Path) -> None:
    # --loss infonce --kd-loss margin-mse: InfoNCE over the in-batch matrix plus w x Margin-MSE over each
    # query's own group, read from the same matrix (one forward pass), on the teacher's logit scale.
    from ranksuite.shared.losses import InBatchInfoNCE, MarginMSE
    from ranksuite.shared.models import build_scorer
    from ranksuite.shared.training.ranking import own_group_scores, ranking_step_fn

    student = build_scorer("bi", str(tiny_backbone), max_length=32)
    docs = {d: f"document {d} about topic {i}" for i, d in enumerate("abcdef")}
    examples = [
        {"query": "first query", "docnos": list("abc"), "teacher": [3.0, 1.0, -2.0]},
        {"query": "second query", "docnos": list("def"), "teacher": [0.5, 0.0, 4.0]},
    ]
    with torch.no_grad():
        full = student.group_scores(
            [e["query"] for e in examples], [docs[d] for e in examples for d in e["docnos"]], in_batch=True
        ).float()
        label = InBatchInfoNCE()(full, None)
        own = own_group_scores(full, 3)
        kd = MarginMSE()(own * 20.0, torch.tensor([e["teacher"] for e in examples]))
        loss, stats = ranking_step_fn("infonce", docs, kd_loss="margin-mse", kd_weight=0.5)(student, examples)
    assert torch.equal(own[1], full[1, 3:6]) and torch.equal(own[0], full[0, :3])
    assert loss.item() == pytest.approx(label.item() + 0.5 * kd.item(), rel=1e-5)
    assert stats["label_loss"] == pytest.approx(label.item(), rel=1e-5)
    assert stats["kd_loss"] == pytest.approx(kd.item(), rel=1e-5)
    with pytest.raises(ValueError, match="not a teacher loss"):
        ranking_step_fn("infonce", docs, kd_loss="contrastive")
    with pytest.raises(ValueError, match="is a teacher loss"):
        ranking_step_fn("margin-mse", docs, kd_loss="kl")


def test_kd_loss_without_teacher_scores_is_an_error(
    demo_dir: Path, tiny_backbone: Path, tmp_path: Path
) -> None:
    out = tmp_path / "no-teacher"
    result = invoke(train_args(demo_dir, tiny_backbone, out, "--arch", "bi", "--loss", "margin-mse"))
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "--teacher-scores" in lines[0]
    result = invoke(
        train_args(demo_dir, tiny_backbone, out, "--arch", "bi", "--loss", "infonce", "--kd-loss", "kl")
    )
    assert result.exit_code == 2 and "--kd-loss 'kl' needs --teacher-scores" in result.stderr
    result = invoke(train_args(demo_dir, tiny_backbone, out, "--loss", "contrastive", "--kd-loss", "bce"))
    assert result.exit_code == 2 and "not a teacher loss" in result.stderr


def test_unknown_loss_or_architecture_is_an_error(
    demo_dir: Path, tiny_backbone: Path, tmp_path: Path
) -> None:
    result = invoke(train_args(demo_dir, tiny_backbone, tmp_path / "x", "--loss", "hinge"))
    assert result.exit_code == 2 and "hinge" in result.stderr
    result = invoke(train_args(demo_dir, tiny_backbone, tmp_path / "y", "--arch", "sparse"))
    assert result.exit_code == 2 and "sparse" in result.stderr


# ----------------------------------------------------------------------------- multi-stage


def test_multistage_chains_the_stages(
    teacher_file: Path, demo_dir: Path, tiny_backbone: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ce-CD"
    result = invoke_ok(
        ["--json", "ir", "multistage", "--data", demo_dir, "--schedule", "C>D", "--teacher-scores", teacher_file,
         "--backbone", tiny_backbone, "--max-steps", "1", "--batch-size", "4", "--dev-queries", "4",
         "--out", out]
    )  # fmt: skip
    rows = json.loads(result.stdout)
    assert [r["stage"] for r in rows] == ["C", "D"]
    stage1, stage2 = out / "stage1-C", out / "stage2-D"
    assert (stage1 / "model" / "ranksuite.json").exists() and (stage2 / "model" / "ranksuite.json").exists()
    meta1 = json.loads((stage1 / "model" / "ranksuite.json").read_text())
    meta2 = json.loads((stage2 / "model" / "ranksuite.json").read_text())
    assert meta1["training"]["loss"] == "contrastive" and meta1["training"]["init"] is None
    assert meta2["training"]["loss"] == "ranknet"
    assert Path(meta2["training"]["init"]) == stage1 / "model"
    # stage 2 started from stage 1: its dev score before training is stage 1's final model's
    s1 = json.loads((stage1 / "train_metrics.json").read_text())
    s2 = json.loads((stage2 / "train_metrics.json").read_text())
    assert s2["initial"] == pytest.approx(s1["best"])


def test_multistage_rejects_a_bad_schedule(demo_dir: Path, tiny_backbone: Path, tmp_path: Path) -> None:
    result = invoke(
        ["ir", "multistage", "--data", demo_dir, "--schedule", "X", "--backbone", tiny_backbone,
         "--out", tmp_path / "bad"]
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr and "'X'" in result.stderr
    result = invoke(
        ["ir", "multistage", "--data", demo_dir, "--schedule", "C>D", "--backbone", tiny_backbone,
         "--out", tmp_path / "bad2"]
    )  # fmt: skip
    assert result.exit_code == 2 and "--teacher-scores" in result.stderr


# ----------------------------------------------------------------------------- merging


@pytest.fixture(scope="module")
def other_cross_run(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path, tiny_backbone: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ce-seed7"
    args = train_args(demo_dir, tiny_backbone, out, "--arch", "cross", "--max-steps", "2", "--lr", "1e-3")
    result = CliRunner().invoke(app, ["--device", "cpu", "--seed", "7", *[str(a) for a in args]])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(("alpha", "expected"), [("0", "A"), ("1", "B")])
def test_linear_merge_endpoints(
    alpha: str, expected: str, cross_run: Path, other_cross_run: Path, tmp_path: Path
) -> None:
    wa, wb = weights(cross_run), weights(other_cross_run)
    assert differs(wa, wb)
    out = tmp_path / "merged"
    invoke_ok(
        ["ir", "merge", cross_run, other_cross_run, "--method", "linear", "--alpha", alpha, "--out", out]
    )
    merged = weights(out)
    assert_same_weights(merged, wa if expected == "A" else wb, atol=0)
    meta = json.loads((out / "ranksuite.json").read_text())
    assert meta["merge"]["method"] == "linear" and meta["merge"]["alpha"] == float(alpha)


def test_slerp_merge_runs(cross_run: Path, other_cross_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "slerp"
    invoke_ok(
        ["ir", "merge", cross_run, other_cross_run, "--method", "slerp", "--alpha", "0.5", "--out", out]
    )
    merged, wa, wb = weights(out), weights(cross_run), weights(other_cross_run)
    assert differs(merged, wa) and differs(merged, wb)
    result = invoke(["ir", "merge", cross_run, other_cross_run, "--method", "ties", "--out", tmp_path / "x"])
    assert result.exit_code == 2 and "ties" in result.stderr


def test_slerp_keeps_the_norm_of_orthogonal_vectors() -> None:
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid, torch.tensor([2**-0.5, 2**-0.5]), atol=1e-6)
    assert mid.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert torch.lerp(a, b, 0.5).norm().item() == pytest.approx(2**-0.5)  # what linear averaging does
    a3, b3 = 3 * a, 3 * b
    for t in (0.1, 0.3, 0.5, 0.9):
        assert slerp(a3, b3, t).norm().item() == pytest.approx(3.0, abs=1e-5)
    assert torch.allclose(slerp(a3, b3, 0.0), a3, atol=1e-6)
    assert torch.allclose(slerp(a3, b3, 1.0), b3, atol=1e-6)
    # matrices are flattened; parallel tensors fall back to linear interpolation
    m = torch.arange(6.0).view(2, 3)
    assert torch.allclose(slerp(m, 2 * m, 0.5), 1.5 * m)
    ints = torch.tensor([1, 2, 3])
    assert torch.equal(slerp(ints, ints * 5, 0.5), ints)


# ----------------------------------------------------------------------------- torchrun


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc: int, out: Path, backbone: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        str(HERE / "ddp_train.py"), str(out), str(backbone),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_train_the_same_weights_as_one(tiny_backbone: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    torchrun(1, one, tiny_backbone)
    torchrun(2, two, tiny_backbone)
    assert json.loads((two / "train_metrics.json").read_text())["world_size"] == 2
    assert json.loads((one / "train_metrics.json").read_text())["world_size"] == 1
    w1 = torch.load(one / "checkpoint.pt", weights_only=False)["model"]
    w2 = torch.load(two / "checkpoint.pt", weights_only=False)["model"]
    assert_same_weights(w1, w2, atol=1e-5)
    # and training did move the weights (the comparison is not vacuous)
    from safetensors.torch import load_file

    start = load_file(str(tiny_backbone / "model.safetensors"))
    key = "encoder.layer.0.attention.self.query.weight"
    assert not torch.allclose(w1[f"model.bert.{key}"], start[key], atol=1e-4)
