"""Dense first stage: embed the corpus once with a bi-encoder, rank by cosine (exact search, in chunks)."""

from __future__ import annotations

import numpy as np
import polars as pl
import torch

from ranksuite.shared.data.beir import doc_text_column
from ranksuite.shared.data.frames import make_run
from ranksuite.shared.models.bi_encoder import BiEncoder


def dense_search(
    model: BiEncoder,
    corpus: pl.DataFrame,
    queries: pl.DataFrame,
    k: int = 100,
    batch_size: int = 128,
    progress: bool = False,
    doc_embeddings: np.ndarray | None = None,
) -> pl.DataFrame:
    """Top-``k`` documents per query by cosine similarity. Exact (no ANN index): collections here are < 1M docs."""
    if doc_embeddings is None:
        doc_embeddings = model.encode(
            doc_text_column(corpus).to_list(), batch_size, progress and "encoding corpus"
        )
    q_emb = model.encode(queries["query"].to_list(), batch_size, progress and "encoding queries")
    docnos = corpus["docno"].to_list()
    k = min(k, len(docnos))
    d = torch.from_numpy(doc_embeddings)
    qids_out: list[str] = []
    docs_out: list[str] = []
    scores_out: list[float] = []
    qids = queries["qid"].to_list()
    for start in range(0, len(qids), 256):
        sims = torch.from_numpy(q_emb[start : start + 256]) @ d.T
        top = sims.topk(k, dim=1)
        for row, qid in enumerate(qids[start : start + 256]):
            qids_out.extend([qid] * k)
            docs_out.extend(docnos[i] for i in top.indices[row].tolist())
            scores_out.extend(top.values[row].tolist())
    return make_run(qids_out, docs_out, scores_out)
