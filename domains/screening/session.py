"""A screening session kept in one SQLite project file: decisions survive ``kill -9`` and a session resumes exactly.

The project file holds everything a session needs: the records (as read once from the reviewer's export), the
topic (title and Boolean query), the zero-label prior score of every record, the record embeddings (when neural),
the decisions (``include`` / ``exclude`` / ``skip``, with their time), the reviewers' notes, and an append-only
event log that ``undo`` walks back. Each decision is its own transaction (``journal_mode=WAL``,
``synchronous=FULL``): once :meth:`ScreeningProject.decide` returns, the decision is on disk.

Ranking: the :class:`~ranksuite.domains.screening.active.ActiveLearner` is rebuilt from the stored decisions (in
the order they were made) whenever they change, over TF-IDF features recomputed from the stored records beside the
stored embeddings, with the stored prior. The same decisions therefore always give the same next record, in a live
session and after reopening. Skipped records come back only when every other record has been screened, oldest
skip first; ``undo`` shows the undone record again. Records that :func:`~ranksuite.domains.screening.data.read_records`
flags as duplicates (``duplicate_of``) are set aside: never shown, exported without a label.

Labels already in the input file are kept in the project (``source_label``) but not used: a session starts from
its own decisions.

Estimates (:func:`estimate_remaining`, :func:`stopping_rule`) are simple heuristics, described where defined.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from ranksuite.domains.screening.active import ActiveLearner
from ranksuite.domains.screening.data import (
    RECORDS_SCHEMA,
    read_records,
    records_to_ris,
    validate_records,
    write_records,
)
from ranksuite.domains.screening.features import (
    clean_boolean_query,
    combined_features,
    record_texts,
    tfidf_matrix,
)
from ranksuite.shared.data.atomic import atomic_write_text

FORMAT = "ranksuite-screening-session"
SCHEMA_VERSION = 1
DECISIONS = ("include", "exclude", "skip")
ESTIMATE_WINDOW = 200  # the last decisions the include rate is taken from
ESTIMATE_MIN_DECISIONS = 100  # fewer screened records than this: no estimate (a ranked head says little)
STOP_RECORDS = 200  # heuristic stopping rule: this many consecutive excludes ...
STOP_FRACTION = 0.05  # ... or 5 % of the review, whichever is larger

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    idx INTEGER PRIMARY KEY,            -- 0-based position in the input file
    record_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    pmid TEXT,
    doi TEXT,
    duplicate_of TEXT,
    source_label INTEGER,               -- the input file's label, kept but not used
    prior REAL NOT NULL                 -- zero-label score from the topic alone
);
CREATE TABLE arrays (name TEXT PRIMARY KEY, dtype TEXT NOT NULL, rows INTEGER NOT NULL, cols INTEGER NOT NULL,
                     data BLOB NOT NULL);
CREATE TABLE decisions (
    record_id TEXT PRIMARY KEY REFERENCES records(record_id),
    decision TEXT NOT NULL CHECK (decision IN ('include', 'exclude', 'skip')),
    time TEXT NOT NULL,
    seq INTEGER NOT NULL                -- the event that made it: orders decisions
);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL REFERENCES records(record_id),
    time TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    action TEXT NOT NULL,               -- include | exclude | skip | undo | note | create
    record_id TEXT,
    previous TEXT,                      -- decision before this one (NULL: none), restored by undo
    previous_time TEXT,
    previous_seq INTEGER,
    undone_by INTEGER,                  -- seq of the undo event that reverted it
    text TEXT
);
CREATE VIEW decisions_with_notes AS
    SELECT d.record_id, d.decision, d.time,
           (SELECT group_concat(n.text, ' | ') FROM notes n WHERE n.record_id = d.record_id) AS note
    FROM decisions d;
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# ----------------------------------------------------------------------------- highlighting


_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def topic_terms(title: str, query: str = "") -> list[str]:
    """The words to highlight: those of the topic title and of the cleaned Boolean query, lowercased, in order.

    English stop words (scikit-learn's list), single characters and pure numbers are left out; hyphenated words
    are split ("placebo-controlled" -> placebo, controlled).
    """
    text = f"{title or ''} {clean_boolean_query(query or '')}"
    out: dict[str, None] = {}
    for w in re.findall(r"[^\W_]+", text.lower()):
        if len(w) > 1 and not w.isdigit() and w not in ENGLISH_STOP_WORDS:
            out.setdefault(w, None)
    return list(out)


def _terms_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # longest first, so "antihistamines" wins over "antihistamine"; words of 4+ letters also match as a prefix
    # (Boolean truncation: child* -> children), shorter ones only as whole words (so "iv" does not light up "ivf")
    parts = []
    for t in sorted(set(terms), key=len, reverse=True):
        parts.append(rf"{re.escape(t)}[^\W_]*" if len(t) >= 4 else rf"{re.escape(t)}(?![^\W_])")
    return re.compile(r"(?<![^\W_])(?:" + "|".join(parts) + ")", re.IGNORECASE)


def highlight(text: str, terms: Sequence[str], style: str = "bold yellow") -> str:
    """``text`` as rich markup (escaped) with every occurrence of the topic ``terms`` in ``style``.

    Case-insensitive; a match starts at a word boundary; terms of four letters or more also match longer words
    they begin (``child`` -> ``children``), shorter terms only whole words.
    """
    pattern = _terms_pattern(terms)
    if pattern is None or not text:
        return escape_markup(text or "")
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape_markup(text[last : m.start()], tag_follows=True))
        out.append(f"[{style}]{escape_markup(m.group(0), tag_follows=True)}[/{style}]")
        last = m.end()
    out.append(escape_markup(text[last:]))
    return "".join(out)


_BRACKET = re.compile(r"(\\*)\[")
_TAG_LIKE = re.compile(r"\[[a-z#/@][^\[]*?]")


def escape_markup(text: str, tag_follows: bool = False) -> str:
    """``text`` as rich markup that renders back to exactly ``text`` (``rich.markup.escape`` misses a few cases).

    Rich reads ``\\[`` as ``[`` and ``\\\\[tag]`` as a backslash and a tag, so: a tag-like ``[...]`` gets its
    preceding backslashes doubled plus one; any other ``[`` after backslashes gets one more; trailing backslashes are
    doubled when a tag follows.
    """

    def fix(m: re.Match[str]) -> str:
        bs = m.group(1)
        if _TAG_LIKE.match(text, m.end() - 1):
            return bs * 2 + "\\["
        return bs + "\\[" if bs else "["

    out = _BRACKET.sub(fix, text)
    if tag_follows:
        stripped = out.rstrip("\\")
        out = stripped + (len(out) - len(stripped)) * 2 * "\\"
    return out


# ----------------------------------------------------------------------------- estimates


@dataclass(frozen=True)
class RemainingEstimate:
    """Expected includes among the unscreened records: ``rate`` × ``unscreened`` (and a 95 % upper bound)."""

    expected: float
    upper95: float
    rate: float
    window: int  # how many recent decisions the rate comes from
    includes_in_window: int
    unscreened: int


def wilson_upper(k: int, n: int, z: float = 1.96) -> float:
    """Upper end of the Wilson score interval for ``k`` successes in ``n`` trials (1.0 when ``n`` is 0)."""
    if n <= 0:
        return 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + margin) / (1 + z * z / n))


def estimate_remaining(
    labels_in_order: Sequence[int],
    unscreened: int,
    window: int = ESTIMATE_WINDOW,
    min_decisions: int = ESTIMATE_MIN_DECISIONS,
) -> RemainingEstimate | None:
    """How many includes are probably left: the include rate of the last ``window`` decisions × unscreened records.

    ``labels_in_order``: the include (1) / exclude (0) decisions, oldest first. Returns None with fewer than
    ``min_decisions`` decisions (too few to say anything). ``upper95`` uses the Wilson upper bound of that rate.

    What it is, honestly: an extrapolation that assumes the unscreened records hold includes at the rate the
    reviewer has just been finding them. The ranking puts likely includes first, so the records still to come are
    usually *poorer* than the recent ones and the figure tends to overstate what is left (it errs on the side of
    screening on) — but it is a heuristic, not a statistical guarantee: the ranking can miss a group of includes
    that look unlike those found so far, and no rate measured on ranked records can see them.
    """
    if unscreened < 0:
        raise ValueError("unscreened must be >= 0")
    if len(labels_in_order) < min_decisions:
        return None
    recent = list(labels_in_order[-window:]) if window > 0 else list(labels_in_order)
    k, n = int(sum(recent)), len(recent)
    rate = k / n
    return RemainingEstimate(
        expected=rate * unscreened,
        upper95=wilson_upper(k, n) * unscreened,
        rate=rate,
        window=n,
        includes_in_window=k,
        unscreened=unscreened,
    )


@dataclass(frozen=True)
class StoppingRule:
    """Heuristic stopping rule: suggest stopping after ``threshold`` consecutive excludes."""

    since_last_include: int  # consecutive excludes at the end of the decisions
    threshold: int
    met: bool


def default_stop_threshold(n_records: int) -> int:
    """200 consecutive excludes, or 5 % of the review when that is more (large reviews)."""
    return max(STOP_RECORDS, math.ceil(STOP_FRACTION * n_records))


def stopping_rule(
    labels_in_order: Sequence[int], n_records: int, threshold: int | None = None
) -> StoppingRule:
    """Met when the last ``threshold`` include/exclude decisions (skips do not count) found no include.

    ``threshold`` defaults to :func:`default_stop_threshold` (200, or 5 % of the review when larger). This is the
    common "N consecutive irrelevant records" heuristic (as in ASReview's guidance): a suggestion to consider
    stopping, not a guarantee of recall.
    """
    t = default_stop_threshold(n_records) if threshold is None else int(threshold)
    if t < 1:
        raise ValueError("the stopping threshold must be >= 1")
    run = 0
    for label in reversed(labels_in_order):
        if label:
            break
        run += 1
    return StoppingRule(since_last_include=run, threshold=t, met=run >= t)


# ----------------------------------------------------------------------------- records and progress


@dataclass
class ScreeningRecord:
    index: int
    record_id: str
    title: str
    abstract: str
    pmid: str | None = None
    doi: str | None = None
    duplicate_of: str | None = None
    decision: str | None = None  # include | exclude | skip | None
    notes: list[str] = field(default_factory=list)


@dataclass
class Progress:
    records: int  # all records in the project
    duplicates: int  # set aside
    total: int  # records to screen (records - duplicates)
    screened: int  # include + exclude
    includes: int
    excludes: int
    skipped: int
    unscreened: int  # total - screened (skipped ones included)
    estimate: RemainingEstimate | None
    stopping: StoppingRule

    @property
    def done(self) -> bool:
        return self.unscreened == 0

    def as_dict(self) -> dict[str, Any]:
        est = self.estimate
        return {
            "records": self.records,
            "duplicates": self.duplicates,
            "total": self.total,
            "screened": self.screened,
            "includes": self.includes,
            "excludes": self.excludes,
            "skipped": self.skipped,
            "unscreened": self.unscreened,
            "estimated_remaining_includes": None if est is None else round(est.expected, 2),
            "estimated_remaining_includes_upper95": None if est is None else round(est.upper95, 2),
            "estimate_window": None if est is None else est.window,
            "excludes_since_last_include": self.stopping.since_last_include,
            "stop_threshold": self.stopping.threshold,
            "stopping_rule_met": self.stopping.met,
        }


# ----------------------------------------------------------------------------- the project


class ScreeningProject:
    """One review's screening project in one SQLite file; usable without a terminal.

    Create with :meth:`create`, reopen with :meth:`open` (both return a project; close it or use ``with``).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self.meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        rows = conn.execute(
            "SELECT idx, record_id, title, abstract, pmid, doi, duplicate_of, source_label, prior "
            "FROM records ORDER BY idx"
        ).fetchall()
        if not rows:
            raise ValueError(f"{path}: the project holds no records")
        self.records = pl.DataFrame(
            {
                "record_id": [r[1] for r in rows],
                "title": [r[2] for r in rows],
                "abstract": [r[3] for r in rows],
                "label": [r[7] for r in rows],
                "pmid": [r[4] for r in rows],
                "doi": [r[5] for r in rows],
                "duplicate_of": [r[6] for r in rows],
            },
            schema=RECORDS_SCHEMA,
        )
        self._ids: list[str] = self.records["record_id"].to_list()
        self._index = {rid: i for i, rid in enumerate(self._ids)}
        self._duplicate = np.asarray([r[6] is not None for r in rows], dtype=bool)
        self.prior = np.asarray([r[8] for r in rows], dtype=np.float64)
        self.embeddings = self._array("embeddings")
        from ranksuite.domains.screening.simulate import DEFAULT_STRATEGY, STRATEGIES

        spec = STRATEGIES[DEFAULT_STRATEGY]  # the session learns as the default simulated strategy does
        dense = self.embeddings if spec.dense_features else None
        self.features = combined_features(tfidf_matrix(record_texts(self.records)), dense, spec.dense_weight)
        self._cache_key: tuple[tuple[str, str], ...] | None = None
        self._cache_ranking: np.ndarray | None = None

    # -- opening ----------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> ScreeningProject:
        """Reopen a project: the same decisions give the same next record."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(
                f"{p}: no such screening project (create one with --records FILE --topic TEXT)"
            )
        conn = sqlite3.connect(str(p), isolation_level=None, timeout=30.0)
        try:
            try:
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.DatabaseError as exc:
                raise ValueError(f"{p}: not a ranksuite screening project ({exc})") from exc
            if meta.get("format") != FORMAT:
                raise ValueError(f"{p}: not a ranksuite screening project (no '{FORMAT}' marker)")
            if int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
                raise ValueError(
                    f"{p}: made by a newer ranksuite (schema {meta['schema_version']}); upgrade ranksuite"
                )
            # every decision is its own transaction, on disk when it returns (WAL + fsync on each commit)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            return cls(p, conn)
        except BaseException:
            conn.close()
            raise

    @classmethod
    def create(
        cls,
        path: str | Path,
        records: pl.DataFrame | str | Path,
        topic: str,
        query: str = "",
        model: str = "minilm",
        neural: bool = True,
        device: str | None = None,
        progress: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> ScreeningProject:
        """Create a project file from ``records`` (a records frame or any file ``read_records`` reads).

        ``neural``: prior = fusion of BM25 and the bi-encoder ``model`` (an offline name or a folder), features =
        TF-IDF + embeddings (cached on disk by ``record_embeddings`` and stored in the project). Otherwise prior =
        BM25, features = TF-IDF. The file appears only once complete (built beside it, then renamed).
        """
        from ranksuite.domains.screening.rank import Topic, record_embeddings, zero_shot_scores

        say = log or (lambda _msg: None)
        p = Path(path)
        if p.exists():
            raise ValueError(f"{p} already exists: resume it with --project {p} alone, or choose a new file")
        if not (topic or "").strip():
            raise ValueError("the topic (the review's title) must not be empty")
        source = str(records) if not isinstance(records, pl.DataFrame) else "<records frame>"
        df = records if isinstance(records, pl.DataFrame) else read_records(records)
        df = validate_records(df, source)
        if df.height == 0:
            raise ValueError(f"{source}: no records")
        say(f"{df.height} records read from {source}")
        topic_obj = Topic(topic.strip(), query or "")
        embeddings = None
        if neural:
            from ranksuite.domains.screening.rank import screening_encoder

            say(f"loading the bi-encoder {model!r}")
            encoder = screening_encoder(model).to_device(device)
            say("embedding the records (cached on disk after the first time)")
            embeddings = record_embeddings(df, encoder, progress=progress).astype(np.float32)
            say("scoring the records against the topic (BM25 + bi-encoder, fused)")
            prior = zero_shot_scores(df, topic_obj, "fusion", model=encoder, embeddings=embeddings)
        else:
            say("scoring the records against the topic (BM25)")
            prior = zero_shot_scores(df, topic_obj, "bm25")
        prior = np.asarray(prior, dtype=np.float64)
        now = _now()
        meta = {
            "format": FORMAT,
            "schema_version": str(SCHEMA_VERSION),
            "created": now,
            "topic": topic_obj.title,
            "query": topic_obj.query,
            "neural": "1" if neural else "0",
            "model": model if neural else "",
            "prior": "fusion" if neural else "bm25",
            "source": source,
            "pinned": "",
        }
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".creating", dir=p.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            tmp_path.unlink()
            conn = sqlite3.connect(str(tmp_path), isolation_level=None)
            try:
                conn.executescript(_SCHEMA)
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
                conn.executemany(
                    "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (i, r["record_id"], r["title"] or "", r["abstract"] or "", r["pmid"], r["doi"],
                         r["duplicate_of"], r["label"], float(prior[i]))
                        for i, r in enumerate(df.iter_rows(named=True))
                    ],
                )  # fmt: skip
                if embeddings is not None:
                    conn.execute(
                        "INSERT INTO arrays VALUES (?, ?, ?, ?, ?)",
                        (
                            "embeddings",
                            "float32",
                            *embeddings.shape,
                            np.ascontiguousarray(embeddings).tobytes(),
                        ),
                    )
                conn.execute(
                    "INSERT INTO events (time, action, text) VALUES (?, 'create', ?)",
                    (now, f"{df.height} records from {source}"),
                )
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode=WAL")
            finally:
                conn.close()
            # a stale WAL left by an earlier, deleted file of that name must not be replayed into this one
            for suffix in ("-wal", "-shm"):
                Path(f"{p}{suffix}").unlink(missing_ok=True)
            os.replace(tmp_path, p)
        finally:
            for leftover in (tmp_path, Path(f"{tmp_path}-wal"), Path(f"{tmp_path}-shm")):
                leftover.unlink(missing_ok=True)
        say(f"created {p}")
        return cls.open(p)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ScreeningProject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _array(self, name: str) -> np.ndarray | None:
        row = self._conn.execute(
            "SELECT dtype, rows, cols, data FROM arrays WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        dtype, rows, cols, data = row
        return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(rows, cols).copy()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- properties ---------------------------------------------------------------------------------------------
    @property
    def topic(self) -> str:
        return self.meta.get("topic", "")

    @property
    def query(self) -> str:
        return self.meta.get("query", "")

    @property
    def neural(self) -> bool:
        return self.meta.get("neural") == "1"

    @property
    def terms(self) -> list[str]:
        return topic_terms(self.topic, self.query)

    def _check_id(self, record_id: str) -> int:
        if record_id not in self._index:
            raise ValueError(f"unknown record_id {record_id!r}")
        return self._index[record_id]

    # -- decisions ------------------------------------------------------------------------------------------
    def decide(self, record_id: str, decision: str) -> None:
        """Record ``include`` / ``exclude`` / ``skip`` for a record; committed to disk before returning."""
        if decision not in DECISIONS:
            raise ValueError(f"a decision is one of {', '.join(DECISIONS)}, not {decision!r}")
        i = self._check_id(record_id)
        if self._duplicate[i]:
            dup = self.records["duplicate_of"][i]
            raise ValueError(f"record {record_id!r} is a duplicate of {dup!r}: it is set aside, not screened")
        now = _now()
        with self._transaction() as c:
            prev = c.execute(
                "SELECT decision, time, seq FROM decisions WHERE record_id = ?", (record_id,)
            ).fetchone()
            cur = c.execute(
                "INSERT INTO events (time, action, record_id, previous, previous_time, previous_seq) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now, decision, record_id, *(prev or (None, None, None))),
            )
            c.execute(
                "INSERT OR REPLACE INTO decisions (record_id, decision, time, seq) VALUES (?, ?, ?, ?)",
                (record_id, decision, now, cur.lastrowid),
            )
            c.execute("UPDATE meta SET value = '' WHERE key = 'pinned'")

    def include(self, record_id: str) -> None:
        self.decide(record_id, "include")

    def exclude(self, record_id: str) -> None:
        self.decide(record_id, "exclude")

    def skip(self, record_id: str) -> None:
        """Move a record to later without labelling it (it comes back when every other record is screened)."""
        self.decide(record_id, "skip")

    def undo(self) -> ScreeningRecord | None:
        """Revert the last decision (include, exclude or skip) not yet undone; returns that record (shown next).

        None when there is nothing to undo. Notes are kept.
        """
        now = _now()
        with self._transaction() as c:
            row = c.execute(
                "SELECT seq, record_id, previous, previous_time, previous_seq FROM events "
                "WHERE action IN ('include', 'exclude', 'skip') AND undone_by IS NULL ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            seq, record_id, previous, previous_time, previous_seq = row
            if previous is None:
                c.execute("DELETE FROM decisions WHERE record_id = ?", (record_id,))
            else:
                c.execute(
                    "INSERT OR REPLACE INTO decisions (record_id, decision, time, seq) VALUES (?, ?, ?, ?)",
                    (record_id, previous, previous_time, previous_seq),
                )
            cur = c.execute(
                "INSERT INTO events (time, action, record_id) VALUES (?, 'undo', ?)", (now, record_id)
            )
            c.execute("UPDATE events SET undone_by = ? WHERE seq = ?", (cur.lastrowid, seq))
            c.execute("UPDATE meta SET value = ? WHERE key = 'pinned'", (record_id,))
        return self.record(record_id)

    def note(self, record_id: str, text: str) -> None:
        """Attach free text to a record (several notes are kept in order; undo leaves them)."""
        self._check_id(record_id)
        text = (text or "").strip()
        if not text:
            raise ValueError("an empty note")
        now = _now()
        with self._transaction() as c:
            c.execute("INSERT INTO notes (record_id, time, text) VALUES (?, ?, ?)", (record_id, now, text))
            c.execute(
                "INSERT INTO events (time, action, record_id, text) VALUES (?, 'note', ?, ?)",
                (now, record_id, text),
            )

    # -- reading state ----------------------------------------------------------------------------------------
    def decisions(self) -> pl.DataFrame:
        """The current decisions in the order they were made: record_id, decision, time, note."""
        rows = self._conn.execute(
            "SELECT d.record_id, d.decision, d.time, "
            "(SELECT group_concat(n.text, ' | ') FROM notes n WHERE n.record_id = d.record_id) "
            "FROM decisions d ORDER BY d.seq"
        ).fetchall()
        return pl.DataFrame(
            rows, schema={"record_id": pl.String, "decision": pl.String, "time": pl.String, "note": pl.String},
            orient="row",
        )  # fmt: skip

    def notes(self, record_id: str) -> list[str]:
        return [
            r[0]
            for r in self._conn.execute(
                "SELECT text FROM notes WHERE record_id = ? ORDER BY id", (record_id,)
            )
        ]

    def _all_notes(self) -> dict[str, list[str]]:
        notes: dict[str, list[str]] = {}
        for rid, text in self._conn.execute("SELECT record_id, text FROM notes ORDER BY id"):
            notes.setdefault(rid, []).append(text)
        return notes

    def record(self, record_id: str) -> ScreeningRecord:
        i = self._check_id(record_id)
        r = self.records.row(i, named=True)
        d = self._conn.execute("SELECT decision FROM decisions WHERE record_id = ?", (record_id,)).fetchone()
        return ScreeningRecord(
            index=i,
            record_id=record_id,
            title=r["title"],
            abstract=r["abstract"],
            pmid=r["pmid"],
            doi=r["doi"],
            duplicate_of=r["duplicate_of"],
            decision=d[0] if d else None,
            notes=self.notes(record_id),
        )

    def _labels_in_order(self) -> list[int]:
        return [
            1 if d == "include" else 0
            for (d,) in self._conn.execute(
                "SELECT decision FROM decisions WHERE decision != 'skip' ORDER BY seq"
            )
        ]

    def ranking(self) -> np.ndarray:
        """Indices of the records not yet included/excluded (nor set aside), most likely relevant first.

        Skipped records are not in it (see :meth:`next_record`).
        """
        rows = self._conn.execute("SELECT record_id, decision FROM decisions ORDER BY seq").fetchall()
        key = tuple(rows)
        if self._cache_key == key and self._cache_ranking is not None:
            return self._cache_ranking
        learner = ActiveLearner(self.features, prior=self.prior, refit_every="each")
        skipped = np.zeros(len(self._ids), dtype=bool)
        for rid, decision in rows:
            if decision == "skip":
                skipped[self._index[rid]] = True
            else:
                learner.label(self._index[rid], 1 if decision == "include" else 0)
        order = learner.ranking()
        order = order[~(self._duplicate[order] | skipped[order])]
        self._cache_key, self._cache_ranking = key, order
        return order

    def next_record(self) -> ScreeningRecord | None:
        """The record to screen now: after an undo the undone one; else the top of the ranking; once every other
        record is screened, the skipped ones (oldest skip first). None when all are screened."""
        pinned = self._conn.execute("SELECT value FROM meta WHERE key = 'pinned'").fetchone()
        if pinned and pinned[0] in self._index:
            rec = self.record(pinned[0])
            if rec.decision in (None, "skip"):
                return rec
        order = self.ranking()
        if order.size:
            return self.record(self._ids[int(order[0])])
        row = self._conn.execute(
            "SELECT record_id FROM decisions WHERE decision = 'skip' ORDER BY seq LIMIT 1"
        ).fetchone()
        return self.record(row[0]) if row else None

    def progress(self, stop_threshold: int | None = None) -> Progress:
        counts = dict(
            self._conn.execute("SELECT decision, COUNT(*) FROM decisions GROUP BY decision").fetchall()
        )
        inc, exc, skp = counts.get("include", 0), counts.get("exclude", 0), counts.get("skip", 0)
        records = len(self._ids)
        duplicates = int(self._duplicate.sum())
        total = records - duplicates
        screened = inc + exc
        labels = self._labels_in_order()
        return Progress(
            records=records,
            duplicates=duplicates,
            total=total,
            screened=screened,
            includes=inc,
            excludes=exc,
            skipped=skp,
            unscreened=total - screened,
            estimate=estimate_remaining(labels, total - screened),
            stopping=stopping_rule(labels, total, stop_threshold),
        )

    # -- export ---------------------------------------------------------------------------------------------
    def export_frame(self) -> pl.DataFrame:
        """Every record with its label (1 include, 0 exclude, null otherwise) and the screening columns
        ``screening_decision`` (include / exclude / skip / duplicate / empty), ``screening_time``, ``screening_notes``."""
        d = self.decisions()
        by_id = {r["record_id"]: r for r in d.iter_rows(named=True)}
        notes = self._all_notes()
        decision = []
        for i, rid in enumerate(self._ids):
            if rid in by_id:
                decision.append(by_id[rid]["decision"])
            else:
                decision.append("duplicate" if self._duplicate[i] else None)
        label = [1 if x == "include" else 0 if x == "exclude" else None for x in decision]
        return self.records.with_columns(pl.Series("label", label, dtype=pl.Int8)).with_columns(
            pl.Series("screening_decision", decision, dtype=pl.String),
            pl.Series("screening_time", [by_id[r]["time"] if r in by_id else None for r in self._ids], pl.String),
            pl.Series("screening_notes", [" | ".join(notes[r]) if r in notes else None for r in self._ids], pl.String),
        )  # fmt: skip

    def export(self, path: str | Path) -> dict[str, Any]:
        """Write every record with its decision to ``.csv`` or ``.ris`` (atomically); returns counts.

        Both are written by :func:`~ranksuite.domains.screening.data.write_records` (label 1/0/empty; RIS adds
        ASReview's ``ASReview_relevant``/``ASReview_irrelevant`` markers), so both read back with ``read_records``.
        CSV: the canonical columns, then ``screening_decision``, ``screening_time``, ``screening_notes``. RIS: each
        note as an ``N1`` line.
        """
        p = Path(path)
        frame = self.export_frame()
        canonical = frame.select(list(RECORDS_SCHEMA))
        name = p.name.lower()
        if name.endswith(".csv"):
            write_records(frame, p)  # canonical columns first, then the screening columns
        elif name.endswith(".ris"):
            ris = records_to_ris(validate_records(canonical, p))
            atomic_write_text(p, _ris_with_notes(ris, self._all_notes()))
        else:
            raise ValueError(f"{p}: export writes .csv or .ris")
        counts = frame["screening_decision"].value_counts()
        by = {k: v for k, v in counts.iter_rows() if k is not None}
        return {
            "path": str(p),
            "records": frame.height,
            "includes": by.get("include", 0),
            "excludes": by.get("exclude", 0),
            "skipped": by.get("skip", 0),
            "duplicates": by.get("duplicate", 0),
            "unlabelled": int(frame["label"].null_count()),
            "records_with_notes": int(frame["screening_notes"].drop_nulls().len()),
        }


def _ris_with_notes(text: str, notes: dict[str, list[str]]) -> str:
    """Insert an ``N1`` line per note into the RIS entries (matched by their ``ID``), before ``ER``."""
    if not notes:
        return text
    out: list[str] = []
    current: str | None = None
    for line in text.split("\n"):
        if line.startswith("ID  - "):
            current = line[6:].strip()
        if line.startswith("ER  -"):
            if current in notes:
                out.extend(f"N1  - {' '.join(n.split())}" for n in notes[current])
            current = None
        out.append(line)
    return "\n".join(out)
