"""pass@k for code generation, plain and *ranked*: did a correct program turn up among the first k?

- ``pass_at_k(n, c, k)``: the unbiased estimator of Chen et al. (2021, Codex), ``1 - C(n-c, k) / C(n, k)``: the
  probability that k programs drawn without replacement from n, of which c pass, hold at least one that passes.
  It is also the *expected* ranked pass@k of a random order, which is why the ``random`` baseline uses it instead of
  one shuffled order (no sampling noise).
- ``ranked_pass_at_k(scores, passed, k)``: a ranker orders the pool by score and is judged on its top k (RankEF,
  CodeRanker, CodeT: "ranked pass@k"). Tied scores are broken at random, and the result is the exact expectation
  over the tie-breaks, so a constant scorer scores exactly ``pass_at_k`` and input order never matters.
- ``oracle_pass_at_k(passed, k)``: a ranker that knows the labels, 1 when any program passes.
- ``mean_pass_at_k``: the mean over problems (every problem counts once, whatever its pool size).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k: probability that k of n programs (c correct) drawn without replacement hold a correct one.

    k larger than n is read as k = n (all programs are drawn). Computed as a product, not with factorials, so
    large n stays exact enough.
    """
    if n < 0 or c < 0 or c > n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if n == 0 or c == 0:
        return 0.0
    k = min(k, n)
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def ranked_pass_at_k(
    scores: Sequence[float] | np.ndarray, passed: Sequence[bool] | np.ndarray, k: int
) -> float:
    """Expected pass@k of the ranking by ``scores`` (higher first), ties broken uniformly at random.

    Walks the tie groups from the top: a group that fits in the remaining slots is taken whole; the group the k-th
    slot cuts through contributes ``pass_at_k`` of drawing the remaining slots from it. NaN scores rank last.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(passed, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores {s.shape} and passed {y.shape} must be 1-d and of the same length")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    s = np.where(np.isnan(s), -np.inf, s)
    left = k
    for value in np.unique(s)[::-1]:
        group = y[s == value]
        g, c = group.size, int(group.sum())
        if g <= left:
            if c:
                return 1.0
            left -= g
            if left == 0:
                return 0.0
        else:
            return pass_at_k(g, c, left)
    return 0.0


def oracle_pass_at_k(passed: Sequence[bool] | np.ndarray, k: int = 1) -> float:
    """A ranker that knows the labels: 1 when the pool holds a correct program (for every k >= 1)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return float(np.asarray(passed, dtype=bool).any())


def mean_pass_at_k(
    pools: Iterable[tuple[np.ndarray | None, np.ndarray]], ks: Sequence[int] = (1, 2, 5)
) -> dict[str, float]:
    """Mean over problems of ranked pass@k for ``(scores, passed)`` pools; ``scores`` None = random order."""
    totals = dict.fromkeys(ks, 0.0)
    n = 0
    for scores, passed in pools:
        y = np.asarray(passed, dtype=bool)
        for k in ks:
            if scores is None:
                totals[k] += pass_at_k(y.size, int(y.sum()), k)
            else:
                totals[k] += ranked_pass_at_k(scores, y, k)
        n += 1
    return {f"pass@{k}": (totals[k] / n if n else 0.0) for k in ks}
