"""Recall curves: records screened (x) against includes found (y), with the random and the ideal lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def recall_curve(ranked_labels: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fraction screened, fraction of includes found) after each record."""
    y = np.asarray(ranked_labels, dtype=np.float64)
    n, r = len(y), max(float(y.sum()), 1.0)
    return np.arange(1, n + 1) / n, np.cumsum(y) / r


def plot_recall_curves(
    curves: Mapping[str, Sequence[int] | np.ndarray], path: str | Path, title: str
) -> Path:
    """One line per ranking (all of the same review); the dashed lines are random order and the ideal order."""
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    first = np.asarray(next(iter(curves.values())))
    n, r = len(first), max(int(first.sum()), 1)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="random")
    ax.plot([0, r / n, 1], [0, 1, 1], ":", color="black", lw=1, label="ideal")
    for name, labels in curves.items():
        x, y = recall_curve(labels)
        ax.plot(x, y, lw=1.5, label=name)
    ax.axhline(0.95, color="tab:red", lw=0.6, alpha=0.5)
    ax.set_xlabel("fraction of records screened")
    ax.set_ylabel("fraction of includes found")
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_mean_recall_curves(
    per_method: Mapping[str, Sequence[Sequence[int] | np.ndarray]],
    path: str | Path,
    title: str,
    points: int = 200,
) -> Path:
    """Mean recall curve over reviews (each review's curve resampled on a common grid of fractions)."""
    grid = np.linspace(0, 1, points)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="random")
    for name, rankings in per_method.items():
        ys = []
        for labels in rankings:
            x, y = recall_curve(labels)
            ys.append(np.interp(grid, np.concatenate([[0.0], x]), np.concatenate([[0.0], y])))
        ax.plot(grid, np.mean(ys, axis=0), lw=1.5, label=name)
    ax.axhline(0.95, color="tab:red", lw=0.6, alpha=0.5)
    ax.set_xlabel("fraction of records screened")
    ax.set_ylabel("mean fraction of includes found")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
