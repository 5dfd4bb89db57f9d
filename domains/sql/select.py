"""Choosing one SQL per question from its candidate pool, and the execution accuracy (EX) each rule reaches.

Every selector returns a *distribution* over the pool (candidate index -> probability): deterministic rules put
all the mass on one candidate, rules with ties spread it uniformly over the tied candidates, so the reported EX is
the exact expectation (no sampling, no seed):

- ``random``  uniform over the pool: EX = the pool's mean correctness
- ``ex_bon``  execution-based best-of-N: uniform over the candidates that execute and return at least one row
  (if none does, over those that execute; if none executes, over the pool)
- ``maj``     self-consistency / majority vote: candidates that execute are clustered by their result
  (``result_key``: the multiset of rows, the row sequence when the candidate has ORDER BY); the largest cluster
  wins, ties spread uniformly over the tied clusters (if none executes: uniform over the pool)
- ``maj_tier`` Maj within ex-BoN's tier: the largest result cluster among the candidates that execute and return
  rows (else those that execute, else all); execution only, no model — the baseline ``orm_vote`` must beat
- ``orm``     GradeSQL's rule with a reward model's scores: among the candidates that execute and return rows (else
  those that execute, else all) the highest score; equal top scores share the mass
- ``orm_vote`` (our addition beyond GradeSQL) the reward model's scores *and* Maj's agreement: within the same
  execution tier as ``orm``, candidates are clustered by result; a cluster weighs the sum of its members'
  P(correct) = sigmoid(score) (scores are read as logits: the cross-encoder's logit, the LM's Yes/No log-odds), the
  heaviest cluster wins and, within it, the highest score. Parameter-free: a confident ORM decides, an unsure one
  (every P near 0.5) falls back to the largest cluster, i.e. to Maj within the tier
- ``oracle``  a correct candidate whenever the pool has one (the ceiling any selector can reach)

The same pools serve every selector, so the numbers compare.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

Distribution = dict[int, float]


@dataclass
class Pool:
    """One question's candidates, with what the selectors may look at (execution outcome, result key, scores by
    candidate id) and what they are judged on (``correct``)."""

    question_id: str
    candidate_ids: list[str]
    correct: list[bool]
    executes: list[bool]
    n_rows: list[int]
    result_keys: list[str | None]

    def __len__(self) -> int:
        return len(self.candidate_ids)


def build_pools(labelled: pl.DataFrame, label: str = "ex_match_set") -> list[Pool]:
    """Group a labelled candidates frame (from ``label_candidates``) into pools, in first-appearance order of the
    questions. Questions whose label is null (gold SQL that does not run) are left out. Without a ``result_key``
    column every executing candidate is its own cluster for ``maj``.
    """
    need = {"question_id", "candidate_id", "exec_status", "n_rows", label}
    missing = need - set(labelled.columns)
    if missing:
        raise ValueError(
            f"labelled candidates lack column(s) {', '.join(sorted(missing))} (run `sql execute`)"
        )
    has_key = "result_key" in labelled.columns
    cols = [
        "question_id",
        "candidate_id",
        "exec_status",
        "n_rows",
        label,
        *(["result_key"] if has_key else []),
    ]
    pools: dict[str, Pool] = {}
    unjudged: set[str] = set()
    for row in labelled.select(cols).iter_rows(named=True):
        qid = row["question_id"]
        if row[label] is None:
            unjudged.add(qid)
            continue
        pool = pools.setdefault(qid, Pool(qid, [], [], [], [], []))
        ok = row["exec_status"] == "ok"
        pool.candidate_ids.append(row["candidate_id"])
        pool.correct.append(bool(row[label]))
        pool.executes.append(ok)
        pool.n_rows.append(int(row["n_rows"] or 0))
        key = row["result_key"] if has_key else (row["candidate_id"] if ok else None)
        pool.result_keys.append(key if ok else None)
    return [p for qid, p in pools.items() if qid not in unjudged]


def _uniform(indices: Sequence[int]) -> Distribution:
    return {i: 1.0 / len(indices) for i in indices}


def _tiers(pool: Pool) -> list[int]:
    """The first non-empty of: executes with rows; executes; everything."""
    nonempty = [i for i in range(len(pool)) if pool.executes[i] and pool.n_rows[i] > 0]
    if nonempty:
        return nonempty
    executing = [i for i in range(len(pool)) if pool.executes[i]]
    return executing or list(range(len(pool)))


def contested(pools: Sequence[Pool]) -> set[str]:
    """Candidate ids whose score can change what ``orm`` or ``orm_vote`` pick: the selection tier of every pool
    whose tier holds more than one distinct result. Elsewhere any scores give the same EX (one result to pick),
    so an evaluation may leave those candidates unscored (score 0) and still report exact figures."""
    out: set[str] = set()
    for pool in pools:
        tier = _tiers(pool)
        if len({pool.result_keys[i] or f"#{i}" for i in tier}) > 1:
            out.update(pool.candidate_ids[i] for i in tier)
    return out


def select_random(pool: Pool) -> Distribution:
    return _uniform(range(len(pool)))


def select_ex_bon(pool: Pool) -> Distribution:
    return _uniform(_tiers(pool))


def select_maj(pool: Pool) -> Distribution:
    clusters: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(pool.result_keys):
        if pool.executes[i] and key is not None:
            clusters[key].append(i)
    if not clusters:
        return select_random(pool)
    top = max(len(m) for m in clusters.values())
    winners = [m for m in clusters.values() if len(m) == top]
    dist: Distribution = {}
    for members in winners:  # each tied cluster equally likely, each member of a cluster equally likely
        for i in members:
            dist[i] = 1.0 / (len(winners) * len(members))
    return dist


def select_maj_tier(pool: Pool) -> Distribution:
    tier = _tiers(pool)
    clusters: dict[str, list[int]] = defaultdict(list)
    for i in tier:
        clusters[pool.result_keys[i] or f"#{i}"].append(i)
    top = max(len(m) for m in clusters.values())
    winners = [m for m in clusters.values() if len(m) == top]
    return {i: 1.0 / (len(winners) * len(m)) for m in winners for i in m}


def select_orm(pool: Pool, scores: Mapping[str, float]) -> Distribution:
    tier = _tiers(pool)
    try:
        vals = {i: float(scores[pool.candidate_ids[i]]) for i in tier}
    except KeyError as exc:
        raise ValueError(f"no score for candidate {exc.args[0]!r} (question {pool.question_id})") from exc
    best = max(vals.values())
    return _uniform([i for i, v in vals.items() if v == best])


def select_orm_vote(pool: Pool, scores: Mapping[str, float]) -> Distribution:
    tier = _tiers(pool)
    try:
        vals = {i: float(scores[pool.candidate_ids[i]]) for i in tier}
    except KeyError as exc:
        raise ValueError(f"no score for candidate {exc.args[0]!r} (question {pool.question_id})") from exc
    clusters: dict[str, list[int]] = defaultdict(list)
    for i in tier:  # a candidate without a result key (it did not execute) is a cluster of its own
        clusters[pool.result_keys[i] or f"#{i}"].append(i)
    weight = {k: sum(_sigmoid(vals[i]) for i in members) for k, members in clusters.items()}
    top = max(weight.values())
    best = [i for k, members in clusters.items() if weight[k] == top for i in members]
    high = max(vals[i] for i in best)
    return _uniform([i for i in best if vals[i] == high])


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def select_oracle(pool: Pool) -> Distribution:
    good = [i for i, c in enumerate(pool.correct) if c]
    return {good[0]: 1.0} if good else select_random(pool)


SELECTORS: dict[str, Callable[[Pool], Distribution]] = {
    "random": select_random,
    "ex_bon": select_ex_bon,
    "maj": select_maj,
    "maj_tier": select_maj_tier,
    "oracle": select_oracle,
}


def expected_correct(pool: Pool, dist: Distribution) -> float:
    return sum(p * pool.correct[i] for i, p in dist.items())


def _score_map(scores: Mapping[str, float] | pl.DataFrame) -> Mapping[str, float]:
    if isinstance(scores, pl.DataFrame):
        if not {"candidate_id", "score"} <= set(scores.columns):
            raise ValueError("a scores frame needs columns candidate_id and score")
        return dict(scores.select("candidate_id", "score").iter_rows())
    return scores


def evaluate_selectors(
    pools: Sequence[Pool], scores: Mapping[str, float] | pl.DataFrame | None = None
) -> dict[str, dict[str, float]]:
    """Expected EX of each selector over the same pools: ``{"random": {"ex": ...}, "ex_bon": {...}, "maj": {...},
    "oracle": {...}}``, plus ``"orm"`` when ``scores`` (candidate_id -> score, or a frame with those columns) are
    given (and ``"orm_vote"``, the ORM-weighted vote). Empty pools are skipped.
    """
    pools = [p for p in pools if len(p)]
    if not pools:
        raise ValueError("no candidate pools to evaluate")
    fns: dict[str, Callable[[Pool], Distribution]] = dict(SELECTORS)
    if scores is not None:
        smap = _score_map(scores)
        fns["orm"] = lambda pool: select_orm(pool, smap)
        fns["orm_vote"] = lambda pool: select_orm_vote(pool, smap)
    return {
        name: {"ex": sum(expected_correct(p, fn(p)) for p in pools) / len(pools)} for name, fn in fns.items()
    }
