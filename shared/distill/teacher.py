"""Teacher scores, computed once and stored (Hofstätter et al.): students then train without the teacher loaded.

The output is a groups Parquet file (``qid, query, docnos, teacher``) that any KD loss (Margin-MSE, listwise KL,
RankNet) reads through ``ranksuite ir train --teacher-scores FILE``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ranksuite.shared.data.beir import load_beir
from ranksuite.shared.models import Scorer, load_scorer
from ranksuite.shared.retrieval.pipeline import first_stage
from ranksuite.shared.training.groups import mine_groups, read_groups, write_groups
from ranksuite.shared.training.ir_train import resolve_init


def score_groups(
    teacher: Scorer,
    groups: pl.DataFrame,
    doc_texts: dict[str, str],
    batch_size: int = 64,
    progress: bool = False,
) -> pl.DataFrame:
    """Add a ``teacher`` column: the teacher's score for every document of every group."""
    queries = [q for q, docs in groups.select("query", "docnos").iter_rows() for _ in docs]
    docs = [doc_texts[d] for docs in groups["docnos"].to_list() for d in docs]
    flat = teacher.score(
        queries, docs, batch_size=batch_size, progress=progress and "teacher scoring"
    ).tolist()
    out, i = [], 0
    for docs_of_group in groups["docnos"].to_list():
        out.append(flat[i : i + len(docs_of_group)])
        i += len(docs_of_group)
    return groups.with_columns(pl.Series("teacher", out, dtype=pl.List(pl.Float64)))


def teacher_score_collection(
    model: str | Path,
    data: str | Path,
    split: str,
    out: str | Path,
    groups_file: str | Path | None = None,
    group_size: int = 8,
    depth: int = 200,
    seed: int = 42,
    device: str | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> tuple[Path, int]:
    """Mine (or read) groups on ``split`` and write them with the teacher's scores to ``out``."""
    coll = load_beir(data, split)
    if groups_file:
        groups = read_groups(groups_file)
    else:
        run = first_stage("bm25", coll, k=depth).run
        groups = mine_groups(coll, run, group_size - 1, depth=depth, seed=seed)
    teacher = load_scorer(resolve_init(str(model))).to_device(device)
    scored = score_groups(teacher, groups, coll.doc_texts(), batch_size=batch_size, progress=progress)
    return write_groups(scored, out), scored.height
