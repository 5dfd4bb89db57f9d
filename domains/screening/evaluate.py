"""Evaluate zero-label rankers on labelled reviews: per-review and mean measures, beside BM25 and random.

metrics.json: ``{"model", "query_field", "doc_field", "mean": {...}, "per_review": {review_id: {...}},
"baselines": {name: {"mean": {...}}}}`` with the keys ``ap, wss@95, wss@100, recall@5%, recall@10%, recall@20%,
recall@30%, last_rel%``; report.md and recall-curve PNGs (one per review, one of the means) beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ranksuite.domains.screening.data import Review
from ranksuite.domains.screening.plots import plot_mean_recall_curves, plot_recall_curves
from ranksuite.domains.screening.rank import Topic, record_embeddings, screening_encoder, zero_shot_scores
from ranksuite.domains.screening.simulate import labels_of
from ranksuite.shared.data.atomic import atomic_write_json, atomic_write_text
from ranksuite.shared.metrics.screening import screening_metrics

REPORT_KEYS = ("ap", "wss@95", "wss@100", "recall@10%", "last_rel%")


def mean_of(per_review: dict[str, dict[str, float]]) -> dict[str, float]:
    keys = next(iter(per_review.values())).keys()
    return {k: float(np.mean([m[k] for m in per_review.values()])) for k in keys}


def evaluate_reviews(
    reviews: list[Review],
    model: str = "fusion",
    out: str | Path | None = None,
    query_field: str = "both",
    doc_field: str = "title+abstract",
    baselines: tuple[str, ...] = ("bm25-title", "random"),
    progress: bool = False,
    model_per_review: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Rank every review with ``model`` (and the baselines) from its topic alone; score with the labels.

    ``model_per_review`` maps a review id to the model folder that ranks it (cross-topic training: a model that
    never saw that review); ``model`` is then only the name the results are reported under.
    """
    encoder = None
    methods = {model: (model, query_field), **{b: (b.split("-")[0], "title") for b in baselines}}
    per: dict[str, dict[str, dict[str, float]]] = {name: {} for name in methods}
    ranked: dict[str, list[np.ndarray]] = {name: [] for name in methods}
    for review in reviews:
        y = labels_of(review)
        emb = None
        curves = {}
        for name, (method, qfield) in methods.items():
            if name == model and model_per_review is not None:
                method = model_per_review[review.review_id]
            if method == "random":
                order = np.random.default_rng(0).permutation(len(y))
            else:
                if method in ("dense", "fusion") and emb is None:
                    encoder = encoder or screening_encoder()
                    emb = record_embeddings(review.records, encoder, doc_field, progress)
                scores = zero_shot_scores(
                    review.records,
                    Topic(review.title, review.query),
                    method,
                    qfield,
                    doc_field,
                    encoder,
                    emb,
                    progress,
                )
                order = np.argsort(-scores, kind="stable")
            per[name][review.review_id] = screening_metrics(y[order])
            ranked[name].append(y[order])
            curves[name] = y[order]
        if out is not None:
            (Path(out) / "curves").mkdir(parents=True, exist_ok=True)
            plot_recall_curves(curves, Path(out) / "curves" / f"{review.review_id}.png", review.review_id)
    result = {
        "model": model,
        "query_field": query_field,
        "doc_field": doc_field,
        "reviews": len(reviews),
        "mean": mean_of(per[model]),
        "per_review": per[model],
        "baselines": {b: {"mean": mean_of(per[b]), "per_review": per[b]} for b in baselines},
    }
    if out is not None:
        out = Path(out)
        atomic_write_json(out / "metrics.json", result)
        plot_mean_recall_curves(ranked, out / "recall_curves.png", f"mean over {len(reviews)} reviews")
        rows = [(model, result["mean"])] + [(b, result["baselines"][b]["mean"]) for b in baselines]
        lines = [
            f"# Screening evaluation: {model} (query: {query_field}, document: {doc_field})",
            "",
            f"{len(reviews)} reviews; zero-label ranking (no label of a review is used to rank it).",
            "",
            "| ranker | " + " | ".join(REPORT_KEYS) + " |",
            "|---|" + "---:|" * len(REPORT_KEYS),
            *[f"| {n} | " + " | ".join(f"{m[k]:.4f}" for k in REPORT_KEYS) + " |" for n, m in rows],
            "",
            "Per-review values: metrics.json; recall curves: recall_curves.png and curves/<review>.png.",
        ]
        atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return result
