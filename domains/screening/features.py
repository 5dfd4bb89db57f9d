"""Text representations for screening: record text, topic text (title / Boolean query / both) and the features the
active learner uses (TF-IDF n-grams beside MiniLM embeddings)."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

DOC_FIELDS = ("title", "abstract", "title+abstract")
QUERY_FIELDS = ("title", "query", "both")

# Ovid / PubMed syntax that carries no topical words
_BOOLEAN_NOISE = re.compile(
    r"\[[^\]]*\]"  # [MeSH], [tiab], [Mesh Terms]
    r"|\b(?:and|or|not|adj\d*|near\d*|exp|mp|ti|ab|tw|sh|pt|fs|kw|ot|hw|rn|nm|limit|to|humans?|english)\b"
    r"|\.(?:ti|ab|tw|sh|mp|pt|fs|kw)\b"
    r"|\b\d+\b"  # line numbers and line references (1 or 2)
    r"|[/*$?#\"“”()\[\]{}:;,.=<>+-]",
    flags=re.IGNORECASE,
)


def clean_boolean_query(query: str) -> str:
    """The topical words of an Ovid/PubMed Boolean query (operators, field tags and line numbers removed)."""
    words = _BOOLEAN_NOISE.sub(" ", query or "").split()
    seen: dict[str, None] = {}
    for w in words:
        if len(w) > 1:
            seen.setdefault(w.lower(), None)
    return " ".join(seen)


def topic_text(title: str, query: str | None, mode: str = "both") -> str:
    if mode not in QUERY_FIELDS:
        raise ValueError(f"query representation must be one of {QUERY_FIELDS}, not {mode!r}")
    cleaned = clean_boolean_query(query or "")
    if mode == "title" or not cleaned:
        return title
    if mode == "query":
        return cleaned
    return f"{title} {cleaned}"


def record_texts(records: pl.DataFrame, field: str = "title+abstract") -> list[str]:
    """What a model reads of each record: the title, the abstract, or both (the seed paper's best)."""
    if field not in DOC_FIELDS:
        raise ValueError(f"document representation must be one of {DOC_FIELDS}, not {field!r}")
    titles = records["title"].fill_null("").to_list()
    abstracts = records["abstract"].fill_null("").to_list()
    if field == "title":
        return titles
    if field == "abstract":
        return [a or t for t, a in zip(titles, abstracts, strict=True)]
    return [f"{t}. {a}".strip(". ") if a else t for t, a in zip(titles, abstracts, strict=True)]


def tfidf_matrix(texts: list[str]) -> sparse.csr_matrix:
    """L2-normalised TF-IDF over word uni- and bigrams (sublinear tf), fitted on the review's own records."""
    vec = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_df=0.95, stop_words="english", dtype=np.float32
    )
    try:
        return vec.fit_transform(texts).tocsr()
    except ValueError:  # tiny reviews: every term in one document
        vec.set_params(min_df=1, max_df=1.0)
        return vec.fit_transform(texts).tocsr()


def combined_features(tfidf: sparse.csr_matrix, embeddings: np.ndarray | None, dense_weight: float = 1.0):
    """TF-IDF and (normalised) embeddings side by side; each block has unit norm per record."""
    if embeddings is None:
        return tfidf
    return sparse.hstack([tfidf, sparse.csr_matrix(embeddings * dense_weight)], format="csr")
