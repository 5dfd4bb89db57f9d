"""Mean recall curves of ranksuite's strategies beside ASReview's, per dataset, from the saved screening orders.

Inputs: `runs/screening/sim-<strategy>-<dataset>/orders.jsonl` (ranksuite screening simulate) and
`benchmarks/out/asreview_<dataset>.json` (benchmarks/screening_asreview.py). Output:
`benchmarks/results/screening_recall_<dataset>.png` (all seeds, all reviews of the dataset).

    python benchmarks/screening_compare_plot.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ranksuite.domains.screening.data import load_reviews
from ranksuite.domains.screening.plots import plot_mean_recall_curves

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "screening"
STRATEGIES = ("neural-al", "tfidf-al")


def labels_in_order(gold: dict[str, int], order: list[str]) -> np.ndarray:
    return np.asarray([gold[str(d)] for d in order], dtype=np.int64)


def main() -> None:
    for ds in ("clef_tar2017", "cohen2006", "bannach_brown2019"):
        gold = {}
        for review in load_reviews(DATA / ds):
            gold[review.review_id] = dict(
                zip(review.records["record_id"].to_list(), review.records["label"].to_list(), strict=True)
            )
        curves: dict[str, list[np.ndarray]] = {}
        asr = json.loads((ROOT / "benchmarks" / "out" / f"asreview_{ds}.json").read_text())
        curves["ASReview 3.0.8 default"] = [
            labels_in_order(gold[rid], run["order"])
            for rid, rev in sorted(asr["reviews"].items())
            for run in rev["seeds"].values()
        ]
        for strategy in STRATEGIES:
            lines = (
                (ROOT / "runs" / "screening" / f"sim-{strategy}-{ds}" / "orders.jsonl")
                .read_text()
                .splitlines()
            )
            curves[f"ranksuite {strategy}"] = [
                labels_in_order(gold[r["review_id"]], r["order"]) for r in map(json.loads, lines)
            ]
        out = ROOT / "benchmarks" / "results" / f"screening_recall_{ds}.png"
        n = len(gold)
        plot_mean_recall_curves(curves, out, f"{ds}: {n} review(s) x 3 seeds, mean recall")
        print(out)


if __name__ == "__main__":
    main()
