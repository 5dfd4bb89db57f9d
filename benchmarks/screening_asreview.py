"""ASReview's own simulation on ranksuite's screening reviews, under ranksuite's screening protocol.

The peer every systematic reviewer knows, run on the same reviews, seeds and prior knowledge as ranksuite's
``screening simulate``, so the two can be compared side by side. ASReview is **not** a dependency of
ranksuite: it lives in its own benchmark venv, ``.venv-asreview/`` (git-ignored), set up once with::

    python3 -m venv .venv-asreview
    .venv-asreview/bin/pip install asreview==3.0.8 polars numpy

``ranksuite`` itself is not installed there. This script makes it importable with a shim: if
``import ranksuite`` fails, it creates ``$TMPDIR/ranksuite-shim-<uid>/ranksuite`` as a symlink to the
repository root (the repository root *is* the package ``ranksuite``) and puts that folder on ``sys.path``. The
only ranksuite code used is ``ranksuite.shared.metrics.screening`` (numpy only) and
``ranksuite.domains.screening.protocol`` (numpy only).

Run (from the repository root)::

    .venv-asreview/bin/python benchmarks/screening_asreview.py \\
        --data ../shared/data/screening/clef_tar2017 --seeds 3 --out benchmarks/out

Protocol (the one in ``ranksuite.domains.screening.protocol``; ranksuite's ``screening simulate`` does the same):

* For each review (``topics.csv`` order, or ``--reviews``) and each seed ``s`` in 0 … S−1:
* records = the rows of ``reviews/<review_id>.csv.gz`` in file order; ASReview gets ``title``, ``abstract``
  (empty → missing) and ``label`` (1 = included at title/abstract level) through its own CSV reader
  (``asreview.load_dataset`` on a temporary CSV outside the repository), so record_id = row number.
* prior = ``prior_indices(labels, s, review_id)``: 1 include then 1 exclude, drawn with
  ``numpy.random.default_rng([s, crc32(review_id)])``, labelled first with ``Simulate.label([inc, exc])``
  (exactly what ``asreview simulate --prior-idx INC EXC`` does).
* model = ASReview's default AI (``get_ai_config()``: ELAS u4 in 3.x — TF-IDF (1–2-grams, sublinear tf,
  min_df 1, max_df 0.95) → linear SVM (squared hinge, C 0.11) with "balanced" sample weights (ratio 9.8),
  querier "max" (highest decision value first), one record per query, retrained after every label),
  assembled exactly as ``asreview simulate`` does it: a TopDown warm-up cycle that stops as soon as both classes
  are labelled (a no-op here: the prior already has both), then the default cycle; stopper = ``LastRelevant``
  (stop when all includes are found); ``np.random.seed(s)`` before the run (the CLI's ``--seed``: the only
  randomness left is liblinear's coordinate-descent shuffling, which reads numpy's global state).
* screening order = ASReview's labelling order (prior first); records it never screened (after the last include)
  are appended in file order. Saved as lists of ``doc_id`` (strings exactly as in the file).
* metrics = ``ranksuite.shared.metrics.screening.screening_metrics`` over the labels in that order
  (ap, wss@95, wss@100, recall@5/10/20/30%, last_rel%); mean over seeds per review, then mean over reviews.

Outputs:

* ``OUT/asreview_<dataset>.json`` — everything: ASReview version and configuration, per review and seed the prior,
  the full screening order, metrics and seconds. Rewritten (atomically) after every review/seed, and **resumable**:
  review/seed pairs already in it are skipped, so re-running with more seeds or reviews only adds the missing runs.
* ``--summary-dir/asreview_<dataset>_summary.json`` (default ``benchmarks/results/``) — small, committed: per-review
  mean metrics and the dataset mean, no orders.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
METRIC_KEYS = ("ap", "wss@95", "wss@100", "recall@5%", "recall@10%", "recall@20%", "recall@30%", "last_rel%")


def _import_ranksuite() -> None:
    """Make ``ranksuite`` importable in a venv where it is not installed (symlink shim to the repo root)."""
    try:
        import ranksuite

        return
    except ImportError:
        pass
    shim = Path(tempfile.gettempdir()) / f"ranksuite-shim-{os.getuid()}"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "ranksuite"
    if not link.is_symlink() or link.resolve() != REPO:
        tmp_link = shim / f".ranksuite.{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(REPO, target_is_directory=True)
        os.replace(tmp_link, link)
    sys.path.insert(0, str(shim))
    import ranksuite  # noqa: F401


_import_ranksuite()
from ranksuite.domains.screening.protocol import prior_indices  # noqa: E402
from ranksuite.shared.metrics.screening import screening_metrics  # noqa: E402


def asreview_setup() -> dict:
    """ASReview's version and the exact default configuration ``asreview simulate`` uses."""
    import asreview
    import sklearn
    from asreview.models.models import get_ai_config

    ai = get_ai_config()
    cycle = asdict(ai["value"])
    cycle["feature_extractor_param"] = {
        k: list(v) if isinstance(v, tuple) else v for k, v in cycle["feature_extractor_param"].items()
    }
    return {
        "version": asreview.__version__,
        "ai": ai["name"],
        "ai_label": ai["label"],
        "cycle": cycle,
        "warmup_cycle": "TopDown querier until both classes are labelled (IsFittable); no-op with a 1+1 prior",
        "stopper": "LastRelevant (all includes found)",
        "entry_point": "asreview.simulation.simulate.Simulate (same assembly as asreview.simulation.cli)",
        "model_seed": "np.random.seed(seed) before each run (the CLI's --seed)",
        "sklearn": sklearn.__version__,
    }


def load_review(data_dir: Path, review_id: str) -> pl.DataFrame:
    path = data_dir / "reviews" / f"{review_id}.csv.gz"
    df = pl.read_csv(path, infer_schema=False)
    return df.select(
        pl.col("doc_id"),
        pl.col("title").fill_null(""),
        pl.col("abstract").fill_null(""),
        pl.col("label").cast(pl.Int64),
    )


def simulate_one(review: pl.DataFrame, review_id: str, seed: int, tmp: Path) -> dict:
    """One ASReview simulation; returns prior, order (row indices), metrics, seconds."""
    import pandas as pd
    from asreview import load_dataset
    from asreview.learner import ActiveLearningCycle
    from asreview.models.models import get_ai_config
    from asreview.models.queriers import TopDown
    from asreview.models.stoppers import IsFittable, LastRelevant
    from asreview.simulation.simulate import Simulate

    labels = review["label"].to_numpy()
    n = labels.size
    inc, exc = prior_indices(labels, seed, review_id)

    csv = tmp / f"{review_id}.csv"
    if not csv.exists():
        pd.DataFrame(
            {
                "title": review["title"].to_list(),
                "abstract": [a if a else None for a in review["abstract"].to_list()],
                "included": labels,
            }
        ).to_csv(csv, index=False)

    t0 = time.perf_counter()
    with load_dataset(str(csv), dataset_id=csv.name) as db:
        X = db.input.get_df()
        y = db.input["included"]
    # the data ASReview reads must be the review, row for row
    if not (
        np.array_equal(X["record_id"].to_numpy(), np.arange(n))
        and np.array_equal(np.asarray(y, dtype=np.int64), labels)
        and X["title"].fillna("").tolist() == review["title"].to_list()
    ):
        raise RuntimeError(f"{review_id}: ASReview's loaded records do not match the review file row for row")

    np.random.seed(seed)
    cycles = [
        ActiveLearningCycle(querier=TopDown(), stopper=IsFittable()),
        ActiveLearningCycle.from_meta(get_ai_config()["value"]),
    ]
    sim = Simulate(X, y, cycles, stopper=LastRelevant(), print_progress=False)
    sim.label([inc, exc])
    sim.review()
    screened = [int(i) for i in sim._results["record_id"].tolist()]
    seconds = time.perf_counter() - t0

    if screened[:2] != [inc, exc] or len(set(screened)) != len(screened):
        raise RuntimeError(f"{review_id}/seed {seed}: unexpected ASReview results (prior or duplicates)")
    seen = set(screened)
    order = screened + [i for i in range(n) if i not in seen]
    metrics = screening_metrics(labels[np.asarray(order)])
    return {
        "prior_idx": [inc, exc],
        "order_idx": order,
        "n_screened": len(screened),
        "metrics": metrics,
        "seconds": round(seconds, 3),
    }


def _mean(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in METRIC_KEYS}


def summarise(result: dict) -> dict:
    reviews = {}
    for rid, rev in sorted(result["reviews"].items()):
        runs = rev["seeds"]
        if not runs:
            continue
        reviews[rid] = {
            "n_docs": rev["n_docs"],
            "n_includes": rev["n_includes"],
            "seeds": sorted(int(s) for s in runs),
            "mean": _mean([r["metrics"] for r in runs.values()]),
            "mean_n_screened": float(np.mean([r["n_screened"] for r in runs.values()])),
            "seconds": round(sum(r["seconds"] for r in runs.values()), 1),
        }
    return {
        "dataset": result["dataset"],
        "asreview": result["asreview"],
        "protocol": "domains/screening/protocol.py (1 include + 1 exclude prior per seed; stop at last include)",
        "n_reviews": len(reviews),
        "mean_over_reviews": _mean([r["mean"] for r in reviews.values()]) if reviews else {},
        "seconds": round(sum(r["seconds"] for r in reviews.values()), 1),
        "reviews": reviews,
        "environment": result["environment"],
    }


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset folder holding topics.csv and reviews/")
    ap.add_argument("--reviews", nargs="*", default=None, help="review ids (default: all in topics.csv)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out", help="folder of the full JSON")
    ap.add_argument(
        "--summary-dir",
        type=Path,
        default=REPO / "benchmarks" / "results",
        help="folder of the small summary JSON (default benchmarks/results)",
    )
    args = ap.parse_args(argv)

    data_dir = args.data.resolve()
    dataset = data_dir.name
    topics = pl.read_csv(data_dir / "topics.csv", infer_schema=False)
    all_ids = topics["review_id"].to_list()
    review_ids = args.reviews or all_ids
    unknown = sorted(set(review_ids) - set(all_ids))
    if unknown:
        ap.error(f"unknown review ids in {dataset}: {unknown}")

    out_path = args.out / f"asreview_{dataset}.json"
    setup = asreview_setup()
    if out_path.exists():
        result = json.loads(out_path.read_text())
        if result["asreview"]["version"] != setup["version"] or result["asreview"]["cycle"] != setup["cycle"]:
            raise SystemExit(f"{out_path} was made with another ASReview set-up; move it away first")
    else:
        result = {"dataset": dataset, "data_dir": str(data_dir), "asreview": setup, "reviews": {}}
    result["environment"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }

    todo = [
        (rid, s)
        for rid in review_ids
        for s in range(args.seeds)
        if str(s) not in result["reviews"].get(rid, {}).get("seeds", {})
    ]
    print(
        f"ASReview {setup['version']} ({setup['ai']}) on {dataset}: {len(review_ids)} reviews x {args.seeds} seeds, "
        f"{len(todo)} runs to do -> {out_path}",
        flush=True,
    )
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="asreview-bench-") as tmp:
        frames: dict[str, pl.DataFrame] = {}
        for k, (rid, seed) in enumerate(todo, 1):
            if rid not in frames:
                frames = {rid: load_review(data_dir, rid)}
            review = frames[rid]
            labels = review["label"].to_numpy()
            rev = result["reviews"].setdefault(
                rid, {"n_docs": int(labels.size), "n_includes": int(labels.sum()), "seeds": {}}
            )
            run = simulate_one(review, rid, seed, Path(tmp))
            doc_ids = review["doc_id"].to_list()
            rev["seeds"][str(seed)] = {
                "prior": [doc_ids[i] for i in run["prior_idx"]],
                "prior_idx": run["prior_idx"],
                "n_screened": run["n_screened"],
                "metrics": run["metrics"],
                "seconds": run["seconds"],
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "order": [doc_ids[i] for i in run["order_idx"]],
            }
            _write_json(out_path, result)
            m = run["metrics"]
            print(
                f"[{k}/{len(todo)}] {rid} seed {seed}: N={labels.size} R={int(labels.sum())} "
                f"screened {run['n_screened']} | WSS@95 {m['wss@95']:.3f} WSS@100 {m['wss@100']:.3f} "
                f"AP {m['ap']:.3f} R@10% {m['recall@10%']:.3f} | {run['seconds']:.1f}s "
                f"(elapsed {time.perf_counter() - t_start:.0f}s)",
                flush=True,
            )

    summary = summarise(result)
    _write_json(args.summary_dir / f"asreview_{dataset}_summary.json", summary)
    mo = summary["mean_over_reviews"]
    if mo:
        print(
            f"{dataset}: mean over {summary['n_reviews']} reviews: "
            + " ".join(f"{k} {mo[k]:.4f}" for k in METRIC_KEYS),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
