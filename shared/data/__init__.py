"""Data IO with polars: BEIR collections, TREC runs/qrels, JSONL, atomic writes, and one DataError for bad input."""

from ranksuite.shared.data.beir import Collection, load_beir, read_beir_qrels, read_corpus, read_queries
from ranksuite.shared.data.errors import DataError
from ranksuite.shared.data.frames import make_run, rank_run, top_k
from ranksuite.shared.data.trec import read_qrels, read_run, write_qrels, write_run

__all__ = [
    "Collection",
    "DataError",
    "load_beir",
    "make_run",
    "rank_run",
    "read_beir_qrels",
    "read_corpus",
    "read_qrels",
    "read_queries",
    "read_run",
    "top_k",
    "write_qrels",
    "write_run",
]
