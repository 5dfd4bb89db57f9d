"""Near-miss negatives for ORM training: small edits of a question's gold SQL, labelled by execution.

Why: Spider's candidate pools give an ORM few contrasting pairs (about 450 per database fold), and a third of the
questions have only correct candidates, so they teach nothing. Editing the gold SQL by one token (another aggregate,
comparison, sort direction, column, AND/OR, set operator, a literal ± 1, DISTINCT, NOT IN) gives, for every
training question, queries that look like the right one and differ in meaning: the errors that remain once
candidates run and return rows, which is where an ORM has to decide. No edit is *assumed* wrong: each one is run
on the database and kept only when its result differs from the gold result (``ex_match_set`` false, by the same
labelling as every candidate), so the labels are execution labels, not guesses.

The gold SQL joins the pairs as the positive of its own edits only (never paired with a system's wrong candidate):
within a pair both queries share the gold's writing style, so the only thing to learn is what they mean.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl

from ranksuite.domains.sql.data import SqlDataset
from ranksuite.domains.sql.execute import SafeDatabase
from ranksuite.domains.sql.labels import label_candidates

_TOKEN = re.compile(
    r"""(?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      |(?P<number>\d+(?:\.\d+)?)
      |(?P<op>>=|<=|!=|<>|=|>|<)
      |(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
      |(?P<other>\s+|.)""",
    re.VERBOSE | re.DOTALL,
)
AGGREGATES = ("count", "sum", "avg", "min", "max")
COMPARISONS = ("=", "!=", ">", "<", ">=", "<=")
SET_OPERATORS = ("union", "intersect", "except")
EDIT_KINDS = ("aggregate", "comparison", "order", "distinct", "logic", "set", "not_in", "number", "column")


def tokens(sql: str) -> list[tuple[str, str]]:
    """``(kind, text)`` for every piece of ``sql`` (whitespace included): ``"".join(texts) == sql``."""
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(sql)]


def _next_word(toks: list[tuple[str, str]], i: int) -> str:
    for kind, text in toks[i + 1 :]:
        if not text.isspace():
            return text.lower() if kind == "word" else text
    return ""


def _prev_word(toks: list[tuple[str, str]], i: int) -> str:
    for kind, text in reversed(toks[:i]):
        if not text.isspace():
            return text.lower() if kind == "word" else text
    return ""


def _swap(toks: list[tuple[str, str]], i: int, text: str) -> str:
    return "".join(text if j == i else t for j, (_, t) in enumerate(toks))


def _keep_case(old: str, new: str) -> str:
    return new.upper() if old.isupper() else new


def edits(sql: str, columns: dict[str, list[str]] | None = None) -> list[tuple[str, str]]:
    """Every one-token edit of ``sql`` as ``(kind, edited_sql)``, in a fixed order, without duplicates.

    ``columns``: lower-cased column name -> the other columns of the tables that have it (for ``column`` edits;
    :func:`column_alternatives`). Edits are proposals: whether one changes the answer is decided by running it.
    """
    toks = tokens(sql)
    lower = sql.lower()
    out: dict[str, str] = {}

    def add(kind: str, new: str) -> None:
        if new != sql and new not in out:
            out[new] = kind

    for i, (kind, text) in enumerate(toks):
        low = text.lower()
        if kind == "word" and low in AGGREGATES and _next_word(toks, i) == "(":
            star = "".join(t for _, t in toks[i + 1 : i + 4]).replace(" ", "").startswith("(*")
            for other in AGGREGATES:
                if other != low and not star:
                    add("aggregate", _swap(toks, i, _keep_case(text, other)))
        elif kind == "op":
            for other in COMPARISONS:
                if other != text and not (text == "<>" and other == "!="):
                    add("comparison", _swap(toks, i, other))
        elif kind == "word" and low in ("asc", "desc"):
            add("order", _swap(toks, i, _keep_case(text, "desc" if low == "asc" else "asc")))
        elif kind == "word" and low == "distinct":
            add("distinct", _swap(toks, i, "").replace("  ", " "))
        elif kind == "word" and low in ("and", "or") and "between" not in lower:
            add("logic", _swap(toks, i, _keep_case(text, "or" if low == "and" else "and")))
        elif kind == "word" and low in SET_OPERATORS:
            for other in SET_OPERATORS:
                if other != low:
                    add("set", _swap(toks, i, _keep_case(text, other)))
        elif kind == "word" and low == "in" and _prev_word(toks, i) == "not":
            j = max(k for k in range(i) if toks[k][1].lower() == "not")
            add("not_in", "".join(t for k, (_, t) in enumerate(toks) if k != j).replace("  ", " "))
        elif kind == "word" and low == "in":
            add("not_in", _swap(toks, i, _keep_case(text, "not in")))
        elif kind == "number":
            if "." in text:
                continue
            n = int(text)
            for other in (n + 1, n - 1) if n > 0 else (n + 1,):
                add("number", _swap(toks, i, str(other)))
        elif kind == "word" and columns:
            prefix, _, name = text.rpartition(".")
            for other in columns.get(name.lower(), []):
                add("column", _swap(toks, i, f"{prefix}.{other}" if prefix else other))
    if re.search(r"\border\s+by\b", lower) and not re.search(r"\b(asc|desc)\b", lower):
        m = re.search(r"\s+limit\b", sql, re.IGNORECASE)
        add("order", sql[: m.start()] + " DESC" + sql[m.start() :] if m else sql.rstrip() + " DESC")
    if re.match(r"\s*select\s", sql, re.IGNORECASE) and not re.match(r"\s*select\s+distinct\b", lower):
        m = re.match(r"\s*select", sql, re.IGNORECASE)
        assert m is not None
        add("distinct", sql[: m.end()] + " DISTINCT" + sql[m.end() :])
    return [(kind, new) for new, kind in out.items()]


def column_alternatives(db_path: str | Path) -> dict[str, list[str]]:
    """lower-cased column name -> the other columns of every table that has it (a column edit stays in-table, so
    the edited query still runs)."""
    alts: dict[str, set[str]] = {}
    with SafeDatabase(db_path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").rows or []]
        for table in tables:
            quoted = table.replace('"', '""')
            cols = [r[1] for r in db.execute(f'PRAGMA table_info("{quoted}")').rows or []]
            for col in cols:
                alts.setdefault(col.lower(), set()).update(c for c in cols if c.lower() != col.lower())
    return {k: sorted(v) for k, v in alts.items()}


def _rng(seed: int, qid: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(hashlib.sha256(qid.encode()).hexdigest()[:12], 16)])


def _balanced_order(proposals: list[tuple[str, str]], rng: np.random.Generator) -> list[tuple[str, str]]:
    """A seeded order that takes the kinds in turn (column edits are the most numerous by far; without this they
    would crowd out the rest)."""
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for p in proposals:
        by_kind.setdefault(p[0], []).append(p)
    queues = [[by_kind[k][i] for i in rng.permutation(len(by_kind[k]))] for k in sorted(by_kind)]
    queues = [queues[i] for i in rng.permutation(len(queues))]
    order: list[tuple[str, str]] = []
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    return order


def gold_negatives(
    dataset: SqlDataset,
    question_ids: Iterable[str],
    per_question: int = 3,
    seed: int = 42,
    progress: bool = False,
) -> pl.DataFrame:
    """The labelled gold SQL and up to ``per_question`` execution-checked edits of it for each question.

    Returned rows have the candidates' columns and labels (``system`` = ``gold`` or ``edit:<kind>``, ids
    ``<qid>:gold`` / ``<qid>:edit<j>``). An edit is kept when it runs, returns rows and its result differs from
    the gold result (a different result from the other kept edits too: no two teach the same thing); edits are
    tried in a seeded random order per question that takes the kinds of edit in turn. Questions whose gold SQL fails are left out.
    """
    qids = set(question_ids)
    questions = dataset.questions.filter(pl.col("question_id").is_in(list(qids)))
    alternatives = {db: column_alternatives(p) for db, p in dataset.databases.items()}
    rows: dict[str, list[str]] = {k: [] for k in ("question_id", "db_id", "candidate_id", "system", "sql")}
    for qid, db, gold in questions.select("question_id", "db_id", "gold_sql").iter_rows():
        proposals = _balanced_order(edits(gold, alternatives.get(db)), _rng(seed, qid))
        for col, val in zip(rows, (qid, db, f"{qid}:gold", "gold", gold), strict=True):
            rows[col].append(val)
        for j, (kind, sql) in enumerate(
            proposals[: per_question * 8]
        ):  # enough tries for k that run and differ
            for col, val in zip(rows, (qid, db, f"{qid}:edit{j}", f"edit:{kind}", sql), strict=True):
                rows[col].append(val)
    labelled = label_candidates(questions, pl.DataFrame(rows), dataset.databases, progress=progress)
    gold_rows = labelled.filter((pl.col("system") == "gold") & pl.col("ex_match_set").fill_null(False))
    kept = labelled.filter(
        (pl.col("system") != "gold")
        & (pl.col("ex_match_set") == False)  # noqa: E712 (polars expression)
        & (pl.col("n_rows") > 0)
        & pl.col("question_id").is_in(gold_rows["question_id"].to_list())
    )
    kept = kept.unique(["question_id", "result_key"], keep="first", maintain_order=True)
    kept = kept.group_by("question_id", maintain_order=True).head(per_question)
    gold_rows = gold_rows.filter(pl.col("question_id").is_in(kept["question_id"].unique().to_list()))
    return pl.concat([gold_rows, kept.select(gold_rows.columns)])


def gold_pairs(labelled: pl.DataFrame, queries: dict[str, str]) -> list[dict[str, object]]:
    """(gold, edit) pairs from :func:`gold_negatives`, in the training examples' format."""
    examples: list[dict[str, object]] = []
    for (qid,), group in labelled.group_by("question_id", maintain_order=True):
        gold = group.filter(pl.col("system") == "gold")["candidate_id"].to_list()
        for neg in group.filter(pl.col("system") != "gold")["candidate_id"].to_list():
            if gold:
                examples.append({"query": queries[qid], "docnos": [gold[0], neg]})
    return examples


def edit_counts(labelled: pl.DataFrame) -> dict[str, int]:
    """How many kept edits of each kind (for the run's log)."""
    edits_only = labelled.filter(pl.col("system") != "gold")
    return dict(edits_only.group_by("system").len().sort("system").iter_rows())
