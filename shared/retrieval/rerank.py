"""Second stage: re-score the top-k of a first-stage run with any scorer."""

from __future__ import annotations

import polars as pl

from ranksuite.shared.data.frames import make_run, top_k
from ranksuite.shared.models.base import Scorer


def rerank(
    scorer: Scorer,
    run: pl.DataFrame,
    query_texts: dict[str, str],
    doc_texts: dict[str, str],
    k: int = 100,
    batch_size: int = 64,
    progress: bool = False,
) -> pl.DataFrame:
    """Score the first ``k`` documents of every query with ``scorer`` and re-rank them (the rest are dropped)."""
    head = top_k(run, k)
    qids = head["qid"].to_list()
    docnos = head["docno"].to_list()
    scores = scorer.score(
        [query_texts[q] for q in qids],
        [doc_texts[d] for d in docnos],
        batch_size=batch_size,
        progress=progress and f"reranking top-{k} ({scorer.architecture})",
    )
    return make_run(qids, docnos, scores.tolist())
