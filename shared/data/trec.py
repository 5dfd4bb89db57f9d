"""TREC run and qrels files, the lingua franca of IR evaluation.

- run:   ``qid Q0 docno rank score tag`` (whitespace separated, six columns)
- qrels: ``qid iter docno label`` (four columns)
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ranksuite.shared.data.atomic import atomic_write_text
from ranksuite.shared.data.errors import DataError
from ranksuite.shared.data.frames import QRELS_SCHEMA, rank_run
from ranksuite.shared.data.jsonl import open_text


def read_run(path: str | Path) -> pl.DataFrame:
    """Read a TREC run into ``qid, docno, score, rank`` (ranks recomputed from scores, as trec_eval does)."""
    qids: list[str] = []
    docnos: list[str] = []
    scores: list[float] = []
    if not Path(path).exists():
        raise DataError(path, "file not found")
    with open_text(path) as fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            parts = raw.split()
            if len(parts) != 6:
                raise DataError(
                    path, f"expected 6 columns (qid Q0 docno rank score tag), got {len(parts)}", line=i
                )
            try:
                score = float(parts[4])
            except ValueError as exc:
                raise DataError(path, f"not a number: {parts[4]!r}", line=i, field="score") from exc
            qids.append(parts[0])
            docnos.append(parts[2])
            scores.append(score)
    df = pl.DataFrame(
        {"qid": qids, "docno": docnos, "score": scores},
        schema={"qid": pl.String, "docno": pl.String, "score": pl.Float64},
    )
    return rank_run(df)


def write_run(run: pl.DataFrame, path: str | Path, tag: str = "ranksuite") -> Path:
    """Write ``qid, docno, score, rank`` as a six-column TREC run (atomically)."""
    run = rank_run(run.select("qid", "docno", "score"))
    lines = [
        f"{q} Q0 {d} {r} {s:.6f} {tag}\n"
        for q, d, s, r in zip(run["qid"], run["docno"], run["score"], run["rank"], strict=True)
    ]
    return atomic_write_text(path, "".join(lines))


def read_qrels(path: str | Path) -> pl.DataFrame:
    """Read TREC (4 columns) or BEIR (3 columns + header) qrels into ``qid, docno, label``."""
    from ranksuite.shared.data.beir import read_beir_qrels

    return read_beir_qrels(path)


def write_qrels(qrels: pl.DataFrame, path: str | Path) -> Path:
    qrels = qrels.select(list(QRELS_SCHEMA))
    lines = [f"{q} 0 {d} {lab}\n" for q, d, lab in qrels.iter_rows()]
    return atomic_write_text(path, "".join(lines))
