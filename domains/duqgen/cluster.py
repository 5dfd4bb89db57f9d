"""Step 1: embed the target documents, drop the very short ones, k-means them into K clusters.

DUQGen embeds with Contriever and drops documents under 300 characters (too little to write a query about); here the
embedder is the MiniLM bi-encoder (any bi-encoder folder works). Some classic collections are made of short abstracts
(CISI drops 5 % of its documents at 300 characters, the demo collection nearly all of them), so when the cut would
leave fewer than ``max(N, 50 %)`` of the documents, the threshold falls to the 10th percentile of document lengths
instead, with a warning recorded in ``cluster.json``: a sample of N must still be drawable, and dropping half a
collection would bias it towards long documents more than short ones bias the queries.

K and N: the paper uses K = N = 1000 on corpora of 3.6k to millions of documents. For a small collection
:func:`auto_budget` takes N = min(1000, ceil(10 % of the documents kept)) and K = min(N, kept // 5), so clusters hold
five documents or more on average and K <= N, as the per-cluster formula needs.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from ranksuite.shared.data.beir import doc_text_column

MIN_CHARS = 300


def auto_budget(n_docs: int, n: int | None = None, k: int | None = None) -> tuple[int, int]:
    """``(N, K)`` for a collection of ``n_docs`` usable documents (either may be given; K is capped at N)."""
    if n_docs < 1:
        raise ValueError("no documents to sample from")
    n = n if n is not None else min(1000, math.ceil(0.1 * n_docs))
    n = max(1, min(n, n_docs))
    k = k if k is not None else max(1, min(n, n_docs // 5))
    if k > n:
        raise ValueError(f"K ({k}) must not exceed N ({n}): every cluster gets at least one document")
    if k > n_docs:
        raise ValueError(f"K ({k}) exceeds the number of usable documents ({n_docs})")
    return n, k


def length_filter(lengths: np.ndarray, n: int | None, min_chars: int = MIN_CHARS) -> tuple[int, str | None]:
    """The length threshold to use, and a warning when the paper's 300 characters would drop too much."""
    lengths = np.asarray(lengths)
    kept = int((lengths >= min_chars).sum())
    need = max(n or 0, math.ceil(0.5 * len(lengths)))
    if kept >= need:
        return min_chars, None
    fallback = int(np.percentile(lengths, 10))
    return fallback, (
        f"only {kept} of {len(lengths)} documents have >= {min_chars} characters (need {need}); "
        f"falling back to >= {fallback} characters (the 10th percentile of lengths)"
    )


def kmeans(embeddings: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels [n] and unit-length centroids [k, d] (k-means on normalised embeddings, i.e. spherical-ish)."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(embeddings)
    centroids = km.cluster_centers_.astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True).clip(min=1e-12)
    return km.labels_.astype(np.int64), centroids


def plot_cluster_sizes(sizes: np.ndarray, path: str | Path, title: str) -> Path:
    """Cluster sizes, largest first, with the mean as a dashed line."""
    sizes = np.sort(np.asarray(sizes))[::-1]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.bar(np.arange(len(sizes)), sizes, width=1.0, color="tab:blue")
    ax.axhline(float(sizes.mean()), ls="--", color="grey", lw=1, label=f"mean {sizes.mean():.1f}")
    ax.set_xlabel("cluster (largest first)")
    ax.set_ylabel("documents")
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def cluster_corpus(
    corpus: pl.DataFrame,
    out: str | Path,
    n: int | None = None,
    k: int | None = None,
    embedder: str = "minilm",
    min_chars: int = MIN_CHARS,
    seed: int = 42,
    device: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write ``clusters.parquet`` (docno, chars, cluster, sim), ``centroids.npy`` and ``cluster_sizes.png``."""
    from ranksuite.shared.models import BiEncoder, load_scorer
    from ranksuite.shared.models.embedding_cache import embed_cached

    out = Path(out)
    texts = doc_text_column(corpus)
    lengths = texts.str.len_chars().to_numpy()
    threshold, warning = length_filter(lengths, n, min_chars)
    if warning:
        warnings.warn(warning, stacklevel=2)
    keep = np.flatnonzero(lengths >= threshold)
    n, k = auto_budget(len(keep), n, k)
    model = (
        BiEncoder.from_backbone(embedder) if not Path(embedder).is_dir() else load_scorer(embedder)
    ).to_device(device)
    if not isinstance(model, BiEncoder):
        raise ValueError(
            f"--embedder {embedder}: need a bi-encoder to embed documents, got {model.architecture}"
        )
    kept_texts = [texts[int(i)] for i in keep]
    emb = embed_cached(model, kept_texts, progress=progress and "embedding documents")
    labels, centroids = kmeans(emb, k, seed)
    sims = (emb * centroids[labels]).sum(1)
    frame = pl.DataFrame(
        {
            "docno": [corpus["docno"][int(i)] for i in keep],
            "chars": lengths[keep].astype(np.int64),
            "cluster": labels,
            "sim": sims.astype(np.float64),
        }
    )
    frame.write_parquet(out / "clusters.parquet")
    np.save(out / "centroids.npy", centroids)
    sizes = np.bincount(labels, minlength=k)
    plot_cluster_sizes(sizes, out / "cluster_sizes.png", f"{k} clusters of {len(keep)} documents")
    return {
        "documents": corpus.height,
        "kept": len(keep),
        "dropped_short": corpus.height - len(keep),
        "min_chars": threshold,
        "warning": warning,
        "n": n,
        "k": k,
        "embedder": embedder,
        "seed": seed,
        "cluster_size": {
            "min": int(sizes.min()),
            "median": float(np.median(sizes)),
            "max": int(sizes.max()),
        },
    }
