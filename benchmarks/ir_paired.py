"""Paired comparison of two `ir evaluate --out` folders on the same queries: mean difference of a metric with a
95% bootstrap interval (resampling queries), and how many queries each side wins. A difference whose interval
holds 0 is not established on these queries.

    python benchmarks/ir_paired.py runs/eval-bm25 runs/eval-ce [--metric ndcg@10] [--resamples 2000]

A side may be several folders joined by commas (the folds of a cross-validation, disjoint queries): their
per-query rows are pooled, so ``f1/bm25,f2/bm25 f1/ce,f2/ce`` compares on every query of both folds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

from ranksuite.shared.metrics.paired import paired_bootstrap


def per_query(side: Path | str) -> pl.DataFrame:
    """The per-query rows of one folder, or of several comma-joined folders with disjoint queries."""
    frames = [
        pl.read_csv(Path(p) / "per_query.csv", schema_overrides={"qid": pl.String})
        for p in str(side).split(",")
    ]
    table = pl.concat(frames, how="diagonal_relaxed")
    if table["qid"].n_unique() != table.height:
        raise SystemExit(f"{side}: the folders share queries; a side's folders must hold disjoint queries")
    return table


def paired(a: Path, b: Path, metric: str = "ndcg@10", resamples: int = 2000, seed: int = 0) -> dict:
    """B minus A per query (every judged query of both folders; they must hold the same queries)."""
    ta, tb = (per_query(p) for p in (a, b))
    if set(ta["qid"]) != set(tb["qid"]):
        raise SystemExit(f"{a} and {b} were evaluated on different queries")
    joined = ta.select("qid", metric).join(tb.select("qid", metric), on="qid", suffix="_b")
    res = paired_bootstrap(joined[metric].to_numpy(), joined[f"{metric}_b"].to_numpy(), resamples, seed)
    return {"a": str(a), "b": str(b), "metric": metric, "queries": res.pop("units"), **res}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a", type=Path, help="baseline evaluation folder")
    ap.add_argument("b", type=Path, nargs="+", help="folders compared with it")
    ap.add_argument("--metric", default="ndcg@10")
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    for b in args.b:
        r = paired(args.a, b, args.metric, args.resamples)
        print(json.dumps(r))
        print(
            f"{b.name} - {args.a.name}: {r['diff']:+.4f} [{r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f}] "
            f"({r['b_wins']} queries better, {r['a_wins']} worse, of {r['queries']})"
        )


if __name__ == "__main__":
    main()
