"""Merge the JSON files written by ``ecommerce_table.py`` / ``ecommerce_peer_din.py`` (one per process) into
``benchmarks/results/ecommerce_table.json`` and print the Markdown tables for RESULTS.md.

Run::

    .venv/bin/python benchmarks/ecommerce_report.py --table benchmarks/results/ecommerce_table_*_s*.json \
        --sweep benchmarks/results/ecommerce_sweep_*.json --peer benchmarks/results/ecommerce_peer_din_beauty_s*.json \
        --out benchmarks/results/ecommerce_table.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ecommerce_table import PARTS, mean_std

KEYS = ("auc", "gauc", "ndcg@10", "hr@10")
NAMES = {"dnn": "DNN", "din": "DIN", "awmoe": "AW-MoE", "awmoe-nocl": "AW-MoE w/o CL"}


def fmt(ms: dict) -> str:
    if ms.get("n", 2) < 2:
        return f"{ms['mean']:.4f}"
    return f"{ms['mean']:.4f} ± {ms['std']:.4f}"


def paired(a: list[dict], b: list[dict], part: str, key: str) -> str:
    """mean ± std over seeds of (a - b), paired by seed; 'n/a' when no seed is shared."""
    bs = {r["seed"]: r for r in b}
    d = [r[part][key] - bs[r["seed"]][part][key] for r in a if r["seed"] in bs]
    if not d:
        return "n/a"
    if len(d) == 1:
        return f"{d[0]:+.4f}"
    return f"{np.mean(d):+.4f} ± {float(np.std(d, ddof=1)):.4f}"


def merge_table(paths: list[str]) -> dict:
    table: dict = {}
    speed: dict = {}
    meta: dict = {}
    for p in sorted(paths):
        r = json.loads(Path(p).read_text())
        meta.setdefault("commands", []).append(r.get("command"))
        meta["args"] = r.get("args")
        for cat, entry in r.get("table", {}).items():
            t = table.setdefault(cat, {"dataset": entry["dataset"], "runs": {}})
            for m, runs in entry["runs"].items():
                if runs:
                    t["runs"].setdefault(m, []).extend(runs)
        speed.update(r.get("speed", {}))
    for t in table.values():
        for runs in t["runs"].values():
            runs.sort(key=lambda x: x["seed"])
        t["summary"] = {m: mean_std(rs) for m, rs in t["runs"].items()}
    return {"table": table, "speed": speed, **meta}


def table_md(table: dict) -> str:
    out = []
    for cat, t in table.items():
        s = t["summary"]
        any_run = next(iter(t["runs"].values()))[0]
        info = any_run["info"]
        seeds = sorted({r["seed"] for rs in t["runs"].values() for r in rs})
        out.append(
            f"**{cat}** ({t['dataset']}; {info['users']} test users, {info['long_tail_users']} long-tail users with "
            f"<= {info['long_tail_threshold']} train items; seeds {seeds}; mean ± sample std over the seeds a row "
            "has; a single seed shows no ±)\n"
        )
        out.append(
            "| model | seeds | AUC | GAUC | NDCG@10 | HR@10 | long-tail AUC | long-tail GAUC | long-tail NDCG@10 |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for m in NAMES:
            if m not in s:
                continue
            o, lt = s[m]["overall"], s[m]["long_tail"]
            out.append(
                f"| {NAMES[m]} | {len(t['runs'][m])} | {fmt(o['auc'])} | {fmt(o['gauc'])} | {fmt(o['ndcg@10'])} | {fmt(o['hr@10'])} | "
                f"{fmt(lt['auc'])} | {fmt(lt['gauc'])} | {fmt(lt['ndcg@10'])} |"
            )
        out.append("")
        runs = t["runs"]
        if "awmoe" in runs:
            out.append(
                "Paired differences (same seed: same split, negatives and initial seed), mean ± std over seeds:\n"
            )
            out.append("| difference | AUC | GAUC | long-tail AUC | long-tail GAUC | truncated-history AUC |")
            out.append("|---|---|---|---|---|---|")
            for a, b in (("awmoe", "din"), ("awmoe", "dnn"), ("din", "dnn"), ("awmoe", "awmoe-nocl")):
                if a in runs and b in runs:
                    cells = [paired(runs[a], runs[b], p, k) for p, k in
                             (("overall", "auc"), ("overall", "gauc"), ("long_tail", "auc"),
                              ("long_tail", "gauc"), ("long_tail_truncated", "auc"))]  # fmt: skip
                    out.append(f"| {NAMES[a]} − {NAMES[b]} | " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out)


def sweep_md(paths: list[str]) -> tuple[dict, str]:
    runs: list[dict] = []
    meta: dict = {}
    for p in sorted(paths):
        r = json.loads(Path(p).read_text())
        sw = r.get("sweep")
        if sw:
            runs.extend(sw["runs"])
            meta = {k: v for k, v in sw.items() if k != "runs"}
    out = [
        f"AW-MoE sweep on {meta.get('dataset')} (seed {meta.get('seed')}), read on the VALIDATION candidates "
        "(history = train items; the test items are never used):\n",
        "| point | K | mask | λ | τ | valid AUC | valid GAUC | valid NDCG@10 | long-tail AUC | long-tail GAUC |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {"default": 0}
    for r in sorted(runs, key=lambda x: (order.get(x["name"], 1), x["name"])):
        c, o, lt = r["config"], r["overall"], r["long_tail"]
        out.append(
            f"| {r['name']} | {c['experts']} | {c['mask_ratio']} | {c['cl_weight']} | {c['temperature']} | "
            f"{o['auc']:.4f} | {o['gauc']:.4f} | {o['ndcg@10']:.4f} | {lt['auc']:.4f} | {lt['gauc']:.4f} |"
        )
    return {**meta, "runs": runs}, "\n".join(out)


def peer_md(paths: list[str]) -> tuple[dict, str]:
    ours: list[dict] = []
    peer: list[dict] = []
    meta: dict = {}
    for p in sorted(paths):
        r = json.loads(Path(p).read_text())
        seeds = r["args"]["seeds"]
        for s, o in zip(seeds, r["ours"], strict=False):
            ours.append({"seed": s, **o})
        for s, o in zip(seeds, r["deepctr"], strict=False):
            peer.append({"seed": s, **o})
        meta = {"peer": r["peer"], "args": r["args"]}
        meta.setdefault("commands", []).append(r["command"])
    res = {
        **meta,
        "ours": ours,
        "deepctr": peer,
        "summary": {"ours": mean_std(ours), "deepctr": mean_std(peer)},
    }
    out = [
        "| DIN | AUC | GAUC | NDCG@10 | HR@10 | long-tail AUC | long-tail GAUC | train samples/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, rs in (("ours", ours), (meta.get("peer", "peer"), peer)):
        s = mean_std(rs)
        o, lt = s["overall"], s["long_tail"]
        sps = np.mean([r["train_samples_per_s"] for r in rs]) if rs else float("nan")
        out.append(
            f"| {name} | {fmt(o['auc'])} | {fmt(o['gauc'])} | {fmt(o['ndcg@10'])} | {fmt(o['hr@10'])} | "
            f"{fmt(lt['auc'])} | {fmt(lt['gauc'])} | {sps:.0f} |"
        )
    cells = [paired(ours, peer, p, k) for p, k in (("overall", "auc"), ("overall", "gauc"), ("long_tail", "auc"),
                                                    ("long_tail", "gauc"))]  # fmt: skip
    out.append("")
    out.append(
        f"Ours − peer, paired by seed (n = {len(ours)}): AUC {cells[0]}, GAUC {cells[1]}, long-tail AUC {cells[2]}, "
        f"long-tail GAUC {cells[3]}."
    )
    return res, "\n".join(out)


def speed_md(speed: dict) -> str:
    out = [
        "| model | train samples/s (mean over runs) | 1,000 candidates, one user: median ms | p90 ms |",
        "|---|---|---|---|",
    ]
    for m, s in speed.items():
        lat = s["latency_1000"]
        sps = s["train_samples_per_s_mean"]
        out.append(
            f"| {NAMES.get(m, m)} | {sps:.0f} | {lat['median_ms']:.1f} | {lat['p90_ms']:.1f} |"
            if sps
            else f"| {NAMES.get(m, m)} | – | {lat['median_ms']:.1f} | {lat['p90_ms']:.1f} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", nargs="*", default=[])
    ap.add_argument("--sweep", nargs="*", default=[])
    ap.add_argument("--peer", nargs="*", default=[])
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    merged = merge_table(args.table)
    md = ["### Table", table_md(merged["table"])]
    if args.sweep:
        merged["sweep"], s = sweep_md(args.sweep)
        md += ["### Sweep", s]
    if args.peer:
        merged["peer"], s = peer_md(args.peer)
        md += ["### Peer", s]
    for m, sp in merged["speed"].items():  # training throughput from the table's runs of that category
        if not sp.get("train_samples_per_s_runs"):
            runs = merged["table"].get(sp["category"], {}).get("runs", {}).get(m, [])
            sps = [r["train_samples_per_s"] for r in runs if r.get("train_samples_per_s")]
            sp["train_samples_per_s_runs"] = sps
            sp["train_samples_per_s_mean"] = float(np.mean(sps)) if sps else None
    if merged["speed"]:
        md += ["### Speed", speed_md(merged["speed"])]
    Path(args.out).write_text(json.dumps(merged, indent=1))
    print("\n\n".join(md))


if __name__ == "__main__":
    assert PARTS
    main()
