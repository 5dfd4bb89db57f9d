"""BM25 first stage through bm25s (pure Python + scipy sparse, fast to index and query; Lù 2024).

Defaults are BEIR-comparable: title and text joined, lowercased, English stop words removed, no stemming, Lucene's
BM25 variant with k1=1.5, b=0.75 (bm25s' defaults). On SciFact test this gives nDCG@10 0.662, as BEIR's Elasticsearch
baseline (0.665). ``stem=True`` (needs PyStemmer) is better on most collections (SciFact 0.686, NFCorpus 0.329 vs
0.312) but is not the published baseline, so it is an option, not the default. Figures: benchmarks/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np
import polars as pl

from ranksuite.shared.data.beir import doc_text_column
from ranksuite.shared.data.frames import make_run

try:  # PyStemmer is a C extension; keep BM25 usable without it, but say so in the index's description.
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english")
except ImportError:  # pragma: no cover - depends on the environment
    _STEMMER = None


@dataclass
class BM25:
    """A BM25 index over a corpus frame (``docno, title, text``) or a list of texts.

    >>> idx = BM25.from_texts(["the cat sat", "dogs bark loudly", "a cat and a dog"], ["a", "b", "c"])
    >>> idx.search_texts(["cat"], k=2)[0][0][0]
    'a'
    """

    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stopwords: str | None = "en"
    stem: bool = False
    docnos: list[str] = field(default_factory=list)
    _retriever: bm25s.BM25 | None = None

    @property
    def stemmer(self):
        if self.stem and _STEMMER is None:
            raise RuntimeError("BM25 stemming needs PyStemmer: pip install PyStemmer")
        return _STEMMER if self.stem else None

    def _tokenize(self, texts: Sequence[str]):
        return bm25s.tokenize(
            list(texts), stopwords=self.stopwords, stemmer=self.stemmer, show_progress=False
        )

    def index(self, texts: Sequence[str], docnos: Sequence[str]) -> BM25:
        if len(texts) != len(docnos):
            raise ValueError("texts and docnos differ in length")
        self.docnos = list(docnos)
        self._retriever = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        self._retriever.index(self._tokenize(texts), show_progress=False)
        return self

    @classmethod
    def from_texts(cls, texts: Sequence[str], docnos: Sequence[str], **kwargs: object) -> BM25:
        return cls(**kwargs).index(texts, docnos)  # type: ignore[arg-type]

    @classmethod
    def from_corpus(cls, corpus: pl.DataFrame, **kwargs: object) -> BM25:
        """Index ``title + " " + text`` of each document."""
        return cls.from_texts(doc_text_column(corpus).to_list(), corpus["docno"].to_list(), **kwargs)

    def search_texts(self, queries: Sequence[str], k: int = 100) -> list[tuple[list[str], list[float]]]:
        """For each query, the top-``k`` (docnos, scores); documents scoring 0 (no shared term) are left out."""
        if self._retriever is None:
            raise RuntimeError("BM25 index is empty: call index() first")
        k = min(k, len(self.docnos))
        tokens = self._tokenize(queries)
        idx, scores = self._retriever.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        out = []
        for row_idx, row_scores in zip(np.asarray(idx), np.asarray(scores), strict=True):
            keep = row_scores > 0
            out.append(([self.docnos[i] for i in row_idx[keep]], [float(s) for s in row_scores[keep]]))
        return out

    def search(self, queries: pl.DataFrame, k: int = 100) -> pl.DataFrame:
        """Rank the corpus for every query of a ``qid, query`` frame; returns a run frame."""
        results = self.search_texts(queries["query"].to_list(), k=k)
        qids, docnos, scores = [], [], []
        for qid, (docs, sc) in zip(queries["qid"].to_list(), results, strict=True):
            qids.extend([qid] * len(docs))
            docnos.extend(docs)
            scores.extend(sc)
        return make_run(qids, docnos, scores)

    def describe(self) -> str:
        stem = "snowball" if self.stemmer is not None else "none"
        return f"BM25 (bm25s {self.method}, k1={self.k1}, b={self.b}, stopwords={self.stopwords}, stemmer={stem})"
