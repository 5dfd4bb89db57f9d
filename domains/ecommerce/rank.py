"""Rank candidate items for one user with a trained e-commerce model (``ranksuite ecommerce rank``).

The user's history is everything the dataset knows about them (train + valid + test behaviours, oldest first,
the last ``max_len`` kept): at serving time there is nothing held out. Candidates are scored one by one against
that history; AW-MoE also reports each candidate's gate (the expert weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ranksuite.domains.ecommerce.data import Histories, ItemFeatures, build_batch
from ranksuite.domains.ecommerce.train import load_dataset, load_model, to_tensors


@torch.no_grad()
def rank_items(
    model_path: str | Path,
    data_dir: str | Path,
    user: int,
    items: list[int],
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    model = load_model(model_path, device)
    cfg = model.config
    data = load_dataset(data_dir)
    hist = Histories.from_frame(data.interactions)
    try:
        row = int(hist.rows_of([user])[0])
    except ValueError:
        raise ValueError(f"user {user} is not in {data_dir}") from None
    cand = np.asarray(items, dtype=np.int64)
    bad = cand[(cand < 1) | (cand >= cfg.n_items)]
    if bad.size:
        raise ValueError(f"item {int(bad[0])} is not known to the model (ids 1..{cfg.n_items - 1})")
    features = ItemFeatures.from_items(data.items, max_categories=cfg.max_categories, n_ids=cfg.n_items)
    batch = build_batch(hist, np.full(cand.size, row), cand, features=features, max_len=cfg.max_len)
    out = model(to_tensors(batch, next(model.parameters()).device))
    scores = out["logit"].float().cpu().numpy()
    gate = out["gate"].float().cpu().numpy() if "gate" in out else None
    order = np.argsort(-scores, kind="stable")
    ranking = []
    for r, i in enumerate(order, start=1):
        entry: dict[str, Any] = {"rank": r, "item_id": int(cand[i]), "score": float(scores[i])}
        if gate is not None:
            entry["gate"] = [round(float(g), 4) for g in gate[i]]
        ranking.append(entry)
    return {
        "user": user,
        "architecture": cfg.architecture,
        "history_length": int(hist.lengths[row]),
        "ranking": ranking,
    }
