"""Tests for ranksuite.shared.retrieval: BM25 on the demo collection and on real public collections."""

from __future__ import annotations

import json
from pathlib import Path

import ir_measures
import polars as pl
import pytest
from typer.testing import CliRunner

from ranksuite.cli.app import app
from ranksuite.shared.data import load_beir
from ranksuite.shared.metrics.ir import evaluate_run
from ranksuite.shared.retrieval import BM25, first_stage, retrieve


def test_bm25_on_texts() -> None:
    idx = BM25.from_texts(["the cat sat", "dogs bark loudly", "a cat and a dog"], ["a", "b", "c"])
    (docs, scores), (none, _) = idx.search_texts(["cat", "zebra"], k=10)
    assert set(docs) == {"a", "c"}  # documents with no shared term are left out
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert none == []
    with pytest.raises(ValueError):
        BM25().index(["x"], ["a", "b"])
    with pytest.raises(RuntimeError, match="empty"):
        BM25().search_texts(["x"])


def test_bm25_on_the_demo_collection(demo_dir: Path) -> None:
    test = load_beir(demo_dir, "test")
    index = BM25.from_corpus(test.corpus)
    run = index.search(test.queries, k=100)
    assert run.columns == ["qid", "docno", "score", "rank"]
    assert set(run["qid"].unique().to_list()) == set(test.queries["qid"].to_list())
    assert run.group_by("qid").agg(pl.len())["len"].max() <= 100
    assert "stemmer=none" in index.describe()
    stem_run = first_stage("bm25-stem", test, k=100).run
    train = load_beir(demo_dir, "train", corpus=test.corpus)
    train_run = BM25.from_corpus(train.corpus).search(train.queries, k=100)
    train_stem_run = first_stage("bm25-stem", train, k=100).run
    # ranksuite's nDCG is trec_eval's (gain = grade): figures measured with this package
    assert evaluate_run(run, test.qrels)["ndcg@10"] == pytest.approx(0.5146, abs=0.005)
    assert evaluate_run(stem_run, test.qrels)["ndcg@10"] == pytest.approx(0.5880, abs=0.005)
    assert evaluate_run(train_run, train.qrels)["ndcg@10"] == pytest.approx(0.6869, abs=0.005)
    assert evaluate_run(train_stem_run, train.qrels)["ndcg@10"] == pytest.approx(0.7809, abs=0.005)
    # the card's bracketed figures (0.523 / 0.599 / 0.692 / 0.786) are nDCG@10 with exponential gains
    # (2^grade - 1: grade 2 counts 3), which is not what ranksuite reports; check that reading of them.
    exp_ndcg = ir_measures.nDCG(gains={0: 0, 1: 1, 2: 3}) @ 10
    for r, coll, card in (
        (run, test, 0.523),
        (stem_run, test, 0.599),
        (train_run, train, 0.692),
        (train_stem_run, train, 0.786),
    ):
        qrels = [ir_measures.Qrel(q, d, lab) for q, d, lab in coll.qrels.iter_rows()]
        docs = [ir_measures.ScoredDoc(q, d, s) for q, d, s in r.select("qid", "docno", "score").iter_rows()]
        assert ir_measures.calc_aggregate([exp_ndcg], qrels, docs)[exp_ndcg] == pytest.approx(card, abs=0.002)


def test_retrieve_rejects_bm25_as_reranker(demo_dir: Path) -> None:
    test = load_beir(demo_dir, "test")
    with pytest.raises(ValueError, match="neural model"):
        retrieve(test, "bm25", rerank_model="bm25")


@pytest.mark.realdata
def test_scifact_bm25_via_cli_matches_the_beir_baseline(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "ir" / "scifact"
    if not data.is_dir():
        pytest.skip(f"{data} is absent")
    out = tmp_path / "scifact-bm25"
    result = CliRunner().invoke(
        app, ["ir", "evaluate", "--data", str(data), "--model", "bm25", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"ndcg@10", "mrr@10", "map", "recall@100", "model", "dataset", "queries"}
    assert metrics["ndcg@10"] == pytest.approx(0.662, abs=0.01)
    assert metrics["queries"] == 300
    assert metrics["model"] == "bm25" and metrics["dataset"] == "scifact"
    assert 0.0 < metrics["map"] <= metrics["recall@100"] <= 1.0
    for name in ("run.trec", "per_query.csv", "report.md"):
        assert (out / name).exists(), name
    per_query = pl.read_csv(out / "per_query.csv")
    assert per_query.height == 300
    assert per_query["ndcg@10"].mean() == pytest.approx(metrics["ndcg@10"])


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["cranfield", "cisi", "nfcorpus"])
def test_bm25_on_real_collections(shared_data: Path, name: str) -> None:
    data = shared_data / "ir" / name
    if not data.is_dir():
        pytest.skip(f"{data} is absent")
    coll = load_beir(data, "test")
    run = first_stage("bm25", coll, k=100).run
    result = evaluate_run(run, coll.qrels)
    assert 0.2 < result["ndcg@10"] < 0.8, result
    assert 0.0 < result["recall@100"] <= 1.0
