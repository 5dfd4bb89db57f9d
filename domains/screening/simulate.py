"""Simulation: replay labelled reviews as ASReview's simulation mode does, for every strategy.

Protocol (``protocol.py``, shared with the ASReview benchmark): per review and seed, the screener starts from
1 include + 1 exclude, then screens one record at a time, most likely relevant first, until every include is found.
The order of screening is scored with the CLEF TAR / ASReview measures (``shared.metrics.screening``).

Strategies (``STRATEGIES``):
- ``neural-al`` (default): active learning on TF-IDF n-grams, with the zero-label neural ranking (MiniLM fused with
  BM25 over title + Boolean query) as the prior that leads until the classifier has found its feet;
- ``embed-al``: the same with MiniLM embeddings added to the classifier's features (better on CLEF 2017 and
  Bannach-Brown, worse on Cohen 2006, where every record is on-topic and inclusion turns on study design —
  benchmarks/RESULTS.md — so not the default);
- ``dense-al``: TF-IDF + embeddings, no prior (ablation of the prior);
- ``tfidf-al``: active learning on TF-IDF alone, no prior (ASReview's kind of model, in ranksuite);
- ``bm25``, ``dense``, ``fusion``: a fixed zero-label ranking, no learning;
- ``random``: a random order (the expected baseline).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ranksuite.domains.screening.active import ActiveLearner
from ranksuite.domains.screening.data import Review
from ranksuite.domains.screening.features import combined_features, record_texts, tfidf_matrix
from ranksuite.domains.screening.protocol import prior_indices
from ranksuite.domains.screening.rank import Topic, record_embeddings, screening_encoder, zero_shot_scores
from ranksuite.shared.metrics.screening import screening_metrics
from ranksuite.shared.models import BiEncoder


@dataclass(frozen=True)
class Strategy:
    learn: bool
    dense_features: bool = False
    prior: str | None = None  # a zero-shot method: bm25 | dense | fusion
    dense_weight: float = 1.0  # scale of the embedding block beside the (unit-norm) TF-IDF block


STRATEGIES: dict[str, Strategy] = {
    "neural-al": Strategy(learn=True, prior="fusion"),
    "embed-al": Strategy(learn=True, dense_features=True, prior="fusion"),
    "dense-al": Strategy(learn=True, dense_features=True),
    "tfidf-al": Strategy(learn=True),
    "bm25": Strategy(learn=False, prior="bm25"),
    "dense": Strategy(learn=False, prior="dense"),
    "fusion": Strategy(learn=False, prior="fusion"),
    "random": Strategy(learn=False),
}
DEFAULT_STRATEGY = "neural-al"


def labels_of(review: Review) -> np.ndarray:
    labels = review.records["label"]
    if labels.null_count():
        raise ValueError(
            f"review {review.review_id}: {labels.null_count()} records have no label; cannot simulate"
        )
    return labels.cast(pl.Int64).to_numpy()


def screening_order(
    review: Review,
    strategy: str,
    seed: int,
    model: BiEncoder | None = None,
    cache: dict[str, Any] | None = None,
) -> list[int]:
    """Record indices in the order the simulated reviewer screens them (prior first, every record once)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    spec = STRATEGIES[strategy]
    y = labels_of(review)
    n = len(y)
    inc, exc = prior_indices(y, seed, review.review_id)
    cache = cache if cache is not None else {}
    needs_dense = spec.dense_features or spec.prior in ("dense", "fusion")
    if needs_dense and "emb" not in cache:
        model = model or screening_encoder()
        cache["emb"] = record_embeddings(review.records, model)
    if spec.prior and f"prior:{spec.prior}" not in cache:
        cache[f"prior:{spec.prior}"] = zero_shot_scores(
            review.records,
            Topic(review.title, review.query),
            spec.prior,
            model=model,
            embeddings=cache.get("emb"),
        )
    prior = cache.get(f"prior:{spec.prior}") if spec.prior else None
    if not spec.learn:
        if prior is None:
            rest = np.random.default_rng([seed, 7]).permutation(n)
        else:
            rest = np.argsort(-prior, kind="stable")
        return [inc, exc, *[int(i) for i in rest if i not in (inc, exc)]]
    if "tfidf" not in cache:
        cache["tfidf"] = tfidf_matrix(record_texts(review.records))
    features = combined_features(
        cache["tfidf"], cache["emb"] if spec.dense_features else None, spec.dense_weight
    )
    learner = ActiveLearner(features, prior=prior, refit_every="adaptive")
    learner.label(inc, 1)
    learner.label(exc, 0)
    order = [inc, exc]
    remaining = int(y.sum()) - 1
    while remaining > 0:
        i = learner.next()
        if i is None:
            break
        learner.label(i, int(y[i]))
        order.append(i)
        remaining -= int(y[i])
    seen = set(order)
    return order + [i for i in range(n) if i not in seen]


def simulate_review(
    review: Review, strategy: str, seeds: int, model: BiEncoder | None = None
) -> dict[str, Any]:
    """Metrics per seed and their mean for one review; the orders are returned too (as record ids)."""
    y = labels_of(review)
    ids = review.records["record_id"].to_list()
    cache: dict[str, Any] = {}
    runs = []
    for seed in range(seeds):
        t = time.time()
        order = screening_order(review, strategy, seed, model, cache)
        runs.append(
            {
                "seed": seed,
                "metrics": screening_metrics(y[order]),
                "seconds": time.time() - t,
                "order": [ids[i] for i in order],
            }
        )
    keys = runs[0]["metrics"].keys()
    mean = {k: float(np.mean([r["metrics"][k] for r in runs])) for k in keys}
    return {
        "review_id": review.review_id,
        "records": len(y),
        "includes": int(y.sum()),
        "mean": mean,
        "runs": runs,
    }
