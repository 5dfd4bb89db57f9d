"""CTR / personalised-ranking measures against sklearn, hand-computed values and their tie rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from ranksuite.shared.metrics.ctr import auc, gauc, ndcg_hr_at_k, ndcg_hr_per_user, positive_rank


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(-5, 5)),  # small score range: many ties
        min_size=2,
        max_size=80,
    ).filter(lambda xs: 0 < sum(y for y, _ in xs) < len(xs)),
    st.booleans(),
)
def test_auc_equals_sklearn(pairs: list[tuple[int, int]], continuous: bool) -> None:
    labels = np.array([y for y, _ in pairs])
    scores = np.array([s for _, s in pairs], dtype=np.float64)
    if continuous:
        scores = scores + np.random.default_rng(len(pairs)).normal(size=scores.size)
    assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auc_hand_and_errors() -> None:
    # positives 0.8, 0.4; negatives 0.4, 0.1: pairs (0.8>0.4)=1, (0.8>0.1)=1, (0.4=0.4)=0.5, (0.4>0.1)=1 -> 3.5/4
    assert auc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1]) == pytest.approx(0.875)
    assert auc([1, 0], [1.0, 1.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError):
        auc([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError):
        auc([1, 0], [float("nan"), 0.2])


def test_gauc_by_hand() -> None:
    users = ["a", "a", "a", "b", "b", "b", "b", "c", "c"]
    labels = [1, 0, 0, 1, 1, 0, 0, 1, 1]
    scores = [0.9, 0.5, 0.95, 0.3, 0.6, 0.6, 0.1, 0.2, 0.4]
    # a: positive 0.9 vs negatives 0.5, 0.95 -> 1/2; weight 3
    # b: positives 0.3, 0.6 vs negatives 0.6, 0.1 -> (0 + 1 + 0.5 + 1) / 4 = 0.625; weight 4
    # c: only positives -> skipped
    value, n_users = gauc(users, labels, scores)
    assert n_users == 2
    assert value == pytest.approx((3 * 0.5 + 4 * 0.625) / 7)
    assert value == pytest.approx(
        (3 * roc_auc_score(labels[:3], scores[:3]) + 4 * roc_auc_score(labels[3:7], scores[3:7])) / 7
    )


def test_gauc_skip_rule_and_order_independence() -> None:
    # all-negative and all-positive users are skipped entirely (their weight too)
    res = gauc([1, 1, 2, 2, 3], [0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert res.users == 0 and math.isnan(res.gauc)
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 500)
    labels = rng.integers(0, 2, 500)
    scores = rng.integers(0, 4, 500).astype(float)
    perm = rng.permutation(500)
    a, b = gauc(users, labels, scores), gauc(users[perm], labels[perm], scores[perm])
    assert a.users == b.users and a.gauc == pytest.approx(b.gauc)
    # against a per-user loop over sklearn
    num = den = 0.0
    for u in np.unique(users):
        m = users == u
        if 0 < labels[m].sum() < m.sum():
            num += m.sum() * roc_auc_score(labels[m], scores[m])
            den += m.sum()
    assert a.gauc == pytest.approx(num / den)


def test_ndcg_hr_by_hand() -> None:
    pos = np.array([0.9, 0.5, 0.1, 0.5])
    neg = np.array(
        [
            [0.1, 0.2, 0.3],  # rank 1
            [0.6, 0.7, 0.1],  # rank 3
            [0.2, 0.3, 0.4],  # rank 4
            [0.5, 0.5, 0.9],  # 1 higher + 2 ties -> rank 1 + 1 + 1 = 3
        ]
    )
    assert positive_rank(pos, neg).tolist() == [1.0, 3.0, 4.0, 3.0]
    ndcg, hr = ndcg_hr_per_user(pos, neg, k=3)
    assert ndcg == pytest.approx([1.0, 0.5, 0.0, 0.5])
    assert hr.tolist() == [1.0, 1.0, 0.0, 1.0]
    m = ndcg_hr_at_k(pos, neg, k=3)
    assert m == pytest.approx({"ndcg@3": 0.5, "hr@3": 0.75})
    # half ties: a constant scorer ranks the positive at (N + 2) / 2
    assert positive_rank([0.0], [[0.0] * 99]).tolist() == [50.5]
    m10 = ndcg_hr_at_k([0.0], [[0.0] * 99], k=10)
    assert m10 == {"ndcg@10": 0.0, "hr@10": 0.0}
    r = positive_rank([1.0], [[1.0, 0.0]])[0]  # rank 1.5
    assert ndcg_hr_per_user([1.0], [[1.0, 0.0]], k=2)[0][0] == pytest.approx(1 / math.log2(r + 1))
    with pytest.raises(ValueError):
        ndcg_hr_at_k([1.0, 2.0], [[1.0]])
