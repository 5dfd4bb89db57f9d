"""The run plot: training loss per logged step and the dev metric per evaluation, one PNG per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_history(history: list[dict[str, Any]], path: str | Path, metric: str) -> Path | None:
    losses = [(h["step"], h["loss"]) for h in history if "loss" in h]
    evals = [(h["step"], h["eval"][metric]) for h in history if metric in h.get("eval", {})]
    if not losses and not evals:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if losses:
        ax.plot(*zip(*losses, strict=True), color="tab:blue", label="training loss")
        ax.set_ylabel("training loss", color="tab:blue")
    ax.set_xlabel("optimizer step")
    if evals:
        ax2 = ax.twinx()
        ax2.plot(*zip(*evals, strict=True), "o-", color="tab:red", label=f"dev {metric}")
        ax2.set_ylabel(f"dev {metric}", color="tab:red")
    ax.set_title("ranksuite training run")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
