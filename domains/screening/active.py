"""Active learning for screening: each decision updates the ranking ("most likely relevant first").

ASReview's default learns from TF-IDF alone, starting from 1 include + 1 exclude. Our learner adds what the neural
models give: a *prior* ranking of every record before any label (the zero-label neural/fused ranker: it knows the
topic, which a classifier trained on two labels does not) and, optionally, MiniLM embeddings beside TF-IDF n-grams
as features (strategy ``embed-al``; see simulate.py for when they help). The classifier is a class-balanced
logistic regression (liblinear), refitted from scratch on all decisions: with a few hundred labels a refit takes
milliseconds, so a 5,000-record review refreshes in well under a second per label on a laptop CPU.

Score of record i = z(classifier logit_i) + w · z(prior_i), with w = prior_weight · 5 / (5 + includes found): the
topic prior leads while the classifier knows little, and fades as includes accumulate. z = standardisation over the
review.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


class ActiveLearner:
    """Keeps the decisions of one review and ranks the unscreened records.

    ``refit_every``: ``"each"`` refits after every decision (what a live session does); ``"adaptive"`` refits after
    every decision for the first 100, then whenever the labelled set has grown by 5 % (for fast simulations).
    """

    def __init__(
        self,
        features: sparse.csr_matrix | np.ndarray,
        prior: np.ndarray | None = None,
        prior_weight: float = 1.0,
        C: float = 1.0,
        refit_every: str = "each",
    ) -> None:
        self.x = sparse.csr_matrix(features)
        self.n = self.x.shape[0]
        self.prior = _z(np.asarray(prior, dtype=np.float64)) if prior is not None else np.zeros(self.n)
        self.prior_weight = prior_weight
        self.C = C
        self.refit_every = refit_every
        self.labels: dict[int, int] = {}
        self.order: list[int] = []  # decisions in the order they were made (for undo)
        self._logits = np.zeros(self.n)
        self._fitted_at = -1

    # -- decisions ------------------------------------------------------------------------------------------
    def label(self, index: int, value: int) -> None:
        if not 0 <= index < self.n:
            raise IndexError(f"record index {index} out of range 0..{self.n - 1}")
        if value not in (0, 1):
            raise ValueError("a decision is 1 (include) or 0 (exclude)")
        if index in self.labels:
            self.order.remove(index)
        self.labels[index] = value
        self.order.append(index)

    def undo(self) -> int | None:
        """Forget the last decision; returns its record index (None when there is none)."""
        if not self.order:
            return None
        index = self.order.pop()
        del self.labels[index]
        self._fitted_at = -1
        return index

    @property
    def includes(self) -> int:
        return sum(self.labels.values())

    # -- model ----------------------------------------------------------------------------------------------
    def _due(self) -> bool:
        n = len(self.labels)
        if self._fitted_at < 0 or self.refit_every == "each" or n <= 100:
            return n != self._fitted_at
        return n >= self._fitted_at * 1.05

    def _fit(self) -> None:
        idx = np.fromiter(self.labels.keys(), dtype=np.int64)
        y = np.fromiter(self.labels.values(), dtype=np.int64)
        self._fitted_at = len(idx)
        if len(set(y.tolist())) < 2:  # one class only: nothing to learn yet, the prior ranks
            self._logits = np.zeros(self.n)
            return
        clf = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear", max_iter=200)
        clf.fit(self.x[idx], y)
        self._logits = clf.decision_function(self.x)

    def scores(self) -> np.ndarray:
        """Current relevance score of every record (labelled ones included)."""
        if self._due():
            self._fit()
        w = self.prior_weight * 5.0 / (5.0 + self.includes)
        return _z(self._logits) + w * self.prior

    def ranking(self) -> np.ndarray:
        """Unscreened record indices, most likely relevant first."""
        s = self.scores()
        mask = np.ones(self.n, dtype=bool)
        if self.labels:
            mask[np.fromiter(self.labels.keys(), dtype=np.int64)] = False
        rest = np.flatnonzero(mask)
        return rest[np.argsort(-s[rest], kind="stable")]

    def next(self) -> int | None:
        r = self.ranking()
        return int(r[0]) if r.size else None
