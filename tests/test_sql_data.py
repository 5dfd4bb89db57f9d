"""Text-to-SQL loaders (canonical frames, errors naming file/line/field) and the schema text."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from ranksuite.domains.sql.data import (
    CANDIDATES_SCHEMA,
    QUESTIONS_SCHEMA,
    load_candidates,
    load_geoquery,
    load_spider,
    load_sql_dir,
    schema_text,
)
from ranksuite.shared.data.errors import DataError


def make_spider_dir(root: Path) -> Path:
    """A two-question Spider-layout folder with one tiny database and a candidate pool."""
    (root / "databases" / "shop").mkdir(parents=True)
    conn = sqlite3.connect(root / "databases" / "shop" / "shop.sqlite")
    conn.executescript(
        """
        CREATE TABLE "item" ("id" INT, "name" TEXT, "price" REAL, PRIMARY KEY ("id"));
        CREATE TABLE "sale" ("id" INT, "item_id" INT, "qty" INT,
            FOREIGN KEY ("item_id") REFERENCES "item" ("id"));
        INSERT INTO item VALUES (1, 'pen', 1.5), (2, 'ink', 4.0), (3, 'pad', 2.25);
        INSERT INTO sale VALUES (1, 1, 3), (2, 1, 1), (3, 3, 2), (4, 2, 5);
        """
    )
    conn.commit()
    conn.close()
    qs = [
        {
            "question_id": 0,
            "db_id": "shop",
            "question": "How many items?",
            "gold_sql": "SELECT count(*) FROM item",
        },
        {
            "question_id": 1,
            "db_id": "shop",
            "question": "Names by price, cheapest first.",
            "gold_sql": "SELECT name FROM item ORDER BY price",
        },
    ]
    (root / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs))
    cands = [
        {"question_id": 0, "sql": "SELECT count(id) FROM item", "system": "a"},
        {"question_id": 0, "sql": "SELECT count(*) FROM sale", "system": "b"},
        {"question_id": 0, "sql": "SELECT count(*) FROM nope", "system": "c"},
        {"question_id": 1, "sql": "SELECT name FROM item ORDER BY price", "system": "a"},
        {"question_id": 1, "sql": "SELECT name FROM item", "system": "b"},
        {"question_id": 1, "sql": "DROP TABLE item", "system": "c"},
    ]
    (root / "candidates.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cands))
    return root


def test_load_spider_layout(tmp_path: Path) -> None:
    ds = load_spider(make_spider_dir(tmp_path))
    assert dict(ds.questions.schema) == QUESTIONS_SCHEMA
    assert ds.questions["question_id"].to_list() == ["0", "1"]
    assert set(ds.databases) == {"shop"} and ds.databases["shop"].is_file()
    assert ds.candidates is not None and dict(ds.candidates.schema) == CANDIDATES_SCHEMA
    assert ds.candidates["candidate_id"].to_list() == ["0:0", "0:1", "0:2", "1:0", "1:1", "1:2"]
    assert ds.candidates["db_id"].unique().to_list() == ["shop"]
    assert load_sql_dir(tmp_path).name == ds.name


def test_load_candidates_errors_name_file_line_field(tmp_path: Path) -> None:
    ds = load_spider(make_spider_dir(tmp_path), candidates=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question_id": 0, "sql": "SELECT 1"}\n{"question_id": 7, "sql": "SELECT 1"}\n')
    with pytest.raises(DataError) as exc:
        load_candidates(bad, ds.questions)
    assert exc.value.line == 2 and exc.value.field == "question_id" and "bad.jsonl" in str(exc.value)
    bad.write_text('{"question_id": 0, "sql": 5}\n')
    with pytest.raises(DataError, match="line 1: field 'sql'"):
        load_candidates(bad, ds.questions)
    bad.write_text('{"question_id": 0, "sql": "SELECT 1"}\n{"sql": "x"}\n')
    with pytest.raises(DataError, match="line 2: field 'question_id'"):
        load_candidates(bad, ds.questions)
    bad.write_text('{"question_id": 0, "sql": "SELECT 1"}\n')
    with pytest.raises(DataError, match="field 'db_id'"):
        load_candidates(bad)  # no questions to take db_id from
    bad.write_text('{"question_id": 0, "sql": "SELECT 1"}\nnot json\n')
    with pytest.raises(DataError, match="line 2"):
        load_candidates(bad, ds.questions)
    # parquet works too, with given candidate ids
    pq = tmp_path / "c.parquet"
    pl.DataFrame({"question_id": ["1"], "sql": ["SELECT 1"], "candidate_id": ["mine"]}).write_parquet(pq)
    got = load_candidates(pq, ds.questions)
    assert got.row(0, named=True) == {
        "question_id": "1",
        "db_id": "shop",
        "candidate_id": "mine",
        "system": "",
        "sql": "SELECT 1",
    }


def test_questions_errors(tmp_path: Path) -> None:
    make_spider_dir(tmp_path)
    (tmp_path / "questions.jsonl").write_text('{"question_id": 0, "db_id": "shop", "question": "q"}\n')
    with pytest.raises(DataError, match="line 1: field 'gold_sql'"):
        load_spider(tmp_path)
    (tmp_path / "questions.jsonl").write_text(
        '{"question_id": 0, "db_id": "other", "question": "q", "gold_sql": "SELECT 1"}\n'
    )
    with pytest.raises(DataError, match="other"):
        load_spider(tmp_path)


def test_schema_text(tmp_path: Path) -> None:
    make_spider_dir(tmp_path)
    db = tmp_path / "databases" / "shop" / "shop.sqlite"
    text = schema_text(db)
    assert text.startswith('CREATE TABLE "item"') and text.count("CREATE TABLE") == 2
    assert 'PRIMARY KEY ("id")' in text and 'FOREIGN KEY ("item_id") REFERENCES "item" ("id")' in text
    with_values = schema_text(db, sample_values=2)
    assert "name: 'pen', 'ink'" in with_values and "'pad'" not in with_values
    assert schema_text(db) == text  # deterministic
    # the cap drops sample comments first, then whole tables from the end, then lines
    assert schema_text(db, 2, max_chars=len(text)) == text
    one = schema_text(db, 0, max_chars=len(text) - 1)
    assert one.count("CREATE TABLE") == 1 and len(one) <= len(text) - 1
    tiny = schema_text(db, 0, max_chars=30)
    assert len(tiny) <= 30 and tiny.startswith("CREATE TABLE")
    with pytest.raises(DataError):
        schema_text(tmp_path / "missing.sqlite")


@pytest.mark.realdata
def test_real_loaders(shared_data: Path) -> None:
    spider = load_spider(shared_data / "sql" / "spider_dev")
    assert spider.questions.height == 770 and len(spider.databases) == 15
    assert spider.candidates is not None and spider.candidates.height == 5390
    assert {"exec_status", "ex_match_set", "ex_match_strict", "n_rows"} <= set(spider.candidates.columns)
    assert spider.candidates["system"].n_unique() == 7
    geo = load_geoquery(shared_data / "sql" / "geoquery")
    assert geo.questions.height == 598 and set(geo.questions["db_id"].unique()) == {"geoquery"}
    assert set(geo.questions["split"].unique()) == {"train", "dev"}
    text = schema_text(geo.databases["geoquery"], sample_values=1, max_chars=2000)
    assert len(text) <= 2000 and '"state"' in text.lower()
    from ranksuite.domains.sql.labels import gold_failures

    assert len(gold_failures(geo.questions, geo.databases)) <= 5  # SOURCE.md: 5 of all 877 gold queries fail
