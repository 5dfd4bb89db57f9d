"""The canonical column names every ranksuite frame uses (after PyTerrier), kept in one place.

- corpus:  ``docno, title, text``
- queries: ``qid, query``
- qrels:   ``qid, docno, label``        (label: int graded relevance; > 0 is relevant)
- run:     ``qid, docno, score, rank``  (rank: 1-based within each qid, by descending score)
"""

from __future__ import annotations

import polars as pl

CORPUS_SCHEMA = {"docno": pl.String, "title": pl.String, "text": pl.String}
QUERIES_SCHEMA = {"qid": pl.String, "query": pl.String}
QRELS_SCHEMA = {"qid": pl.String, "docno": pl.String, "label": pl.Int64}
RUN_SCHEMA = {"qid": pl.String, "docno": pl.String, "score": pl.Float64, "rank": pl.Int64}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def make_run(qids: list[str], docnos: list[str], scores: list[float]) -> pl.DataFrame:
    """Build a run frame from flat columns and assign 1-based ranks by descending score within each query.

    Ties are broken by docno so that a run is deterministic (trec_eval breaks ties the same way).
    """
    df = pl.DataFrame(
        {"qid": qids, "docno": docnos, "score": scores}, schema=dict(list(RUN_SCHEMA.items())[:3])
    )
    return rank_run(df)


def rank_run(df: pl.DataFrame) -> pl.DataFrame:
    """(Re)assign ranks from scores: descending score, ties by docno descending (trec_eval's convention)."""
    df = df.sort(["qid", "score", "docno"], descending=[False, True, True])
    df = df.with_columns(pl.int_range(1, pl.len() + 1).over("qid").cast(pl.Int64).alias("rank"))
    return df.select(list(RUN_SCHEMA))


def top_k(run: pl.DataFrame, k: int) -> pl.DataFrame:
    """Keep the first ``k`` documents of every query."""
    return run.filter(pl.col("rank") <= k)
