"""Execution labels, selectors over candidate pools, and the `sql` CLI; on hand-made pools and the real Spider
pools (re-labelling reproduces the shipped labels; oracle >= maj >= random)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from ranksuite.domains.sql.cli import app as sql_app
from ranksuite.domains.sql.data import load_spider
from ranksuite.domains.sql.labels import label_candidates, summarise_labels
from ranksuite.domains.sql.select import (
    Pool,
    build_pools,
    evaluate_selectors,
    select_ex_bon,
    select_maj,
    select_maj_tier,
    select_orm,
    select_orm_vote,
)

from .test_sql_data import make_spider_dir


def _pool(correct, executes, n_rows, keys) -> Pool:
    ids = [f"q:{i}" for i in range(len(correct))]
    return Pool("q", ids, list(correct), list(executes), list(n_rows), list(keys))


def test_selectors_on_a_hand_made_pool() -> None:
    # 0: error; 1, 2: same result (wrong); 3: right; 4: executes, empty result (right, say)
    pool = _pool([0, 0, 0, 1, 1], [0, 1, 1, 1, 1], [0, 2, 2, 1, 0], [None, "A", "A", "B", "C"])
    res = evaluate_selectors([pool], scores={"q:0": 9.0, "q:1": 0.1, "q:2": 0.2, "q:3": 0.5, "q:4": 5.0})
    assert list(res) == ["random", "ex_bon", "maj", "maj_tier", "oracle", "orm", "orm_vote"]
    assert res["maj_tier"]["ex"] == 0.0  # cluster A again (C, the empty result, is outside the rows tier)
    assert res["random"]["ex"] == pytest.approx(2 / 5)
    assert res["ex_bon"]["ex"] == pytest.approx(1 / 3)  # among 1, 2, 3 (execute with rows)
    assert res["maj"]["ex"] == 0.0  # cluster A (two members) wins
    assert res["oracle"]["ex"] == 1.0
    assert res["orm"]["ex"] == 1.0  # the best score in the rows tier is 3 (0 and 4 are outside the tier)
    # ties: two clusters of equal size share the mass; equal scores share the mass
    tie = _pool([1, 0], [1, 1], [1, 1], ["A", "B"])
    assert evaluate_selectors([tie])["maj"]["ex"] == 0.5
    assert select_maj(tie) == {0: 0.5, 1: 0.5}
    assert select_orm(tie, {"q:0": 1.0, "q:1": 1.0}) == {0: 0.5, 1: 0.5}
    # nothing executes: every rule falls back to the whole pool
    dead = _pool([0, 0], [0, 0], [0, 0], [None, None])
    assert select_ex_bon(dead) == {0: 0.5, 1: 0.5}
    with pytest.raises(ValueError, match="no score"):
        select_orm(pool, {})


def test_orm_weighted_vote() -> None:
    # rows tier: 1, 2 (result A, wrong), 3 (result B, right); 0 errors, 4 returns no rows
    pool = _pool([0, 0, 0, 1, 1], [0, 1, 1, 1, 1], [0, 2, 2, 1, 0], [None, "A", "A", "B", "C"])
    # an unsure ORM (every P equal): the larger cluster of the tier wins, as maj_tier
    assert (
        select_orm_vote(pool, dict.fromkeys(pool.candidate_ids, 0.0))
        == {1: 0.5, 2: 0.5}
        == select_maj_tier(pool)
    )
    # a confident ORM outweighs two doubtful votes: sigmoid(3) = 0.95 > 2 * sigmoid(-1) = 0.54
    scores = {"q:0": 9.0, "q:1": -1.0, "q:2": -1.0, "q:3": 3.0, "q:4": 9.0}
    assert select_orm_vote(pool, scores) == {3: 1.0}
    # two mildly positive votes beat one slightly stronger one; within the cluster the higher score is taken
    scores = {"q:0": 0.0, "q:1": 0.5, "q:2": 1.0, "q:3": 1.5, "q:4": 0.0}
    assert select_orm_vote(pool, scores) == {2: 1.0}
    assert select_orm(pool, scores) == {3: 1.0}
    with pytest.raises(ValueError, match="no score"):
        select_orm_vote(pool, {})


def test_label_tiny_pool_and_cli(tmp_path: Path) -> None:
    ds = load_spider(make_spider_dir(tmp_path / "data"))
    lab = label_candidates(ds.questions, ds.candidates, ds.databases, progress=False)
    assert lab["exec_status"].to_list() == ["ok", "ok", "error", "ok", "ok", "refused"]
    assert lab["ex_match_set"].to_list() == [True, False, False, True, True, False]
    # without ORDER BY in the candidate the rows come in another order: a set match, not a Spider match
    assert lab["ex_match_strict"].to_list() == [True, False, False, True, False, False]
    assert lab["n_rows"].to_list() == [1, 1, 0, 3, 3, 0]
    assert summarise_labels(lab)["ex"] == pytest.approx(0.5)

    root = typer.Typer()
    root.add_typer(sql_app, name="sql")
    runner = CliRunner()
    out = tmp_path / "labelled.jsonl.gz"
    r = runner.invoke(
        root,
        [
            "sql",
            "execute",
            "--data",
            str(tmp_path / "data"),
            "--candidates",
            str(tmp_path / "data" / "candidates.jsonl"),
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "1 errors" in r.output and "1 refused" in r.output and "EX (set match) 0.5000" in r.output
    assert pl.read_ndjson(out)["ex_match_set"].to_list() == lab["ex_match_set"].to_list()
    pq = tmp_path / "labelled.parquet"
    r = runner.invoke(
        root,
        [
            "sql",
            "execute",
            "--data",
            str(tmp_path / "data"),
            "--candidates",
            str(tmp_path / "data" / "candidates.jsonl"),
            "--out",
            str(pq),
        ],
    )
    assert r.exit_code == 0 and pl.read_parquet(pq).height == 6
    scores = tmp_path / "scores.jsonl"
    scores.write_text(
        "".join(
            json.dumps({"candidate_id": c, "score": i}) for i, c in enumerate(lab["candidate_id"])
        ).replace("}{", "}\n{")
    )
    r = runner.invoke(root, ["sql", "select", "--labels", str(pq), "--scores", str(scores)])
    assert r.exit_code == 0 and "orm" in r.output, r.output
    # bad input: one line, exit code 2
    r = runner.invoke(root, ["sql", "execute", "--data", str(tmp_path / "nowhere"), "--out", str(pq)])
    assert r.exit_code == 2 and "error" in r.output


@pytest.fixture(scope="module")
def spider_labelled(shared_data: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    ds = load_spider(shared_data / "sql" / "spider_dev")
    return ds.candidates, label_candidates(ds.questions, ds.candidates, ds.databases, progress=False)


@pytest.mark.realdata
def test_relabelling_reproduces_shipped_labels_on_a_sample(shared_data: Path) -> None:
    ds = load_spider(shared_data / "sql" / "spider_dev")
    sample = ds.candidates.sample(300, seed=0)
    lab = label_candidates(ds.questions, sample, ds.databases, progress=False)
    agreement = float((lab["ex_match_set"] == sample["ex_match_set"]).mean())
    print(f"agreement with the shipped ex_match_set on 300 candidates: {agreement:.4f}")
    assert agreement >= 0.98
    assert float((lab["exec_status"] != "ok").eq(sample["exec_status"] != "ok").mean()) >= 0.98


@pytest.mark.realdata
def test_selectors_on_real_spider_pools(spider_labelled) -> None:
    shipped, lab = spider_labelled
    assert float((lab["ex_match_set"] == shipped["ex_match_set"]).mean()) >= 0.98
    pools = build_pools(lab)
    assert len(pools) == 770 and all(len(p) == 7 for p in pools)
    res = evaluate_selectors(pools)
    print({k: round(v["ex"], 4) for k, v in res.items()})
    assert res["oracle"]["ex"] >= res["maj"]["ex"] >= res["random"]["ex"]
    assert res["ex_bon"]["ex"] >= res["random"]["ex"]
    assert res["random"]["ex"] == pytest.approx(float(lab["ex_match_set"].mean()))
    # a reward model that knew the labels would reach the oracle (within the rows tier)
    cheat = dict(zip(lab["candidate_id"], lab["ex_match_set"].cast(pl.Float64), strict=True))
    assert evaluate_selectors(pools, cheat)["orm"]["ex"] >= res["maj"]["ex"]
    # scoring only the contested candidates (score 0 elsewhere) gives exactly the same figures
    import numpy as np

    from ranksuite.domains.sql.select import contested

    rand = dict(
        zip(lab["candidate_id"], np.random.default_rng(0).normal(size=lab.height).tolist(), strict=True)
    )
    only = contested(pools)
    assert 0 < len(only) < lab.height
    partial = {c: (v if c in only else 0.0) for c, v in rand.items()}
    full, cut = evaluate_selectors(pools, rand), evaluate_selectors(pools, partial)
    assert full["orm"]["ex"] == pytest.approx(cut["orm"]["ex"]) and full["orm_vote"] == pytest.approx(
        cut["orm_vote"]
    )
