"""E-commerce table: DNN, DIN, AW-MoE and AW-MoE without the contrastive loss on the Amazon categories, several
seeds, overall and long-tail; an AW-MoE sweep on one category's *validation* split; CPU throughput and latency.

Everything goes through the package (``prepare`` -> ``train_ecommerce`` -> ``evaluate_model``): the same split,
candidates (held-out item + 99 sampled negatives, seeded per seed) and metrics as ``ranksuite ecommerce``.

- ``table``: for every category and seed, every model is trained with the same recipe and evaluated on the test
  candidates: ``overall``, ``long_tail`` (users whose train history is at most the 20th percentile of lengths) and
  ``long_tail_truncated`` (every test user with the history cut to that length). Means and sample std over seeds.
- ``sweep``: AW-MoE, one unknown at a time around the defaults (K experts, mask ratio, lambda, temperature), on
  ``--sweep-category`` with seed ``--sweep-seed``; the read-out is the VALIDATION candidates (history = train
  items), overall and long tail. The test items are never looked at.
- ``speed``: training throughput (samples/s, from the trainer) and the latency of scoring 1,000 candidates for one
  user (median of repeated calls after a warm-up, batch of 1,000 (user, item) rows) for each model, on this CPU.

``--max-users N`` keeps a seeded random subset of N users of a category (all of their behaviours; the item
catalogue is unchanged) when a category is too large for the time budget; the JSON and RESULTS.md say so.

Run::

    .venv/bin/python benchmarks/ecommerce_table.py --parts sweep --out benchmarks/results/ecommerce_sweep.json
    .venv/bin/python benchmarks/ecommerce_table.py --parts table speed --seeds 0 1 2 \
        --out benchmarks/results/ecommerce_table.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from ranksuite.domains.ecommerce.data import EcomData, build_batch
from ranksuite.domains.ecommerce.evaluate import evaluate_model
from ranksuite.domains.ecommerce.model import ModelConfig
from ranksuite.domains.ecommerce.train import (
    METRIC_KEYS,
    load_dataset,
    load_model,
    prepare,
    to_tensors,
    train_ecommerce,
)
from ranksuite.shared.training import TrainConfig

MODELS = {
    "dnn": {"architecture": "dnn"},
    "din": {"architecture": "din"},
    "awmoe": {"architecture": "awmoe", "contrastive": True},
    "awmoe-nocl": {"architecture": "awmoe", "contrastive": False},
}
PARTS = ("overall", "long_tail", "long_tail_truncated")


def subsample(data: EcomData, max_users: int | None, seed: int = 20261124) -> EcomData:
    if not max_users:
        return data
    users = np.unique(data.interactions["user_id"].to_numpy())
    if users.size <= max_users:
        return data
    keep = np.random.default_rng(seed).choice(users, max_users, replace=False)
    inter = data.interactions.filter(pl.col("user_id").is_in(keep.tolist()))
    return EcomData(f"{data.name}[{max_users} users]", inter, data.items)


def model_config(name: str, args, **over) -> ModelConfig:
    kw = dict(MODELS[name])
    kw.update(
        dim=args.dim,
        max_len=args.max_len,
        experts=args.experts,
        mask_ratio=args.mask_ratio,
        cl_weight=args.cl_weight,
        temperature=args.temperature,
    )
    kw.update(over)
    return ModelConfig(**kw)


def train_config(args, seed: int) -> TrainConfig:
    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=0.0,
        seed=seed,
        checkpoint_every=10**9,
        log_every=50,
    )


def fit(prep, mc: ModelConfig, args, seed: int, run_dir: Path):
    t0 = time.time()
    res = train_ecommerce(
        None,
        run_dir,
        mc,
        train_config(args, seed),
        negatives=args.negatives,
        eval_users=args.eval_users,
        progress=False,
        prepared=prep,
    )
    return res, time.time() - t0


def mean_std(rows: list[dict]) -> dict:
    out: dict = {}
    for part in PARTS:
        vals = [r[part] for r in rows if part in r]
        if not vals:
            continue
        out[part] = {
            k: {
                "mean": float(np.mean([v[k] for v in vals])),
                "std": float(np.std([v[k] for v in vals], ddof=1)) if len(vals) > 1 else 0.0,
                "n": len(vals),
            }
            for k in METRIC_KEYS
        }
    return out


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_table(args, results: dict, save) -> None:
    table = results.setdefault("table", {})
    for cat in args.categories:
        data = subsample(load_dataset(Path(args.data_root) / cat), args.max_users)
        entry = table.setdefault(cat, {"dataset": data.name, "runs": {m: [] for m in args.models}})
        for seed in args.seeds:
            prep = prepare(data, seed=seed)
            for name in args.models:
                if any(r["seed"] == seed for r in entry["runs"].get(name, [])):
                    continue
                mc = model_config(name, args)
                run_dir = Path(args.runs) / f"{cat}-{name}-s{seed}"
                if args.reuse and (run_dir / "train_metrics.json").exists():
                    # trained to the end, but the evaluation was cut off: evaluate the saved best model
                    tm = json.loads((run_dir / "train_metrics.json").read_text())
                    best, best_step, steps, sps = (
                        tm["best"],
                        tm["best_step"],
                        tm["steps"],
                        tm["samples_per_s"],
                    )
                    secs = float("nan")
                else:
                    res, secs = fit(prep, mc, args, seed, run_dir)
                    best, best_step, steps, sps = res.best, res.best_step, res.steps, res.samples_per_s
                ev = evaluate_model(load_model(run_dir), prep)
                row = {
                    "seed": seed,
                    **{p: ev[p] for p in PARTS},
                    "info": ev["info"],
                    "valid": best,
                    "best_step": best_step,
                    "steps": steps,
                    "train_samples_per_s": sps,
                    "seconds": secs,
                }
                entry["runs"].setdefault(name, []).append(row)
                entry["summary"] = {m: mean_std(rs) for m, rs in entry["runs"].items()}
                save()
                o, lt = ev["overall"], ev["long_tail"]
                log(
                    f"{cat} seed {seed} {name:10s} auc {o['auc']:.4f} gauc {o['gauc']:.4f} ndcg {o['ndcg@10']:.4f}"
                    f" | tail auc {lt['auc']:.4f} gauc {lt['gauc']:.4f} ndcg {lt['ndcg@10']:.4f}"
                    f" | {secs:.0f}s, {sps:.0f} samples/s"
                )


def sweep_grid(args) -> list[tuple[str, dict]]:
    grid: list[tuple[str, dict]] = [] if args.no_sweep_default else [("default", {})]
    for k in args.sweep_experts:
        if k != args.experts:
            grid.append((f"experts={k}", {"experts": k}))
    for m in args.sweep_mask:
        if m != args.mask_ratio:
            grid.append((f"mask_ratio={m}", {"mask_ratio": m}))
    for w in args.sweep_lambda:
        if w != args.cl_weight:
            grid.append((f"lambda={w}", {"cl_weight": w}))
    for t in args.sweep_temperature:
        if t != args.temperature:
            grid.append((f"temperature={t}", {"temperature": t}))
    return grid


def run_sweep(args, results: dict, save) -> None:
    cat = args.sweep_category
    data = subsample(load_dataset(Path(args.data_root) / cat), args.max_users)
    prep = prepare(data, seed=args.sweep_seed)
    sweep = results.setdefault(
        "sweep",
        {"category": cat, "dataset": data.name, "seed": args.sweep_seed, "stage": "valid", "runs": []},
    )
    done = {r["name"] for r in sweep["runs"]}
    for name, over in sweep_grid(args):
        if name in done:
            continue
        mc = model_config("awmoe", args, **over)
        res, secs = fit(prep, mc, args, args.sweep_seed, Path(args.runs) / f"sweep-{cat}-{name}")
        ev = evaluate_model(load_model(res.model_dir), prep, stage="valid")
        cfg = {k: getattr(mc, k) for k in ("experts", "mask_ratio", "cl_weight", "temperature")}
        sweep["runs"].append({"name": name, "config": cfg, **{p: ev[p] for p in PARTS}, "seconds": secs})
        save()
        o, lt = ev["overall"], ev["long_tail"]
        log(
            f"sweep {name:18s} valid auc {o['auc']:.4f} gauc {o['gauc']:.4f} | tail auc {lt['auc']:.4f} "
            f"gauc {lt['gauc']:.4f} ({secs:.0f}s)"
        )


@torch.no_grad()
def latency_ms(model, prep, n_candidates: int = 1000, repeats: int = 20) -> dict:
    """Median / p90 milliseconds to score ``n_candidates`` items for one test user (batch build included)."""
    hist = prep.split.histories("test")
    lengths = hist.lengths
    row = int(np.argsort(lengths)[lengths.size // 2])  # a median-length user
    items = np.random.default_rng(0).integers(1, prep.n_items, n_candidates)
    cfg = model.config
    times = []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        nb = build_batch(
            hist, np.full(n_candidates, row), items, features=prep.features, max_len=cfg.max_len, trim=True
        )
        model(to_tensors(nb, torch.device("cpu")))
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": float(np.median(times)),
        "p90_ms": float(np.percentile(times, 90)),
        "history_length": int(lengths[row]),
        "candidates": n_candidates,
    }


def run_speed(args, results: dict, save) -> None:
    speed = results.setdefault("speed", {})
    cat = args.categories[0]
    table = results.get("table", {}).get(cat, {}).get("runs", {})
    data = subsample(load_dataset(Path(args.data_root) / cat), args.max_users)
    prep = prepare(data, seed=args.seeds[0])
    for name in args.models:
        run_dir = Path(args.runs) / f"{cat}-{name}-s{args.seeds[0]}"
        if not (run_dir / "model").exists():
            fit(prep, model_config(name, args), args, args.seeds[0], run_dir)
        model = load_model(run_dir)
        sps = [r["train_samples_per_s"] for r in table.get(name, [])]
        speed[name] = {
            "category": cat,
            "train_samples_per_s_mean": float(np.mean(sps)) if sps else None,
            "train_samples_per_s_runs": sps,
            "latency_1000": latency_ms(model, prep),
        }
        save()
        log(f"speed {name}: {speed[name]}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", choices=("table", "sweep", "speed"), default=["table", "speed"])
    ap.add_argument("--data-root", default="../shared/data/ecommerce/amazon_s3rec")
    ap.add_argument("--categories", nargs="+", default=["beauty", "sports_and_outdoors", "toys_and_games"])
    ap.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-users", type=int, default=None, help="seeded subset of users per category")
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--negatives", type=int, default=4)
    ap.add_argument("--eval-users", type=int, default=2000)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--mask-ratio", type=float, default=0.3)
    ap.add_argument("--cl-weight", type=float, default=0.1)
    ap.add_argument("--temperature", type=float, default=0.1)
    ap.add_argument("--sweep-category", default="beauty")
    ap.add_argument("--sweep-seed", type=int, default=0)
    ap.add_argument("--sweep-experts", type=int, nargs="*", default=[2, 4, 8])
    ap.add_argument("--sweep-mask", type=float, nargs="*", default=[0.1, 0.3, 0.5])
    ap.add_argument("--sweep-lambda", type=float, nargs="*", default=[0.01, 0.1, 0.5])
    ap.add_argument("--sweep-temperature", type=float, nargs="*", default=[0.05, 0.1, 0.5])
    ap.add_argument(
        "--no-sweep-default", action="store_true", help="leave the default point out (split sweeps)"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default="runs/ecommerce-table")
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", action="store_true", help="keep the runs already in --out")
    ap.add_argument("--reuse", action="store_true", help="evaluate a run folder that finished training")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    results: dict = json.loads(out.read_text()) if args.resume and out.exists() else {}
    results.update(
        {
            "command": " ".join(["python", *sys.argv]),
            "args": vars(args),
            "torch": torch.__version__,
            "machine": f"{platform.machine()} CPU, torch threads {torch.get_num_threads()}",
            "date": time.strftime("%Y-%m-%d"),
        }
    )

    def save() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(out)

    if "sweep" in args.parts:
        run_sweep(args, results, save)
    if "table" in args.parts:
        run_table(args, results, save)
    if "speed" in args.parts:
        run_speed(args, results, save)
    save()


if __name__ == "__main__":
    main()
