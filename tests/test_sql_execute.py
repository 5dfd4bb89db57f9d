"""Safe SQLite execution of untrusted SQL (attacks refused or stopped, file untouched) and result comparison."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from ranksuite.domains.sql.execute import (
    SafeDatabase,
    execute_sql,
    has_order_by,
    result_key,
    same_result_set,
    same_result_spider,
    split_statements,
)


@pytest.fixture()
def tiny_db(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL);
        CREATE TABLE u (id INTEGER, t_id INTEGER, FOREIGN KEY (t_id) REFERENCES t (id));
        """
    )
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, f"n{i % 7}", i / 3) for i in range(200)])
    conn.executemany("INSERT INTO u VALUES (?, ?)", [(i, i % 50) for i in range(100)])
    conn.commit()
    conn.close()
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


ATTACKS = [
    "INSERT INTO t VALUES (999, 'x', 1.0)",
    "DELETE FROM t",
    "UPDATE t SET name = 'x'",
    "DROP TABLE t",
    "CREATE TABLE evil (x)",
    "CREATE TEMP TABLE evil (x)",
    "ALTER TABLE t ADD COLUMN x",
    "ATTACH DATABASE '/tmp/x.db' AS x",
    "DETACH DATABASE main",
    "PRAGMA writable_schema=1",
    "PRAGMA query_only=OFF",
    "SELECT load_extension('x')",
    "SELECT 1; DROP TABLE t",
    "SELECT 1 ; -- fine so far\n DELETE FROM t",
    "BEGIN",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
]


def test_attacks_are_refused_and_the_file_is_unchanged(tiny_db: Path) -> None:
    before = _sha(tiny_db)
    x_existed = Path("/tmp/x.db").exists()
    with SafeDatabase(tiny_db, timeout_s=2.0) as db:
        for sql in ATTACKS:
            res = db.execute(sql)
            assert res.status in ("refused", "error"), (sql, res)
            assert res.status == "refused", (sql, res.error)
            assert res.rows is None and res.n_rows == 0
        # the connection still answers honest queries afterwards
        assert db.execute("SELECT count(*) FROM t").rows == [(200,)]
    assert _sha(tiny_db) == before
    assert Path("/tmp/x.db").exists() == x_existed
    assert not list(tiny_db.parent.glob("tiny.sqlite-*"))  # no journal or WAL left behind


def test_endless_recursive_cte_is_stopped(tiny_db: Path) -> None:
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
    t0 = time.perf_counter()
    res = execute_sql(tiny_db, sql, timeout_s=1.0)
    assert time.perf_counter() - t0 < 2.5
    assert res.status == "timeout" and res.rows is None and "time limit" in res.error
    # an instruction budget stops it too, without a wall-clock limit
    res = execute_sql(tiny_db, sql, timeout_s=None, max_steps=200_000)
    assert res.status == "timeout" and "instructions" in res.error


def test_huge_cross_join_is_truncated(tiny_db: Path) -> None:
    before = _sha(tiny_db)
    res = execute_sql(tiny_db, "SELECT * FROM t a, t b, t c, t d", max_rows=500, timeout_s=2.0)
    assert res.status == "ok" and res.truncated and res.n_rows == 500 and len(res.rows) == 500
    small = execute_sql(tiny_db, "SELECT id FROM t WHERE id < 5", max_rows=5)
    assert small.n_rows == 5 and not small.truncated
    assert _sha(tiny_db) == before


def test_ordinary_queries_and_errors(tiny_db: Path) -> None:
    with SafeDatabase(tiny_db) as db:
        ok = db.execute("SELECT name, count(*) FROM t GROUP BY name ORDER BY name;")
        assert ok.status == "ok" and ok.n_rows == 7 and ok.rows[0] == ("n0", 29) and ok.error is None
        assert db.execute("WITH a AS (SELECT id FROM t) SELECT max(id) FROM a").rows == [(199,)]
        assert db.execute("SELECT 'a;b', \"name\" FROM t LIMIT 1").rows == [("a;b", "n0")]
        assert db.execute("PRAGMA table_info(t)").n_rows == 3  # harmless read pragma
        err = db.execute("SELECT nope FROM t")
        assert err.status == "error" and "no such column" in err.error
        assert db.execute("").status == "error"
        assert db.execute("SELEC 1").status in ("error", "refused")


def test_split_statements_and_order_by() -> None:
    assert split_statements("SELECT 1;") == ["SELECT 1"]
    assert len(split_statements("SELECT ';' FROM t; -- trailing comment")) == 1
    assert len(split_statements('SELECT "a;b" FROM [x;y] /* ; */')) == 1
    assert len(split_statements("SELECT 1; DROP TABLE t")) == 2
    assert has_order_by("SELECT a FROM t ORDER  BY a") and not has_order_by("SELECT a FROM t -- order by a")
    assert not has_order_by("SELECT border FROM t")


def test_spider_comparison_semantics() -> None:
    gold = [(1, "a"), (2, "b"), (2, "b")]
    # column permutation is allowed, row order ignored without ORDER BY
    assert same_result_spider([("b", 2), ("a", 1), ("b", 2)], gold, "SELECT id, name FROM t")
    # duplicates count: a multiset, not a set
    assert not same_result_spider([(1, "a"), (2, "b")], gold, "SELECT id, name FROM t")
    assert not same_result_spider([(1, "a"), (1, "a"), (2, "b")], gold, "SELECT id, name FROM t")
    # ORDER BY in the gold makes order count
    ordered = "SELECT id, name FROM t ORDER BY id"
    assert same_result_spider([(1, "a"), (2, "b"), (2, "b")], gold, ordered)
    assert not same_result_spider([(2, "b"), (1, "a"), (2, "b")], gold, ordered)
    assert same_result_spider([("a", 1), ("b", 2), ("b", 2)], gold, ordered)  # permuted columns, same order
    # column counts must agree; empty equals empty; 1 == 1.0
    assert not same_result_spider([(1,), (2,), (2,)], gold, "")
    assert same_result_spider([], [], "")
    assert same_result_spider([(1.0, "a")], [(1, "a")], "")
    # a permutation must be the same for every row
    assert not same_result_spider([(1, 2), (4, 3)], [(1, 2), (3, 4)], "")
    assert not same_result_spider(None, gold, "")


def test_set_comparison_semantics() -> None:
    gold = [(1, "a"), (2, "b"), (2, "b")]
    assert same_result_set([(2, "b"), (1, "a")], gold)  # duplicates and order ignored
    assert not same_result_set([("a", 1), ("b", 2)], gold)  # columns are not permuted (BIRD)
    assert not same_result_set([(1, "a")], gold)
    assert same_result_set([], [])
    assert not same_result_set(None, [])


def test_result_key() -> None:
    a = result_key([(1, "x"), (2, None)])
    assert a == result_key([(2, None), (1.0, "x")])  # order-insensitive, 1 == 1.0
    assert a != result_key([(1, "x"), (2, None), (2, None)])  # a multiset
    assert result_key([(1,), (2,)], ordered=True) != result_key([(2,), (1,)], ordered=True)
    assert result_key(None) is None
    assert len(a) == 40


def test_result_preview(tiny_db: Path) -> None:
    from ranksuite.domains.sql.labels import PREVIEW_CHARS, result_preview

    with SafeDatabase(tiny_db) as db:
        assert result_preview(db.execute("SELECT count(*) FROM t")) == "1 row: (200)"
        many = result_preview(db.execute("SELECT id, name, score FROM t ORDER BY id"))
        assert many.startswith(
            "200 rows: (0, 'n0', 0) (1, 'n1', 0.333333) (2, 'n2', 0.666667)"
        ) and many.endswith("…")
        assert result_preview(db.execute("SELECT name FROM t WHERE id < 0")) == "no rows"
        assert result_preview(db.execute("SELECT nope FROM t")) == "error: no such column: nope"
        assert result_preview(db.execute("DELETE FROM t")) == "refused"
        long = result_preview(db.execute("SELECT group_concat(name, ' ') FROM t"))
        assert len(long) <= PREVIEW_CHARS and "…" in long
