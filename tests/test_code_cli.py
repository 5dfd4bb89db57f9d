"""``ranksuite code`` end to end on a small slice of real HumanEval (tiny random encoder: plumbing, not quality):
train on some problems, evaluate on the others (and refuse the seen ones), rank, execute."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranksuite.cli.app import app

runner = CliRunner()
pytestmark = pytest.mark.realdata
PROBLEMS = 16


@pytest.fixture(scope="module")
def slice_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 16 HumanEval problems with their 23 LLM candidates each (a real dataset folder, small)."""
    src = shared_data / "code" / "humaneval"
    folder = tmp_path_factory.mktemp("he-slice")
    lines = (src / "problems.jsonl").read_text(encoding="utf-8").splitlines()[:PROBLEMS]
    (folder / "problems.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = {json.loads(ln)["task_id"] for ln in lines}
    with gzip.open(src / "candidates_llm_mapcoder.jsonl.gz", "rt", encoding="utf-8") as fh:
        keep = [ln for ln in fh if json.loads(ln)["task_id"] in ids]
    (folder / "candidates_llm_mapcoder.jsonl").write_text("".join(keep), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(slice_dir: Path, tiny_backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("code-run") / "run"
    args = ["--json", "code", "train", "--data", str(slice_dir), "--model", "rankef", "--backbone"]
    args += [
        str(tiny_backbone),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--max-length",
        "64",
    ]
    args += ["--problem-tokens", "24", "--max-per-problem", "4", "--dev-share", "0.3"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_train_records_problem_split(run: tuple[Path, dict]) -> None:
    out, summary = run
    meta = json.loads((out / "model" / "ranksuite.json").read_text())
    training = meta["training"]
    assert summary["train_problems"] + summary["dev_problems"] + summary["held_out_problems"] == PROBLEMS
    assert not set(training["train_problems"]) & set(training["held_out_problems"])
    assert all(k.startswith("humaneval:HumanEval/") for k in training["train_problems"])
    assert meta["architecture"] == "code-ranker" and meta["config"]["model"] == "rankef"
    assert meta["config"]["error_types"][0] == "passed" and meta["config"]["error_types"][-1] == "other"
    assert (out / "log.jsonl").is_file() and (out / "train_metrics.json").is_file()


def test_evaluate_unseen_problems_and_refuse_seen_ones(
    run: tuple[Path, dict], slice_dir: Path, tmp_path: Path
) -> None:
    out, summary = run
    cands = slice_dir / "candidates_llm_mapcoder.jsonl"
    base = ["code", "evaluate", "--model", str(out), "--problems", str(slice_dir), "--candidates", str(cands)]
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "e1")])
    assert res.exit_code == 2 and "trained on" in res.output
    res = runner.invoke(app, ["--json", *base, "--out", str(tmp_path / "e2"), "--unseen-only"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "e2" / "metrics.json").read_text())
    assert metrics["problems"] == summary["held_out_problems"]
    for name in ("ranker", "random", "oracle", "frequency"):
        assert set(metrics[name]) == {"pass@1", "pass@2", "pass@5"}
        assert (
            0.0 <= metrics[name]["pass@1"] <= metrics[name]["pass@5"] <= metrics["oracle"]["pass@5"] + 1e-12
        )
    assert 0 <= metrics["classification"]["mixed_problems"] <= metrics["problems"]
    scores = [json.loads(ln) for ln in (tmp_path / "e2" / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == metrics["candidates"] and "predicted_feedback" in scores[0]
    # --held-out picks the same problems a --holdout split holds out (here: exactly the unseen ones)
    res = runner.invoke(app, ["--json", *base, "--out", str(tmp_path / "e3"), "--held-out", "0.5"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ranker"] == metrics["ranker"]


def test_rank_folder_and_jsonl(run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = run
    prompt = tmp_path / "problem.txt"
    prompt.write_text('def add(a, b):\n    """Return a + b."""\n', encoding="utf-8")
    folder = tmp_path / "cands"
    folder.mkdir()
    bodies = {"good": "    return a + b\n", "bad": "    return a - b\n", "crash": "    return a[0]\n"}
    for name, body in bodies.items():
        (folder / f"{name}.py").write_text(prompt.read_text() + body, encoding="utf-8")
    res = runner.invoke(
        app,
        ["--json", "code", "rank", "--model", str(out), "--prompt", str(prompt), "--candidates", str(folder)],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3] and {r["candidate_id"] for r in rows} == set(bodies)
    assert [r["p_correct"] for r in rows] == sorted((r["p_correct"] for r in rows), reverse=True)
    assert all(r["predicted"] in ("correct", "execution_error", "intent_error") for r in rows)
    assert all(r["feedback"].startswith("likely") for r in rows)  # the encoder rankef's heads
    jsonl = tmp_path / "cands.jsonl"
    jsonl.write_text("".join(json.dumps({"completion": b}) + "\n" for b in bodies.values()), encoding="utf-8")
    res = runner.invoke(
        app, ["code", "rank", "--model", str(out), "--prompt", str(prompt), "--candidates", str(jsonl)]
    )
    assert res.exit_code == 0, res.output
    assert "p_correct" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"candidate_id": "x"}\n', encoding="utf-8")
    res = runner.invoke(
        app, ["code", "rank", "--model", str(out), "--prompt", str(prompt), "--candidates", str(bad)]
    )
    assert res.exit_code == 2 and "line 1" in res.output and "code" in res.output


def test_execute_reproduces_shipped_labels_on_a_few_candidates(slice_dir: Path, tmp_path: Path) -> None:
    lines = (slice_dir / "candidates_llm_mapcoder.jsonl").read_text().splitlines()[:8]
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "labelled.jsonl.gz"
    args = ["--json", "code", "execute", "--problems", str(slice_dir), "--candidates", str(small)]
    res = runner.invoke(app, [*args, "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["candidates"] == 8 and summary["executed"] == 8
    assert summary["agreement_with_input_labels"]["passed"] == 1.0
    rows = [json.loads(ln) for ln in gzip.decompress(out.read_bytes()).decode().splitlines()]
    assert len(rows) == 8 and all(r["label"] in (0, 1, 2) for r in rows)


def test_train_refuses_bad_options(slice_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["code", "train", "--data", str(slice_dir), "--out", str(tmp_path / "r"), "--holdout", "1.5"]
    )
    assert res.exit_code == 2 and "holdout" in res.output
    res = runner.invoke(
        app, ["code", "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2 and "nope" in res.output
