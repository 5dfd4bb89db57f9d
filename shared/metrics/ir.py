"""Ad-hoc retrieval metrics (nDCG@k, MRR@k, MAP, R@k) computed by ir-measures, the reference implementation.

We do not re-implement these: ir-measures wraps trec_eval's definitions (via pytrec_eval) and is what the field
reports. Our job is only the bookkeeping that trips people up:

- every query that has a relevant document in the qrels counts, also when the run returned nothing for it
  (it scores 0; ir-measures alone would silently average over the run's queries only);
- names are ours (``ndcg@10``, ``mrr@10``, ``map``, ``recall@100``) so that metrics.json keys are stable.
"""

from __future__ import annotations

from collections.abc import Sequence

import ir_measures
import polars as pl

_MEASURES = {
    "ndcg": lambda k: ir_measures.nDCG @ k,
    "mrr": lambda k: ir_measures.RR @ k,
    "recall": lambda k: ir_measures.R @ k,
    "p": lambda k: ir_measures.P @ k,
}

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "map", "recall@100")


def parse_metric(name: str) -> ir_measures.Measure:
    """``ndcg@10`` -> nDCG@10, ``mrr@10`` -> RR@10, ``map`` -> AP, ``recall@100`` -> R@100, ``p@5`` -> P@5."""
    key = name.lower().strip()
    if key == "map":
        return ir_measures.AP
    base, _, cut = key.partition("@")
    if base in _MEASURES and cut.isdigit():
        return _MEASURES[base](int(cut))
    raise ValueError(f"unknown metric {name!r}: use ndcg@K, mrr@K, recall@K, p@K or map")


def per_query(
    run: pl.DataFrame, qrels: pl.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS
) -> pl.DataFrame:
    """One row per judged query (with >= 1 relevant document), one column per metric; missing queries score 0."""
    measures = {m: parse_metric(m) for m in metrics}
    qrels_in = [
        ir_measures.Qrel(q, d, int(rel)) for q, d, rel in qrels.select("qid", "docno", "label").iter_rows()
    ]
    run_in = [
        ir_measures.ScoredDoc(q, d, float(s)) for q, d, s in run.select("qid", "docno", "score").iter_rows()
    ]
    judged = sorted(qrels.filter(pl.col("label") > 0)["qid"].unique().to_list())
    values: dict[str, dict[str, float]] = {q: dict.fromkeys(metrics, 0.0) for q in judged}
    by_measure = {v: k for k, v in measures.items()}
    if run_in:
        for m in ir_measures.iter_calc(list(measures.values()), qrels_in, run_in):
            if m.query_id in values:
                values[m.query_id][by_measure[m.measure]] = float(m.value)
    return pl.DataFrame(
        {"qid": judged, **{m: [values[q][m] for q in judged] for m in metrics}},
        schema={"qid": pl.String, **dict.fromkeys(metrics, pl.Float64)},
    )


def evaluate_run(
    run: pl.DataFrame, qrels: pl.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, float]:
    """Mean of each metric over all judged queries."""
    table = per_query(run, qrels, metrics)
    if table.height == 0:
        return dict.fromkeys(metrics, 0.0)
    return {m: float(table[m].mean()) for m in metrics}
