"""Paired comparison of two systems on the same units (queries, problems, questions): the mean difference with a
bootstrap interval and the win/loss counts — why: a mean gap on a few hundred units says little until its interval
is known, and the benchmarks all report it the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paired_bootstrap(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, resamples: int = 2000, seed: int = 0
) -> dict[str, float | int | list[float]]:
    """B minus A per unit: ``diff`` (mean), ``ci95`` (percentile interval over ``resamples`` resamples of the
    units, seeded), ``b_wins`` / ``a_wins`` (units where one is strictly ahead), ``units``."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"need two 1-d arrays of the same non-zero length, got {x.shape} and {y.shape}")
    diff = y - x
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {
        "units": int(diff.size),
        "mean_a": float(x.mean()),
        "mean_b": float(y.mean()),
        "diff": float(diff.mean()),
        "ci95": [float(lo), float(hi)],
        "b_wins": int((diff > 0).sum()),
        "a_wins": int((diff < 0).sum()),
    }
