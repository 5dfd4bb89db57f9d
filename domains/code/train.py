"""Training code rankers with the shared trainer, on problem-level splits.

Problems, not candidates, are split: a ranker evaluated on another sample of a problem it trained on has seen the
problem's tests fail and pass, which says nothing about new problems. Every problem has a key
``dataset:task_id`` (MBPP and APPS ids are both integers) and a stable hash puts it on the test side with
probability ``holdout``, so the same problems are held out by every run and every machine; a further ``dev_share``
of the training problems picks the best checkpoint (ranked pass@1). The model's ``ranksuite.json`` records the
training and dev problem keys, and evaluation refuses them.

Training candidates: identical programs of a problem count once (CodeGen pools repeat many samples), and at most
``max_per_problem`` per problem, half of them correct where there are enough, so that a short budget still sees
many problems and both sides of each. Class weights come from the label counts of what is trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ranksuite.domains.code.data import CodeDataset
from ranksuite.domains.code.inputs import feedback_of, shown_code
from ranksuite.domains.code.model import (
    RankerConfig,
    build_ranker,
    error_type_vocab,
    type_index,
)
from ranksuite.shared.device import seed_everything
from ranksuite.shared.losses import balanced_class_weights
from ranksuite.shared.training import TrainConfig, Trainer, TrainResult


def problem_key(dataset: str, task_id: str) -> str:
    return f"{dataset}:{task_id}"


def hash_share(key: str, salt: str = "") -> float:
    """A stable number in [0, 1) for a key (sha256), the same on every machine and Python version."""
    return int(hashlib.sha256(f"{salt}{key}".encode()).hexdigest()[:12], 16) / 16**12


def split_problems(keys: Sequence[str], holdout: float = 0.5) -> tuple[list[str], list[str]]:
    """``(train, test)`` problem keys: a key is held out when its hash share is below ``holdout``."""
    unique = sorted(set(keys))
    test = [k for k in unique if hash_share(k) < holdout]
    return [k for k in unique if hash_share(k) >= holdout], test


def dev_problems(train_keys: Sequence[str], share: float) -> list[str]:
    """A ``share`` of the training problems kept aside for choosing the checkpoint (a second, salted hash)."""
    return [k for k in train_keys if hash_share(k, "dev:") < share]


def candidate_table(
    problems: pl.DataFrame, candidates: pl.DataFrame, pools: Sequence[str] | None = None
) -> pl.DataFrame:
    """Candidates joined with their problem: ``key``, ``dataset``, ``problem`` (the prompt), the problem's test
    and generation prompt, and ``program_test`` (the test their labels were computed with)."""
    if pools:
        candidates = candidates.filter(pl.col("pool").is_in(list(pools)))
    info = problems.select(
        "task_id",
        "dataset",
        pl.col("prompt").alias("problem"),
        pl.col("generation_prompt"),
        pl.col("test").alias("problem_test"),
    )
    table = candidates.join(info, on="task_id", how="inner")
    return table.with_columns(
        (pl.col("dataset") + ":" + pl.col("task_id")).alias("key"),
        pl.coalesce("test", "problem_test").alias("program_test"),
    )


def dataset_table(datasets: Sequence[CodeDataset], pools: Sequence[str] | None = None) -> pl.DataFrame:
    frames = []
    for ds in datasets:
        for frame in ds.pools.values():
            frames.append(candidate_table(ds.problems, frame, pools))
    frames = [f for f in frames if f.height]
    if not frames:
        raise ValueError("no candidates in the given data (check --pools)")
    return pl.concat(frames, how="diagonal_relaxed")


def with_views(table: pl.DataFrame) -> pl.DataFrame:
    """Add the shown code and the feedback targets (``shown``, ``offset``, ``feedback``, ``fb_type``,
    ``fb_location``, ``fb_line``) and ``target`` (the class; -1 = failed, how unknown; null = never run)."""
    shown, offsets, texts, types, locations, lines, targets = [], [], [], [], [], [], []
    for row in table.iter_rows(named=True):
        view = shown_code(row["code"], (row["generation_prompt"], row["problem"]))
        fb = feedback_of(row, view, row["program_test"])
        shown.append(view.text)
        offsets.append(view.offset)
        texts.append(fb.text)
        types.append(fb.error_type)
        locations.append(fb.location)
        lines.append(fb.line)
        label = row["label"]
        targets.append(label if label is not None else (-1 if row["passed"] is False else None))
    return table.with_columns(
        pl.Series("shown", shown, pl.String),
        pl.Series("offset", offsets, pl.Int64),
        pl.Series("feedback", texts, pl.String),
        pl.Series("fb_type", types, pl.String),
        pl.Series("fb_location", locations, pl.Int64),
        pl.Series("fb_line", lines, pl.Int64),
        pl.Series("target", targets, pl.Int64),
    )


def sample_per_problem(table: pl.DataFrame, max_per_problem: int | None, seed: int = 42) -> pl.DataFrame:
    """One row per distinct program of a problem, then at most ``max_per_problem``, half correct if possible.

    Each problem's draw depends only on its own candidates and the seed, so a run on fewer datasets trains on a
    subset of what a run on more of them trains on."""
    table = table.unique(subset=["key", "shown"], keep="first", maintain_order=True)
    if not max_per_problem:
        return table
    keep: list[int] = []
    indexed = table.with_row_index("_i")
    for (key,), group in indexed.group_by("key", maintain_order=True):
        rng = np.random.default_rng(
            [seed, int(hash_share(str(key), "sample:") * 2**32)]
        )  # per problem: stable
        good = group.filter(pl.col("target") == 0)["_i"].to_list()
        bad = group.filter(pl.col("target") != 0)["_i"].to_list()
        rng.shuffle(good)
        rng.shuffle(bad)
        n_good = min(len(good), max(max_per_problem // 2, max_per_problem - len(bad)))
        keep += good[:n_good] + bad[: max_per_problem - n_good]
    return table[sorted(keep)]


def examples_of(table: pl.DataFrame, vocab: Sequence[str]) -> list[dict[str, Any]]:
    """Training examples for :meth:`loss` of either ranker family."""
    return [
        {
            "problem": r["problem"],
            "code": r["shown"],
            "label": r["target"],
            "feedback": r["feedback"],
            "error_type": type_index(vocab, r["fb_type"]) if vocab else -100,
            "location": r["fb_location"],
            "line": r["fb_line"],
        }
        for r in table.iter_rows(named=True)
    ]


def train_ranker(
    datasets: Sequence[CodeDataset],
    out: str | Path,
    config: RankerConfig,
    train_config: TrainConfig | None = None,
    pools: Sequence[str] | None = None,
    holdout: float = 0.5,
    dev_share: float = 0.1,
    max_per_problem: int | None = 16,
    dev_max_per_problem: int = 12,
    progress: bool = True,
) -> TrainResult:
    """Train a code ranker on the training problems of ``datasets`` (see the module docstring)."""
    from ranksuite.domains.code.evaluate import score_table
    from ranksuite.shared.metrics.code import mean_pass_at_k

    train_config = train_config or TrainConfig(lr=3e-5, batch_size=16)
    train_config.metric, train_config.greater_is_better = "pass@1", True
    table = with_views(dataset_table(datasets, pools)).filter(pl.col("target").is_not_null())
    train_keys, test_keys = split_problems(table["key"].to_list(), holdout)
    dev_keys = dev_problems(train_keys, dev_share) if dev_share > 0 else []
    fit_keys = sorted(set(train_keys) - set(dev_keys))
    if not fit_keys:
        raise ValueError("no training problems left after the holdout and dev split")
    train = sample_per_problem(
        table.filter(pl.col("key").is_in(fit_keys)), max_per_problem, train_config.seed
    )
    dev = sample_per_problem(
        table.filter(pl.col("key").is_in(dev_keys)), dev_max_per_problem, train_config.seed
    )
    counts = [int((train["target"] == c).sum()) for c in range(3)]
    encoder_rankef = config.model == "rankef" and config.family == "encoder"
    vocab = error_type_vocab(train["fb_type"].to_list()) if encoder_rankef else []
    config = replace(config, class_weights=balanced_class_weights(counts), error_types=vocab)
    examples = examples_of(train, vocab)

    def evaluate(model: Any) -> dict[str, float]:
        scored = score_table(model, dev, batch_size=32)
        groups = [
            (g["p_correct"].to_numpy(), g["passed"].to_numpy())
            for _, g in scored.group_by("key", maintain_order=True)
        ]
        return mean_pass_at_k(groups, (1,))

    meta = {
        "domain": "code",
        "training": {
            "datasets": [ds.name for ds in datasets],
            "pools": list(pools) if pools else sorted({p for ds in datasets for p in ds.pools}),
            "holdout": holdout,
            "train_problems": fit_keys,
            "dev_problems": dev_keys,
            "held_out_problems": test_keys,
            "examples": len(examples),
            "label_counts": dict(zip(("correct", "execution_error", "intent_error"), counts, strict=True)),
            "failed_unknown_kind": int((train["target"] == -1).sum()),
            "max_per_problem": max_per_problem,
        },
    }
    train_config.extra.update({k: v for k, v in meta["training"].items() if not k.endswith("_problems")})
    train_config.extra["ranker"] = {
        "model": config.model,
        "backbone": config.backbone,
        "max_length": config.max_length,
    }
    seed_everything(train_config.seed)  # the new heads are drawn from the seeded generator: runs repeat
    ranker = build_ranker(config)
    trainer = Trainer(
        ranker,
        examples,
        lambda model, batch: model.loss(batch),
        lambda model, folder: model.save(folder, extra_meta=meta),
        out,
        train_config,
        evaluate if dev.height else None,
    )
    return trainer.fit(progress=progress)
