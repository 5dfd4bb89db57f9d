"""Step 5: fine-tune the base ranker on the synthetic groups with the shared trainer.

- bi-encoder bases (``minilm-bi`` or a bi-encoder folder): in-batch InfoNCE, each query's own 4 hard negatives plus
  every other document of the batch (the shared ``infonce`` loss);
- cross-encoder bases (a folder, e.g. one ``ranksuite ir train`` made on another collection): localized contrastive
  loss over 1 positive + 4 negatives (``contrastive``);
- ``teacher`` (GPL-style, beyond the paper): a cross-encoder scores every (query, document) of the groups once
  (``teacher.parquet``), and the student learns the teacher's margins with Margin-MSE instead of the hard labels;
- ``round_trip`` (beyond the paper): keep a synthetic query only if its source document is in BM25's top-k for it.

No labelled dev set exists on the target, so there is no checkpoint selection: as in the paper, the model after the
training budget (1 epoch by default) is the adapted model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import polars as pl

from ranksuite.shared.data.atomic import atomic_write_json
from ranksuite.shared.data.beir import doc_text_column
from ranksuite.shared.device import seed_everything
from ranksuite.shared.training.config import TrainConfig
from ranksuite.shared.training.groups import read_groups, write_groups
from ranksuite.shared.training.ranking import group_examples, ranking_step_fn
from ranksuite.shared.training.trainer import Trainer


def adapt_name(base: str, arch: str, teacher: str | None, round_trip: int | None) -> str:
    """Default folder name under ``RUN/adapt/``: ``bi``, ``cross``, ``bi-gpl``, ``bi-rt20``, ..."""
    return arch + ("-gpl" if teacher else "") + (f"-rt{round_trip}" if round_trip else "")


def base_architecture(base: str) -> str:
    """``bi`` for ``<backbone>-bi``, else what the folder's ``ranksuite.json`` says (without loading weights)."""
    from ranksuite.shared.models.base import read_meta
    from ranksuite.shared.training.ir_train import resolve_init

    if not Path(base).is_dir():
        return "bi" if base.endswith("-bi") else "model"
    return str(read_meta(resolve_init(base)).get("architecture", "model"))


def load_base(base: str, device: str | None = None):
    """``minilm-bi`` / ``mpnet-bi`` or a model (or run) folder, through the shared spec loader."""
    from ranksuite.shared.retrieval.pipeline import load_spec
    from ranksuite.shared.training.ir_train import resolve_init

    spec = str(resolve_init(base)) if Path(base).is_dir() else base
    model = load_spec(spec, device)
    if isinstance(model, str):
        raise ValueError(f"--base {base}: BM25 has nothing to fine-tune; use minilm-bi or a model folder")
    return model


def adapt_ranker(
    corpus: pl.DataFrame,
    groups_path: str | Path,
    out: str | Path,
    base: str,
    teacher: str | None = None,
    round_trip: int | None = None,
    config: TrainConfig | None = None,
    group_size: int = 5,
    teacher_batch_size: int = 32,
    progress: bool = False,
) -> dict[str, Any]:
    """Train ``base`` on ``groups_path`` into ``out`` (a trainer run folder; the model is ``out/model``)."""
    from ranksuite.shared.distill.teacher import score_groups
    from ranksuite.shared.models import load_scorer
    from ranksuite.shared.training.ir_train import resolve_init

    out = Path(out)
    config = config or TrainConfig(epochs=1.0, batch_size=16, lr=2e-5)
    t0 = time.time()
    groups = read_groups(groups_path)
    total = groups.height
    if round_trip:
        groups = groups.filter(pl.col("source_rank").is_not_null() & (pl.col("source_rank") <= round_trip))
    if groups.height == 0:
        raise ValueError(f"no training groups left (round-trip top-{round_trip} kept none of {total})")
    if config.batch_size > groups.height:
        config.batch_size = groups.height
    doc_texts = dict(zip(corpus["docno"].to_list(), doc_text_column(corpus).to_list(), strict=True))
    out.mkdir(parents=True, exist_ok=True)
    teacher_s = 0.0
    if teacher:
        t1 = time.time()
        teacher_file = out / "teacher.parquet"
        if teacher_file.exists():
            groups = read_groups(teacher_file, need_teacher=True)
        else:
            scorer = load_scorer(resolve_init(teacher)).to_device(config.device)
            groups = score_groups(scorer, groups, doc_texts, teacher_batch_size, progress=progress)
            write_groups(groups, teacher_file)
            del scorer
        teacher_s = time.time() - t1
    seed_everything(config.seed)
    model = load_base(base, config.device)
    loss = "margin-mse" if teacher else ("infonce" if model.supports_in_batch else "contrastive")
    examples = group_examples(groups, group_size)
    data_hash = hashlib.sha256(
        "".join(f"{e['query']}|{','.join(e['docnos'])}" for e in examples).encode()
    ).hexdigest()[:16]
    meta = {
        "domain": "duqgen",
        "training": {
            "data": "synthetic queries (DUQGen)",
            "groups_file": str(groups_path),
            "base": base,
            "loss": loss,
            "teacher": teacher,
            "round_trip": round_trip,
            "groups": len(examples),
            "group_size": group_size,
            "data_hash": data_hash,
        },
    }
    config.extra.update({"base": base, "loss": loss, "teacher": teacher, "round_trip": round_trip})
    trainer = Trainer(
        model,
        examples,
        ranking_step_fn(loss, doc_texts),
        lambda m, folder: m.save(folder, extra_meta=meta),
        out,
        config,
    )
    result = trainer.fit(progress=progress)
    summary = {
        "base": base,
        "architecture": model.architecture,
        "loss": loss,
        "teacher": teacher,
        "round_trip": round_trip,
        "groups_total": total,
        "groups_used": len(examples),
        "group_size": group_size,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "steps": result.steps,
        "samples_per_s": round(result.samples_per_s, 3),
        "teacher_seconds": round(teacher_s, 2),
        "seconds": round(time.time() - t0, 2),
        "model": str(result.model_dir),
    }
    atomic_write_json(out / "adapt.json", summary)
    return summary


def adapt_cached(out: str | Path, force: bool, **kwargs: Any) -> dict[str, Any]:
    """:func:`adapt_ranker` unless ``out/model`` and ``out/adapt.json`` already exist."""
    out = Path(out)
    if not force and (out / "model").is_dir() and (out / "adapt.json").exists():
        return {**json.loads((out / "adapt.json").read_text()), "cached": True}
    if force and out.exists():
        shutil.rmtree(out)
    return {**adapt_ranker(out=out, **kwargs), "cached": False}
