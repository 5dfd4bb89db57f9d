"""Click-through / personalised-ranking measures: AUC, GAUC, and NDCG/HR@k of one positive among sampled negatives.

- ``auc(labels, scores)``: area under the ROC curve, ties counted half (the Mann-Whitney statistic with average
  ranks) -- the same number as ``sklearn.metrics.roc_auc_score``. Raises ``ValueError`` when only one class occurs.
- ``gauc(users, labels, scores)``: group AUC (Zhou et al., DIN, KDD 2018): the AUC of each user's own samples,
  averaged with the user's sample count as weight. Users whose samples are all one class have no AUC and are
  skipped (neither their AUC nor their weight counts); the result says how many users counted. Fully vectorised.
- ``ndcg_hr_at_k(pos_score, neg_scores, k)``: leave-one-out evaluation with sampled negatives, vectorised over
  users: ``pos_score`` [U] is each user's held-out item, ``neg_scores`` [U, N] its N sampled negatives. The
  positive's rank is 1 + #negatives scoring strictly higher + half the negatives tied with it (so a tie costs half a
  place: neither optimistic nor pessimistic; a constant scorer gets rank (N + 2) / 2). HR@k = 1 when rank <= k;
  NDCG@k = 1 / log2(rank + 1) when rank <= k, else 0 (one relevant item, so the ideal DCG is 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _check(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"labels and scores must be 1-d and of equal length, got {y.shape} and {s.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y.astype(bool), s


def _average_ranks(groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score within its group (ascending), ties given their average rank."""
    order = np.lexsort((scores, groups))
    g, s = groups[order], scores[order]
    n = g.size
    # runs of equal (group, score): their ranks are averaged
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, n))
    # position of each run's start within its group
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    group_start = np.flatnonzero(new_group)
    group_of = np.cumsum(new_group) - 1
    start_in_group = run_start - group_start[group_of[run_start]]
    avg_rank = start_in_group + (run_len + 1) / 2.0
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = avg_rank[run_id]
    return ranks


def auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """ROC AUC with ties counted half; equals ``sklearn.metrics.roc_auc_score(labels, scores)``."""
    y, s = _check(labels, scores)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC is undefined when only one class is present")
    ranks = _average_ranks(np.zeros(y.size, dtype=np.int64), s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


class GAUC(NamedTuple):
    """``gauc``: the weighted mean of per-user AUC (NaN when no user counted); ``users``: how many users counted."""

    gauc: float
    users: int


def gauc(users: ArrayLike, labels: ArrayLike, scores: ArrayLike) -> GAUC:
    """Group AUC: sum_u n_u * AUC_u / sum_u n_u over users having both classes (n_u = the user's sample count)."""
    y, s = _check(labels, scores)
    u = np.asarray(users)
    if u.shape != y.shape:
        raise ValueError(f"users must be 1-d with one entry per sample, got {u.shape} for {y.shape} labels")
    if y.size == 0:
        return GAUC(float("nan"), 0)
    _, group = np.unique(u, return_inverse=True)
    group = group.reshape(-1)
    n_groups = int(group.max()) + 1
    n = np.bincount(group, minlength=n_groups).astype(np.float64)
    n_pos = np.bincount(group, weights=y.astype(np.float64), minlength=n_groups)
    n_neg = n - n_pos
    ranks = _average_ranks(group, s)
    pos_rank_sum = np.bincount(group, weights=np.where(y, ranks, 0.0), minlength=n_groups)
    ok = (n_pos > 0) & (n_neg > 0)
    if not ok.any():
        return GAUC(float("nan"), 0)
    per_user = (pos_rank_sum[ok] - n_pos[ok] * (n_pos[ok] + 1) / 2.0) / (n_pos[ok] * n_neg[ok])
    return GAUC(float(np.sum(per_user * n[ok]) / np.sum(n[ok])), int(ok.sum()))


def positive_rank(pos_score: ArrayLike, neg_scores: ArrayLike) -> np.ndarray:
    """Per user [U]: 1 + #negatives scoring higher than the positive + 0.5 * #negatives tied with it."""
    pos = np.asarray(pos_score, dtype=np.float64)
    neg = np.asarray(neg_scores, dtype=np.float64)
    if pos.ndim != 1 or neg.ndim != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(f"expected pos_score [U] and neg_scores [U, N], got {pos.shape} and {neg.shape}")
    if np.isnan(pos).any() or np.isnan(neg).any():
        raise ValueError("scores contain NaN")
    col = pos[:, None]
    return 1.0 + (neg > col).sum(axis=1) + 0.5 * (neg == col).sum(axis=1)


def ndcg_hr_per_user(
    pos_score: ArrayLike, neg_scores: ArrayLike, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Per-user NDCG@k and HR@k arrays [U] (see the module docstring for the tie rule)."""
    if k < 1:
        raise ValueError("k must be >= 1")
    rank = positive_rank(pos_score, neg_scores)
    hit = rank <= k
    ndcg = np.where(hit, 1.0 / np.log2(rank + 1.0), 0.0)
    return ndcg, hit.astype(np.float64)


def ndcg_hr_at_k(pos_score: ArrayLike, neg_scores: ArrayLike, k: int = 10) -> dict[str, float]:
    """Mean NDCG@k and HR@k over users: ``{"ndcg@k": ..., "hr@k": ...}`` (NaN for zero users)."""
    ndcg, hr = ndcg_hr_per_user(pos_score, neg_scores, k)
    if ndcg.size == 0:
        return {f"ndcg@{k}": float("nan"), f"hr@{k}": float("nan")}
    return {f"ndcg@{k}": float(ndcg.mean()), f"hr@{k}": float(hr.mean())}
