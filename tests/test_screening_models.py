"""Screening rankers, active learning, simulation and evaluation on small real review slices."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from ranksuite.cli.app import app
from ranksuite.domains.screening.active import ActiveLearner
from ranksuite.domains.screening.data import Review, load_reviews
from ranksuite.domains.screening.features import clean_boolean_query, tfidf_matrix, topic_text
from ranksuite.domains.screening.simulate import STRATEGIES, screening_order
from ranksuite.shared.retrieval.fusion import fuse, ranks_of

runner = CliRunner()


@pytest.fixture(scope="module")
def small_review(shared_data: Path) -> Review:
    """CLEF 2017 CD008760 (64 records, 12 includes): small enough for every strategy on CPU."""
    return load_reviews(shared_data / "screening" / "clef_tar2017", ["CD008760"])[0]


def test_clean_boolean_query_keeps_topic_words() -> None:
    q = '1. exp Aspergillosis/\n2. galactomannan.ti,ab.\n3. 1 and 2\n4. "Aspergillus"[MeSH] OR fungal*[tiab]'
    cleaned = clean_boolean_query(q)
    assert "aspergillosis" in cleaned and "galactomannan" in cleaned and "aspergillus" in cleaned
    assert "mesh" not in cleaned and "and" not in cleaned.split() and "exp" not in cleaned.split()
    assert topic_text("Title", q, "title") == "Title"
    assert topic_text("Title", q, "both").startswith("Title ")


def test_fusion_rrf_and_combsum() -> None:
    a, b = np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0])
    assert ranks_of(a).tolist() == [1, 2, 3]
    rrf = fuse([a, b], "rrf")
    assert rrf[1] == pytest.approx(2 / 62) and rrf[0] == pytest.approx(1 / 61 + 1 / 63)
    assert fuse([a, b], "combsum").tolist() == pytest.approx([1.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        fuse([a, b[:2]], "rrf")


def test_active_learner_learns_and_undoes() -> None:
    texts = ["heart attack aspirin trial"] * 5 + ["knee surgery outcomes"] * 5 + ["aspirin heart failure"] * 2
    learner = ActiveLearner(tfidf_matrix(texts))
    learner.label(0, 1)
    learner.label(5, 0)
    top = learner.ranking()[:6].tolist()
    assert set(top[:4]) <= {1, 2, 3, 4, 10, 11}  # the include's neighbours come first
    assert learner.undo() == 5 and 5 not in learner.labels
    with pytest.raises(ValueError):
        learner.label(1, 2)


def test_active_learner_refresh_is_fast_on_5000_records() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(vocab, 60)) for _ in range(5000)]
    learner = ActiveLearner(tfidf_matrix(texts), prior=rng.normal(size=5000))
    for i in range(40):
        learner.label(i, int(i % 7 == 0))
    t = time.perf_counter()
    learner.label(100, 1)
    learner.next()
    refresh = time.perf_counter() - t
    assert (
        refresh < 5.0
    )  # generous bound for a loaded CI machine; benchmarks/RESULTS.md has the measured figure


@pytest.mark.parametrize("strategy", ["tfidf-al", "random", "bm25"])
def test_screening_order_is_a_permutation_starting_with_the_prior(
    small_review: Review, strategy: str
) -> None:
    order = screening_order(small_review, strategy, seed=0)
    assert sorted(order) == list(range(small_review.records.height))
    y = small_review.records["label"].to_numpy()
    assert y[order[0]] == 1 and y[order[1]] == 0
    assert order == screening_order(small_review, strategy, seed=0)  # deterministic


def test_strategies_cover_the_documented_names() -> None:
    assert {"neural-al", "tfidf-al", "bm25", "dense", "fusion", "random"} <= set(STRATEGIES)


def test_simulate_cli_writes_metrics_with_the_required_keys(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    res = runner.invoke(
        app,
        [
            "screening",
            "simulate",
            "--reviews",
            str(shared_data / "screening" / "clef_tar2017"),
            "--review-ids",
            "CD008760,CD010705",
            "--strategy",
            "neural-al",
            "--seeds",
            "2",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    for part in (metrics["mean"], *metrics["per_review"].values()):
        assert {"ap", "wss@95", "wss@100", "recall@10%", "last_rel%"} <= set(part)
    assert set(metrics["per_review"]) == {"CD008760", "CD010705"}
    assert (out / "recall_curves.png").stat().st_size > 1000
    assert (out / "curves" / "CD008760.png").exists()
    lines = (out / "orders.jsonl").read_text().splitlines()
    assert len(lines) == 4


def test_evaluate_cli_zero_label_beside_baselines(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    res = runner.invoke(
        app,
        [
            "--json",
            "screening",
            "evaluate",
            "--reviews",
            str(shared_data / "screening" / "clef_tar2017"),
            "--review-ids",
            "CD008760,CD010705",
            "--model",
            "fusion",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert set(result["baselines"]) == {"bm25-title", "random"}
    assert 0.0 <= result["mean"]["ap"] <= 1.0
    assert (out / "curves" / "CD008760.png").exists() and (out / "report.md").exists()


def test_rank_cli_orders_an_export(shared_data: Path, tmp_path: Path) -> None:
    review = load_reviews(shared_data / "screening" / "clef_tar2017", ["CD010705"])[0]
    records = tmp_path / "records.csv"
    review.records.select("record_id", "title", "abstract").write_csv(records)
    out = tmp_path / "ranked.csv"
    res = runner.invoke(
        app,
        [
            "screening",
            "rank",
            "--records",
            str(records),
            "--topic",
            review.title,
            "--model",
            "bm25",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    ranked = pl.read_csv(out)
    assert ranked.height == review.records.height
    assert ranked["rank"].to_list() == list(range(1, ranked.height + 1))
    assert ranked["score"].is_sorted(descending=True)


def test_cross_model_without_training_reviews_is_refused(shared_data: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "screening",
            "evaluate",
            "--reviews",
            str(shared_data / "screening" / "clef_tar2017"),
            "--model",
            "cross",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2
    assert "--train-reviews" in res.output


def test_cross_encoder_leave_one_out_trains_without_the_test_review(
    shared_data: Path, tiny_backbone: Path, tmp_path: Path
) -> None:
    out = tmp_path / "loo"
    res = runner.invoke(
        app,
        [
            "--json",
            "screening",
            "evaluate",
            "--reviews",
            str(shared_data / "screening" / "clef_tar2017"),
            "--review-ids",
            "CD008760,CD010705",
            "--model",
            "cross",
            "--leave-one-out",
            "--backbone",
            str(tiny_backbone),
            "--max-steps",
            "1",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    for held_out, other in (("CD008760", "CD010705"), ("CD010705", "CD008760")):
        meta = json.loads((out / "models" / held_out / "model" / "ranksuite.json").read_text())
        assert meta["training"]["reviews"] == [other]
    assert set(json.loads(res.stdout)["per_review"]) == {"CD008760", "CD010705"}
