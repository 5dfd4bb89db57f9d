"""Outcome reward models (ORMs) for text-to-SQL: score how likely a candidate SQL is correct for its question.

The light ORM is a cross-encoder (MiniLM by default): query side = the question and the database schema
(``schema_text``, the same serialisation for training and scoring), document side = the candidate SQL; the score is
the relevance logit. It trains with the shared trainer and losses on per-question *balanced* pairs (one correct and
one incorrect candidate of the same question; questions whose candidates are all right or all wrong teach nothing
about choosing and are left out), with pointwise BCE as GradeSQL does (``--loss contrastive`` also works).
Labels come from executing candidate and gold (``labels.py``). The SmolLM2 + LoRA ORM of GradeSQL (prompt-masked
Yes/No) is not built yet.

Splits are by database: train on some databases, test on others, never the same one (``split_databases``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ranksuite.domains.sql.data import SqlDataset, schema_text
from ranksuite.domains.sql.labels import label_candidates
from ranksuite.domains.sql.select import build_pools, evaluate_selectors
from ranksuite.shared.device import seed_everything
from ranksuite.shared.models import CrossEncoder, Scorer, load_scorer
from ranksuite.shared.training import TrainConfig, Trainer, TrainResult
from ranksuite.shared.training.ranking import ranking_step_fn

SCHEMA_CHARS = 700  # the question comes first; the schema is cut to fit the cross-encoder's window


def split_databases(db_ids: Sequence[str], folds: int = 2, fold: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic database split: ``fold``-th of ``folds`` groups (by a stable hash of the id) is the test set."""
    test = [d for d in sorted(set(db_ids)) if int(hashlib.sha256(d.encode()).hexdigest(), 16) % folds == fold]
    train = [d for d in sorted(set(db_ids)) if d not in test]
    return train, test


def orm_queries(dataset: SqlDataset) -> dict[str, str]:
    """question_id -> the ORM's query text: the question, then the schema of its database."""
    schemas = {db: schema_text(path, max_chars=SCHEMA_CHARS) for db, path in dataset.databases.items()}
    return {
        qid: f"{question}\n{schemas[db]}"
        for qid, db, question in dataset.questions.select("question_id", "db_id", "question").iter_rows()
    }


def labelled_candidates(dataset: SqlDataset, progress: bool = False) -> pl.DataFrame:
    if dataset.candidates is None:
        raise ValueError(f"{dataset.name}: no candidates to learn from (pass --candidates)")
    return label_candidates(dataset.questions, dataset.candidates, dataset.databases, progress=progress)


def balanced_pairs(
    labelled: pl.DataFrame, queries: dict[str, str], label: str = "ex_match_set", seed: int = 42
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One (correct, incorrect) pair per incorrect candidate of every mixed question (correct ones cycled)."""
    rng = np.random.default_rng(seed)
    texts = dict(labelled.select("candidate_id", "sql").iter_rows())
    examples: list[dict[str, Any]] = []
    for (qid,), group in labelled.filter(pl.col(label).is_not_null()).group_by(
        "question_id", maintain_order=True
    ):
        good = group.filter(pl.col(label))["candidate_id"].to_list()
        bad = group.filter(~pl.col(label))["candidate_id"].to_list()
        if not good or not bad:
            continue
        rng.shuffle(good)
        for i, neg in enumerate(bad):
            examples.append({"query": queries[qid], "docnos": [good[i % len(good)], neg]})
    if not examples:
        raise ValueError("no question has both a correct and an incorrect candidate: nothing to learn from")
    return examples, texts


def score_candidates(model: Scorer, labelled: pl.DataFrame, queries: dict[str, str], progress: bool = False):
    """A frame ``candidate_id, score`` (the ORM's logit)."""
    q = [queries[qid] for qid in labelled["question_id"].to_list()]
    scores = model.score(q, labelled["sql"].to_list(), progress=progress and "scoring candidates")
    return pl.DataFrame({"candidate_id": labelled["candidate_id"], "score": scores.astype(np.float64)})


def train_orm(
    dataset: SqlDataset,
    out: str | Path,
    train_dbs: Sequence[str],
    dev_dbs: Sequence[str] = (),
    backbone: str = "minilm",
    loss: str = "bce",
    max_length: int = 384,
    config: TrainConfig | None = None,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a cross-encoder ORM on the candidates of ``train_dbs``; ``dev_dbs`` pick the best checkpoint (EX)."""
    if set(train_dbs) & set(dev_dbs):
        raise ValueError("train and dev databases overlap")
    config = config or TrainConfig(lr=2e-5, batch_size=16, metric="ex")
    config.metric = "ex"
    labelled = labelled_candidates(dataset, progress)
    queries = orm_queries(dataset)
    train = labelled.filter(pl.col("db_id").is_in(list(train_dbs)))
    examples, texts = balanced_pairs(train, queries, seed=config.seed)
    dev = labelled.filter(pl.col("db_id").is_in(list(dev_dbs)))
    dev_pools = build_pools(dev) if dev.height else []

    def evaluate(model: Scorer) -> dict[str, float]:
        return {"ex": evaluate_selectors(dev_pools, score_candidates(model, dev, queries))["orm"]["ex"]}

    meta = {
        "domain": "sql",
        "training": {
            "data": dataset.name,
            "train_dbs": list(train_dbs),
            "dev_dbs": list(dev_dbs),
            "pairs": len(examples),
            "loss": loss,
            "schema_chars": SCHEMA_CHARS,
        },
    }
    config.extra.update(meta["training"])
    seed_everything(config.seed)  # the new head is drawn from the seeded generator: runs repeat
    model = CrossEncoder.from_backbone(backbone, max_length=max_length)
    trainer = Trainer(
        model,
        examples,
        ranking_step_fn(loss, texts),
        lambda m, folder: m.save(folder, extra_meta=meta),
        out,
        config,
        evaluate if dev_pools else None,
    )
    return trainer.fit(progress=progress)


def evaluate_orm(
    model_dir: str | Path, dataset: SqlDataset, test_dbs: Sequence[str] | None = None, progress: bool = False
) -> dict[str, Any]:
    """EX of the ORM's choice beside random, ex-BoN, Maj and oracle on the same pools (only ``test_dbs``)."""
    model = load_scorer(Path(model_dir) / "model" if (Path(model_dir) / "model").is_dir() else model_dir)
    trained_on = set(model.meta.get("training", {}).get("train_dbs", []))
    labelled = labelled_candidates(dataset, progress)
    if test_dbs is not None:
        labelled = labelled.filter(pl.col("db_id").is_in(list(test_dbs)))
    leaked = trained_on & set(labelled["db_id"].unique().to_list())
    if leaked:
        raise ValueError(
            f"the model was trained on database(s) {', '.join(sorted(leaked))}: evaluate on others"
        )
    scores = score_candidates(model, labelled, orm_queries(dataset), progress)
    result = evaluate_selectors(build_pools(labelled), scores)
    return {
        **result,
        "questions": labelled["question_id"].n_unique(),
        "databases": sorted(labelled["db_id"].unique().to_list()),
    }
