"""Tests for ranksuite.shared.metrics.ir: hand-computed trec_eval values, missing queries, properties."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranksuite.shared.data import make_run
from ranksuite.shared.metrics.ir import evaluate_run, parse_metric, per_query

log2 = math.log2


def qrels_frame(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"qid": pl.String, "docno": pl.String, "label": pl.Int64}, orient="row")


def run_frame(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return make_run([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


# q1: d1 (grade 2) and d3 (grade 1) relevant, d7 judged non-relevant; q2: d5 relevant;
# q3: d9 relevant but absent from the run.
QRELS = qrels_frame([("q1", "d1", 2), ("q1", "d3", 1), ("q1", "d7", 0), ("q2", "d5", 1), ("q3", "d9", 1)])
RUN = run_frame(
    [
        ("q1", "d2", 3.0),  # rank 1, not relevant
        ("q1", "d1", 2.0),  # rank 2, grade 2
        ("q1", "d3", 1.0),  # rank 3, grade 1
        ("q1", "d4", 0.5),  # rank 4
        ("q2", "d6", 2.0),  # rank 1
        ("q2", "d5", 1.0),  # rank 2, grade 1
        ("q4", "d1", 1.0),  # a query without judgements: ignored
    ]
)

# trec_eval's nDCG: gain = grade, discount = log2(rank + 1)
Q1 = {
    "ndcg@10": (2 / log2(3) + 1 / log2(4)) / (2 / log2(2) + 1 / log2(3)),
    "mrr@10": 1 / 2,
    "map": (1 / 2 + 2 / 3) / 2,
    "recall@100": 2 / 2,
}
Q2 = {"ndcg@10": (1 / log2(3)) / (1 / log2(2)), "mrr@10": 1 / 2, "map": 1 / 2, "recall@100": 1.0}
Q3 = dict.fromkeys(Q1, 0.0)


def test_per_query_hand_computed() -> None:
    table = per_query(RUN, QRELS)
    assert table.columns == ["qid", "ndcg@10", "mrr@10", "map", "recall@100"]
    assert table["qid"].to_list() == ["q1", "q2", "q3"]  # judged queries only, q4 is not
    for qid, expected in (("q1", Q1), ("q2", Q2), ("q3", Q3)):
        row = table.filter(pl.col("qid") == qid).row(0, named=True)
        for metric, value in expected.items():
            assert row[metric] == pytest.approx(value, abs=1e-9), (qid, metric)


def test_evaluate_run_means_over_all_judged_queries() -> None:
    result = evaluate_run(RUN, QRELS)
    assert set(result) == {"ndcg@10", "mrr@10", "map", "recall@100"}
    for metric in Q1:
        # the missing q3 scores 0 and still counts: the mean is over 3 queries, not 2
        assert result[metric] == pytest.approx((Q1[metric] + Q2[metric] + Q3[metric]) / 3, abs=1e-9)


def test_cutoffs_apply() -> None:
    qrels = qrels_frame([("q", "rel", 1)])
    run = run_frame([("q", f"x{i:02d}", 100.0 - i) for i in range(10)] + [("q", "rel", 0.0)])
    result = evaluate_run(run, qrels, ["ndcg@10", "mrr@10", "recall@100", "p@5", "map"])
    assert result["ndcg@10"] == 0.0 and result["mrr@10"] == 0.0  # relevant doc at rank 11
    assert result["recall@100"] == 1.0
    assert result["p@5"] == 0.0
    assert result["map"] == pytest.approx(1 / 11)


def test_empty_run_scores_zero() -> None:
    empty = run_frame([])
    assert evaluate_run(empty, QRELS) == {"ndcg@10": 0.0, "mrr@10": 0.0, "map": 0.0, "recall@100": 0.0}
    assert per_query(empty, QRELS).height == 3


def test_queries_with_only_non_relevant_judgements_do_not_count() -> None:
    qrels = qrels_frame([("q1", "d1", 1), ("q2", "d2", 0)])
    run = run_frame([("q1", "d1", 1.0), ("q2", "d2", 1.0)])
    assert per_query(run, qrels)["qid"].to_list() == ["q1"]
    assert evaluate_run(run, qrels)["ndcg@10"] == 1.0


def test_parse_metric_names() -> None:
    assert str(parse_metric("nDCG@10")) == "nDCG@10"
    assert str(parse_metric("mrr@10")) == "RR@10"
    assert str(parse_metric("map")) == "AP"
    assert str(parse_metric("recall@100")) == "R@100"
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("bleu")


# ----------------------------------------------------------------------------- properties

DOCS = [f"d{i}" for i in range(15)]


@st.composite
def judged_collection(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    qids = draw(st.lists(st.sampled_from(["q1", "q2", "q3", "q4"]), min_size=1, max_size=4, unique=True))
    qrels_rows, run_rows = [], []
    for qid in qids:
        judged = draw(st.lists(st.sampled_from(DOCS), min_size=1, max_size=12, unique=True))
        labels = draw(st.lists(st.integers(0, 3), min_size=len(judged), max_size=len(judged)))
        labels[0] = max(labels[0], 1)  # at least one relevant document per query
        qrels_rows += [(qid, d, lab) for d, lab in zip(judged, labels, strict=True)]
        retrieved = draw(st.lists(st.sampled_from(DOCS), max_size=15, unique=True))
        scores = draw(
            st.lists(st.floats(-100, 100, allow_nan=False), min_size=len(retrieved), max_size=len(retrieved))
        )
        run_rows += [(qid, d, s) for d, s in zip(retrieved, scores, strict=True)]
    return qrels_frame(qrels_rows), run_frame(run_rows)


@settings(max_examples=60, deadline=None)
@given(judged_collection())
def test_metrics_are_between_zero_and_one(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    qrels, run = data
    table = per_query(run, qrels)
    for metric in ("ndcg@10", "mrr@10", "map", "recall@100"):
        assert table[metric].min() >= 0.0
        assert table[metric].max() <= 1.0 + 1e-12
    means = evaluate_run(run, qrels)
    assert all(0.0 <= v <= 1.0 + 1e-12 for v in means.values())


@settings(max_examples=60, deadline=None)
@given(judged_collection())
def test_the_ideal_run_gets_ndcg_one(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    qrels, _ = data
    ideal = run_frame([(q, d, float(lab)) for q, d, lab in qrels.iter_rows()])
    result = evaluate_run(ideal, qrels)
    assert result["ndcg@10"] == pytest.approx(1.0)
    assert result["mrr@10"] == pytest.approx(1.0)
    assert result["map"] == pytest.approx(1.0)
    assert result["recall@100"] == pytest.approx(1.0)
