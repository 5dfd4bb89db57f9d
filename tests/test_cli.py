"""Tests for the ``ranksuite`` command line: help texts, JSON output, runs, error messages, the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranksuite.cli.app import app

REPO = Path(__file__).resolve().parents[1]
COMMANDS = [
    ["ir", "evaluate"],
    ["ir", "rank"],
    ["ir", "train"],
    ["ir", "teacher-score"],
    ["ir", "multistage"],
    ["ir", "merge"],
    ["models", "list"],
    ["demo"],
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_help_has_an_example(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_root_help_and_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("ir", "models", "demo", "--json", "--device", "--seed"):
        assert word in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip().startswith("ranksuite ")


def test_json_evaluate_prints_json(runner: CliRunner, demo_dir: Path) -> None:
    result = runner.invoke(app, ["--json", "ir", "evaluate", "--data", str(demo_dir), "--model", "bm25"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"ndcg@10", "mrr@10", "map", "recall@100", "model", "dataset", "queries"}
    assert payload["queries"] == 30 and payload["dataset"] == "minicorpus" and payload["model"] == "bm25"
    assert 0.3 < payload["ndcg@10"] < 0.7


def test_evaluate_prints_a_table(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        ["ir", "evaluate", "--data", str(demo_dir), "--model", "bm25-stem", "--out", str(out)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "ndcg@10" in result.output and "minicorpus" in result.output
    assert json.loads((out / "metrics.json").read_text())["model"] == "bm25-stem"
    report = (out / "report.md").read_text()
    assert "Queries: 30" in report and "| ndcg@10 |" in report


def test_rank_writes_a_trec_run(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "demo-bm25.trec"
    result = runner.invoke(
        app,
        [
            "--json",
            "ir",
            "rank",
            "--data",
            str(demo_dir),
            "--model",
            "bm25",
            "--depth",
            "20",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["queries"] == 30
    lines = out.read_text().splitlines()
    assert len(lines) == summary["rows"] > 0
    per_query: dict[str, list[int]] = {}
    for line in lines:
        cols = line.split()
        assert len(cols) == 6
        qid, q0, _docno, rank, score, tag = cols
        assert q0 == "Q0" and tag == "bm25"
        float(score)
        per_query.setdefault(qid, []).append(int(rank))
    assert all(r == list(range(1, len(r) + 1)) and len(r) <= 20 for r in per_query.values())
    assert len(per_query) == 30


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_data_folder_gives_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-collection"
    result = runner.invoke(app, ["ir", "evaluate", "--data", str(missing), "--model", "bm25"])
    assert_one_line_error(result, str(missing), "not a folder")


def test_missing_split_gives_exit_2(runner: CliRunner, demo_dir: Path) -> None:
    result = runner.invoke(app, ["ir", "evaluate", "--data", str(demo_dir), "--split", "dev"])
    assert_one_line_error(result, "dev.tsv", "test, train")


def test_bad_qrels_gives_exit_2_naming_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "coll"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "cats purr"}\n')
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "cats"}\n')
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\n")
    result = runner.invoke(app, ["ir", "evaluate", "--data", str(root)])
    assert_one_line_error(result, "test.tsv", "line 2", "corpus-id", "'d2'")


def test_hub_id_as_model_gives_exit_2(runner: CliRunner, demo_dir: Path) -> None:
    hub = "sentence-transformers/all-MiniLM-L6-v2"
    result = runner.invoke(app, ["ir", "evaluate", "--data", str(demo_dir), "--model", hub])
    assert_one_line_error(result, hub, "minilm", "mpnet", "smollm2")
    result = runner.invoke(
        app, ["ir", "rank", "--data", str(demo_dir), "--model", hub, "--out", "/nonexistent/x.trec"]
    )
    assert_one_line_error(result, hub)


def test_models_list(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--json", "models", "list"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["minilm", "mpnet", "smollm2"]
    table = runner.invoke(app, ["models", "list"], terminal_width=200)
    assert table.exit_code == 0
    assert "minilm" in table.output and "offline models" in table.output


def test_console_script_runs_from_another_directory(tmp_path: Path) -> None:
    script = (REPO / ".venv" / "bin" / "ranksuite").resolve()
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    proc = subprocess.run(
        [str(script), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ranksuite ")
    proc = subprocess.run(
        [sys.executable, "-c", "import ranksuite.cli.app, ranksuite; print(ranksuite.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).parent == REPO
