"""Step 4: training groups for the synthetic queries: the source document + 4 negatives from BM25's lower ranks.

DUQGen takes negatives from a first stage's top-100 for each synthetic query (1 positive : 4 negatives); the top
of that list is where unlabelled relevant documents sit, so we sample from its lower part (ranks 31-100 by default).
The groups are mined by the shared :func:`mine_groups`, with the query's source document as its only "relevant"
document, so the source is never a negative. ``source_rank`` (the source's rank in BM25's top-100 for its own query,
null when absent) is kept for the round-trip filter applied at ``adapt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ranksuite.shared.data.beir import Collection
from ranksuite.shared.retrieval.bm25 import BM25
from ranksuite.shared.training.groups import mine_groups


def synthetic_collection(corpus: pl.DataFrame, queries: pl.DataFrame, name: str = "synthetic") -> Collection:
    """The generated queries as a collection whose only qrels are (query, source document)."""
    qrels = queries.select("qid", "docno").with_columns(pl.lit(1, dtype=pl.Int64).alias("label"))
    return Collection(name, Path("."), "synthetic", corpus, queries.select("qid", "query"), qrels)


def mine_negatives(
    corpus: pl.DataFrame,
    queries: pl.DataFrame,
    n_negatives: int = 4,
    depth: int = 100,
    skip_top: int = 30,
    seed: int = 42,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Groups (``qid, query, docnos, filled, source_rank``) and a summary (round-trip counts at several k)."""
    if queries.height == 0:
        raise ValueError("no accepted synthetic queries to mine negatives for (see generate/generate.json)")
    if skip_top >= depth:
        raise ValueError(f"--skip-top ({skip_top}) must be below --depth ({depth})")
    run = BM25.from_corpus(corpus).search(queries.select("qid", "query"), k=depth)
    source = dict(zip(queries["qid"].to_list(), queries["docno"].to_list(), strict=True))
    ranks = run.join(queries.select("qid", "docno"), on=["qid", "docno"]).select(
        "qid", pl.col("rank").alias("source_rank")
    )
    coll = synthetic_collection(corpus, queries)
    groups = mine_groups(coll, run.filter(pl.col("rank") > skip_top), n_negatives, depth=depth, seed=seed)
    groups = groups.join(ranks, on="qid", how="left")
    assert all(
        source[q] == docs[0] and source[q] not in docs[1:]
        for q, docs in groups.select("qid", "docnos").iter_rows()
    ), "the source document must be the positive and never a negative"
    src = groups["source_rank"]
    summary = {
        "queries": groups.height,
        "n_negatives": n_negatives,
        "depth": depth,
        "negatives_from_ranks": f"{skip_top + 1}-{depth}",
        "filled_with_random": int(groups["filled"].sum()),
        "source_in_top": {str(k): int((src <= k).sum()) for k in (1, 5, 10, 20, depth)},
        "first_stage": "bm25",
    }
    return groups, summary


def negatives_step(
    corpus: pl.DataFrame, queries_path: str | Path, out: str | Path, **kwargs: Any
) -> dict[str, Any]:
    groups, summary = mine_negatives(corpus, pl.read_parquet(queries_path), **kwargs)
    groups.write_parquet(Path(out) / "groups.parquet")
    return summary
