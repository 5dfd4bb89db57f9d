"""Training groups for rankers: one relevant document and k hard negatives per row, mined from a first stage.

A group frame has the columns ``qid, query, docnos`` (list; ``docnos[0]`` is the relevant document, the rest are
negatives) and, once a teacher has scored it, ``teacher`` (list of floats aligned with ``docnos``). Groups are written
to Parquet, so the mining and the teacher's scoring happen once and any number of students train from the file.

Negatives come from the first stage's top ``depth`` (Pezzuti et al. sample from BM25's top-200), minus every document
judged relevant for the query, sampled uniformly without replacement (``sampling="random"``) or taken from the top
(``sampling="top"``). Positives are never negatives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ranksuite.shared.data.atomic import atomic_write
from ranksuite.shared.data.beir import Collection
from ranksuite.shared.data.errors import DataError

GROUPS_SCHEMA = {"qid": pl.String, "query": pl.String, "docnos": pl.List(pl.String)}


def mine_groups(
    collection: Collection,
    run: pl.DataFrame,
    n_negatives: int = 7,
    depth: int = 200,
    sampling: str = "random",
    seed: int = 42,
) -> pl.DataFrame:
    """One group per (query, relevant document) of ``collection.qrels``, negatives from ``run``'s top ``depth``.

    A query whose first stage offers fewer than ``n_negatives`` non-relevant documents gets random corpus documents
    to fill its group (counted in the frame's ``filled`` column), so every group has the same size.
    """
    if sampling not in ("random", "top"):
        raise ValueError(f"sampling must be 'random' or 'top', not {sampling!r}")
    rng = np.random.default_rng(seed)
    relevant = (
        collection.qrels.filter(pl.col("label") > 0)
        .group_by("qid")
        .agg(pl.col("docno"))
        .rows_by_key("qid", unique=True)
    )
    judged_pos = {q: set(v[0]) for q, v in relevant.items()}
    pools = (
        run.filter(pl.col("rank") <= depth)
        .sort(["qid", "rank"])
        .group_by("qid", maintain_order=True)
        .agg("docno")
    )
    pool = {q: d for q, d in pools.iter_rows()}
    all_docs = collection.corpus["docno"].to_list()
    queries = collection.query_texts()
    rows: dict[str, list] = {"qid": [], "query": [], "docnos": [], "filled": []}
    for qid in sorted(judged_pos):
        candidates = [d for d in pool.get(qid, []) if d not in judged_pos[qid]]
        for pos in sorted(judged_pos[qid]):
            if sampling == "top" or len(candidates) <= n_negatives:
                negs = candidates[:n_negatives]
            else:
                negs = [
                    candidates[i] for i in sorted(rng.choice(len(candidates), n_negatives, replace=False))
                ]
            filled = 0
            while len(negs) < n_negatives:
                d = all_docs[int(rng.integers(len(all_docs)))]
                if d not in judged_pos[qid] and d not in negs:
                    negs.append(d)
                    filled += 1
            rows["qid"].append(qid)
            rows["query"].append(queries[qid])
            rows["docnos"].append([pos, *negs])
            rows["filled"].append(filled)
    return pl.DataFrame(rows, schema={**GROUPS_SCHEMA, "filled": pl.Int64})


def write_groups(groups: pl.DataFrame, path: str | Path) -> Path:
    return atomic_write(path, lambda p: groups.write_parquet(p))


def read_groups(path: str | Path, need_teacher: bool = False) -> pl.DataFrame:
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    groups = pl.read_parquet(path)
    for col in ("qid", "query", "docnos"):
        if col not in groups.columns:
            raise DataError(
                path, "missing column (a groups file has qid, query, docnos[, teacher])", field=col
            )
    if need_teacher:
        if "teacher" not in groups.columns:
            raise DataError(
                path, "no teacher scores: run `ranksuite ir teacher-score` first", field="teacher"
            )
        bad = groups.with_row_index().filter(pl.col("teacher").list.len() != pl.col("docnos").list.len())
        if bad.height:
            raise DataError(
                path,
                "teacher scores and docnos differ in length",
                line=int(bad["index"][0]) + 1,
                field="teacher",
            )
    return groups
