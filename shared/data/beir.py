"""BEIR-layout test collections: ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]``, ``qrels/<split>.tsv``.

Every record is checked as it is read; a bad one raises :class:`DataError` naming the file, line and field.
Nothing is dropped silently: a qrels row whose query or document is not in the collection is an error too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ranksuite.shared.data.errors import DataError
from ranksuite.shared.data.frames import CORPUS_SCHEMA, QRELS_SCHEMA, QUERIES_SCHEMA
from ranksuite.shared.data.jsonl import iter_jsonl, open_text, require_str, write_jsonl


@dataclass
class Collection:
    """A test collection restricted to one split: only the queries that have qrels in it."""

    name: str
    root: Path
    split: str
    corpus: pl.DataFrame
    queries: pl.DataFrame
    qrels: pl.DataFrame

    def doc_texts(self) -> dict[str, str]:
        """docno -> "title text" (BEIR's convention: the title joined to the body by a space)."""
        return dict(zip(self.corpus["docno"].to_list(), doc_text_column(self.corpus).to_list(), strict=True))

    def query_texts(self) -> dict[str, str]:
        return dict(zip(self.queries["qid"].to_list(), self.queries["query"].to_list(), strict=True))


class LabelsForbidden(RuntimeError):
    """Queries or qrels were read inside :func:`forbid_labels` (e.g. an unsupervised step peeking at test data)."""


_FORBIDDEN: ContextVar[str | None] = ContextVar("ranksuite_labels_forbidden", default=None)


@contextlib.contextmanager
def forbid_labels(reason: str) -> Iterator[None]:
    """While active, reading queries or qrels (``read_queries``, ``read_beir_qrels``, ``load_beir``) raises.

    A flag checked by the readers themselves, not a monkeypatch, so a module imported inside the block keeps the
    real functions afterwards.
    """
    token = _FORBIDDEN.set(reason)
    try:
        yield
    finally:
        _FORBIDDEN.reset(token)


def _check_allowed(name: str) -> None:
    reason = _FORBIDDEN.get()
    if reason is not None:
        raise LabelsForbidden(f"{name} called while queries and qrels are off limits: {reason}")


def doc_text_column(corpus: pl.DataFrame) -> pl.Series:
    """Title and text joined by a space, as BEIR's models see a document."""
    return (
        corpus.select(
            pl.concat_str([pl.col("title").fill_null(""), pl.col("text").fill_null("")], separator=" ")
            .str.strip_chars()
            .alias("doc")
        )
    )["doc"]


def _find(root: Path, stem: str) -> Path:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (root / name).exists():
            return root / name
    raise DataError(
        root / f"{stem}.jsonl", f"not found (looked for {stem}.jsonl and {stem}.jsonl.gz in {root})"
    )


def read_corpus(path: str | Path) -> pl.DataFrame:
    """Read a BEIR corpus file: one ``{"_id", "title", "text"}`` object per line (title may be empty)."""
    ids: list[str] = []
    titles: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    for line, rec in iter_jsonl(path):
        docno = require_str(path, line, rec, "_id")
        if docno in seen:
            raise DataError(
                path, f"duplicate document id {docno!r} (first on line {seen[docno]})", line=line, field="_id"
            )
        seen[docno] = line
        title = rec.get("title") or ""
        if not isinstance(title, str):
            raise DataError(path, f"expected a string, got {type(title).__name__}", line=line, field="title")
        text = require_str(
            path, line, rec, "text", allow_empty=True
        )  # real collections have empty docs (Cranfield)
        ids.append(docno)
        titles.append(title)
        texts.append(text)
    if not ids:
        raise DataError(path, "no documents")
    return pl.DataFrame({"docno": ids, "title": titles, "text": texts}, schema=CORPUS_SCHEMA)


def load_corpus(target: str | Path) -> pl.DataFrame:
    """``docno, title, text`` of a BEIR folder's ``corpus.jsonl[.gz]`` (or of the corpus file itself); reads no
    queries or qrels, so it works under :func:`forbid_labels`."""
    target = Path(target)
    if target.is_file():
        return read_corpus(target)
    if not target.is_dir():
        raise DataError(target, "not found (expected a BEIR folder holding corpus.jsonl[.gz])")
    return read_corpus(_find(target, "corpus"))


def read_queries(path: str | Path) -> pl.DataFrame:
    """Read a BEIR queries file: one ``{"_id", "text"}`` object per line."""
    _check_allowed("read_queries")
    ids: list[str] = []
    texts: list[str] = []
    seen: set[str] = set()
    for line, rec in iter_jsonl(path):
        qid = require_str(path, line, rec, "_id")
        if qid in seen:
            raise DataError(path, f"duplicate query id {qid!r}", line=line, field="_id")
        seen.add(qid)
        ids.append(qid)
        texts.append(require_str(path, line, rec, "text"))
    return pl.DataFrame({"qid": ids, "query": texts}, schema=QUERIES_SCHEMA)


def read_beir_qrels(
    path: str | Path, *, known_qids: set[str] | None = None, known_docnos: set[str] | None = None
) -> pl.DataFrame:
    """Read ``qrels/<split>.tsv``: ``query-id <tab> corpus-id <tab> score`` with an optional header line.

    Four-column TREC qrels (``qid 0 docno label``, whitespace separated) are accepted too. When ``known_qids`` /
    ``known_docnos`` are given, an id outside them is an error on its line (never a silent drop).
    """
    _check_allowed("read_beir_qrels")
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    qids: list[str] = []
    docnos: list[str] = []
    labels: list[int] = []
    with open_text(path) as fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            parts = raw.rstrip("\n").split("\t") if "\t" in raw else raw.split()
            if i == 1 and parts[-1].strip().lower() in {"score", "relevance", "label"}:
                continue  # header
            if len(parts) == 4:  # TREC: qid iter docno label
                parts = [parts[0], parts[2], parts[3]]
            if len(parts) != 3:
                raise DataError(
                    path,
                    f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(parts)}",
                    line=i,
                )
            qid, docno, score = (p.strip() for p in parts)
            try:
                label = int(float(score))
            except ValueError as exc:
                raise DataError(path, f"not a number: {score!r}", line=i, field="score") from exc
            if known_qids is not None and qid not in known_qids:
                raise DataError(
                    path, f"query id {qid!r} is not in the queries file", line=i, field="query-id"
                )
            if known_docnos is not None and docno not in known_docnos:
                raise DataError(
                    path, f"document id {docno!r} is not in the corpus", line=i, field="corpus-id"
                )
            qids.append(qid)
            docnos.append(docno)
            labels.append(label)
    return pl.DataFrame({"qid": qids, "docno": docnos, "label": labels}, schema=QRELS_SCHEMA)


def available_splits(root: str | Path) -> list[str]:
    qdir = Path(root) / "qrels"
    return sorted(p.name.split(".")[0] for p in qdir.glob("*.tsv")) if qdir.is_dir() else []


def load_beir(root: str | Path, split: str = "test", *, corpus: pl.DataFrame | None = None) -> Collection:
    """Load a BEIR-layout collection for one split. Pass ``corpus`` to reuse an already read corpus."""
    _check_allowed("load_beir")
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            root, "not a folder (expected a BEIR layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv)"
        )
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        have = ", ".join(available_splits(root)) or "none"
        raise DataError(qrels_path, f"no qrels for split {split!r} (splits here: {have})")
    corpus_df = corpus if corpus is not None else read_corpus(_find(root, "corpus"))
    queries_path = _find(root, "queries")
    queries = read_queries(queries_path)
    qrels = read_beir_qrels(
        qrels_path, known_qids=set(queries["qid"].to_list()), known_docnos=set(corpus_df["docno"].to_list())
    )
    split_qids = qrels.filter(pl.col("label") > 0)["qid"].unique()
    queries = queries.filter(pl.col("qid").is_in(split_qids.implode()))
    return Collection(root.name, root, split, corpus_df, queries, qrels)


def write_beir(collection: Collection, root: str | Path) -> Path:
    """Write ``collection`` as a BEIR folder (its split's qrels only) that :func:`load_beir` and every
    ``--data`` option read back; used for collections ranksuite makes itself (title queries)."""
    from ranksuite.shared.data.atomic import atomic_write_text

    root = Path(root)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(
        [
            {"_id": d, "title": t, "text": x}
            for d, t, x in collection.corpus.select("docno", "title", "text").iter_rows()
        ],
        root / "corpus.jsonl",
    )
    write_jsonl([{"_id": q, "text": t} for q, t in collection.queries.iter_rows()], root / "queries.jsonl")
    lines = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{d}\t{lab}" for q, d, lab in collection.qrels.iter_rows()
    ]
    atomic_write_text(root / "qrels" / f"{collection.split}.tsv", "\n".join(lines) + "\n")
    return root
