"""Training DNN / DIN / AW-MoE on one e-commerce dataset with the shared :class:`Trainer`.

Choices (documented here once):

- **Data.** ``load_dataset(DIR)`` detects the folder: ``sequences.txt[.gz]`` = an S3-Rec Amazon category,
  ``ml-100k.inter[.gz]`` = MovieLens-100k. The split is :func:`leave_last_out`; the model only ever trains on the
  *train* part (valid items pick the best model, test items are for ``evaluate``).
- **Training examples** ``(user row, history end, target item, label)``: every position ``j >= 1`` of a user's train
  history is a positive (target = item ``j``, history = the items before it, the last ``max_len`` kept), so every
  behaviour is used once as a next-item target (the standard sequential-recommendation setup; the oldest item has
  no history and is only context). ``max_positions`` (default all) keeps only each user's last positions.
  Each positive gets ``negatives`` (default 4) sampled negatives sharing its history: uniform over the item pool
  (every item of the catalogue and the split), distinct, never an item in the user's *train* history (valid/test
  items are not looked at, so no held-out information reaches training). Sampled once, seeded (``[seed, 2]``),
  vectorised with data.py's rejection sampler.
- **Fast path.** ``examples`` is an :class:`Examples` table of numpy columns whose items are their own indices:
  the trainer hands ``step_fn`` a list of indices, which become one ``build_batch`` call (numpy gathers) and one
  ``torch.from_numpy`` per field. Batches are large (default 1024) and trimmed to their longest history, and the
  models embed and attend over the real behaviours only (``model.py``): Amazon histories have a median of ~5
  items, so padding to ``max_len`` = 50 had cost ~10x the work (measured on Beauty, CPU: 2.6k -> 39k samples/s
  for DIN, and test scoring 342 s -> 22 s, identical metrics). ``score_candidates`` scores users in order of
  history length so that each chunk is trimmed tightly.
- **Loss.** ``PointwiseBCE`` (shared) on the logits; for AW-MoE with ``contrastive`` also ``cl_weight *``
  the InfoNCE of two masked views' gates over the batch's positives (see ``model.py``). ``step_fn`` reports
  ``bce`` and ``cl`` separately.
- **Validation** (``evaluate(model)``): the valid stage of :func:`sample_negatives` (the held-out valid item + 99
  negatives per user, histories = train items); AUC (pooled), GAUC (per user), NDCG@10 and HR@10;
  ``config.metric = "auc"``. At most ``eval_users`` (default 2000, a seeded subset) users are scored during training
  to keep evaluation cheap; ``evaluate.py`` scores every test user.
- **Saved model** (``RUN/model``): ``model.pt`` (state_dict) and ``ranksuite.json`` (domain, architecture,
  model config with vocabulary sizes and ``max_len``, training config, data, best validation metrics).
  :func:`load_model` rebuilds it in one call from the model folder or the run folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ranksuite.domains.ecommerce.data import (
    Candidates,
    EcomData,
    Histories,
    ItemFeatures,
    Split,
    _sample_rows,
    build_batch,
    leave_last_out,
    load_amazon,
    load_movielens,
    sample_negatives,
)
from ranksuite.domains.ecommerce.model import ModelConfig, build_model
from ranksuite.shared.data.atomic import atomic_write_json
from ranksuite.shared.data.errors import DataError
from ranksuite.shared.metrics.ctr import auc, gauc, ndcg_hr_at_k
from ranksuite.shared.training import TrainConfig, Trainer, TrainResult

METRIC_KEYS = ("auc", "gauc", "ndcg@10", "hr@10")


# ----------------------------------------------------------------------------- data


def detect_dataset(folder: str | Path) -> str:
    """``amazon`` or ``movielens`` from the files in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    names = {p.name for p in folder.iterdir()}
    if names & {"sequences.txt", "sequences.txt.gz"}:
        return "amazon"
    if names & {"ml-100k.inter", "ml-100k.inter.gz"}:
        return "movielens"
    raise DataError(folder, "neither sequences.txt[.gz] (Amazon, S3-Rec) nor ml-100k.inter[.gz] (MovieLens)")


def load_dataset(folder: str | Path) -> EcomData:
    kind = detect_dataset(folder)
    return load_amazon(folder) if kind == "amazon" else load_movielens(folder)


@dataclass
class Prepared:
    """Everything derived from one dataset that training and evaluation share."""

    data: EcomData
    split: Split
    features: ItemFeatures
    candidates: dict[str, Candidates]
    n_items: int
    n_categories: int
    n_brands: int


def prepare(data: EcomData, seed: int = 0, max_categories: int = 4, n_negatives: int = 99) -> Prepared:
    split = leave_last_out(data.interactions)
    n_items = int(max(data.items["item_id"].max() or 0, data.interactions["item_id"].max() or 0)) + 1
    features = ItemFeatures.from_items(data.items, max_categories=max_categories, n_ids=n_items)
    cands = sample_negatives(split, n=n_negatives, seed=seed, items=data.items)
    return Prepared(
        data,
        split,
        features,
        cands,
        n_items,
        int(features.categories.max(initial=0)) + 1,
        int(features.brand.max(initial=0)) + 1,
    )


class Examples:
    """Training examples as numpy columns; ``examples[i]`` is ``i`` (the step function gathers whole columns)."""

    def __init__(self, rows: np.ndarray, ends: np.ndarray, targets: np.ndarray, labels: np.ndarray) -> None:
        self.rows, self.ends, self.targets, self.labels = rows, ends, targets, labels

    def __len__(self) -> int:
        return int(self.rows.size)

    def __getitem__(self, i: int) -> int:
        return i

    def tuples(self) -> list[tuple[int, int, int, float]]:
        """``(user row, history end, target item, label)`` per example (for inspection)."""
        cols = (self.rows.tolist(), self.ends.tolist(), self.targets.tolist(), self.labels.tolist())
        return list(zip(*cols, strict=True))


def training_examples(
    hist: Histories,
    n_items: int,
    negatives: int = 4,
    max_positions: int | None = None,
    seed: int = 0,
) -> Examples:
    """Positives at every position ``j >= 1`` of each train history (or its last ``max_positions``) + negatives."""
    lengths = hist.lengths
    n_pos = np.maximum(lengths - 1, 0)
    if max_positions is not None:
        n_pos = np.minimum(n_pos, max_positions)
    rows = np.repeat(np.arange(len(hist), dtype=np.int64), n_pos)
    # the positions of each row, counted back from the end: lengths-1, lengths-2, ...
    back = np.arange(rows.size) - np.repeat(np.cumsum(n_pos) - n_pos, n_pos)
    ends = lengths[rows] - 1 - back  # history = items[:end], target = items[end]
    targets = hist.items[hist.offsets[rows] + ends]
    pool = np.arange(1, n_items, dtype=np.int64)
    if negatives:
        user_rows = np.repeat(np.arange(len(hist), dtype=np.int64), lengths)
        excluded = np.unique(user_rows * pool.size + (hist.items - 1))
        rng = np.random.default_rng([seed, 2])
        neg = _sample_rows(rng, pool, excluded, rows, negatives)  # [P, n]
    else:
        neg = np.zeros((rows.size, 0), np.int64)
    k = 1 + negatives
    all_rows = np.repeat(rows, k)
    all_ends = np.repeat(ends, k)
    all_targets = np.concatenate([targets[:, None], neg], axis=1).reshape(-1)
    labels = np.tile(np.r_[1.0, np.zeros(negatives)].astype(np.float32), rows.size)
    return Examples(all_rows, all_ends, all_targets, labels)


def to_tensors(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    return {
        k: torch.from_numpy(np.ascontiguousarray(v)).to(device, non_blocking=True) for k, v in batch.items()
    }


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def make_step_fn(examples: Examples, hist: Histories, features: ItemFeatures, max_len: int):
    from ranksuite.shared.losses import PointwiseBCE

    bce = PointwiseBCE()

    def step_fn(model: torch.nn.Module, idx: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        i = np.asarray(idx, dtype=np.int64)
        nb = build_batch(
            hist,
            examples.rows[i],
            examples.targets[i],
            examples.labels[i],
            features=features,
            max_len=max_len,
            ends=examples.ends[i],
            trim=True,
        )
        batch = to_tensors(nb, model_device(model))
        out = model(batch)
        loss = bce(out["logit"].float().unsqueeze(0), batch["labels"].unsqueeze(0))
        stats = {"bce": float(loss.detach())}
        cfg = model.config
        if cfg.architecture == "awmoe" and cfg.contrastive and cfg.cl_weight > 0:
            rows = torch.nonzero(batch["labels"] > 0.5).squeeze(-1)
            if rows.numel() >= 2:
                cl = model.contrastive_loss(batch, rows)
                loss = loss + cfg.cl_weight * cl
                stats["cl"] = float(cl.detach())
        return loss, stats

    return step_fn


# ----------------------------------------------------------------------------- scoring and metrics


@torch.no_grad()
def score_candidates(
    model: torch.nn.Module,
    hist: Histories,
    rows: np.ndarray,
    items: np.ndarray,
    features: ItemFeatures,
    max_len: int,
    chunk_rows: int = 16384,
) -> np.ndarray:
    """Scores [U, T] of ``items`` [U, T] for the users at ``rows`` of ``hist`` (each candidate scored alone).

    Users are scored in order of history length, in chunks of about ``chunk_rows`` (user, candidate) pairs, each
    chunk's batch trimmed to its longest history: similar lengths share a chunk, so little is spent on padding.
    """
    model.eval()
    device = model_device(model)
    rows = np.asarray(rows, np.int64)
    items = np.asarray(items, np.int64)
    u, t = items.shape
    out = np.empty((u, t), dtype=np.float32)
    order = np.argsort(hist.lengths[rows], kind="stable")
    per = max(1, chunk_rows // max(t, 1))
    for s in range(0, u, per):
        sel = order[s : s + per]
        nb = build_batch(
            hist,
            np.repeat(rows[sel], t),
            items[sel].reshape(-1),
            features=features,
            max_len=max_len,
            trim=True,
        )
        out[sel] = model(to_tensors(nb, device))["logit"].float().cpu().numpy().reshape(sel.size, t)
    return out


def ranking_metrics(user_ids: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUC / GAUC / NDCG@10 / HR@10 of scores [U, 1 + N] whose column 0 is the positive."""
    u, t = scores.shape
    if u == 0:
        return {k: float("nan") for k in METRIC_KEYS}
    labels = np.zeros((u, t), np.int64)
    labels[:, 0] = 1
    users = np.repeat(np.asarray(user_ids), t)
    out = {
        "auc": auc(labels.reshape(-1), scores.reshape(-1)),
        "gauc": gauc(users, labels.reshape(-1), scores.reshape(-1)).gauc,
    }
    out.update(ndcg_hr_at_k(scores[:, 0], scores[:, 1:], 10))
    return out


def make_evaluator(prep: Prepared, max_len: int, max_users: int | None = 2000, seed: int = 0):
    hist = prep.split.histories("valid")
    cands = prep.candidates["valid"]
    sel = np.arange(cands.user_ids.size)
    if max_users is not None and sel.size > max_users:
        sel = np.sort(np.random.default_rng([seed, 3]).choice(sel, max_users, replace=False))
    rows = hist.rows_of(cands.user_ids[sel])

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        scores = score_candidates(model, hist, rows, cands.items[sel], prep.features, max_len)
        return ranking_metrics(cands.user_ids[sel], scores)

    return evaluate


# ----------------------------------------------------------------------------- save / load


def save_model(model: torch.nn.Module, folder: Path, meta: dict[str, Any]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "model.pt")
    info = {
        "domain": "ecommerce",
        "architecture": model.config.architecture,
        "config": model.config.to_dict(),
        **meta,
    }
    atomic_write_json(folder / "ranksuite.json", info)


def model_folder(path: str | Path) -> Path:
    p = Path(path)
    for cand in (p, p / "model"):
        if (cand / "ranksuite.json").is_file() and (cand / "model.pt").is_file():
            return cand
    raise FileNotFoundError(
        f"{path}: no e-commerce model (expected ranksuite.json + model.pt, or RUN/model/)"
    )


def load_model(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild a saved model (model folder or run folder) in eval mode."""
    folder = model_folder(path)
    info = json.loads((folder / "ranksuite.json").read_text(encoding="utf-8"))
    if info.get("domain") != "ecommerce":
        raise ValueError(f"{folder}: not an e-commerce model (domain {info.get('domain')!r})")
    model = build_model(ModelConfig.from_dict(info["config"]))
    model.load_state_dict(torch.load(folder / "model.pt", map_location=device, weights_only=True))
    model.meta = info  # type: ignore[attr-defined]
    return model.to(device).eval()


def check_compatible(model: torch.nn.Module, prep: Prepared) -> None:
    cfg = model.config
    if prep.n_items > cfg.n_items:
        raise ValueError(
            f"the data has item ids up to {prep.n_items - 1}, the model knows {cfg.n_items - 1}: wrong --data?"
        )


# ----------------------------------------------------------------------------- the entry point


def train_ecommerce(
    data_dir: str | Path | None,
    out: str | Path,
    model_config: ModelConfig,
    config: TrainConfig | None = None,
    negatives: int = 4,
    max_positions: int | None = None,
    eval_users: int | None = 2000,
    progress: bool = True,
    prepared: Prepared | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train ``model_config.architecture`` on ``data_dir``; the model ends in ``out/model`` (best on valid AUC)."""
    config = config or TrainConfig(batch_size=1024, lr=1e-3, weight_decay=0.0, epochs=1)
    config.metric, config.greater_is_better = "auc", True
    prep = prepared or prepare(
        load_dataset(data_dir),  # type: ignore[arg-type]
        seed=config.seed,
        max_categories=model_config.max_categories,
    )
    model_config.n_items = prep.n_items
    model_config.n_categories = prep.n_categories
    model_config.n_brands = prep.n_brands
    torch.manual_seed(config.seed)
    model = build_model(model_config)
    hist = prep.split.histories("train")
    examples = training_examples(hist, prep.n_items, negatives, max_positions, seed=config.seed)
    data_meta = {
        "path": str(Path(data_dir).resolve()) if data_dir else None,
        "negatives_seed": config.seed,
        "name": prep.data.name,
        "kind": detect_dataset(data_dir) if data_dir else None,
        "users": len(hist),
        "train_examples": len(examples),
        "negatives_per_positive": negatives,
        "max_positions": max_positions,
        "split": "leave_last_out",
    }
    config.extra.update({"model": model_config.to_dict(), "data": data_meta})
    meta = {"training": config.to_dict(), "data": data_meta, "metrics": None}

    def save(m: torch.nn.Module, folder: Path) -> None:
        save_model(m, folder, meta)

    evaluate = make_evaluator(prep, model_config.max_len, eval_users, config.seed)
    step_fn = make_step_fn(examples, hist, prep.features, model_config.max_len)
    result = Trainer(model, examples, step_fn, save, out, config, evaluate).fit(
        resume=resume, progress=progress
    )
    info_path = result.model_dir / "ranksuite.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["metrics"] = {"valid": result.best, "best_step": result.best_step, "steps": result.steps}
    atomic_write_json(info_path, info)
    return result
