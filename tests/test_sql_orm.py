"""The cross-encoder ORM: balanced pairs, database-disjoint training and evaluation, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranksuite.cli.app import app
from ranksuite.domains.sql.data import load_spider
from ranksuite.domains.sql.orm import balanced_pairs, labelled_candidates, orm_queries, split_databases

runner = CliRunner()


@pytest.fixture(scope="module")
def spider(shared_data: Path):
    return load_spider(shared_data / "sql" / "spider_dev")


def test_database_split_is_disjoint_and_stable(spider) -> None:
    dbs = spider.questions["db_id"].to_list()
    train, test = split_databases(dbs)
    assert train and test and not set(train) & set(test)
    assert set(train) | set(test) == set(dbs)
    assert split_databases(dbs) == (train, test)
    assert split_databases(dbs, 2, 1) == (test, train)


def test_balanced_pairs_hold_one_correct_and_one_incorrect(spider) -> None:
    labelled = labelled_candidates(spider)
    examples, texts = balanced_pairs(labelled, orm_queries(spider))
    correct = dict(labelled.select("candidate_id", "ex_match_set").iter_rows())
    assert examples
    for ex in examples[:200]:
        pos, neg = ex["docnos"]
        assert correct[pos] and not correct[neg]
        assert texts[pos] and texts[neg]


@pytest.fixture(scope="module")
def orm_run(
    shared_data: Path, tiny_backbone: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    """One tiny ORM trained once for the CLI tests (1 step: these tests check plumbing, not quality)."""
    run = tmp_path_factory.mktemp("orm") / "run"
    res = runner.invoke(
        app,
        [
            "--json",
            "sql",
            "train",
            "--data",
            str(shared_data / "sql" / "spider_dev"),
            "--backbone",
            str(tiny_backbone),
            "--max-steps",
            "1",
            "--batch-size",
            "4",
            "--max-length",
            "64",
            "--result-preview",
            "--gold-edits",
            "2",
            "--out",
            str(run),
        ],
    )
    assert res.exit_code == 0, res.output
    return run, json.loads(res.stdout)


def test_train_and_evaluate_cli_on_unseen_databases(orm_run, shared_data: Path, tmp_path: Path) -> None:
    run, summary = orm_run
    data = shared_data / "sql" / "spider_dev"
    assert not set(summary["held_out_dbs"]) & set(summary["train_dbs"] + summary["dev_dbs"])
    test_db = summary["held_out_dbs"][0]
    out = tmp_path / "eval"
    res = runner.invoke(
        app,
        [
            "--json",
            "sql",
            "evaluate",
            "--model",
            str(run),
            "--data",
            str(data),
            "--test-dbs",
            test_db,
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"orm", "maj", "ex_bon", "random", "oracle"} <= set(metrics)
    assert metrics["databases"] == [test_db]
    assert metrics["oracle"]["ex"] >= metrics["orm"]["ex"]
    assert metrics["oracle"]["ex"] >= metrics["orm_vote"]["ex"]
    meta = json.loads((run / "model" / "ranksuite.json").read_text())
    assert meta["sql_orm"] == {"kind": "cross", "schema_chars": 700, "result_preview": True}
    training = meta["training"]
    assert training["gold_edits"] == 2 and sum(training["edit_kinds"].values()) > 0
    # a model evaluated on a database it was trained on is refused
    res = runner.invoke(
        app,
        [
            "sql",
            "evaluate",
            "--model",
            str(run),
            "--data",
            str(data),
            "--test-dbs",
            summary["train_dbs"][0],
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 2 and "trained on" in res.output


def test_rank_cli_orders_by_execution_tier_then_score(orm_run, spider, tmp_path: Path) -> None:
    run, _ = orm_run
    cands = tmp_path / "cands.sql"
    cands.write_text("SELECT count(*) FROM nosuchtable\nSELECT count(*) FROM singer\nDELETE FROM singer\n")
    res = runner.invoke(
        app,
        [
            "--json",
            "sql",
            "rank",
            "--model",
            str(run),
            "--db",
            str(spider.databases["concert_singer"]),
            "--question",
            "How many singers?",
            "--candidates",
            str(cands),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0]["sql"] == "SELECT count(*) FROM singer" and rows[0]["status"] == "ok"
    assert {r["status"] for r in rows[1:]} <= {"error", "refused"}
