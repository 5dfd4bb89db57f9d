"""The screening-simulation protocol shared by ranksuite's ``screening simulate`` and the ASReview benchmark.

Both sides must start each simulated review from the *same* prior knowledge, so the prior is drawn here and
nowhere else (``benchmarks/screening_asreview.py`` imports it; ranksuite imports it as
``ranksuite.benchmarks.screening_protocol``). This module needs only numpy.

Protocol for one review and one seed ``s`` (``s`` = 0 … S−1):

1. ``labels`` = the review's ``label`` column (1 = included at title/abstract level) **in the file's row order**
   (``reviews/<review_id>.csv.gz``); record indices below are 0-based row numbers of that file.
2. Prior knowledge = exactly 1 include + 1 exclude: ``prior_indices(labels, s, review_id)``.
   The generator is ``numpy.random.default_rng([s, zlib.crc32(review_id.encode("utf-8"))])`` — seeded by the
   seed and a stable hash of the review id (never Python's salted ``hash``), so every review gets its own,
   reproducible priors on any machine and Python version. The include is drawn first
   (``rng.choice`` over the include indices in ascending order), then the exclude (same over the excludes).
3. The screener sees the include, then the exclude, then ranks the rest "most likely relevant first", one
   record at a time, retraining after each label, until every include has been screened.
4. The screening order = prior (include, exclude) + the screener's order; records never screened (after the
   last include) are appended in file order. This tail holds only excludes, so it does not change WSS@95/100,
   recall@k%, AP or last_rel%.
5. Metrics: ``ranksuite.shared.metrics.screening.screening_metrics`` over the labels in screening order;
   mean over seeds per review, then mean over reviews.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["prior_indices", "review_key"]


def review_key(review_id: str) -> int:
    """Stable 32-bit key of a review id: CRC-32 of its UTF-8 bytes (independent of ``PYTHONHASHSEED``)."""
    return zlib.crc32(review_id.encode("utf-8"))


def prior_indices(labels: np.ndarray, seed: int, review_id: str) -> tuple[int, int]:
    """The prior knowledge of one simulated review: ``(include_index, exclude_index)``.

    ``labels``: the review's 0/1 labels in file order (any 1-d integer/bool array-like). ``seed``: a
    non-negative int (the simulation seed). ``review_id``: the review's id as in ``topics.csv``.
    Returns two 0-based row indices as Python ints; the first has label 1, the second label 0.

    Raises ``ValueError`` when ``labels`` is not 1-d 0/1, ``seed`` is negative, or the review has no include or
    no exclude (a prior of one of each is then impossible).
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {y.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    includes = np.flatnonzero(y == 1)
    excludes = np.flatnonzero(y == 0)
    if includes.size == 0:
        raise ValueError(f"review {review_id!r} has no included record: cannot draw a prior include")
    if excludes.size == 0:
        raise ValueError(f"review {review_id!r} has no excluded record: cannot draw a prior exclude")
    rng = np.random.default_rng([int(seed), review_key(review_id)])
    include = int(rng.choice(includes))
    exclude = int(rng.choice(excludes))
    return include, exclude
