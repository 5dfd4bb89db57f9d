"""Safe execution of untrusted SQL on SQLite, and the result comparisons of the text-to-SQL benchmarks.

Candidate SQL comes from language models: it may write, attach other files, load extensions or never end. Every
query here runs on a connection that

- opens the file read-only through a URI (``file:...?mode=ro``) and sets ``PRAGMA query_only=ON``;
- installs an **authorizer** that allows reads only (``SQLITE_SELECT``, ``SQLITE_READ``, ``SQLITE_FUNCTION``,
  ``SQLITE_RECURSIVE``) and a few introspection pragmas (``table_info``, ``index_list``, ...), and denies everything
  else: INSERT/UPDATE/DELETE, CREATE/DROP/ALTER, ATTACH/DETACH, transactions, other pragmas, and the functions
  ``load_extension`` / ``fts3_tokenizer`` / ``readfile`` / ``writefile`` / ``edit``;
- disables extension loading where the sqlite3 module offers it;
- runs under a **progress handler** that aborts the statement after a wall-clock limit and/or a budget of virtual
  machine instructions (an endless recursive CTE is stopped, and reported as ``timeout``);
- accepts exactly one statement, starting with SELECT, WITH, VALUES (or PRAGMA, for the read-only pragmas):
  ``SELECT 1; DROP TABLE t`` is ``refused`` before it reaches SQLite (a trailing ``;`` is fine);
- fetches at most ``max_rows`` rows (``fetchmany``) and reports ``truncated``.

Comparisons: :func:`same_result_spider` (Spider's test-suite evaluator: multisets of rows equal up to a permutation
of the columns, order significant only when the gold SQL has ORDER BY) and :func:`same_result_set` (BIRD: the rows
as sets, ``set(pred) == set(gold)``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

Status = Literal["ok", "error", "timeout", "refused"]

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MAX_ROWS = 10_000
PROGRESS_EVERY = 1_000  # VM instructions between two calls of the progress handler
MAX_VALUE_BYTES = (
    10_000_000  # SQLITE_LIMIT_LENGTH: no string or blob above 10 MB (randomblob(1e12) fails fast)
)

_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_DENIED_FUNCTIONS = {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"}
_QUERY_KEYWORDS = {"select", "with", "values", "pragma"}
# pragmas that only describe the schema (their argument is a table or index name, never a setting)
_READ_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "collation_list",
}


@dataclass
class ExecResult:
    """The outcome of one query.

    ``status``: ``ok`` (rows holds up to ``max_rows`` rows), ``error`` (SQLite rejected or failed the query: syntax,
    unknown column, ...), ``timeout`` (stopped by the time or instruction budget), ``refused`` (not a single
    read-only statement: a write, ATTACH, a denied pragma or function, several statements). ``n_rows`` is the
    number of rows fetched (``max_rows`` at most; ``truncated`` says more were there); 0 unless ``ok``.
    """

    status: Status
    rows: list[tuple] | None
    n_rows: int
    truncated: bool
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class QueryRefused(Exception):
    """Raised inside the executor when a statement is not a single read-only query."""


def _authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
    if action in _ALLOWED_ACTIONS:
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def split_statements(sql: str) -> list[str]:
    """Split SQL text on top-level ``;`` (outside strings, quoted identifiers and comments); empty parts dropped.

    Comments are kept inside the parts; a part made only of whitespace and comments counts as empty.
    """
    parts: list[str] = []
    start, i, n = 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote = escaped quote
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == "[":
            j = sql.find("]", i + 1)
            i = n if j < 0 else j + 1
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == ";":
            parts.append(sql[start:i])
            start = i = i + 1
        else:
            i += 1
    parts.append(sql[start:])
    return [p for p in parts if _strip_comments(p).strip()]


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?(\*/|$)", " ", text, flags=re.S)
    return re.sub(r"--[^\n]*", " ", text)


def has_order_by(sql: str) -> bool:
    """True when the SQL contains ORDER BY (outside comments), as Spider's evaluator decides order matters."""
    return re.search(r"\border\s+by\b", _strip_comments(sql), flags=re.I) is not None


class SafeDatabase:
    """A read-only, guarded connection to one SQLite file; reuse it for many queries on the same database.

    >>> with SafeDatabase("db.sqlite") as db:          # doctest: +SKIP
    ...     db.execute("SELECT count(*) FROM singer").rows
    [(6,)]
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        max_steps: int | None = None,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: SQLite database not found")
        self.timeout_s = timeout_s
        self.max_steps = max_steps
        self.max_rows = max_rows
        uri = "file:" + quote(str(self.path.resolve())) + "?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        if hasattr(self.conn, "enable_load_extension"):  # absent when the module is built without it
            self.conn.enable_load_extension(False)
        if hasattr(self.conn, "setlimit"):
            self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self.conn.execute("PRAGMA query_only=ON")
        self.conn.text_factory = lambda b: b.decode("utf-8", errors="replace")
        self.conn.set_authorizer(_authorizer)
        self._deadline = 0.0
        self._steps = 0
        self._stopped: str | None = None
        self.conn.set_progress_handler(self._progress, PROGRESS_EVERY)

    # -- budget
    def _progress(self) -> int:
        self._steps += PROGRESS_EVERY
        if self.timeout_s is not None and time.perf_counter() > self._deadline:
            self._stopped = f"stopped after the time limit of {self.timeout_s:g} s"
            return 1
        if self.max_steps is not None and self._steps > self.max_steps:
            self._stopped = f"stopped after the budget of {self.max_steps} SQLite instructions"
            return 1
        return 0

    def execute(self, sql: str) -> ExecResult:
        """Run one read-only statement under the budget; never raises for a bad query."""
        t0 = time.perf_counter()

        def done(status: Status, rows: list[tuple] | None, truncated: bool, error: str | None) -> ExecResult:
            return ExecResult(
                status, rows, len(rows) if rows is not None else 0, truncated, error, time.perf_counter() - t0
            )

        statements = split_statements(sql or "")
        if not statements:
            return done("error", None, False, "empty query")
        if len(statements) > 1:
            return done("refused", None, False, f"{len(statements)} statements: only one query is allowed")
        first = re.match(r"[\s(]*([A-Za-z]+)", _strip_comments(statements[0]))
        if first is None or first.group(1).lower() not in _QUERY_KEYWORDS:
            word = first.group(1).upper() if first else statements[0].strip()[:20]
            return done("refused", None, False, f"not a query: {word} (only SELECT, WITH, VALUES are run)")
        self._deadline = t0 + (self.timeout_s if self.timeout_s is not None else float("inf"))
        self._steps = 0
        self._stopped = None
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            if cur.description is None:  # not a query (a permitted pragma without result, say)
                return done("ok", [], False, None)
            rows = cur.fetchmany(self.max_rows + 1)
        except sqlite3.DatabaseError as exc:
            if self._stopped:
                return done("timeout", None, False, self._stopped)
            msg = f"{type(exc).__name__}: {exc}"
            low = msg.lower().replace("-", "")
            if any(
                k in low
                for k in ("not authorized", "authorization denied", "readonly", "one statement at a time")
            ):
                return done("refused", None, False, msg)
            return done("error", None, False, msg)
        except sqlite3.Warning as exc:  # older Pythons: "You can only execute one statement at a time."
            return done("refused", None, False, f"{type(exc).__name__}: {exc}")
        except (sqlite3.ProgrammingError, OverflowError, ValueError, MemoryError) as exc:
            return done("error", None, False, f"{type(exc).__name__}: {exc}")
        finally:
            cur.close()
        truncated = len(rows) > self.max_rows
        return done("ok", [tuple(r) for r in rows[: self.max_rows]], truncated, None)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SafeDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def execute_sql(
    db_path: str | Path,
    sql: str,
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    max_steps: int | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ExecResult:
    """Run one untrusted query on ``db_path`` (opened read-only for this call only). See :class:`SafeDatabase`."""
    with SafeDatabase(db_path, timeout_s=timeout_s, max_steps=max_steps, max_rows=max_rows) as db:
        return db.execute(sql)


# ----------------------------------------------------------------------------- comparisons


def same_result_set(pred_rows: Sequence[tuple] | None, gold_rows: Sequence[tuple] | None) -> bool:
    """BIRD's execution match: the rows as sets (duplicates and order ignored, columns in their given order)."""
    if pred_rows is None or gold_rows is None:
        return False
    return set(map(tuple, pred_rows)) == set(map(tuple, gold_rows))


def same_result_spider(
    pred_rows: Sequence[tuple] | None,
    gold_rows: Sequence[tuple] | None,
    gold_sql: str | None = None,
    *,
    order_matters: bool | None = None,
    max_permutations: int = 10_000,
) -> bool:
    """Spider's execution match (test-suite evaluator): equal as multisets of rows up to a permutation of the
    columns; the order of the rows counts only when the gold SQL has ORDER BY (or ``order_matters=True``).
    """
    if pred_rows is None or gold_rows is None:
        return False
    if order_matters is None:
        order_matters = has_order_by(gold_sql or "")
    pred = [tuple(r) for r in pred_rows]
    gold = [tuple(r) for r in gold_rows]
    if not pred and not gold:
        return True
    if len(pred) != len(gold):
        return False
    ncols = len(gold[0])
    if any(len(r) != ncols for r in pred) or any(len(r) != ncols for r in gold):
        return False
    if not order_matters and Counter(map(_sorted_row, pred)) != Counter(map(_sorted_row, gold)):
        return False  # quick rejection: rows as bags of values differ
    # a column of pred can stand for a column of gold only if they hold the same multiset (or sequence) of values
    gold_cols = [[r[i] for r in gold] for i in range(ncols)]
    pred_cols = [[r[j] for r in pred] for j in range(ncols)]
    if order_matters:
        fits = [[j for j in range(ncols) if pred_cols[j] == gold_cols[i]] for i in range(ncols)]
    else:
        pc = [Counter(c) for c in pred_cols]
        fits = [[j for j in range(ncols) if pc[j] == Counter(gold_cols[i])] for i in range(ncols)]
    if any(not f for f in fits):
        return False
    gold_bag = None if order_matters else Counter(gold)
    tried = 0

    def search(i: int, perm: list[int], used: set[int]) -> bool:
        nonlocal tried
        if tried >= max_permutations:
            return False
        if i == ncols:
            tried += 1
            permuted = [tuple(r[j] for j in perm) for r in pred]
            return permuted == gold if order_matters else Counter(permuted) == gold_bag
        for j in fits[i]:
            if j not in used:
                perm.append(j)
                used.add(j)
                if search(i + 1, perm, used):
                    return True
                perm.pop()
                used.discard(j)
        return False

    return search(0, [], set())


def _sorted_row(row: tuple) -> tuple:
    return tuple(sorted(row, key=_value_key))


def _value_key(v: Any) -> tuple:
    """A total order over SQLite values (NULL < numbers < text < blobs), numbers compared by value."""
    if v is None:
        return (0, 0.0, "")
    if isinstance(v, (int, float)):
        return (1, float(v), "")
    if isinstance(v, str):
        return (2, 0.0, v)
    return (3, 0.0, repr(v))


def _canonical_value(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bytes):
        return "blob:" + v.hex()
    return v


def result_key(rows: Sequence[tuple] | None, ordered: bool = False, truncated: bool = False) -> str | None:
    """A stable hash of a result (the same in every process): the multiset of rows, or the row sequence when
    ``ordered``. Two results with the same key are equal results (used to cluster candidates for majority vote).
    ``None`` for a query that did not run.
    """
    if rows is None:
        return None
    canon = [[_canonical_value(v) for v in r] for r in rows]
    if not ordered:
        canon.sort(key=lambda r: [_value_key(v) for v in r])
    payload = json.dumps({"ordered": ordered, "truncated": truncated, "rows": canon}, default=repr)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()
