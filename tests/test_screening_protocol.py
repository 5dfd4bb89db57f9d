"""The shared screening-simulation prior (domains/screening/protocol.py): stable, one include + one exclude."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from ranksuite.domains.screening.protocol import prior_indices, review_key


def _labels(n: int = 2000, r: int = 100, seed: int = 7) -> np.ndarray:
    y = np.zeros(n, dtype=np.int64)
    y[np.random.default_rng(seed).choice(n, r, replace=False)] = 1
    return y


def test_one_include_then_one_exclude() -> None:
    y = _labels()
    for seed in range(20):
        inc, exc = prior_indices(y, seed, "CD007394")
        assert isinstance(inc, int) and isinstance(exc, int)
        assert y[inc] == 1 and y[exc] == 0


def test_deterministic_and_pinned() -> None:
    y = _labels()
    assert prior_indices(y, 0, "CD007394") == prior_indices(y.copy(), 0, "CD007394")
    assert prior_indices(y.tolist(), 0, "CD007394") == prior_indices(y.astype(bool), 0, "CD007394")
    # the definition, spelled out: default_rng([seed, crc32(review_id)]), include drawn first, then exclude
    rng = np.random.default_rng([3, zlib.crc32(b"CD007394")])
    expected = (int(rng.choice(np.flatnonzero(y == 1))), int(rng.choice(np.flatnonzero(y == 0))))
    assert prior_indices(y, 3, "CD007394") == expected
    assert review_key("CD007394") == zlib.crc32(b"CD007394")


def test_seeds_and_reviews_give_different_priors() -> None:
    y = _labels()
    by_seed = {prior_indices(y, s, "CD007394") for s in range(5)}
    assert len(by_seed) == 5
    assert len({inc for inc, _ in by_seed}) > 1 and len({exc for _, exc in by_seed}) > 1
    by_review = {prior_indices(y, 0, rid) for rid in ("CD007394", "CD009020", "cohen2006_ADHD")}
    assert len(by_review) == 3


def test_tiny_review_with_one_of_each() -> None:
    assert prior_indices(np.array([0, 1]), 5, "x") == (1, 0)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros(50, dtype=int), "no included record"),
        (np.ones(50, dtype=int), "no excluded record"),
        (np.array([], dtype=int), "no included record"),
        (np.array([0, 1, 2]), "0 or 1"),
        (np.zeros((3, 2), dtype=int), "1-d"),
    ],
)
def test_clear_errors(labels: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        prior_indices(labels, 0, "CD000000")


def test_bad_seed() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        prior_indices(_labels(), -1, "CD007394")


def test_real_review(shared_data) -> None:
    """On a real review file (skipped without ../shared/data): the prior is 1 include + 1 exclude, seed-dependent."""
    import polars as pl

    path = shared_data / "screening" / "clef_tar2017" / "reviews" / "CD009020.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    y = pl.read_csv(path, infer_schema=False)["label"].cast(pl.Int64).to_numpy()
    priors = [prior_indices(y, s, "CD009020") for s in range(3)]
    assert all(y[i] == 1 and y[e] == 0 for i, e in priors)
    assert len(set(priors)) == 3
