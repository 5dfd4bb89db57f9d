"""First stages (BM25, dense) and reranking; :func:`retrieve` builds a run from a model spec string."""

from ranksuite.shared.retrieval.bm25 import BM25
from ranksuite.shared.retrieval.dense import dense_search
from ranksuite.shared.retrieval.pipeline import first_stage, retrieve
from ranksuite.shared.retrieval.rerank import rerank

__all__ = ["BM25", "dense_search", "first_stage", "rerank", "retrieve"]
