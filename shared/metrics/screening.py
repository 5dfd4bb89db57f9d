"""Screening-prioritisation measures (CLEF TAR, ASReview): how early a ranking finds the included records.

Input everywhere: the labels of a review's records *in ranked order* (1 = included, 0 = excluded), i.e. what a
reviewer would see screening from the top. N = number of records, R = number of includes.

- ``average_precision``: AP of the ranking (the seed paper's headline measure).
- ``wss(r)``: work saved over sampling at recall r, CLEF TAR's official definition:
  (N − n_r) / N − (1 − r), where n_r is the rank at which round(r·R) includes have been found (1-based).
- ``recall_at_fraction(p)``: share of includes found after screening the first ceil(p·N) records.
- ``last_relevant_fraction``: rank of the last include / N — the share of the list a reviewer must screen to find
  them all (lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _labels(ranked: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(ranked, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError("expected a 1-d sequence of labels in ranked order")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return arr


def average_precision(ranked: Sequence[int] | np.ndarray) -> float:
    y = _labels(ranked)
    r = int(y.sum())
    if r == 0:
        return 0.0
    hits = np.cumsum(y)
    ranks = np.arange(1, y.size + 1)
    return float((hits / ranks)[y == 1].sum() / r)


def rank_of_kth_include(ranked: Sequence[int] | np.ndarray, k: int) -> int:
    """1-based rank at which the k-th include appears (k >= 1)."""
    y = _labels(ranked)
    positions = np.flatnonzero(y) + 1
    if k < 1 or k > positions.size:
        raise ValueError(f"k={k} but the ranking holds {positions.size} includes")
    return int(positions[k - 1])


def wss(ranked: Sequence[int] | np.ndarray, recall: float = 0.95) -> float:
    """Work saved over sampling at ``recall`` (CLEF TAR): (N − n_r)/N − (1 − r); n_r = rank of the round(r·R)-th."""
    y = _labels(ranked)
    n, r_total = y.size, int(y.sum())
    if r_total == 0:
        return 0.0
    k = max(1, math.floor(recall * r_total + 0.5))  # round half up, as the CLEF TAR scripts do
    return (n - rank_of_kth_include(y, k)) / n - (1 - recall)


def recall_at_fraction(ranked: Sequence[int] | np.ndarray, fraction: float) -> float:
    y = _labels(ranked)
    r_total = int(y.sum())
    if r_total == 0:
        return 0.0
    cut = math.ceil(fraction * y.size)
    return float(y[:cut].sum() / r_total)


def last_relevant_fraction(ranked: Sequence[int] | np.ndarray) -> float:
    y = _labels(ranked)
    positions = np.flatnonzero(y)
    return float((positions[-1] + 1) / y.size) if positions.size else 0.0


def screening_metrics(ranked: Sequence[int] | np.ndarray) -> dict[str, float]:
    """The standard set, with the key names every screening report uses."""
    return {
        "ap": average_precision(ranked),
        "wss@95": wss(ranked, 0.95),
        "wss@100": wss(ranked, 1.0),
        "recall@5%": recall_at_fraction(ranked, 0.05),
        "recall@10%": recall_at_fraction(ranked, 0.10),
        "recall@20%": recall_at_fraction(ranked, 0.20),
        "recall@30%": recall_at_fraction(ranked, 0.30),
        "last_rel%": last_relevant_fraction(ranked),
    }
