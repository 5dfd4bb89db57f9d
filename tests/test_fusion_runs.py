"""Run fusion (`ranksuite ir fuse`): hand-computed RRF / CombSUM on two tiny runs, order kept when a run is fused
with itself (property), and the CLI on the demo collection."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ranksuite.cli.app import app
from ranksuite.shared.retrieval.fusion import fuse_runs

runner = CliRunner()


def frame(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"qid": pl.String, "docno": pl.String, "score": pl.Float64}, orient="row"
    )


A = frame([("q1", "d1", 3.0), ("q1", "d2", 2.0)])
B = frame([("q1", "d2", 5.0), ("q1", "d3", 1.0), ("q2", "d9", 0.5)])


def scores(run: pl.DataFrame, qid: str) -> dict[str, float]:
    return dict(run.filter(pl.col("qid") == qid).select("docno", "score").iter_rows())


def test_rrf_by_hand_and_absent_documents_get_no_share() -> None:
    got = scores(fuse_runs([A, B], "rrf"), "q1")
    assert got == pytest.approx({"d1": 1 / 61, "d2": 1 / 62 + 1 / 61, "d3": 1 / 62})


def test_combsum_by_hand_absent_documents_sit_below_the_run() -> None:
    # A: d3 absent -> floor 2 - 1 = 1 -> min-max [1, .5, 0]; B: d1 absent -> floor 0 -> [0, 1, .2]
    got = scores(fuse_runs([A, B], "combsum"), "q1")
    assert got == pytest.approx({"d1": 1.0, "d2": 1.5, "d3": 0.2})


def test_a_query_only_one_run_has_is_kept() -> None:
    assert scores(fuse_runs([A, B], "rrf"), "q2") == pytest.approx({"d9": 1 / 61})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30, unique=True))
def test_fusing_a_run_with_itself_keeps_its_order(values: list[float]) -> None:
    run = frame([("q", f"d{i}", v) for i, v in enumerate(values)])
    for method in ("rrf", "combsum"):
        fused = fuse_runs([run, run], method).join(run, on=["qid", "docno"], suffix="_orig")
        by_orig = fused.sort("score_orig", descending=True)["docno"].to_list()
        by_fused = fused.sort("score", descending=True, maintain_order=True)
        assert by_fused.sort("score_orig", descending=True)["docno"].to_list() == by_orig
        assert (by_fused["score"].diff().drop_nulls() <= 1e-12).all()


def test_cli_fuses_two_saved_runs(demo_dir: Path, tmp_path: Path) -> None:
    for model in ("bm25", "bm25-stem"):
        args = ["ir", "evaluate", "--data", str(demo_dir), "--model", model, "--out", str(tmp_path / model)]
        assert runner.invoke(app, args).exit_code == 0
    runs = [str(tmp_path / m / "run.trec") for m in ("bm25", "bm25-stem")]
    out = tmp_path / "fused"
    result = runner.invoke(app, ["--json", "ir", "fuse", *runs, "--data", str(demo_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["queries"] > 0 and 0.0 <= metrics["ndcg@10"] <= 1.0
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert (out / "run.trec").stat().st_size > 0


def test_cli_refuses_a_single_run_and_mismatched_weights(demo_dir: Path, tmp_path: Path) -> None:
    args = ["ir", "evaluate", "--data", str(demo_dir), "--model", "bm25", "--out", str(tmp_path / "b")]
    assert runner.invoke(app, args).exit_code == 0
    run = str(tmp_path / "b" / "run.trec")
    one = runner.invoke(app, ["ir", "fuse", run, "--data", str(demo_dir)])
    assert one.exit_code != 0 and "at least two runs" in one.output
    bad = runner.invoke(app, ["ir", "fuse", run, run, "--data", str(demo_dir), "--weights", "1,2,3"])
    assert bad.exit_code != 0 and "3 weights for 2 runs" in bad.output
