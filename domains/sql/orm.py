"""Outcome reward models (ORMs) for text-to-SQL: score how likely a candidate SQL is correct for its question.

Two kinds, trained and evaluated the same way (one code path here; ``sql_orm.kind`` in the saved ``ranksuite.json``
says which one a folder holds, and :func:`load_orm` reads it):

- ``cross`` — the light ORM, a cross-encoder (MiniLM by default): query side = the question and the database
  schema (``schema_text`` cut at ``SCHEMA_CHARS``), document side = the candidate; the score is the relevance logit.
  Trained with the shared trainer and losses (pointwise BCE as GradeSQL does; ``--loss contrastive`` also works).
- ``causal_lm`` — GradeSQL's ORM: SmolLM2 (+ LoRA, or full fine-tuning) answering Yes/No to "is the SQL correct?",
  prompt-masked loss, single-pass Yes/No scoring (``orm_lm.py``); the score is log P(Yes) - log P(No).

Both learn from per-question *balanced* pairs (one correct and one incorrect candidate of the same question;
questions whose candidates are all right or all wrong teach nothing about choosing and are left out). Labels come
from executing candidate and gold (``labels.py``). With ``result_preview`` the ORM also reads what the candidate
returned (row count and first rows, or the error: ``labels.result_preview``) below the SQL — not in GradeSQL's
prompt (its training data has a ``data`` field, its published prompt does not use it); an option of ours.

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
from ranksuite.domains.sql.perturb import edit_counts, gold_negatives, gold_pairs
from ranksuite.domains.sql.select import build_pools, contested, evaluate_selectors
from ranksuite.shared.device import seed_everything
from ranksuite.shared.models import CrossEncoder, load_scorer
from ranksuite.shared.models.base import read_meta
from ranksuite.shared.training import TrainConfig, Trainer, TrainResult
from ranksuite.shared.training.ranking import ranking_step_fn

SCHEMA_CHARS = 700  # cross-encoder: the question comes first; the schema is cut to fit the encoder's window
LM_SCHEMA_CHARS = 1500  # causal-LM ORM: prompts of ~600 tokens (max_length 1024)
KINDS = ("cross", "causal_lm")


def orm_settings(meta: dict[str, Any]) -> dict[str, Any]:
    """How a saved ORM reads its inputs (``kind``, ``schema_chars``, ``result_preview``), from its ``ranksuite.json``;
    folders saved before these settings existed are cross-encoders with the defaults of then."""
    cfg = meta.get("sql_orm", {})
    kind = cfg.get("kind", "cross")
    return {
        "kind": kind,
        "schema_chars": cfg.get("schema_chars", SCHEMA_CHARS if kind == "cross" else LM_SCHEMA_CHARS),
        "result_preview": bool(cfg.get("result_preview", False)),
    }


def orm_query(question: str, schema: str, kind: str = "cross") -> str:
    """The ORM's query text: the question then the schema; the LM ORM repeats the question after the schema, as
    GradeSQL's prompt does (``Question: q\nschema\nq``), so it sits next to the SQL."""
    if kind == "causal_lm":
        return f"Question: {question}\n{schema}\n{question}"
    return f"{question}\n{schema}"


def candidate_text(sql: str, preview: str | None = None) -> str:
    """What the ORM reads of a candidate: its SQL and, for ORMs trained with result previews, ``Result: ...``."""
    return sql if preview is None else f"{sql}\nResult: {preview}"


def split_databases(db_ids: Sequence[str], folds: int = 2, fold: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic database split: ``fold``-th of ``folds`` groups (by a stable hash of the id) is the test set."""
    test = [d for d in sorted(set(db_ids)) if int(hashlib.sha256(d.encode()).hexdigest(), 16) % folds == fold]
    train = [d for d in sorted(set(db_ids)) if d not in test]
    return train, test


def orm_queries(dataset: SqlDataset, kind: str = "cross", schema_chars: int | None = None) -> dict[str, str]:
    """question_id -> the ORM's query text (:func:`orm_query`) with the schema of the question's database."""
    chars = schema_chars or (SCHEMA_CHARS if kind == "cross" else LM_SCHEMA_CHARS)
    used = set(dataset.questions["db_id"].unique().to_list())
    schemas = {db: schema_text(p, max_chars=chars) for db, p in dataset.databases.items() if db in used}
    return {
        qid: orm_query(question, schemas[db], kind)
        for qid, db, question in dataset.questions.select("question_id", "db_id", "question").iter_rows()
    }


def candidate_texts(labelled: pl.DataFrame, result_preview: bool = False) -> dict[str, str]:
    """candidate_id -> :func:`candidate_text` (with the ``result_preview`` column of ``sql execute`` when asked)."""
    if result_preview and "result_preview" not in labelled.columns:
        raise ValueError("this ORM reads result previews: label the candidates with `sql execute` first")
    previews = labelled["result_preview"].to_list() if result_preview else [None] * labelled.height
    return {
        cid: candidate_text(sql, prev)
        for cid, sql, prev in zip(
            labelled["candidate_id"].to_list(), labelled["sql"].to_list(), previews, strict=True
        )
    }


def labelled_candidates(dataset: SqlDataset, progress: bool = False) -> pl.DataFrame:
    if dataset.candidates is None:
        raise ValueError(f"{dataset.name}: no candidates to learn from (pass --candidates)")
    return label_candidates(dataset.questions, dataset.candidates, dataset.databases, progress=progress)


def balanced_pairs(
    labelled: pl.DataFrame,
    queries: dict[str, str],
    label: str = "ex_match_set",
    seed: int = 42,
    result_preview: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One (correct, incorrect) pair per incorrect candidate of every mixed question (correct ones cycled), and
    the candidate texts by id."""
    rng = np.random.default_rng(seed)
    texts = candidate_texts(labelled, result_preview)
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


def score_candidates(
    model: Any,
    labelled: pl.DataFrame,
    queries: dict[str, str],
    progress: bool = False,
    result_preview: bool = False,
    batch_size: int | None = None,
    only: set[str] | None = None,
) -> pl.DataFrame:
    """A frame ``candidate_id, score, scored`` (the score is the ORM's logit: the cross-encoder's, or the LM's
    Yes/No log-odds). With ``only`` (e.g. ``select.contested(pools)``) the other candidates are not run through the
    model: score 0, ``scored`` false."""
    todo = labelled if only is None else labelled.filter(pl.col("candidate_id").is_in(list(only)))
    q = [queries[qid] for qid in todo["question_id"].to_list()]
    texts = candidate_texts(todo, result_preview)
    docs = [texts[c] for c in todo["candidate_id"].to_list()]
    kw = {"batch_size": batch_size} if batch_size else {}
    scores = model.score(q, docs, progress=progress and "scoring candidates", **kw) if docs else []
    done = dict(
        zip(todo["candidate_id"].to_list(), np.asarray(scores, dtype=np.float64).tolist(), strict=True)
    )
    ids = labelled["candidate_id"].to_list()
    return pl.DataFrame(
        {"candidate_id": ids, "score": [done.get(c, 0.0) for c in ids], "scored": [c in done for c in ids]},
        schema={"candidate_id": pl.String, "score": pl.Float64, "scored": pl.Boolean},
    )


def load_orm(path: str | Path) -> Any:
    """A saved ORM of either kind (a run folder or its ``model/``), ready to ``score(queries, candidates)``."""
    path = Path(path)
    folder = path / "model" if (path / "model").is_dir() else path
    if orm_settings(read_meta(folder))["kind"] == "causal_lm":
        from ranksuite.domains.sql.orm_lm import LmOrm

        return LmOrm.load(folder)
    return load_scorer(folder)


def pair_accuracy(pools: Sequence[Any], scores: pl.DataFrame) -> float:
    """Within-question ranking accuracy on the scored candidates: the share of (correct, incorrect) pairs of the
    same pool whose correct member scores higher (ties count half). The checkpoint-selection metric: EX on one dev
    database (16-30 questions here) moves in steps of 1/n and ties the untrained start too often to choose."""
    smap = dict(scores.filter(pl.col("scored")).select("candidate_id", "score").iter_rows())
    hits = total = 0.0
    for pool in pools:
        good = [smap[c] for c, ok in zip(pool.candidate_ids, pool.correct, strict=True) if ok and c in smap]
        bad = [
            smap[c] for c, ok in zip(pool.candidate_ids, pool.correct, strict=True) if not ok and c in smap
        ]
        for g in good:
            for b in bad:
                hits += 1.0 if g > b else 0.5 if g == b else 0.0
                total += 1
    return hits / total if total else 0.5


def train_orm(
    dataset: SqlDataset,
    out: str | Path,
    train_dbs: Sequence[str],
    dev_dbs: Sequence[str] = (),
    backbone: str = "minilm",
    loss: str = "bce",
    max_length: int | None = None,
    config: TrainConfig | None = None,
    progress: bool = True,
    *,
    result_preview: bool = False,
    lora: Any = "default",
    dev_questions: int | None = None,
    gold_edits: int = 0,
) -> TrainResult:
    """Fine-tune an ORM on the candidates of ``train_dbs``; ``dev_dbs`` pick the best checkpoint (by
    :func:`pair_accuracy`; ORM-BoN and ORM-vote EX are logged beside it).

    The kind follows the backbone: ``smollm2`` or a causal-LM folder gives GradeSQL's LM ORM (``lora``: a
    :class:`~ranksuite.shared.models.causal_lm.LoraSpec`, ``"default"`` = GradeSQL's, or None = full fine-tuning);
    anything else a cross-encoder. ``dev_questions`` caps the dev set where scoring is slow: a seeded sample of the
    dev questions whose choice a score can change (``select.contested``). ``gold_edits`` > 0 adds, for every
    training question, (gold SQL, edit) pairs with up to that many execution-checked one-token edits of the gold
    (``perturb.py``): near-miss negatives for the questions whose pools hold no wrong candidate.
    """
    from ranksuite.domains.sql.orm_lm import LmOrm, is_causal_lm, lm_step_fn
    from ranksuite.shared.models.causal_lm import LoraSpec

    if set(train_dbs) & set(dev_dbs):
        raise ValueError("train and dev databases overlap")
    kind = "causal_lm" if is_causal_lm(backbone) else "cross"
    if kind == "causal_lm" and loss != "bce":
        raise ValueError("the LM ORM learns the Yes/No answer (GradeSQL's pointwise loss): use --loss bce")
    max_length = max_length or (384 if kind == "cross" else 1024)
    config = config or TrainConfig(lr=2e-5, batch_size=16)
    config.metric = "pair_acc"
    settings = {
        "kind": kind,
        "schema_chars": SCHEMA_CHARS if kind == "cross" else LM_SCHEMA_CHARS,
        "result_preview": result_preview,
    }
    labelled = labelled_candidates(dataset, progress)
    queries = orm_queries(dataset, kind, settings["schema_chars"])
    train = labelled.filter(pl.col("db_id").is_in(list(train_dbs)))
    examples, texts = balanced_pairs(train, queries, seed=config.seed, result_preview=result_preview)
    edit_kinds: dict[str, int] = {}
    if gold_edits > 0:
        edited = gold_negatives(dataset, train["question_id"].unique().to_list(), gold_edits, config.seed)
        examples += gold_pairs(edited, queries)
        texts.update(candidate_texts(edited, result_preview))
        edit_kinds = edit_counts(edited)
    dev = labelled.filter(pl.col("db_id").is_in(list(dev_dbs)))
    if dev_questions and dev.height:  # a seeded sample of the questions whose choice a score can change
        ids = contested(build_pools(dev))
        qids = dev.filter(pl.col("candidate_id").is_in(list(ids)))["question_id"].unique(maintain_order=True)
        if len(qids) > dev_questions:
            qids = qids.sample(dev_questions, seed=config.seed)
        dev = dev.filter(pl.col("question_id").is_in(qids.to_list()))
    dev_pools = build_pools(dev) if dev.height else []
    dev_contested = contested(dev_pools)  # only these candidates' scores can change the dev EX

    def evaluate(model: Any) -> dict[str, float]:
        scores = score_candidates(model, dev, queries, result_preview=result_preview, only=dev_contested)
        res = evaluate_selectors(dev_pools, scores)
        pair_acc = pair_accuracy(dev_pools, scores)
        return {"pair_acc": pair_acc, "ex": res["orm"]["ex"], "ex_vote": res["orm_vote"]["ex"]}

    training = {
        "data": dataset.name,
        "train_dbs": list(train_dbs),
        "dev_dbs": list(dev_dbs),
        "dev_questions": len(dev_pools),
        "pairs": len(examples),
        "gold_edits": gold_edits,
        "edit_kinds": edit_kinds,
        "loss": loss,
        "schema_chars": settings["schema_chars"],
        "result_preview": result_preview,
    }
    config.extra.update(training)
    seed_everything(config.seed)  # a new head or adapter is drawn from the seeded generator: runs repeat
    if kind == "causal_lm":
        spec = LoraSpec() if lora == "default" else lora
        training["lora"] = spec is not None
        model: Any = LmOrm.from_backbone(backbone, lora=spec, max_length=max_length)
        settings["max_length"] = max_length
        step_fn = lm_step_fn(texts)
    else:
        model = CrossEncoder.from_backbone(backbone, max_length=max_length)
        step_fn = ranking_step_fn(loss, texts)
    meta = {"domain": "sql", "training": training, "sql_orm": settings}
    trainer = Trainer(
        model,
        examples,
        step_fn,
        lambda m, folder: m.save(folder, extra_meta=meta),
        out,
        config,
        evaluate if dev_pools else None,
    )
    return trainer.fit(progress=progress)


def evaluate_orm(
    model_dir: str | Path,
    dataset: SqlDataset,
    test_dbs: Sequence[str] | None = None,
    progress: bool = False,
    score_all: bool = False,
) -> dict[str, Any]:
    """EX of the ORM's choice (and of the ORM-weighted vote) beside random, ex-BoN, Maj and oracle on the same pools
    (only ``test_dbs``). ``scores``: the ORM's scores; only of the candidates that can change a choice
    (``select.contested``; the figures are exact either way) unless ``score_all``."""
    model = load_orm(model_dir)
    settings = orm_settings(model.meta)
    trained_on = set(model.meta.get("training", {}).get("train_dbs", []))
    labelled = labelled_candidates(dataset, progress)
    if test_dbs is not None:
        labelled = labelled.filter(pl.col("db_id").is_in(list(test_dbs)))
    leaked = trained_on & set(labelled["db_id"].unique().to_list())
    if leaked:
        raise ValueError(
            f"the model was trained on database(s) {', '.join(sorted(leaked))}: evaluate on others"
        )
    queries = orm_queries(dataset, settings["kind"], settings["schema_chars"])
    pools = build_pools(labelled)
    only = None if score_all else contested(pools)
    scores = score_candidates(model, labelled, queries, progress, settings["result_preview"], only=only)
    result = evaluate_selectors(pools, scores)
    return {
        **result,
        "scores": scores,
        "questions": labelled["question_id"].n_unique(),
        "databases": sorted(labelled["db_id"].unique().to_list()),
    }
