"""Title queries: a label-free training collection made from a corpus's own titles.

Why: a cross-encoder built from a sentence-embedding checkpoint starts with a random scoring head, and a few
hundred labelled queries (SciFact's 809) are too few to teach it relevance from scratch. A paper's title is a short,
human-written statement of what its abstract is about, so (title, abstract) pairs are free, plentiful positives: the
"title-body" pairs that unsupervised retrievers pre-train on. A first stage of fine-tuning on them, before the
labelled queries, is one more stage of multi-stage fine-tuning that needs no labels, so it applies to any collection
whose documents have titles.

The title is removed from its document (every document, so positives and negatives look alike); otherwise the query
would be a verbatim substring of its positive and the stage would teach string matching. Only the corpus is read,
never queries or qrels: the collection is safe under :func:`ranksuite.shared.data.beir.forbid_labels`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ranksuite.shared.data.beir import Collection

MIN_TITLE_WORDS = 4
MIN_TEXT_WORDS = 30


def title_query_collection(
    corpus: pl.DataFrame,
    n_queries: int | None = None,
    seed: int = 42,
    min_title_words: int = MIN_TITLE_WORDS,
    min_text_words: int = MIN_TEXT_WORDS,
    name: str = "title-queries",
) -> Collection:
    """A ``train`` collection: query = a document's title, its one relevant document = that document.

    Documents whose title has fewer than ``min_title_words`` words or whose body has fewer than
    ``min_text_words`` are not used as queries (too vague, or nothing left to match once the title is gone); they
    stay in the corpus as candidates. ``n_queries`` samples that many of the eligible documents (all when None).
    The returned corpus has every title emptied.
    """
    n_title = corpus["title"].str.split(" ").list.len()
    n_text = corpus["text"].str.split(" ").list.len()
    eligible = corpus.filter((n_title >= min_title_words) & (n_text >= min_text_words))
    if eligible.height == 0:
        raise ValueError(
            f"no document has a title of at least {min_title_words} words and a body of at least "
            f"{min_text_words} words; this corpus cannot make title queries"
        )
    if n_queries is not None and n_queries < eligible.height:
        rows = np.random.default_rng(seed).choice(eligible.height, size=n_queries, replace=False)
        eligible = eligible[np.sort(rows)]
    queries = eligible.select(
        pl.concat_str(pl.lit("t-"), pl.col("docno")).alias("qid"),
        pl.col("title").str.strip_chars().alias("query"),
    )
    qrels = queries.select("qid").with_columns(
        eligible["docno"].alias("docno"), pl.lit(1, dtype=pl.Int64).alias("label")
    )
    stripped = corpus.with_columns(pl.lit("").alias("title"))
    return Collection(name, Path("."), "train", stripped, queries, qrels)
