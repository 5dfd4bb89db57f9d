"""``ranksuite demo``: the whole loop on the demo collection with the real MiniLM (about a minute on CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranksuite.cli.app import app


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--epochs", "1", "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    text = result.stdout
    for needle in (
        "ranksuite demo",
        "152 documents, 30 test queries",
        "ndcg@10",
        "mrr@10",
        "BM25",
        "MiniLM bi-encoder, zero-shot",
        "before fine-tuning",
        "after fine-tuning",
        "(* = relevant)",
    ):
        assert needle in text, needle
    # the table has one row per system, each with four metrics in [0, 1]
    rows = [line for line in text.splitlines() if "BM25" in line or "zero-shot" in line]
    assert len([r for r in rows if "│" in r]) == 4, text
    for row in (r for r in rows if "│" in r):
        values = [float(c) for c in row.split("│")[2:6]]
        assert all(0.0 <= v <= 1.0 for v in values), row
    for name in ("config.json", "log.jsonl", "training.png", "train_metrics.json", "model/ranksuite.json"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["steps"] >= 1 and metrics["initial"] is not None
