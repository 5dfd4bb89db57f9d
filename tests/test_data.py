"""Tests for ranksuite.shared.data: BEIR loading (demo counts), DataError messages, TREC runs, make_run."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranksuite.shared.data import DataError, load_beir, make_run, read_run, write_run
from ranksuite.shared.data.beir import read_beir_qrels, read_corpus, read_queries

# ----------------------------------------------------------------------------- the demo collection


def test_demo_counts_match_the_card(demo_dir: Path) -> None:
    """The numbers in datasets/cards/demo_minicorpus.md."""
    train = load_beir(demo_dir, "train")
    test = load_beir(demo_dir, "test", corpus=train.corpus)
    assert train.corpus.height == 152
    assert read_queries(demo_dir / "queries.jsonl").height == 90
    assert train.queries.height == 60
    assert test.queries.height == 30
    assert train.qrels.height == 70
    assert test.qrels.height == 37
    assert train.qrels.filter(pl.col("label") == 2).height == 60
    assert train.qrels.filter(pl.col("label") == 1).height == 10
    assert test.qrels.filter(pl.col("label") == 2).height == 30
    assert test.qrels.filter(pl.col("label") == 1).height == 7
    relevant_docs = set(train.qrels["docno"].to_list()) | set(test.qrels["docno"].to_list())
    assert len(relevant_docs) == 103
    assert not set(train.queries["qid"].to_list()) & set(test.queries["qid"].to_list())
    # every query: 1 to 3 judged documents, exactly one with score 2
    for coll in (train, test):
        per_q = coll.qrels.group_by("qid").agg(pl.len().alias("n"), (pl.col("label") == 2).sum().alias("n2"))
        assert per_q["n"].min() >= 1 and per_q["n"].max() <= 3
        assert (per_q["n2"] == 1).all()


def test_demo_collection_frames(demo_dir: Path) -> None:
    coll = load_beir(demo_dir, "test")
    assert coll.name == "minicorpus" and coll.split == "test"
    assert coll.corpus.columns == ["docno", "title", "text"]
    assert coll.queries.columns == ["qid", "query"]
    assert coll.qrels.columns == ["qid", "docno", "label"]
    docs = coll.doc_texts()
    assert docs["d064"].startswith("Light versus dark roast Roasting turns")
    assert coll.query_texts()["q008"] == "where did the idea of a leap year come from"


# ----------------------------------------------------------------------------- DataError messages


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def make_collection(root: Path, qrels_lines: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(
        root / "corpus.jsonl",
        [
            json.dumps({"_id": "d1", "title": "Cats", "text": "cats purr"}),
            json.dumps({"_id": "d2", "title": "", "text": "dogs bark"}),
        ],
    )
    write_jsonl(root / "queries.jsonl", [json.dumps({"_id": "q1", "text": "why do cats purr"})])
    (root / "qrels").mkdir(exist_ok=True)
    lines = qrels_lines if qrels_lines is not None else ["q1\td1\t1"]
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(line + "\n" for line in lines), encoding="utf-8"
    )
    return root


def assert_names(err: DataError, path: Path, line: int, field: str | None) -> str:
    msg = str(err)
    assert str(path) in msg, msg
    assert f"line {line}" in msg, msg
    assert err.path == str(path) and err.line == line and err.field == field
    if field is not None:
        assert f"'{field}'" in msg, msg
    return msg


def test_invalid_json_line(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "corpus.jsonl",
        [json.dumps({"_id": "d1", "text": "ok"}), '{"_id": "d2", "text": "broken'],
    )
    with pytest.raises(DataError) as exc:
        read_corpus(path)
    msg = assert_names(exc.value, path, 2, None)
    assert "not valid JSON" in msg


def test_missing_id(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "queries.jsonl",
        [json.dumps({"_id": "q1", "text": "a"}), "", json.dumps({"text": "no id here"})],
    )
    with pytest.raises(DataError) as exc:
        read_queries(path)
    msg = assert_names(exc.value, path, 3, "_id")  # blank lines still count
    assert "missing" in msg


def test_duplicate_document_id(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            json.dumps({"_id": "d1", "text": "a"}),
            json.dumps({"_id": "d2", "text": "b"}),
            json.dumps({"_id": "d1", "text": "c"}),
        ],
    )
    with pytest.raises(DataError) as exc:
        read_corpus(path)
    msg = assert_names(exc.value, path, 3, "_id")
    assert "duplicate" in msg and "'d1'" in msg and "line 1" in msg


def test_duplicate_query_id(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "queries.jsonl",
        [json.dumps({"_id": "q1", "text": "a"}), json.dumps({"_id": "q1", "text": "b"})],
    )
    with pytest.raises(DataError) as exc:
        read_queries(path)
    assert "duplicate" in assert_names(exc.value, path, 2, "_id")


def test_qrels_unknown_corpus_id(tmp_path: Path) -> None:
    root = make_collection(tmp_path / "coll", ["q1\td1\t1", "q1\td99\t1"])
    with pytest.raises(DataError) as exc:
        load_beir(root, "test")
    msg = assert_names(exc.value, root / "qrels" / "test.tsv", 3, "corpus-id")  # header is line 1
    assert "'d99'" in msg and "not in the corpus" in msg


def test_qrels_unknown_query_id(tmp_path: Path) -> None:
    root = make_collection(tmp_path / "coll", ["q7\td1\t1"])
    with pytest.raises(DataError) as exc:
        load_beir(root, "test")
    msg = assert_names(exc.value, root / "qrels" / "test.tsv", 2, "query-id")
    assert "'q7'" in msg


def test_qrels_non_numeric_score(tmp_path: Path) -> None:
    root = make_collection(tmp_path / "coll", ["q1\td1\t1", "q1\td2\thigh"])
    with pytest.raises(DataError) as exc:
        load_beir(root, "test")
    msg = assert_names(exc.value, root / "qrels" / "test.tsv", 3, "score")
    assert "'high'" in msg and "not a number" in msg


@pytest.mark.parametrize("row", ["q1\td1", "q1\td1\t1\textra\tmore"])
def test_qrels_wrong_column_count(tmp_path: Path, row: str) -> None:
    path = tmp_path / "test.tsv"
    path.write_text(f"query-id\tcorpus-id\tscore\nq1\td1\t1\n{row}\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_beir_qrels(path)
    msg = assert_names(exc.value, path, 3, None)
    assert f"got {len(row.split())}" in msg and "3 tab-separated columns" in msg


def test_trec_style_qrels_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 d1 2\nq1 0 d2 0\n", encoding="utf-8")
    qrels = read_beir_qrels(path)
    assert qrels.rows() == [("q1", "d1", 2), ("q1", "d2", 0)]


def test_missing_split_lists_the_available_ones(demo_dir: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_beir(demo_dir, "dev")
    msg = str(exc.value)
    assert "'dev'" in msg and "test, train" in msg
    assert str(demo_dir / "qrels" / "dev.tsv") in msg


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        load_beir(tmp_path / "nope")


def test_missing_corpus_file(tmp_path: Path) -> None:
    root = make_collection(tmp_path / "coll")
    (root / "corpus.jsonl").unlink()
    with pytest.raises(DataError, match=r"corpus\.jsonl.*not found"):
        load_beir(root, "test")


def test_data_error_is_a_value_error() -> None:
    err = DataError("x.tsv", "bad", line=4, field="score")
    assert isinstance(err, ValueError)
    assert str(err) == "x.tsv, line 4: field 'score': bad"


# ----------------------------------------------------------------------------- TREC runs


def test_trec_run_round_trip(tmp_path: Path) -> None:
    run = make_run(
        ["q1", "q1", "q1", "q2", "q2"], ["d1", "d2", "d3", "d1", "d9"], [0.5, 2.25, -1.0, 3.0, 7.125]
    )
    path = write_run(run, tmp_path / "run.trec", tag="mytag")
    lines = path.read_text().splitlines()
    assert len(lines) == 5
    assert lines[0].split() == ["q1", "Q0", "d2", "1", "2.250000", "mytag"]
    assert all(len(line.split()) == 6 for line in lines)
    back = read_run(path)
    assert back.columns == ["qid", "docno", "score", "rank"]
    assert back.rows() == run.rows()


def test_read_run_rejects_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text("q1 Q0 d1 1 1.0 tag\nq1 Q0 d2 2 1.0\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_run(path)
    assert "expected 6 columns" in assert_names(exc.value, path, 2, None)
    path.write_text("q1 Q0 d1 1 x tag\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_run(path)
    assert_names(exc.value, path, 1, "score")


# ----------------------------------------------------------------------------- make_run (property)

run_rows = st.lists(
    st.tuples(
        st.sampled_from(["q1", "q2", "q3"]),
        st.text(alphabet="abcdef", min_size=1, max_size=3),
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    ),
    max_size=40,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=100, deadline=None)
@given(run_rows)
def test_make_run_ranks_are_one_to_n_by_descending_score(rows: list[tuple[str, str, float]]) -> None:
    run = make_run([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    assert run.height == len(rows)
    assert run.columns == ["qid", "docno", "score", "rank"]
    for qid in {r[0] for r in rows}:
        part = run.filter(pl.col("qid") == qid).sort("rank")
        assert part["rank"].to_list() == list(range(1, part.height + 1))
        scores = part["score"].to_list()
        assert all(a >= b for a, b in itertools.pairwise(scores))
        expected = sorted(r[2] for r in rows if r[0] == qid)[::-1]
        assert scores == expected
