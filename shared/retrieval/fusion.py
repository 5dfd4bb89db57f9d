"""Rank fusion: combine rankers that see different evidence (lexical and neural are complementary).

- ``rrf``: reciprocal rank fusion, sum of 1 / (k + rank) (Cormack et al. 2009; k = 60).
- ``combsum``: sum of per-ranker scores after min-max normalisation (Fox & Shaw 1994), optionally weighted.
Both take aligned score arrays over the same items and return fused scores (higher is better).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def minmax(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    lo, hi = float(s.min()), float(s.max())
    return np.zeros_like(s) if hi - lo < 1e-12 else (s - lo) / (hi - lo)


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each item by descending score (ties broken by position, stably)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def rrf(score_lists: Sequence[np.ndarray], k: int = 60, weights: Sequence[float] | None = None) -> np.ndarray:
    weights = weights or [1.0] * len(score_lists)
    return sum(w / (k + ranks_of(s)) for w, s in zip(weights, score_lists, strict=True))  # type: ignore[return-value]


def combsum(score_lists: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    weights = weights or [1.0] * len(score_lists)
    return sum(w * minmax(s) for w, s in zip(weights, score_lists, strict=True))  # type: ignore[return-value]


def fuse(
    score_lists: Sequence[np.ndarray], method: str = "rrf", weights: Sequence[float] | None = None
) -> np.ndarray:
    if not score_lists:
        raise ValueError("nothing to fuse")
    if len({len(s) for s in score_lists}) != 1:
        raise ValueError("score lists differ in length")
    if method == "rrf":
        return rrf(score_lists, weights=weights)
    if method == "combsum":
        return combsum(score_lists, weights=weights)
    raise ValueError(f"unknown fusion {method!r}: use rrf or combsum")
