"""Ranked pass@1 of code rankers on the same problems, paired: each ranker beside the expected pass@1 of a random
pick and beside each other, with 95% bootstrap intervals over problems (2,000 resamples, seed 0).

    python benchmarks/code_paired.py runs/code7/split-classifier-he-cg16b-full runs/code7/split-rankef-he-cg16b-full

Each argument is a `code evaluate --out` folder (its ``scores.jsonl``, or the ``scores.parquet`` of ``code_rankers.py``); all must hold the same candidates.
Writes JSON to stdout (and to --out when given).
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl

from ranksuite.shared.metrics.code import pass_at_k, ranked_pass_at_k
from ranksuite.shared.metrics.paired import paired_bootstrap


def per_problem(folder: Path) -> pl.DataFrame:
    """key -> ranked pass@1 of this folder's scores, and the random pick's expected pass@1."""
    parquet = folder / "scores.parquet"  # benchmarks/code_rankers.py writes Parquet, `code evaluate` JSONL
    df = pl.read_parquet(parquet) if parquet.exists() else pl.read_ndjson(folder / "scores.jsonl")
    df = df if "key" in df.columns else df.rename({"task_id": "key"})
    rows = []
    for (key,), g in df.group_by("key", maintain_order=True):
        passed = g["passed"].to_numpy()
        rows.append(
            {
                "key": key,
                "candidates": ",".join(sorted(g["candidate_id"].to_list())),
                "ranker": ranked_pass_at_k(g["p_correct"].to_numpy(), passed, 1),
                "random": pass_at_k(len(passed), int(np.sum(passed)), 1),
            }
        )
    return pl.DataFrame(rows).sort("key")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("evals", type=Path, nargs="+")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    tables = {str(f): per_problem(f) for f in args.evals}
    first = next(iter(tables.values()))
    for name, t in tables.items():
        if not t.select("key", "candidates").equals(first.select("key", "candidates")):
            raise SystemExit(f"{name}: not the same problems and candidates as {args.evals[0]}")
    random = first["random"].to_numpy()
    out: dict[str, object] = {"problems": first.height, "random_pass@1": float(random.mean())}
    for name, t in tables.items():
        out[f"{name} - random"] = paired_bootstrap(random, t["ranker"].to_numpy())
    for a, b in combinations(tables, 2):
        out[f"{b} - {a}"] = paired_bootstrap(tables[a]["ranker"].to_numpy(), tables[b]["ranker"].to_numpy())
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
