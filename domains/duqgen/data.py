"""The target collection as DUQGen sees it: documents only. Test queries and qrels are out of reach until evaluation.

:func:`load_target_corpus` reads ``corpus.jsonl[.gz]`` and nothing else; :func:`forbid_test_data` turns every
reader of queries or qrels into an error for as long as it is active, and the pipeline steps run inside it, so a step
that tried to peek at the test set would fail loudly instead of leaking labels into training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from ranksuite.shared.data import beir

TestDataLeak = beir.LabelsForbidden  # a DUQGen pipeline step tried to read the target's queries or qrels


def load_target_corpus(target: str | Path) -> pl.DataFrame:
    """``docno, title, text`` of the target's ``corpus.jsonl[.gz]`` (a BEIR folder or the corpus file itself)."""
    return beir.load_corpus(target)


@contextlib.contextmanager
def forbid_test_data() -> Iterator[None]:
    """While active, ``read_queries``, ``read_beir_qrels`` and ``load_beir`` raise :class:`TestDataLeak`."""
    with beir.forbid_labels(
        "the DUQGen steps before `evaluate` take only the corpus (test queries and qrels are for evaluation)"
    ):
        yield
