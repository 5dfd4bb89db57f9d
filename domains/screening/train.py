"""Cross-topic fine-tuning (the seed paper's setting): a cross-encoder learns from *other* reviews' labels.

Query = the review's topic (title, Boolean query words, or both); document = title + abstract. Each group is one
included record and 9 excluded records of the same review (localized contrastive loss, Wang et al. 2022). The
shared trainer and step function do the work; the dev set is held-out reviews, scored by AP on a sample of their
records (all includes + up to 300 excludes), so early stopping and best-checkpoint keeping work as everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ranksuite.domains.screening.data import Review
from ranksuite.domains.screening.features import record_texts, topic_text
from ranksuite.domains.screening.simulate import labels_of
from ranksuite.shared.device import seed_everything
from ranksuite.shared.metrics.screening import average_precision
from ranksuite.shared.models import CrossEncoder, Scorer
from ranksuite.shared.training import TrainConfig, Trainer, TrainResult
from ranksuite.shared.training.ranking import ranking_step_fn


def review_groups(
    reviews: list[Review],
    query_field: str = "both",
    doc_field: str = "title+abstract",
    negatives: int = 9,
    seed: int = 42,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Groups of 1 include + ``negatives`` excludes per include, and the texts they refer to (``review/record``)."""
    rng = np.random.default_rng(seed)
    examples: list[dict[str, Any]] = []
    texts: dict[str, str] = {}
    for review in reviews:
        y = labels_of(review)
        ids = [f"{review.review_id}/{r}" for r in review.records["record_id"].to_list()]
        texts.update(zip(ids, record_texts(review.records, doc_field), strict=True))
        query = topic_text(review.title, review.query, query_field)
        excluded = np.flatnonzero(y == 0)
        if excluded.size == 0:
            continue
        for pos in np.flatnonzero(y == 1):
            negs = rng.choice(excluded, size=min(negatives, excluded.size), replace=False)
            examples.append({"query": query, "docnos": [ids[pos], *[ids[i] for i in negs]]})
    if not examples:
        raise ValueError("no training groups: the training reviews need both included and excluded records")
    return examples, texts


def ap_evaluator(
    reviews: list[Review], query_field: str, doc_field: str, max_excludes: int = 300, seed: int = 0
):
    """Mean AP over held-out reviews, each on all its includes + a fixed sample of excludes."""
    samples = []
    rng = np.random.default_rng(seed)
    for review in reviews:
        y = labels_of(review)
        exc = np.flatnonzero(y == 0)
        keep = np.sort(
            np.concatenate([np.flatnonzero(y == 1), rng.choice(exc, min(max_excludes, exc.size), False)])
        )
        texts = record_texts(review.records, doc_field)
        samples.append(
            (topic_text(review.title, review.query, query_field), [texts[i] for i in keep], y[keep])
        )

    def evaluate(model: Scorer) -> dict[str, float]:
        aps = []
        for query, docs, labels in samples:
            scores = model.score([query] * len(docs), docs)
            aps.append(average_precision(labels[np.argsort(-scores, kind="stable")]))
        return {"ap": float(np.mean(aps))}

    return evaluate


def train_screening_ranker(
    train_reviews: list[Review],
    out: str | Path,
    dev_reviews: list[Review] | None = None,
    backbone: str = "minilm",
    query_field: str = "both",
    doc_field: str = "title+abstract",
    max_length: int = 256,
    config: TrainConfig | None = None,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a cross-encoder on ``train_reviews``; ``dev_reviews`` (other reviews) pick the best checkpoint."""
    config = config or TrainConfig(lr=2e-5, batch_size=16, metric="ap")
    config.metric = "ap"
    examples, texts = review_groups(train_reviews, query_field, doc_field, seed=config.seed)
    seed_everything(config.seed)  # the new head is drawn from the seeded generator: runs repeat
    model = CrossEncoder.from_backbone(backbone, max_length=max_length)
    meta = {
        "domain": "screening",
        "training": {
            "reviews": [r.review_id for r in train_reviews],
            "dev_reviews": [r.review_id for r in dev_reviews or []],
            "groups": len(examples),
            "query_field": query_field,
            "doc_field": doc_field,
            "loss": "contrastive",
        },
    }
    config.extra.update(meta["training"])

    def save(m: Scorer, folder: Path) -> None:
        m.save(folder, extra_meta=meta)

    evaluate = ap_evaluator(dev_reviews, query_field, doc_field) if dev_reviews else None
    trainer = Trainer(model, examples, ranking_step_fn("contrastive", texts), save, out, config, evaluate)
    return trainer.fit(progress=progress)
