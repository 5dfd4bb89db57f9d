"""Near-miss negatives: one-token edits of the gold SQL, kept only when execution says they answer differently."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranksuite.domains.sql.data import load_spider
from ranksuite.domains.sql.orm import orm_queries
from ranksuite.domains.sql.perturb import column_alternatives, edits, gold_negatives, gold_pairs, tokens


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_tokens_cover_the_text_exactly(sql: str) -> None:
    assert "".join(text for _, text in tokens(sql)) == sql


def test_edits_of_a_hand_made_query() -> None:
    sql = "SELECT max(age) FROM singer WHERE age > 30 AND country = 'France' ORDER BY name ASC LIMIT 3"
    out = dict((new, kind) for kind, new in edits(sql))
    assert out[
        "SELECT min(age) FROM singer WHERE age > 30 AND country = 'France' ORDER BY name ASC LIMIT 3"
    ] == ("aggregate")
    assert out[sql.replace("age > 30", "age >= 30")] == "comparison"
    assert out[sql.replace("ASC", "DESC")] == "order"
    assert out[sql.replace(" AND ", " OR ")] == "logic"
    assert out[sql.replace("LIMIT 3", "LIMIT 4")] == "number"
    assert out[sql.replace("SELECT", "SELECT DISTINCT")] == "distinct"
    assert sql not in out and len(out) == len(set(out))
    assert all("'France'" in new for new in out)  # string literals are never edited
    # count(*) has no other aggregate that runs; ORDER BY without a direction gets DESC before LIMIT
    assert not [k for k, _ in edits("SELECT count(*) FROM t") if k == "aggregate"]
    assert ("order", "SELECT a FROM t ORDER BY a DESC LIMIT 1") in edits("SELECT a FROM t ORDER BY a LIMIT 1")
    assert ("not_in", "SELECT a FROM t WHERE a IN (SELECT b FROM u)") in edits(
        "SELECT a FROM t WHERE a NOT IN (SELECT b FROM u)"
    )
    assert ("column", "SELECT T1.b FROM t AS T1") in edits("SELECT T1.a FROM t AS T1", {"a": ["b"]})


@pytest.fixture(scope="module")
def spider(shared_data: Path):
    return load_spider(shared_data / "sql" / "spider_dev")


def test_gold_negatives_are_execution_checked_on_real_spider(spider) -> None:
    qids = spider.questions.filter(pl.col("db_id") == "concert_singer")["question_id"].to_list()
    neg = gold_negatives(spider, qids, per_question=2, seed=3)
    assert neg.equals(gold_negatives(spider, qids, per_question=2, seed=3))  # seeded
    gold = neg.filter(pl.col("system") == "gold")
    edited = neg.filter(pl.col("system") != "gold")
    assert gold.height > 20 and edited.height >= gold.height
    assert gold["ex_match_set"].all()
    assert not edited["ex_match_set"].any() and (edited["n_rows"] > 0).all()
    assert edited["system"].str.starts_with("edit:").all()
    assert edited.group_by("question_id").len()["len"].max() <= 2
    assert edited.select("question_id", "result_key").is_unique().all()
    assert set(edited["question_id"]) == set(gold["question_id"]) <= set(qids)
    gold_sql = dict(spider.questions.select("question_id", "gold_sql").iter_rows())
    assert all(s != gold_sql[q] for q, s in edited.select("question_id", "sql").iter_rows())

    pairs = gold_pairs(neg, orm_queries(spider))
    assert len(pairs) == edited.height
    for ex in pairs:
        pos, neg_id = ex["docnos"]
        assert pos.endswith(":gold") and neg_id.split(":edit")[0] == pos.split(":gold")[0]


def test_column_alternatives_stay_in_table(spider) -> None:
    alts = column_alternatives(spider.databases["concert_singer"])
    name = {c.lower() for c in alts["name"]}  # singer.Name and stadium.Name: the other columns of both tables
    assert {"country", "age", "capacity"} <= name and "name" not in name
    assert "song_name" in {c.lower() for c in alts["age"]}  # singer.Age only
    assert "capacity" not in {c.lower() for c in alts["age"]}
