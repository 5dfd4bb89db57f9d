"""Text-to-SQL data: questions, candidate SQL and SQLite databases as canonical polars frames; schema text.

The canonical **questions frame** (one row per question, file order):

- ``question_id`` String, unique (an integer id in the file becomes its decimal string)
- ``db_id``       String: the database the question is asked of (a key of the databases map)
- ``question``    String, the natural-language question
- ``gold_sql``    String, the reference SQL

GeoQuery adds ``split`` (its ``question_split``: train/dev) and ``gold_sql_variants`` (List[String]).

The canonical **candidates frame** (one row per candidate SQL, file order):

- ``question_id``  String, a question of the questions frame
- ``db_id``        String (from the file, else from the question)
- ``candidate_id`` String, unique: from the file, else ``"<question_id>:<k>"`` (k = 0, 1, ... within the question,
  in file order)
- ``system``       String: which system wrote it (``"<model> <method>"`` for the shipped Spider pools; ``""``
  when unknown)
- ``sql``          String (may be empty: an empty candidate simply fails to execute)

and, when the file has them (the shipped Spider pools do; :func:`ranksuite.domains.sql.labels.label_candidates`
writes them): ``exec_status`` (ok/error/timeout/refused), ``exec_error``, ``n_rows`` (Int64),
``ex_match_set`` / ``ex_match_strict`` (Boolean).

The **databases map**: ``db_id -> Path`` of the ``.sqlite`` file.

Layouts read: Spider (``questions.jsonl``, ``databases/<db_id>/<db_id>.sqlite``, optional
``candidates.jsonl.gz``) by :func:`load_spider`; GeoQuery (``questions.jsonl``, ``geoquery.sqlite``) by
:func:`load_geoquery`; either by :func:`load_sql_dir`; user candidate files (JSONL with ``question_id`` and ``sql``,
optional ``db_id``, ``system``, ``candidate_id``; or Parquet with those columns) by :func:`load_candidates`.

Bad input raises :class:`~ranksuite.shared.data.errors.DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from ranksuite.shared.data.errors import DataError
from ranksuite.shared.data.jsonl import iter_jsonl, require_str

QUESTIONS_SCHEMA: dict[str, Any] = {
    "question_id": pl.String,
    "db_id": pl.String,
    "question": pl.String,
    "gold_sql": pl.String,
}
CANDIDATES_SCHEMA: dict[str, Any] = {
    "question_id": pl.String,
    "db_id": pl.String,
    "candidate_id": pl.String,
    "system": pl.String,
    "sql": pl.String,
}
LABEL_SCHEMA: dict[str, Any] = {
    "exec_status": pl.String,
    "exec_error": pl.String,
    "n_rows": pl.Int64,
    "ex_match_set": pl.Boolean,
    "ex_match_strict": pl.Boolean,
}


@dataclass
class SqlDataset:
    """A text-to-SQL collection: questions, databases and (when shipped) candidate pools."""

    name: str
    questions: pl.DataFrame
    databases: dict[str, Path]
    candidates: pl.DataFrame | None = None
    root: Path | None = field(default=None, repr=False)


def _id(path: Path, line: int, rec: dict[str, Any], name: str) -> str:
    value = rec.get(name)
    if isinstance(value, bool):
        raise DataError(path, "expected a string or an integer, got bool", line=line, field=name)
    return require_str(path, line, rec, name)


def read_questions(path: str | Path, db_id: str | None = None) -> pl.DataFrame:
    """Read ``questions.jsonl`` (``question_id``, ``db_id`` unless given, ``question``, ``gold_sql``)."""
    p = Path(path)
    rows: dict[str, list[Any]] = {k: [] for k in QUESTIONS_SCHEMA}
    seen: dict[str, int] = {}
    for line, rec in iter_jsonl(p):
        qid = _id(p, line, rec, "question_id")
        if qid in seen:
            raise DataError(p, f"duplicate question_id {qid!r} (first on line {seen[qid]})", line=line)
        seen[qid] = line
        rows["question_id"].append(qid)
        rows["db_id"].append(db_id if db_id is not None else require_str(p, line, rec, "db_id"))
        rows["question"].append(require_str(p, line, rec, "question"))
        rows["gold_sql"].append(require_str(p, line, rec, "gold_sql"))
    if not seen:
        raise DataError(p, "no questions in the file")
    return pl.DataFrame(rows, schema=QUESTIONS_SCHEMA)


def load_candidates(
    path: str | Path, questions: pl.DataFrame | None = None, *, keep_labels: bool = True
) -> pl.DataFrame:
    """Read candidate SQL: JSONL (``.jsonl``/``.jsonl.gz``) or Parquet with ``question_id`` and ``sql``, optional
    ``db_id``, ``system`` (or ``model`` + ``method``), ``candidate_id`` and the label columns.

    With ``questions``, every ``question_id`` must be one of theirs and a missing ``db_id`` is taken from the
    question; without, ``db_id`` is required.
    """
    p = Path(path)
    if p.name.lower().endswith(".parquet"):
        return _candidates_from_records(p, _parquet_records(p), questions, keep_labels)
    return _candidates_from_records(p, iter_jsonl(p), questions, keep_labels)


def _parquet_records(p: Path):
    try:
        df = pl.read_parquet(p)
    except FileNotFoundError as exc:
        raise DataError(p, "file not found") from exc
    except Exception as exc:
        raise DataError(p, f"not a readable Parquet file ({exc})") from exc
    yield from enumerate(df.iter_rows(named=True), start=1)


def _candidates_from_records(
    p: Path, records, questions: pl.DataFrame | None, keep_labels: bool
) -> pl.DataFrame:
    db_of = dict(questions.select("question_id", "db_id").iter_rows()) if questions is not None else None
    rows: dict[str, list[Any]] = {k: [] for k in CANDIDATES_SCHEMA}
    labels: dict[str, list[Any]] = {k: [] for k in LABEL_SCHEMA}
    has_label: set[str] = set()
    per_question: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for line, rec in records:
        qid = _id(p, line, rec, "question_id")
        if db_of is not None and qid not in db_of:
            raise DataError(
                p, f"unknown question_id {qid!r} (not in the questions)", line=line, field="question_id"
            )
        sql = rec.get("sql")
        if sql is None:
            sql = ""  # a system that produced nothing: a candidate that fails to execute
        if not isinstance(sql, str):
            raise DataError(p, f"expected a string, got {type(sql).__name__}", line=line, field="sql")
        if rec.get("db_id") is not None:
            db = require_str(p, line, rec, "db_id")
            if db_of is not None and db != db_of[qid]:
                raise DataError(
                    p,
                    f"db_id {db!r} but question {qid!r} is asked of {db_of[qid]!r}",
                    line=line,
                    field="db_id",
                )
        elif db_of is not None:
            db = db_of[qid]
        else:
            raise DataError(p, "missing (and no questions to take it from)", line=line, field="db_id")
        k = per_question.get(qid, 0)
        per_question[qid] = k + 1
        cid = _id(p, line, rec, "candidate_id") if rec.get("candidate_id") is not None else f"{qid}:{k}"
        if cid in seen_ids:
            raise DataError(
                p,
                f"duplicate candidate_id {cid!r} (first on line {seen_ids[cid]})",
                line=line,
                field="candidate_id",
            )
        seen_ids[cid] = line
        if rec.get("system") is not None:
            system = str(rec["system"])
        else:
            system = " ".join(str(rec[k]) for k in ("model", "method") if rec.get(k) is not None)
        for col, val in (
            ("question_id", qid),
            ("db_id", db),
            ("candidate_id", cid),
            ("system", system),
            ("sql", sql),
        ):
            rows[col].append(val)
        for col in LABEL_SCHEMA:
            val = rec.get(col)
            if val is not None:
                has_label.add(col)
                if col == "n_rows" and (isinstance(val, bool) or not isinstance(val, int)):
                    raise DataError(p, f"expected an integer, got {val!r}", line=line, field=col)
                if col.startswith("ex_match") and not isinstance(val, bool):
                    raise DataError(p, f"expected true/false, got {val!r}", line=line, field=col)
                if col in ("exec_status", "exec_error"):
                    val = str(val)
            labels[col].append(val)
    if not seen_ids:
        raise DataError(p, "no candidates in the file")
    df = pl.DataFrame(rows, schema=CANDIDATES_SCHEMA)
    if keep_labels and has_label:
        df = df.with_columns(
            pl.Series(col, labels[col], dtype=LABEL_SCHEMA[col]) for col in LABEL_SCHEMA if col in has_label
        )
    return df


def _check_databases(root: Path, questions: pl.DataFrame, databases: Mapping[str, Path]) -> None:
    missing = sorted(set(questions["db_id"].unique()) - set(databases))
    if missing:
        raise DataError(root, f"no SQLite database for db_id(s) {', '.join(missing[:5])}", field="db_id")


def load_spider(root: str | Path, *, candidates: bool = True) -> SqlDataset:
    """Load a Spider-layout folder: ``questions.jsonl``, ``databases/<db_id>/<db_id>.sqlite`` and, with
    ``candidates``, ``candidates.jsonl.gz`` (or ``.jsonl``) when present.
    """
    root = Path(root)
    if not (root / "questions.jsonl").is_file():
        raise DataError(
            root / "questions.jsonl", "file not found (a Spider folder has questions.jsonl, databases/)"
        )
    questions = read_questions(root / "questions.jsonl")
    dbs: dict[str, Path] = {}
    if (root / "databases").is_dir():
        for d in sorted((root / "databases").iterdir()):
            for name in (f"{d.name}.sqlite", f"{d.name}.db"):
                if (d / name).is_file():
                    dbs[d.name] = d / name
                    break
    _check_databases(root / "databases", questions, dbs)
    cands = None
    if candidates:
        for name in ("candidates.jsonl.gz", "candidates.jsonl", "candidates.parquet"):
            if (root / name).is_file():
                cands = load_candidates(root / name, questions)
                break
    return SqlDataset(root.name, questions, dbs, cands, root)


def load_geoquery(root: str | Path) -> SqlDataset:
    """Load the GeoQuery folder (``questions.jsonl``, ``geoquery.sqlite``); every question has db_id ``geoquery``."""
    root = Path(root)
    p = root / "questions.jsonl"
    questions = read_questions(p, db_id="geoquery")
    splits: list[str | None] = []
    variants: list[list[str]] = []
    for line, rec in iter_jsonl(p):
        splits.append(rec.get("question_split"))
        v = rec.get("gold_sql_variants") or [rec["gold_sql"]]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise DataError(p, "expected a list of strings", line=line, field="gold_sql_variants")
        variants.append(v)
    questions = questions.with_columns(
        pl.Series("split", splits, dtype=pl.String),
        pl.Series("gold_sql_variants", variants, dtype=pl.List(pl.String)),
    )
    db = root / "geoquery.sqlite"
    if not db.is_file():
        raise DataError(db, "file not found (the GeoQuery folder has geoquery.sqlite)")
    return SqlDataset(root.name, questions, {"geoquery": db}, None, root)


def load_sql_dir(root: str | Path, *, candidates: bool = True) -> SqlDataset:
    """Load a Spider-layout or GeoQuery-layout folder, whichever it is."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "not a folder (expected a Spider or GeoQuery data folder)")
    if (root / "geoquery.sqlite").is_file():
        return load_geoquery(root)
    if (root / "databases").is_dir():
        return load_spider(root, candidates=candidates)
    raise DataError(root, "neither a Spider folder (databases/) nor a GeoQuery folder (geoquery.sqlite)")


# ----------------------------------------------------------------------------- schema text


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open_ro(db_path: Path) -> sqlite3.Connection:
    if not db_path.is_file():
        raise DataError(db_path, "SQLite database not found")
    conn = sqlite3.connect("file:" + quote(str(db_path.resolve())) + "?mode=ro", uri=True)
    conn.execute("PRAGMA query_only=ON")
    conn.text_factory = lambda b: b.decode("utf-8", errors="replace")
    return conn


def _format_value(v: Any, max_len: int = 40) -> str:
    if isinstance(v, bytes):
        return f"<blob {len(v)} bytes>"
    if isinstance(v, str):
        s = " ".join(v.split())
        s = s if len(s) <= max_len else s[: max_len - 1] + "…"
        return "'" + s.replace("'", "''") + "'"
    return str(v)


def _table_blocks(db_path: Path, sample_values: int) -> list[tuple[str, str, str]]:
    """(name, CREATE statement, sample-values comment or "") per table and view, in sqlite_master order."""
    conn = _open_ro(db_path)
    try:
        try:
            objects = conn.execute(
                "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND sql IS NOT NULL "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise DataError(db_path, f"not a readable SQLite database ({exc})") from exc
        blocks = []
        for name, kind, sql in objects:
            create = "\n".join(line.rstrip() for line in sql.strip().splitlines()).rstrip(";") + ";"
            comment = ""
            if sample_values > 0 and kind == "table":
                cols = [r[1] for r in conn.execute(f"PRAGMA table_info({_quote_ident(name)})")]
                lines = []
                for col in cols:
                    try:
                        vals = [
                            r[0]
                            for r in conn.execute(
                                f"SELECT DISTINCT {_quote_ident(col)} FROM {_quote_ident(name)} "
                                f"WHERE {_quote_ident(col)} IS NOT NULL LIMIT ?",
                                (sample_values,),
                            )
                        ]
                    except sqlite3.DatabaseError:
                        continue
                    if vals:
                        lines.append(f"  {col}: " + ", ".join(_format_value(v) for v in vals))
                if lines:
                    comment = (
                        f"/* {sample_values} example value(s) per column of {name}:\n"
                        + "\n".join(lines)
                        + "\n*/"
                    )
            blocks.append((name, create, comment))
        return blocks
    finally:
        conn.close()


def schema_text(db_path: str | Path, sample_values: int = 0, max_chars: int | None = None) -> str:
    """The database's schema as the CREATE TABLE statements stored in the SQLite file itself (``sqlite_master``):
    columns, types, PRIMARY KEY and FOREIGN KEY clauses as written, one statement per table (views too), in the
    file's order, separated by blank lines. The same text for training and for scoring.

    ``sample_values`` > 0 adds, after each table, a comment with up to that many distinct non-null values per
    column (strings cut at 40 characters). ``max_chars`` caps the length; what goes first: the sample comments
    (from the last table backwards), then whole tables from the end (their names are listed in a closing
    ``-- ... more table(s): ...`` comment when it fits), and only when a single table is longer than the cap is
    that table cut at a line boundary (mid-line only if its first line is too long). The result is never longer than ``max_chars``.
    """
    blocks = _table_blocks(Path(db_path), sample_values)

    def render(n_tables: int, n_samples: int) -> str:
        parts = []
        for i, (_, create, comment) in enumerate(blocks[:n_tables]):
            parts.append(create + ("\n" + comment if comment and i < n_samples else ""))
        return "\n\n".join(parts)

    full = render(len(blocks), len(blocks))
    if max_chars is None or len(full) <= max_chars:
        return full
    for n_samples in range(len(blocks) - 1, -1, -1):  # drop sample comments, last table first
        text = render(len(blocks), n_samples)
        if len(text) <= max_chars:
            return text
    for n_tables in range(len(blocks) - 1, 0, -1):  # drop whole tables from the end
        text = render(n_tables, 0)
        if len(text) <= max_chars:
            names = ", ".join(name for name, _, _ in blocks[n_tables:])
            note = f"\n\n-- {len(blocks) - n_tables} more table(s): {names}"
            return text + note if len(text) + len(note) <= max_chars else text
    # even the first table is too long: keep its first lines (its first characters if no line fits)
    first = blocks[0][1] if blocks else ""
    out: list[str] = []
    for line in first.splitlines():
        if len("\n".join([*out, line])) > max_chars:
            break
        out.append(line)
    return "\n".join(out) if out else first[:max_chars]
