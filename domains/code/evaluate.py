"""Ranked pass@k of a code ranker on unseen problems, beside execution-free baselines on the same pools.

For every problem the pool's candidates are ordered by the ranker's P(correct) and judged on their top k (tied
scores broken at random, in expectation). Beside it, on exactly the same candidates:

- ``random``: the expected pass@k of a random order (the unbiased estimator), what sampling k programs gives;
- ``frequency``: programs written the same way more often first (identical code after dropping comments and
  blank lines) — majority voting on the surface form, the strongest baseline that runs nothing;
- ``oracle``: 1 when the pool holds a correct program: the ceiling of any ranker.

A model never ranks problems it trained on (or picked its checkpoint on): they are refused, or dropped with
``unseen_only``. ``max_per_problem`` evaluates on a fixed, hash-chosen subset of each pool (CPU budgets); every
row is computed on that subset.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ranksuite.domains.code.data import CLASS_NAMES
from ranksuite.domains.code.train import candidate_table, hash_share, with_views
from ranksuite.shared.metrics.code import mean_pass_at_k, oracle_pass_at_k

KS = (1, 2, 5)


def normalise_code(code: str) -> str:
    """Code without comments, blank lines and trailing spaces (for the frequency baseline)."""
    try:
        tokens = [
            t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type != tokenize.COMMENT
        ]
        code = tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        code = re.sub(r"#[^\n]*", "", code)
    return "\n".join(ln.rstrip() for ln in code.splitlines() if ln.strip())


def subsample(table: pl.DataFrame, max_per_problem: int | None) -> pl.DataFrame:
    """At most ``max_per_problem`` candidates per problem, chosen by a stable hash of the candidate id."""
    if not max_per_problem:
        return table
    ranked = table.with_columns(
        pl.col("candidate_id")
        .map_elements(lambda c: hash_share(c, "eval:"), return_dtype=pl.Float64)
        .alias("_h")
    )
    return (
        ranked.with_columns(pl.col("_h").rank("ordinal").over("key").alias("_r"))
        .filter(pl.col("_r") <= max_per_problem)
        .drop("_h", "_r")
    )


def score_table(
    model: Any, table: pl.DataFrame, batch_size: int = 32, progress: bool | str = False
) -> pl.DataFrame:
    """``table`` (with ``key``, ``problem``, ``shown``) plus ``p_correct``, ``p_execution_error``,
    ``p_intent_error``, ``predicted`` (and the heads' ``predicted_feedback`` when the model has them).

    Each distinct model input is scored once: programs the model cannot tell apart (the same tokens after its
    tokenizer and the cut) share one score, so they tie exactly instead of being ordered by float noise.
    """
    unique = table.select("key", "problem", "shown").unique(subset=["key", "shown"], maintain_order=True)
    seen: dict[Any, int] = {}
    slot = [
        seen.setdefault(model.input_key(p, c), len(seen))
        for p, c in zip(unique["problem"].to_list(), unique["shown"].to_list(), strict=True)
    ]
    first = {s: i for i, s in reversed(list(enumerate(slot)))}
    rows = [first[s] for s in range(len(seen))]
    out = model.predict(
        [unique["problem"][i] for i in rows], [unique["shown"][i] for i in rows], batch_size, progress
    )
    probs = out["probs"][slot]
    cols = {
        "key": unique["key"],
        "shown": unique["shown"],
        **{f"p_{name}": probs[:, i].astype(np.float64) for i, name in enumerate(CLASS_NAMES)},
        "predicted": [CLASS_NAMES[i] for i in probs.argmax(1)],
    }
    if "feedback" in out:
        cols["predicted_feedback"] = [out["feedback"][s] for s in slot]
    return table.join(pl.DataFrame(cols), on=["key", "shown"], how="left")


def pass_metrics(
    scored: pl.DataFrame, systems: dict[str, str | None], ks: Sequence[int] = KS
) -> dict[str, Any]:
    """Mean ranked pass@k per system (a score column, or None for random), plus the oracle."""
    groups = [g for _, g in scored.group_by("key", maintain_order=True)]
    result: dict[str, Any] = {}
    for name, col in systems.items():
        pools = [(None if col is None else g[col].to_numpy(), g["passed"].to_numpy()) for g in groups]
        result[name] = mean_pass_at_k(pools, ks)
    oracle = float(np.mean([oracle_pass_at_k(g["passed"].to_numpy()) for g in groups])) if groups else 0.0
    result["oracle"] = {f"pass@{k}": oracle for k in ks}
    return result


def problem_auc(scored: pl.DataFrame, col: str = "p_correct") -> dict[str, float | int | None]:
    """Mean within-problem ROC-AUC of ``col`` for passing, over the problems with both passing and failing
    candidates (``mixed_problems``): how well the ranker orders each pool, with less noise than pass@1."""
    from sklearn.metrics import roc_auc_score

    aucs = []
    for _, g in scored.group_by("key", maintain_order=True):
        y = g["passed"].to_numpy().astype(bool)
        if 0 < y.sum() < y.size:
            aucs.append(roc_auc_score(y, g[col].to_numpy()))
    return {"mean_problem_auc": float(np.mean(aucs)) if aucs else None, "mixed_problems": len(aucs)}


def classification_metrics(scored: pl.DataFrame) -> dict[str, float | None]:
    """Accuracy of the predicted class (where the class is known) and ROC-AUC of P(correct) for passing."""
    known = scored.filter(pl.col("label").is_not_null())
    truth = [CLASS_NAMES[i] for i in known["label"].to_list()]
    acc = (
        float(np.mean([p == t for p, t in zip(known["predicted"].to_list(), truth, strict=True)]))
        if truth
        else None
    )
    y = scored["passed"].to_numpy().astype(bool)
    auc = None
    if 0 < y.sum() < y.size:
        from sklearn.metrics import roc_auc_score

        auc = float(roc_auc_score(y, scored["p_correct"].to_numpy()))
    return {"class_accuracy": acc, "auc_correct": auc}


def frequency_scores(table: pl.DataFrame) -> pl.DataFrame:
    """``frequency``: how many candidates of the problem have the same normalised code."""
    norm = table.with_columns(
        pl.col("code").map_elements(normalise_code, return_dtype=pl.String).alias("_norm")
    )
    return norm.with_columns(pl.len().over("key", "_norm").cast(pl.Float64).alias("frequency")).drop("_norm")


def evaluation_table(
    problems: pl.DataFrame,
    candidates: pl.DataFrame,
    seen: set[str],
    unseen_only: bool = False,
    max_per_problem: int | None = None,
    held_out: float | None = None,
) -> pl.DataFrame:
    """The labelled candidates to evaluate on, with views, after the leak check and the subsample.

    ``held_out`` keeps only the problems a ``holdout=held_out`` training split holds out, so a model trained on
    other datasets is measured on the same problems as one trained on this dataset's other half.
    """
    table = candidate_table(problems, candidates)
    table = table.filter(pl.col("passed").is_not_null())
    if held_out is not None:
        keys = [k for k in table["key"].unique().to_list() if hash_share(k) < held_out]
        table = table.filter(pl.col("key").is_in(keys))
    if not table.height:
        raise ValueError("no labelled candidates to evaluate on (run `ranksuite code execute` first)")
    leaked = seen & set(table["key"].unique().to_list())
    if leaked and not unseen_only:
        shown = ", ".join(sorted(leaked)[:5]) + (" ..." if len(leaked) > 5 else "")
        raise ValueError(
            f"the model was trained on {len(leaked)} of these problems ({shown}): evaluate on unseen problems "
            "(or pass --unseen-only to drop them)"
        )
    table = table.filter(~pl.col("key").is_in(sorted(seen)))
    if not table.height:
        raise ValueError("every problem here was seen in training: nothing left to evaluate on")
    return with_views(subsample(table, max_per_problem))


def seen_problems(meta: dict[str, Any]) -> set[str]:
    training = meta.get("training", {})
    return set(training.get("train_problems", [])) | set(training.get("dev_problems", []))


def evaluate_ranker(
    model_path: str | Path,
    problems: pl.DataFrame,
    candidates: pl.DataFrame,
    unseen_only: bool = False,
    max_per_problem: int | None = None,
    ks: Sequence[int] = KS,
    batch_size: int = 32,
    progress: bool = False,
    held_out: float | None = None,
) -> tuple[dict[str, Any], pl.DataFrame]:
    """``(metrics, scored candidates)`` of a trained ranker on the unseen problems of a pool."""
    from ranksuite.domains.code.model import load_ranker

    model = load_ranker(model_path)
    seen = seen_problems(model.meta)
    table = evaluation_table(problems, candidates, seen, unseen_only, max_per_problem, held_out)
    scored = frequency_scores(score_table(model, table, batch_size, progress and "scoring candidates"))
    metrics = pass_metrics(scored, {"ranker": "p_correct", "random": None, "frequency": "frequency"}, ks)
    return {
        **metrics,
        "classification": {**classification_metrics(scored), **problem_auc(scored)},
        "frequency_problem_auc": problem_auc(scored, "frequency")["mean_problem_auc"],
        "problems": scored["key"].n_unique(),
        "candidates": scored.height,
        "pass_rate": float(scored["passed"].mean()),
        "model": {"path": str(model_path), "ranker": model.config.model, "backbone": model.config.backbone},
    }, scored
