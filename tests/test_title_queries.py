"""Title queries (`ranksuite ir title-queries`): a label-free training collection read back as a BEIR folder, on
the real SciFact corpus; titles removed from every document; only the corpus is read."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from ranksuite.cli.app import app
from ranksuite.shared.data.beir import forbid_labels, load_beir, load_corpus
from ranksuite.shared.data.title_queries import title_query_collection

runner = CliRunner()


def test_cli_writes_a_collection_that_load_beir_reads_back(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "ir" / "scifact"
    out = tmp_path / "titles"
    with forbid_labels("title queries must come from the corpus alone"):
        res = runner.invoke(
            app, ["--json", "ir", "title-queries", "--data", str(source), "--n", "50", "--out", str(out)]
        )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["queries"] == 50
    coll = load_beir(out, "train")
    original = load_corpus(source)
    assert coll.corpus.height == original.height and (coll.corpus["title"] == "").all()
    titles = dict(original.select("docno", "title").iter_rows())
    pairs = coll.qrels.join(coll.queries, on="qid")
    assert pairs.height == 50 and (pairs["label"] == 1).all()
    assert all(query == titles[docno].strip() for docno, query in pairs.select("docno", "query").iter_rows())
    body = dict(original.select("docno", "text").iter_rows())
    assert all(coll.doc_texts()[d] == body[d] for d in pairs["docno"])  # the document is its body alone


def test_short_titles_and_empty_bodies_are_not_queries() -> None:
    words = " ".join(["word"] * 40)
    corpus = pl.DataFrame(
        {
            "docno": ["a", "b", "c"],
            "title": ["a long enough title here", "too short", "another long enough title"],
            "text": [words, words, "tiny body"],
        }
    )
    coll = title_query_collection(corpus)
    assert coll.qrels["docno"].to_list() == ["a"]
    assert coll.corpus.height == 3  # ineligible documents stay as candidates
    with pytest.raises(ValueError, match="cannot make title queries"):
        title_query_collection(corpus.filter(pl.col("docno") != "a"))


def test_sampling_is_seeded_and_bounded() -> None:
    corpus = pl.DataFrame(
        {
            "docno": [str(i) for i in range(30)],
            "title": [f"title number {i} about something" for i in range(30)],
            "text": [" ".join(["w"] * 40)] * 30,
        }
    )
    a, b = title_query_collection(corpus, 10, seed=1), title_query_collection(corpus, 10, seed=1)
    assert a.queries.equals(b.queries) and a.queries.height == 10
    assert title_query_collection(corpus, 100).queries.height == 30
