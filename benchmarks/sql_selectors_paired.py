"""Selectors on the test pools of one or more `sql evaluate` folders, with paired bootstrap intervals.

For every folder (its ``scores.parquet`` names the candidates that were evaluated) and for all of them pooled, the
EX of every selector and the per-question paired differences orm_vote - maj_tier, orm_vote - maj, orm - maj and
orm - ex_bon: mean, questions better / worse, and a 95% bootstrap interval (2,000 resamples of questions, seed 0;
`shared/metrics/paired.py`, as every benchmark).
Labels are recomputed by executing the candidates (a few seconds for Spider dev).

    python benchmarks/sql_selectors_paired.py runs/sql/orm-f0-prev-last/eval runs/sql/orm-f1-prev-last/eval

Writes benchmarks/results/sql_selectors_paired.json (--out).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

from ranksuite.domains.sql.data import load_sql_dir
from ranksuite.domains.sql.labels import label_candidates
from ranksuite.domains.sql.select import (
    build_pools,
    evaluate_selectors,
    expected_correct,
    select_ex_bon,
    select_maj,
    select_maj_tier,
    select_orm,
    select_orm_vote,
)
from ranksuite.shared.metrics.paired import paired_bootstrap

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("evals", nargs="+", help="folders written by `sql evaluate` (scores.parquet)")
p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sql" / "spider_dev"))
p.add_argument("--candidates", default=None, help="candidate file (default: the data folder's)")
p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sql_selectors_paired.json"))
args = p.parse_args()

ds = load_sql_dir(args.data)
if args.candidates:
    from ranksuite.domains.sql.data import load_candidates

    ds.candidates = load_candidates(args.candidates, ds.questions)
labelled = label_candidates(ds.questions, ds.candidates, ds.databases, progress=False)
PAIRS = {
    "orm_vote - maj_tier": (lambda p, s: select_orm_vote(p, s), lambda p, s: select_maj_tier(p)),
    "orm_vote - maj": (lambda p, s: select_orm_vote(p, s), lambda p, s: select_maj(p)),
    "orm - maj": (lambda p, s: select_orm(p, s), lambda p, s: select_maj(p)),
    "orm - ex_bon": (lambda p, s: select_orm(p, s), lambda p, s: select_ex_bon(p)),
}


def report(name: str, pools, smap) -> dict:
    res = {k: round(v["ex"], 4) for k, v in evaluate_selectors(pools, smap).items()}
    out = {"questions": len(pools), "ex": res, "paired": {}}
    print(f"{name}: {len(pools)} questions  " + "  ".join(f"{k} {v:.4f}" for k, v in res.items()))
    for label, (new, base) in PAIRS.items():  # label = "new - base"
        # rounded so that two selectors' equal expected scores (fractions of a tie) count as a tie, not a win
        base_ex = [round(expected_correct(q, base(q, smap)), 9) for q in pools]
        new_ex = [round(expected_correct(q, new(q, smap)), 9) for q in pools]
        r = paired_bootstrap(base_ex, new_ex)
        lo, hi = r["ci95"]
        out["paired"][label] = {"mean": round(r["diff"], 4), "better": r["b_wins"], "worse": r["a_wins"],
                                "ci95": [round(lo, 4), round(hi, 4)]}  # fmt: skip
        print(
            f"   {label:20s} {r['diff']:+.4f}  better {r['b_wins']:3d} worse {r['a_wins']:3d}"
            f"  95% CI [{lo:+.4f}, {hi:+.4f}]"
        )
    return out


all_pools, all_scores, results = [], {}, {}
for folder in args.evals:
    scores = pl.read_parquet(Path(folder) / "scores.parquet")
    smap = dict(scores.select("candidate_id", "score").iter_rows())
    pools = build_pools(labelled.filter(pl.col("candidate_id").is_in(list(smap))))
    results[folder] = report(folder, pools, smap)
    all_pools += pools
    all_scores.update(smap)
if len(args.evals) > 1:
    results["pooled"] = report("pooled", all_pools, all_scores)
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
Path(args.out).write_text(json.dumps(results, indent=2))
print(f"wrote {args.out}")
