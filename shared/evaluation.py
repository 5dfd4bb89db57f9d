"""Evaluate a model spec on a BEIR collection and write the standard run folder (used by `ir evaluate` and
by every domain that ranks text collections)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ranksuite.shared.data import load_beir, write_run
from ranksuite.shared.data.atomic import atomic_write_json, atomic_write_text
from ranksuite.shared.data.beir import Collection
from ranksuite.shared.metrics.ir import DEFAULT_METRICS, per_query
from ranksuite.shared.retrieval import retrieve


def evaluate_collection(
    data: str | Path,
    split: str,
    model: str,
    rerank: str | None = None,
    top_k: int = 100,
    out: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> dict[str, Any]:
    """Rank ``split``'s queries with ``model`` (and ``rerank``), score with ir-measures, write ``out`` if given.

    Returns the metrics.json object: ``ndcg@10, mrr@10, map, recall@100, model, dataset, queries``.
    """
    coll = load_beir(data, split)
    result = retrieve(
        coll, model, rerank, top_k=top_k, device=device, batch_size=batch_size, progress=progress
    )
    name = model if rerank is None else f"{model} >> {rerank}"
    return score_and_write(result.run, coll, split, name, result.description, out, tag=Path(model).name)


def evaluate_fused(
    data: str | Path,
    split: str,
    run_files: Sequence[str | Path],
    method: str = "rrf",
    weights: Sequence[float] | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Fuse saved TREC runs (e.g. BM25's and a reranker's ``run.trec``) per query and evaluate the fusion like
    :func:`evaluate_collection` does a model; the fused run is written beside the metrics."""
    from ranksuite.shared.data import read_run
    from ranksuite.shared.retrieval.fusion import fuse_runs

    if len(run_files) < 2:
        raise ValueError("fusion needs at least two runs")
    if weights is not None and len(weights) != len(run_files):
        raise ValueError(f"{len(weights)} weights for {len(run_files)} runs")
    coll = load_beir(data, split)
    fused = fuse_runs([read_run(f) for f in run_files], method, weights)
    name = f"{method}(" + ", ".join(str(f) for f in run_files) + ")"
    return score_and_write(fused, coll, split, name, f"{method} fusion of {len(run_files)} runs", out, method)


def score_and_write(
    run: pl.DataFrame,
    coll: Collection,
    split: str,
    name: str,
    description: str,
    out: str | Path | None,
    tag: str,
) -> dict[str, Any]:
    """Score ``run`` against the collection's qrels (every judged query counts) and, with ``out``, write the
    standard evaluation folder: metrics.json, run.trec, per_query.csv, report.md."""
    table = per_query(run, coll.qrels, DEFAULT_METRICS)
    metrics: dict[str, Any] = {m: float(table[m].mean()) if table.height else 0.0 for m in DEFAULT_METRICS}
    metrics.update(model=name, dataset=coll.name, queries=table.height)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "metrics.json", metrics)
        write_run(run, out / "run.trec", tag=tag)
        table.write_csv(out / "per_query.csv")
        lines = [
            f"# {coll.name} / {split}: {name}",
            "",
            f"Pipeline: {description}",
            f"Queries: {table.height} (every query with a relevant document in qrels/{split}.tsv; none skipped)",
            "",
            "| metric | value |",
            "|---|---:|",
            *[f"| {m} | {metrics[m]:.4f} |" for m in DEFAULT_METRICS],
            "",
            "Metrics by ir-measures (trec_eval definitions). Per-query values: per_query.csv; run: run.trec.",
        ]
        atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return metrics
