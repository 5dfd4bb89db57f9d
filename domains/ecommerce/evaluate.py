"""Test-set evaluation of a trained e-commerce ranker: overall, long-tail users, and truncated histories.

``metrics.json`` (see :func:`evaluate_model`):

- ``overall``: every evaluated (test) user; the candidates are the test stage of :func:`sample_negatives` (the
  held-out last item + 99 sampled negatives, never an item of the user), the history is train + valid items.
- ``long_tail``: the same scores restricted to :func:`long_tail_users` (users whose *train* history has at most
  ``threshold`` items, by default the 20th percentile of train-history lengths).
- ``long_tail_truncated``: every test user again, but each history is cut to its last ``threshold`` items
  (:meth:`Histories.truncate`) -- active users' targets seen through a long-tail-sized history, which isolates the
  effect of history length from whatever else distinguishes long-tail users.

Each of the three objects holds exactly ``auc`` (pooled over all users' 100 candidates), ``gauc`` (per-user AUC,
weighted by the user's candidate count, i.e. a plain mean here), ``ndcg@10`` and ``hr@10``. ``info`` records the
user counts, the threshold and what was evaluated. ``max_users`` (optional) evaluates a seeded random subset of the
test users (for quick CPU checks; the long-tail set is then intersected with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ranksuite.domains.ecommerce.data import long_tail_users
from ranksuite.domains.ecommerce.train import (
    METRIC_KEYS,
    Prepared,
    check_compatible,
    load_dataset,
    prepare,
    ranking_metrics,
    score_candidates,
)
from ranksuite.shared.data.atomic import atomic_write_json


def evaluate_model(
    model: torch.nn.Module,
    prep: Prepared,
    max_users: int | None = None,
    seed: int = 0,
    quantile: float = 0.2,
    stage: str = "test",
) -> dict[str, Any]:
    """``{"overall", "long_tail", "long_tail_truncated", "info"}`` on the test users (module docstring).

    ``stage="valid"`` scores the validation candidates instead (history = train items only): what a
    hyper-parameter sweep reads, so that nothing is ever tuned on the test items."""
    if stage not in ("valid", "test"):
        raise ValueError(f"stage must be valid or test, not {stage!r}")
    check_compatible(model, prep)
    max_len = model.config.max_len
    cands = prep.candidates[stage]
    hist = prep.split.histories(stage)
    sel = np.arange(cands.user_ids.size)
    if max_users is not None and sel.size > max_users:
        sel = np.sort(np.random.default_rng([seed, 4]).choice(sel, max_users, replace=False))
    users = cands.user_ids[sel]
    items = cands.items[sel]
    rows = hist.rows_of(users)
    tail = long_tail_users(prep.split, quantile=quantile)
    in_tail = np.isin(users, tail.user_ids)

    scores = score_candidates(model, hist, rows, items, prep.features, max_len)
    trunc = score_candidates(model, hist.truncate(tail.threshold), rows, items, prep.features, max_len)
    out: dict[str, Any] = {
        "overall": ranking_metrics(users, scores),
        "long_tail": ranking_metrics(users[in_tail], scores[in_tail]),
        "long_tail_truncated": ranking_metrics(users, trunc),
    }
    out["info"] = {
        "dataset": prep.data.name,
        "architecture": model.config.architecture,
        "users": int(users.size),
        "long_tail_users": int(in_tail.sum()),
        "long_tail_threshold": tail.threshold,
        "long_tail_quantile": tail.quantile,
        "candidates_per_user": int(items.shape[1]),
        "stage": stage,
        "subset": max_users is not None and cands.user_ids.size > max_users,
    }
    return out


def evaluate_run(
    model_path: str | Path,
    data_dir: str | Path,
    out: str | Path | None = None,
    max_users: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a run, evaluate it on ``data_dir``'s test users, write ``out/metrics.json`` when ``out`` is given."""
    from ranksuite.domains.ecommerce.train import load_model

    model = load_model(model_path, device)
    negatives_seed = int(model.meta.get("training", {}).get("seed", seed))
    prep = prepare(load_dataset(data_dir), seed=negatives_seed, max_categories=model.config.max_categories)
    metrics = evaluate_model(model, prep, max_users, seed)
    metrics["info"]["model"] = str(model_path)
    metrics["info"]["data"] = str(data_dir)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        atomic_write_json(Path(out) / "metrics.json", metrics)
    return metrics


__all__ = ["METRIC_KEYS", "evaluate_model", "evaluate_run"]
