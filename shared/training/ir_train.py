"""Train a text ranker on a BEIR collection: mine groups, (optionally) read teacher scores, fit, save.

This is what ``ranksuite ir train`` runs, and the pattern every domain's ``train`` follows: canonical data in,
groups, the shared step function and evaluator, the shared trainer, a self-describing model folder out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ranksuite.shared.data.beir import Collection, load_beir
from ranksuite.shared.device import seed_everything
from ranksuite.shared.losses import NEEDS_TEACHER
from ranksuite.shared.models import Scorer, build_scorer, load_scorer
from ranksuite.shared.retrieval.pipeline import first_stage
from ranksuite.shared.training.config import TrainConfig
from ranksuite.shared.training.groups import mine_groups, read_groups, write_groups
from ranksuite.shared.training.ranking import (
    check_kd_loss,
    group_examples,
    ranking_step_fn,
    rerank_evaluator,
)
from ranksuite.shared.training.trainer import Trainer, TrainResult


@dataclass
class RankerSpec:
    """What to train: architecture + backbone for a fresh model, or ``init`` (a run or model folder) to continue."""

    arch: str = "cross"
    backbone: str | None = "minilm"
    init: str | None = None
    loss: str = "contrastive"
    group_size: int = 8
    kd_loss: str | None = None  # a teacher loss added to a label loss (see ranking_step_fn)
    kd_weight: float = 1.0
    max_length: int = 256


def split_dev(collection: Collection, fraction: float, seed: int) -> tuple[Collection, Collection]:
    """Hold out ``fraction`` of the training queries as a dev set (for collections without a dev split)."""
    qids = collection.queries["qid"].sort()
    n_dev = max(1, round(fraction * len(qids)))
    dev = set(qids.sample(n_dev, seed=seed).to_list())
    parts = []
    for keep in (lambda q: q not in dev, lambda q: q in dev):
        ids = [q for q in qids.to_list() if keep(q)]
        parts.append(
            Collection(
                collection.name,
                collection.root,
                collection.split,
                collection.corpus,
                collection.queries.filter(pl.col("qid").is_in(ids)),
                collection.qrels.filter(pl.col("qid").is_in(ids)),
            )
        )
    return parts[0], parts[1]


def resolve_init(init: str) -> Path:
    """A run folder's ``model/`` or a model folder itself."""
    p = Path(init)
    return p / "model" if (p / "model").is_dir() else p


def build_model(spec: RankerSpec) -> Scorer:
    if spec.init:
        return load_scorer(resolve_init(spec.init))
    kwargs = {"max_length": spec.max_length}
    return build_scorer(spec.arch, spec.backbone, **kwargs)


def train_ranker(
    data: str | Path,
    out: str | Path,
    spec: RankerSpec,
    config: TrainConfig,
    split: str = "train",
    dev_split: str | None = None,
    dev_fraction: float = 0.1,
    groups_file: str | Path | None = None,
    n_negatives: int | None = None,
    depth: int = 200,
    negatives_from: str = "bm25",
    sampling: str = "random",
    dev_queries: int | None = 200,
    dev_top_k: int = 100,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a ranker; returns the trainer's result (the model folder is ``out/model``).

    Without ``groups_file``, groups are mined here: one per (training query, relevant document), with negatives
    sampled (``sampling``: random | top) from the top ``depth`` of ``negatives_from`` (``bm25``, ``minilm-bi`` or a
    bi-encoder folder), and written to ``out/groups.parquet`` for inspection and reuse.
    """
    out = Path(out)
    train = load_beir(data, split)
    if dev_split:
        dev = load_beir(data, dev_split, corpus=train.corpus)
    else:
        train, dev = split_dev(train, dev_fraction, config.seed)
    if spec.loss not in NEEDS_TEACHER:
        raise ValueError(f"unknown loss {spec.loss!r}; valid names: {', '.join(sorted(NEEDS_TEACHER))}")
    check_kd_loss(spec.loss, spec.kd_loss)  # before any mining or model loading
    needs_teacher = NEEDS_TEACHER[spec.loss] or spec.kd_loss is not None
    if groups_file:
        groups = read_groups(groups_file, need_teacher=needs_teacher)
        overlap = set(groups["qid"].to_list()) & set(dev.queries["qid"].to_list())
        groups = groups.filter(~pl.col("qid").is_in(list(overlap)))  # never train on dev queries
    else:
        if needs_teacher:
            what = f"--kd-loss {spec.kd_loss!r}" if spec.kd_loss else f"loss {spec.loss!r}"
            raise ValueError(f"{what} needs --teacher-scores (a groups file scored by a teacher)")
        bm25_train = first_stage("bm25", train, k=depth).run
        groups = mine_groups(
            train, bm25_train, n_negatives or spec.group_size - 1, depth=depth, seed=config.seed
        )
        write_groups(groups, out / "groups.parquet")
    dev_first = first_stage("bm25", dev, k=dev_top_k).run
    seed_everything(config.seed)  # new heads are initialised from the seed (and alike on every torchrun rank)
    model = build_model(spec)
    doc_texts = train.doc_texts()
    examples = group_examples(groups, spec.group_size)
    data_hash = hashlib.sha256(
        "".join(f"{e['query']}|{','.join(e['docnos'])}" for e in examples).encode()
    ).hexdigest()[:16]
    meta = {
        "domain": "ir",
        "training": {
            "data": str(data),
            "split": split,
            "dataset": train.name,
            "loss": spec.loss,
            "kd_loss": spec.kd_loss,
            "kd_weight": spec.kd_weight if spec.kd_loss else None,
            "groups": len(examples),
            "group_size": spec.group_size,
            "init": spec.init,
            "data_hash": data_hash,
        },
    }

    def save(m: Scorer, folder: Path) -> None:
        m.save(folder, extra_meta=meta)

    config.extra.update({"spec": spec.__dict__, "data": str(data), "split": split})
    trainer = Trainer(
        model,
        examples,
        ranking_step_fn(spec.loss, doc_texts, kd_loss=spec.kd_loss, kd_weight=spec.kd_weight),
        save,
        out,
        config,
        evaluate=rerank_evaluator(dev, dev_first, k=dev_top_k, max_queries=dev_queries),
    )
    return trainer.fit(resume=resume, progress=progress)
