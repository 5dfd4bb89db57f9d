"""Screening measures against hand-computed values and their defining properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranksuite.shared.metrics.screening import (
    average_precision,
    last_relevant_fraction,
    recall_at_fraction,
    screening_metrics,
    wss,
)


def test_hand_computed_example() -> None:
    ranked = [1, 0, 1, 0, 0, 0, 0, 0, 1, 0]  # N=10, R=3, includes at ranks 1, 3, 9
    assert average_precision(ranked) == pytest.approx((1 / 1 + 2 / 3 + 3 / 9) / 3)
    # WSS@100: all 3 found at rank 9 -> (10 - 9)/10 - 0 = 0.1
    assert wss(ranked, 1.0) == pytest.approx(0.1)
    # WSS@95: round(0.95 * 3) = 3 includes -> rank 9 -> 0.1 - 0.05
    assert wss(ranked, 0.95) == pytest.approx(0.05)
    # recall after screening ceil(0.3 * 10) = 3 records: 2 of 3
    assert recall_at_fraction(ranked, 0.3) == pytest.approx(2 / 3)
    assert last_relevant_fraction(ranked) == pytest.approx(0.9)


def test_wss_uses_rounded_include_count() -> None:
    ranked = [1] * 10 + [0] * 80 + [1] * 10  # R=20: round(0.95*20)=19 -> the 19th include is at rank 99
    assert wss(ranked, 0.95) == pytest.approx((100 - 99) / 100 - 0.05)


def test_keys_and_no_includes() -> None:
    m = screening_metrics([0, 0, 0])
    assert set(m) == {
        "ap",
        "wss@95",
        "wss@100",
        "recall@5%",
        "recall@10%",
        "recall@20%",
        "recall@30%",
        "last_rel%",
    }
    assert all(v == 0.0 for v in m.values())
    with pytest.raises(ValueError):
        average_precision([0, 2, 1])


@given(st.lists(st.integers(0, 1), min_size=1, max_size=200).filter(lambda xs: sum(xs) > 0))
def test_ideal_ranking_is_best(labels: list[int]) -> None:
    ideal = sorted(labels, reverse=True)
    n, r = len(labels), sum(labels)
    assert average_precision(ideal) == pytest.approx(1.0)
    assert average_precision(labels) <= 1.0 + 1e-12
    assert wss(labels, 1.0) <= wss(ideal, 1.0) + 1e-12
    assert wss(ideal, 1.0) == pytest.approx((n - r) / n)
    assert 0.0 < last_relevant_fraction(labels) <= 1.0
    assert recall_at_fraction(labels, 1.0) == pytest.approx(1.0)
    assert math.isclose(last_relevant_fraction(ideal), r / n)
