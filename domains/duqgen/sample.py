"""Step 2: choose the N training documents.

DUQGen (their code and the issue): cluster c gets ``1 + floor((N - K) * |c| / |D|)`` documents, drawn without
replacement with probability ``softmax(cos(doc, centroid) / T)`` inside the cluster, T = 1. The floors leave up to
K - 1 documents of the budget unassigned; we hand them out by the largest fractional parts (Hamilton's method), so
exactly N documents are drawn, and no cluster is asked for more documents than it holds (any excess goes to the
clusters with room, again by the largest fractional parts). ``random`` draws N of the usable documents uniformly: the
ablation with the same budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

STRATEGIES = ("duqgen", "random")


def allocate(sizes: np.ndarray | list[int], n: int) -> np.ndarray:
    """Documents per cluster: ``1 + floor((N - K)|c|/|D|)``, topped up to exactly N, never above ``|c|``."""
    sizes = np.asarray(sizes, dtype=np.int64)
    k, total = len(sizes), int(sizes.sum())
    if k == 0 or (sizes < 1).any():
        raise ValueError("every cluster needs at least one document")
    if not k <= n <= total:
        raise ValueError(f"need K <= N <= |D|, got K={k}, N={n}, |D|={total}")
    share = (n - k) * sizes / total
    counts = 1 + np.floor(share).astype(np.int64)
    counts = np.minimum(counts, sizes)
    frac = share - np.floor(share)
    # fill the remainder one document at a time, largest fraction first (then larger cluster, then lower index)
    order = np.lexsort((np.arange(k), -sizes, -frac))
    while counts.sum() < n:
        room = [i for i in order if counts[i] < sizes[i]]
        for i in room[: n - int(counts.sum())]:
            counts[i] += 1
    return counts


def softmax(x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(x, dtype=np.float64) / temperature
    z = np.exp(z - z.max())
    return z / z.sum()


def sample_documents(
    clusters: pl.DataFrame,
    n: int,
    strategy: str = "duqgen",
    temperature: float = 1.0,
    seed: int = 42,
) -> pl.DataFrame:
    """``docno, cluster, prob`` of the N chosen documents (``prob``: the within-cluster softmax probability)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown --strategy {strategy!r}: use {' or '.join(STRATEGIES)}")
    rng = np.random.default_rng(seed)
    if strategy == "random":
        if n > clusters.height:
            raise ValueError(f"N ({n}) exceeds the usable documents ({clusters.height})")
        idx = np.sort(rng.choice(clusters.height, n, replace=False))
        picked = clusters[idx.tolist()].select("docno", "cluster")
        return picked.with_columns(pl.lit(1.0 / clusters.height).alias("prob"))
    groups = (
        clusters.sort("docno").group_by("cluster", maintain_order=True).agg("docno", "sim").sort("cluster")
    )
    sizes = groups["docno"].list.len().to_numpy()
    counts = allocate(sizes, n)
    rows: dict[str, list] = {"docno": [], "cluster": [], "prob": []}
    for (cid, docnos, sims), count in zip(groups.iter_rows(), counts, strict=True):
        p = softmax(np.asarray(sims), temperature)
        chosen = rng.choice(len(docnos), int(count), replace=False, p=p)
        for i in sorted(chosen.tolist()):
            rows["docno"].append(docnos[i])
            rows["cluster"].append(cid)
            rows["prob"].append(float(p[i]))
    return pl.DataFrame(rows, schema={"docno": pl.String, "cluster": pl.Int64, "prob": pl.Float64})


def sample_step(
    clusters_path: str | Path,
    out: str | Path,
    n: int,
    strategy: str = "duqgen",
    temperature: float = 1.0,
    seed: int = 42,
) -> dict[str, Any]:
    clusters = pl.read_parquet(clusters_path)
    picked = sample_documents(clusters, n, strategy, temperature, seed)
    picked.write_parquet(Path(out) / "sample.parquet")
    covered = picked["cluster"].n_unique()
    return {
        "strategy": strategy,
        "n": picked.height,
        "temperature": temperature,
        "seed": seed,
        "clusters": int(clusters["cluster"].n_unique()),
        "clusters_covered": int(covered),
    }
