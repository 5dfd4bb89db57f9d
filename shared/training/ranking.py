"""Glue between ranking data and the trainer: the step function and the dev-set evaluator for text rankers.

Every loss in :mod:`ranksuite.shared.losses` trains every scorer through one step function: the scorer's
``group_scores`` gives [B, G] (or [B, B*G] in-batch for ``infonce``), the loss compares it with its target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import torch

from ranksuite.shared.data.beir import Collection
from ranksuite.shared.losses import NEEDS_TEACHER, build_loss
from ranksuite.shared.metrics.ir import evaluate_run
from ranksuite.shared.models.base import Scorer
from ranksuite.shared.retrieval.rerank import rerank


def group_examples(groups: pl.DataFrame, group_size: int | None = None) -> list[dict[str, Any]]:
    """Rows of a groups frame as dicts, cut to ``group_size`` documents (positive + first negatives)."""
    cols = ["query", "docnos"] + (["teacher"] if "teacher" in groups.columns else [])
    out = []
    for row in groups.select(cols).iter_rows(named=True):
        if group_size:
            row["docnos"] = row["docnos"][:group_size]
            if "teacher" in row:
                row["teacher"] = row["teacher"][:group_size]
        out.append(row)
    return out


def own_group_scores(scores: torch.Tensor, g: int) -> torch.Tensor:
    """From an in-batch ``[B, B*G]`` score matrix, each query's own group ``[B, G]`` (its diagonal blocks)."""
    b = scores.shape[0]
    cols = torch.arange(b, device=scores.device).unsqueeze(1) * g + torch.arange(g, device=scores.device)
    return scores.gather(1, cols)


def check_kd_loss(loss_name: str, kd_loss: str | None) -> None:
    """A ``kd_loss`` must be a teacher loss, added to a label loss (raises ``ValueError`` naming the choices)."""
    if kd_loss is None:
        return
    if not NEEDS_TEACHER.get(kd_loss, False):
        teachers = ", ".join(k for k, v in NEEDS_TEACHER.items() if v)
        raise ValueError(f"--kd-loss {kd_loss!r} is not a teacher loss; choose one of {teachers}")
    if NEEDS_TEACHER.get(loss_name, False):
        raise ValueError(f"--kd-loss adds a teacher term to a label loss; {loss_name!r} is a teacher loss")


def ranking_step_fn(
    loss_name: str,
    doc_texts: dict[str, str],
    kd_loss: str | None = None,
    kd_weight: float = 1.0,
    **loss_kwargs: Any,
) -> Callable[[Scorer, list[dict[str, Any]]], tuple[torch.Tensor, dict[str, float]]]:
    """A trainer step for ``loss_name`` over group examples (``query``, ``docnos``[, ``teacher``]).

    ``kd_loss`` (a teacher loss: margin-mse | kl | ranknet) adds ``kd_weight`` times that loss on the same
    forward pass to the label loss ``loss_name``: the student keeps learning from the labels and learns the
    teacher's margins on top (TAS-B-style dual supervision). Without it a KD run sees only the teacher, which
    cannot lift a student that is already as good as its teacher. With ``infonce`` the KD term reads each
    query's own group out of the in-batch matrix, so both terms cost one forward pass.
    """
    loss_fn = build_loss(loss_name, **loss_kwargs)
    in_batch = loss_name == "infonce"
    needs_teacher = NEEDS_TEACHER[loss_name]
    check_kd_loss(loss_name, kd_loss)
    kd_fn = build_loss(kd_loss) if kd_loss else None

    def step(model: Scorer, examples: list[dict[str, Any]]) -> tuple[torch.Tensor, dict[str, float]]:
        if in_batch and not model.supports_in_batch:
            raise ValueError(f"loss 'infonce' needs a bi-encoder or ColBERT scorer, not {model.architecture}")
        before = model.tokens_seen
        queries = [ex["query"] for ex in examples]
        docs = [doc_texts[d] for ex in examples for d in ex["docnos"]]
        scores = model.group_scores(queries, docs, in_batch=in_batch).float()
        g = len(examples[0]["docnos"])
        if (needs_teacher or kd_fn is not None) and "teacher" not in examples[0]:
            raise ValueError(f"loss {kd_loss or loss_name!r} needs teacher scores (--teacher-scores FILE)")
        teacher = (
            torch.tensor([ex["teacher"] for ex in examples], dtype=torch.float32, device=scores.device)
            if "teacher" in examples[0]
            else None
        )
        if needs_teacher:
            # the student's scores on the teacher's (logit) scale
            loss = loss_fn(scores * model.logit_scale, teacher)
        elif loss_name == "bce":
            targets = torch.zeros(len(examples), g, device=scores.device)
            targets[:, 0] = 1.0
            loss = loss_fn(scores, targets)
        else:
            loss = loss_fn(scores, None)
        stats = {"tokens": float(model.tokens_seen - before)}
        if kd_fn is not None:
            own = own_group_scores(scores, g) if in_batch else scores
            kd = kd_fn(own * model.logit_scale, teacher)
            stats.update(label_loss=float(loss.detach()), kd_loss=float(kd.detach()))
            loss = loss + kd_weight * kd
        return loss, stats

    return step


def rerank_evaluator(
    collection: Collection,
    first_stage: pl.DataFrame,
    k: int = 100,
    max_queries: int | None = None,
    batch_size: int = 64,
    seed: int = 0,
) -> Callable[[Scorer], dict[str, float]]:
    """Evaluate a scorer by reranking the first stage's top-``k`` on (a fixed sample of) the dev queries."""
    qids = collection.queries["qid"].to_list()
    if max_queries and len(qids) > max_queries:
        qids = pl.Series(qids).sample(max_queries, seed=seed).sort().to_list()
    run = first_stage.filter(pl.col("qid").is_in(qids))
    qrels = collection.qrels.filter(pl.col("qid").is_in(qids))
    queries, docs = collection.query_texts(), collection.doc_texts()

    def evaluate(model: Scorer) -> dict[str, float]:
        return evaluate_run(rerank(model, run, queries, docs, k=k, batch_size=batch_size), qrels)

    return evaluate
