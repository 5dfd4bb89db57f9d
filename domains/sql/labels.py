"""Execution labels for candidate SQL: run every candidate and its question's gold SQL safely, compare the results.

:func:`label_candidates` adds to a candidates frame:

- ``exec_status``     ok | error | timeout | refused (see :class:`~ranksuite.domains.sql.execute.ExecResult`)
- ``exec_error``      the error message (``"OperationalError: no such column: x"``), null when ok
- ``n_rows``          Int64, rows returned (at most ``max_rows``), 0 unless ok
- ``ex_match_set``    Boolean: the rows equal the gold rows as sets (BIRD-style EX, the main label)
- ``ex_match_strict`` Boolean: Spider's evaluator (multisets up to a column permutation; order counts when the
  gold SQL has ORDER BY)
- ``result_key``      String: a hash of the result (multiset of rows; the row sequence when the candidate itself
  has ORDER BY), null unless ok: equal keys = equal results, which is what majority voting clusters on
- ``result_preview`` String: what the query gave, in a line a reward model can read beside the SQL
  (:func:`result_preview`: row count and the first rows, or the error); never null

Both matches are null when the gold SQL itself fails (the question cannot be judged), and false when a result was
cut at ``max_rows`` on one side only. The gold result is executed once per question (cached).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import polars as pl
from tqdm.auto import tqdm

from ranksuite.domains.sql.execute import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_S,
    ExecResult,
    SafeDatabase,
    has_order_by,
    result_key,
    same_result_set,
    same_result_spider,
)
from ranksuite.shared.data.errors import DataError

LABEL_COLUMNS = [
    "exec_status",
    "exec_error",
    "n_rows",
    "ex_match_set",
    "ex_match_strict",
    "result_key",
    "result_preview",
]
PREVIEW_ROWS = 3  # rows shown in a result preview
PREVIEW_VALUE_CHARS = 30
PREVIEW_CHARS = 200


def _preview_value(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bytes):
        return f"<blob {len(v)} bytes>"
    if isinstance(v, float):
        return f"{v:.6g}"
    s = " ".join(str(v).split())
    s = s if len(s) <= PREVIEW_VALUE_CHARS else s[: PREVIEW_VALUE_CHARS - 1] + "…"
    return repr(s) if isinstance(v, str) else s


def result_preview(res: ExecResult) -> str:
    """One line describing an execution outcome for a reward model to read beside the SQL: ``"2 rows: ('Paris',
    12) ('Rome', 4)"`` (the first ``PREVIEW_ROWS`` rows, values cut at 30 characters, the line at 200),
    ``"no rows"``, ``"error: no such column: x"``, ``"timeout"`` or ``"refused"``. The same text for training
    and scoring (``sql execute`` stores it as ``result_preview``; ``sql rank`` computes it the same way).
    """
    if res.status == "ok":
        if not res.rows:
            return "no rows"
        count = f"{res.n_rows}{'+' if res.truncated else ''} row{'s' if res.n_rows != 1 else ''}"
        shown = " ".join(
            "(" + ", ".join(_preview_value(v) for v in row) + ")" for row in res.rows[:PREVIEW_ROWS]
        )
        text = f"{count}: {shown}" + (" …" if res.n_rows > PREVIEW_ROWS else "")
    elif res.status == "error":
        msg = re.sub(r"^\w+Error: ", "", res.error or "")  # "OperationalError: no such column" -> the message
        text = f"error: {msg or 'unknown'}"
    else:
        text = res.status
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def label_candidates(
    questions: pl.DataFrame,
    candidates: pl.DataFrame,
    databases: Mapping[str, str | Path],
    progress: bool = True,
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> pl.DataFrame:
    """Execute every candidate (and each question's gold SQL once) and return the candidates frame with the
    label columns (replacing any already there). Rows keep their order.
    """
    gold_sql = dict(questions.select("question_id", "gold_sql").iter_rows())
    missing_q = set(candidates["question_id"].unique()) - set(gold_sql)
    if missing_q:
        raise DataError(
            "candidates", f"question_id(s) not in the questions: {', '.join(sorted(missing_q)[:5])}"
        )
    missing_db = set(candidates["db_id"].unique()) - set(databases)
    if missing_db:
        raise DataError(
            "candidates", f"no database for db_id(s) {', '.join(sorted(missing_db)[:5])}", field="db_id"
        )

    conns: dict[str, SafeDatabase] = {}
    gold_cache: dict[str, ExecResult] = {}

    def db(db_id: str) -> SafeDatabase:
        if db_id not in conns:
            conns[db_id] = SafeDatabase(databases[db_id], timeout_s=timeout_s, max_rows=max_rows)
        return conns[db_id]

    out: dict[str, list] = {c: [] for c in LABEL_COLUMNS}
    rows = candidates.select("question_id", "db_id", "sql").iter_rows()
    try:
        for qid, db_id, sql in tqdm(
            rows, total=candidates.height, desc="executing candidates", unit="query", disable=not progress
        ):
            if qid not in gold_cache:
                gold_cache[qid] = db(db_id).execute(gold_sql[qid])
            gold = gold_cache[qid]
            res = db(db_id).execute(sql)
            out["exec_status"].append(res.status)
            out["exec_error"].append(res.error)
            out["result_preview"].append(result_preview(res))
            out["n_rows"].append(res.n_rows)
            out["result_key"].append(
                result_key(res.rows, has_order_by(sql), res.truncated) if res.ok else None
            )
            if not gold.ok:
                set_match = strict = None
            elif not res.ok or res.truncated != gold.truncated:
                set_match = strict = False
            else:
                set_match = same_result_set(res.rows, gold.rows)
                strict = same_result_spider(res.rows, gold.rows, gold_sql[qid])
            out["ex_match_set"].append(set_match)
            out["ex_match_strict"].append(strict)
    finally:
        for c in conns.values():
            c.close()
    base = candidates.drop([c for c in LABEL_COLUMNS if c in candidates.columns])
    return base.with_columns(
        pl.Series("exec_status", out["exec_status"], dtype=pl.String),
        pl.Series("exec_error", out["exec_error"], dtype=pl.String),
        pl.Series("n_rows", out["n_rows"], dtype=pl.Int64),
        pl.Series("ex_match_set", out["ex_match_set"], dtype=pl.Boolean),
        pl.Series("ex_match_strict", out["ex_match_strict"], dtype=pl.Boolean),
        pl.Series("result_key", out["result_key"], dtype=pl.String),
        pl.Series("result_preview", out["result_preview"], dtype=pl.String),
    )


def gold_failures(questions: pl.DataFrame, databases: Mapping[str, str | Path], **kw) -> dict[str, str]:
    """question_id -> error, for the questions whose gold SQL does not run (a data check)."""
    bad: dict[str, str] = {}
    for qid, db_id, sql in questions.select("question_id", "db_id", "gold_sql").iter_rows():
        with SafeDatabase(databases[db_id], **kw) as db:
            res = db.execute(sql)
        if not res.ok:
            bad[qid] = f"{res.status}: {res.error}"
    return bad


def summarise_labels(labelled: pl.DataFrame) -> dict[str, float | int]:
    """Counts by status and the execution accuracy (mean of ``ex_match_set`` / ``ex_match_strict`` over the
    candidates that can be judged)."""
    status = labelled["exec_status"]
    judged = labelled.filter(pl.col("ex_match_set").is_not_null())
    return {
        "candidates": labelled.height,
        "executed": int((status == "ok").sum()),
        "errors": int((status == "error").sum()),
        "timeouts": int((status == "timeout").sum()),
        "refused": int((status == "refused").sum()),
        "unjudged": labelled.height - judged.height,
        "ex": float(judged["ex_match_set"].mean()) if judged.height else 0.0,
        "ex_strict": float(judged["ex_match_strict"].mean()) if judged.height else 0.0,
    }
