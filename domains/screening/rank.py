"""Zero-label rankers for a review: score every record from the topic alone (no labels of this review).

- ``bm25``: BM25 over the records with the topic as query (``query_field``: title | query | both);
- ``dense``: cosine of MiniLM embeddings of topic and record (zero-shot bi-encoder);
- ``fusion``: reciprocal rank fusion of BM25 (title + Boolean query words) and dense — lexical and neural rankers
  are complementary (the seed paper's finding);
- a cross-encoder run folder (trained on *other* reviews by ``screening train``): scores (topic, record) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ranksuite.domains.screening.features import record_texts, topic_text
from ranksuite.shared.models import BiEncoder, load_scorer
from ranksuite.shared.models.embedding_cache import embed_cached
from ranksuite.shared.retrieval.bm25 import BM25
from ranksuite.shared.retrieval.fusion import fuse

ZERO_SHOT = ("bm25", "dense", "fusion")
# Records are embedded once per review (title + the start of the abstract): 128 tokens halve the CPU cost of
# embedding a 20,000-record review against 256, and the title and first sentences carry the topic.
EMBED_MAX_LENGTH = 128


def screening_encoder(backbone: str = "minilm") -> BiEncoder:
    """The bi-encoder every screening component shares (same settings, so embeddings are cached once)."""
    return BiEncoder.from_backbone(backbone, max_length=EMBED_MAX_LENGTH)


@dataclass
class Topic:
    title: str
    query: str = ""


def bm25_scores(records: pl.DataFrame, text: str, doc_field: str = "title+abstract") -> np.ndarray:
    """BM25 score of every record for ``text`` (0 for records sharing no term)."""
    ids = [str(i) for i in range(records.height)]
    index = BM25.from_texts(record_texts(records, doc_field), ids)
    docs, scores = index.search_texts([text], k=records.height)[0]
    out = np.zeros(records.height)
    out[np.asarray([int(d) for d in docs], dtype=np.int64)] = scores
    return out


def record_embeddings(
    records: pl.DataFrame, model: BiEncoder, doc_field: str = "title+abstract", progress: bool = False
) -> np.ndarray:
    return embed_cached(model, record_texts(records, doc_field), progress=progress and "embedding records")


def dense_scores(
    records: pl.DataFrame,
    text: str,
    model: BiEncoder,
    doc_field: str = "title+abstract",
    embeddings: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    emb = embeddings if embeddings is not None else record_embeddings(records, model, doc_field, progress)
    return emb @ model.encode([text])[0]


def zero_shot_scores(
    records: pl.DataFrame,
    topic: Topic,
    method: str = "fusion",
    query_field: str = "both",
    doc_field: str = "title+abstract",
    model: BiEncoder | None = None,
    embeddings: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Scores of every record from the topic alone; ``method`` is bm25, dense, fusion or a model folder."""
    if method == "bm25":
        return bm25_scores(records, topic_text(topic.title, topic.query, query_field), doc_field)
    if method in ("dense", "fusion"):
        model = model or screening_encoder()
        dense = dense_scores(
            records, topic_text(topic.title, topic.query, "title"), model, doc_field, embeddings, progress
        )
        if method == "dense":
            return dense
        lexical = bm25_scores(records, topic_text(topic.title, topic.query, query_field), doc_field)
        return fuse([lexical, dense], "rrf")
    folder = Path(method)
    if not folder.exists():
        raise ValueError(f"unknown ranker {method!r}: use bm25, dense, fusion or a trained model folder")
    scorer = load_scorer(folder / "model" if (folder / "model").is_dir() else folder)
    query = topic_text(topic.title, topic.query, scorer.meta.get("training", {}).get("query_field", "title"))
    texts = record_texts(records, doc_field)
    return scorer.score([query] * len(texts), texts, progress=progress and "cross-encoder").astype(np.float64)
