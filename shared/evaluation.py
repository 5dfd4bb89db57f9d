"""Evaluate a model spec on a BEIR collection and write the standard run folder (used by `ir evaluate` and
by every domain that ranks text collections)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ranksuite.shared.data import load_beir, write_run
from ranksuite.shared.data.atomic import atomic_write_json, atomic_write_text
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
    table = per_query(result.run, coll.qrels, DEFAULT_METRICS)
    name = model if rerank is None else f"{model} >> {rerank}"
    metrics: dict[str, Any] = {m: float(table[m].mean()) if table.height else 0.0 for m in DEFAULT_METRICS}
    metrics.update(model=name, dataset=coll.name, queries=table.height)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "metrics.json", metrics)
        write_run(result.run, out / "run.trec", tag=Path(model).name)
        table.write_csv(out / "per_query.csv")
        lines = [
            f"# {coll.name} / {split}: {name}",
            "",
            f"Pipeline: {result.description}",
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
