"""Rank fusion: combine rankers that see different evidence (lexical and neural are complementary).

- ``rrf``: reciprocal rank fusion, sum of 1 / (k + rank) (Cormack et al. 2009; k = 60).
- ``combsum``: sum of per-ranker scores after min-max normalisation (Fox & Shaw 1994), optionally weighted.
Both take aligned score arrays over the same items and return fused scores (higher is better);
:func:`fuse_runs` applies them query by query to whole runs (``ranksuite ir fuse``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


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


def fuse_runs(
    runs: Sequence[pl.DataFrame], method: str = "rrf", weights: Sequence[float] | None = None
) -> pl.DataFrame:
    """Fuse ranked lists (``qid, docno, score`` frames, e.g. TREC runs) query by query into one run.

    Each query's items are the union of the runs' documents. A document a run did not return ranks below
    everything that run returned: RRF gives it no share from that run; CombSUM gives it that run's lowest score.
    """
    if not runs:
        raise ValueError("nothing to fuse")
    grouped = [
        {q: (g["docno"].to_list(), g["score"].to_numpy()) for (q,), g in run.group_by("qid")} for run in runs
    ]
    qids: list[str] = sorted(set().union(*(g.keys() for g in grouped)))
    out_q: list[str] = []
    out_d: list[str] = []
    out_s: list[float] = []
    for q in qids:
        docs = sorted(set().union(*(g[q][0] for g in grouped if q in g)))
        index = {d: i for i, d in enumerate(docs)}
        lists, present = [], []
        for g in grouped:
            names, scores = g.get(q, ([], np.array([])))
            # absent documents sit below the run's last one: its lowest score minus a margin
            full = np.full(len(docs), float(scores.min()) - 1.0 if len(scores) else 0.0)
            full[[index[d] for d in names]] = scores
            lists.append(full)
            present.append(np.isin(np.arange(len(docs)), [index[d] for d in names]))
        if method == "rrf":  # an absent document collects no share from a run that never returned it
            w = weights or [1.0] * len(runs)
            fused = sum(
                np.where(p, wi / (60 + ranks_of(f)), 0.0) for wi, f, p in zip(w, lists, present, strict=True)
            )
        else:
            fused = fuse(lists, method, weights)
        out_q += [q] * len(docs)
        out_d += docs
        out_s += fused.tolist()
    return pl.DataFrame(
        {"qid": out_q, "docno": out_d, "score": out_s},
        schema={"qid": pl.String, "docno": pl.String, "score": pl.Float64},
    )
