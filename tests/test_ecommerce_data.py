"""E-commerce data: loaders on the real files, the leave-last-out split, sampled negatives, long tail, batches."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ranksuite.domains.ecommerce.data import (
    Histories,
    ItemFeatures,
    build_batch,
    leave_last_out,
    load_amazon,
    load_jdsearch,
    load_movielens,
    long_tail_users,
    remap_ids,
    sample_negatives,
    validate_interactions,
)
from ranksuite.shared.data.errors import DataError


@pytest.fixture(scope="module")
def ecom(shared_data: Path) -> Path:
    folder = shared_data / "ecommerce"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


@pytest.fixture(scope="module")
def beauty(ecom: Path):
    data = load_amazon(ecom / "amazon_s3rec" / "beauty")
    split = leave_last_out(data.interactions)
    return data, split, sample_negatives(split, n=99, seed=7, items=data.items)


def _frame(seqs: dict[int, list[int]]) -> pl.DataFrame:
    rows = [(u, i, p) for u, items in seqs.items() for p, i in enumerate(items)]
    return pl.DataFrame(
        rows, schema={"user_id": pl.Int64, "item_id": pl.Int64, "position": pl.Int32}, orient="row"
    )


# ----------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_amazon_counts_match_source(beauty, ecom: Path) -> None:
    data, _, _ = beauty
    inter, items = data.interactions, data.items
    validate_interactions(inter)
    # SOURCE.md: 17,890 users, 12,101 items, 637 attribute ids, mean sequence length 8.9 (5-core: >= 5 each)
    assert inter["user_id"].n_unique() == 17_890
    assert items.height == 12_101 and items["item_id"].to_list() == list(range(1, 12_102))
    assert round(inter.height / 17_890, 1) == 8.9
    assert inter.group_by("user_id").len()["len"].min() >= 5
    assert inter["item_id"].is_in(items["item_id"].implode()).all()
    attrs = set(items["category_ids"].explode().drop_nulls().to_list()) | set(
        items["brand_id"].drop_nulls().to_list()
    )
    assert len(attrs) == 637
    # brand inference: a brand id never appears among any item's categories
    brands = set(items["brand_id"].drop_nulls().to_list())
    assert brands and not brands & set(items["category_ids"].explode().drop_nulls().to_list())
    # the first user line of the file, in order
    with gzip.open(ecom / "amazon_s3rec" / "beauty" / "sequences.txt.gz", "rt") as fh:
        first = [int(x) for x in fh.readline().split()]
    got = inter.filter(pl.col("user_id") == first[0]).sort("position")["item_id"].to_list()
    assert got == first[1:]


@pytest.mark.realdata
def test_sports_counts_match_source(ecom: Path) -> None:
    data = load_amazon(ecom / "amazon_s3rec" / "sports_and_outdoors")
    assert data.interactions["user_id"].n_unique() == 28_478
    assert data.items.height == 18_357
    assert round(data.interactions.height / 28_478, 1) == 8.3


@pytest.mark.realdata
def test_split_is_leave_last_out_without_leakage(beauty) -> None:
    data, split, _ = beauty
    inter = data.interactions
    users = inter["user_id"].unique().sort()
    assert split.train.height + split.valid.height + split.test.height == inter.height
    # every user has >= 5 interactions, so every user is evaluated, with exactly one valid and one test item
    for frame in (split.valid, split.test):
        assert frame["user_id"].is_unique().all() and frame["user_id"].sort().equals(users)
    n = inter.group_by("user_id").len()
    test = split.test.join(n, on="user_id")
    assert (test["position"] == test["len"] - 1).all()
    valid = split.valid.join(n, on="user_id")
    assert (valid["position"] == valid["len"] - 2).all()
    last_train = split.train.group_by("user_id").agg(pl.col("position").max())
    assert (last_train.join(valid, on="user_id")["position"] < valid.sort("user_id")["position"]).all()
    # leakage: no test (or valid) item in that user's train history
    for frame in (split.test, split.valid):
        leaked = frame.join(split.train, on=["user_id", "item_id"], how="inner")
        assert leaked.height == 0
    # the model's inputs: valid sees train only; test sees train + valid, never the test item
    h_valid, h_test = split.histories("valid"), split.histories("test")
    assert np.array_equal(h_test.lengths, h_valid.lengths + 1)
    r = 123
    assert h_test.row(r)[-1] == split.valid.sort("user_id")["item_id"][r]
    assert split.test.sort("user_id")["item_id"][r] not in h_test.row(r)


@pytest.mark.realdata
def test_negatives_exclude_user_items_and_are_reproducible(beauty) -> None:
    data, split, cands = beauty
    own = data.interactions.select("user_id", "item_id")
    for stage, frame in (("valid", split.valid), ("test", split.test)):
        c = cands[stage]
        assert c.items.shape == (17_890, 100)
        assert np.array_equal(c.positives, frame.sort("user_id")["item_id"].to_numpy())
        neg = pl.DataFrame({"user_id": np.repeat(c.user_ids, 99), "item_id": c.negatives.ravel()})
        assert neg.join(own, on=["user_id", "item_id"], how="inner").height == 0  # none of the user's items
        assert neg.n_unique() == neg.height  # distinct within each user's list
        assert neg["item_id"].is_in(data.items["item_id"].implode()).all()
    again = sample_negatives(split, n=99, seed=7, items=data.items)
    other = sample_negatives(split, n=99, seed=8, items=data.items)
    assert np.array_equal(again["test"].items, cands["test"].items)
    assert np.array_equal(again["valid"].items, cands["valid"].items)
    assert not np.array_equal(other["test"].items, cands["test"].items)
    assert not np.array_equal(cands["valid"].negatives, cands["test"].negatives)


@pytest.mark.realdata
def test_long_tail_definition(beauty) -> None:
    _, split, _ = beauty
    lt = long_tail_users(split)
    lengths = split.train.group_by("user_id").len().sort("user_id")
    assert lt.threshold == int(np.quantile(lengths["len"].to_numpy(), 0.2, method="lower"))
    expected = lengths.filter(pl.col("len") <= lt.threshold)["user_id"].to_numpy()
    assert np.array_equal(lt.user_ids, expected)
    assert lt.user_ids.size >= 0.2 * lengths.height  # ties at the threshold can push it above 20%
    fixed = long_tail_users(split, threshold=5)
    assert fixed.threshold == 5 and fixed.quantile is None and fixed.user_ids.size > lt.user_ids.size
    # truncated variant: every test history cut to its last `threshold` items
    hist = split.histories("test")
    cut = hist.truncate(lt.threshold)
    assert cut.lengths.max() == lt.threshold
    for r in (0, 17, 9000):
        assert np.array_equal(cut.row(r), hist.row(r)[-lt.threshold :])


@pytest.mark.realdata
def test_movielens_counts_and_order(ecom: Path) -> None:
    data = load_movielens(ecom / "movielens_100k")
    inter = validate_interactions(data.interactions)
    # SOURCE.md: 754 users, 1,682 items, 78,176 ratings
    assert inter["user_id"].n_unique() == 754
    assert data.items.height == 1_682
    assert inter.height == 78_176
    assert data.items["brand_id"].null_count() == 1_682
    assert data.items["category_ids"].list.len().min() >= 1  # every movie has a genre
    steps = inter.sort(["user_id", "position"]).select(
        pl.col("timestamp").diff().over("user_id").drop_nulls().min()
    )
    assert steps.item() >= 0  # time-ordered per user
    pos = load_movielens(ecom / "movielens_100k", min_rating=4)
    assert pos.interactions.height == inter.filter(pl.col("rating") >= 4).height
    assert pos.interactions["rating"].min() >= 4


@pytest.mark.realdata
def test_jdsearch_sample(ecom: Path) -> None:
    jd = load_jdsearch(ecom / "jdsearch_sample")
    # SOURCE.md: 3 users; candidates 90 / 89 / 83; positives 1 / 2 / 2; history 182 / 46 / 2; 409 products
    assert jd.sessions["user_id"].to_list() == [1, 2, 3]
    per = jd.impressions.group_by("user_id").agg(pl.len(), (pl.col("label") > 0).sum()).sort("user_id")
    assert per["len"].to_list() == [90, 89, 83]
    assert per["label"].to_list() == [1, 2, 2]
    assert jd.interactions.group_by("user_id").len().sort("user_id")["len"].to_list() == [182, 46, 2]
    assert jd.items.height == 409
    assert jd.sessions["query_terms"][2].to_list() == [2437437, 60677689, 39206305]
    first = jd.impressions.filter(pl.col("user_id") == 1).sort("rank").row(0, named=True)
    assert first["item_id"] == 36098226 and first["label"] == 1 and first["click"] and not first["purchase"]
    u3 = jd.interactions.filter(pl.col("user_id") == 3).sort("position")
    assert u3["item_id"].to_list() == [8133925, 59478082]
    assert u3["behavior"].to_list() == ["CLICK", "CLICK"]
    assert u3["time"].to_list() == [0, 27] and jd.sessions["query_time"][2] == 27 + 49660
    assert u3["query_terms"].to_list() == [None, None]  # -1 = query-less behaviour
    assert set(jd.interactions["behavior"].unique()) <= {"ORD", "CLICK", "CART", "FLW"}
    assert jd.items["category_ids"].list.len().max() <= 4
    # JD ids are huge: remap them before building feature tables
    items, (hist,), imap = remap_ids(jd.items, jd.interactions)
    assert items["item_id"].to_list() == list(range(1, items.height + 1))
    assert hist["item_id"].max() <= items.height and hist.height == jd.interactions.height
    feats = ItemFeatures.from_items(items)
    assert feats.categories.shape == (items.height + 1, 4) and feats.brand[0] == 0
    assert imap.height == items.height


# ----------------------------------------------------------------------------- synthetic


def test_split_short_users_train_only() -> None:
    inter = _frame({1: [5, 6], 2: [7, 8, 9], 3: [1, 2, 3, 4]})
    split = leave_last_out(inter)
    assert split.train.filter(pl.col("user_id") == 1)["item_id"].to_list() == [5, 6]
    assert split.test.sort("user_id")["item_id"].to_list() == [9, 4]
    assert split.valid.sort("user_id")["item_id"].to_list() == [8, 3]
    assert split.train.filter(pl.col("user_id") == 3)["item_id"].to_list() == [1, 2]
    assert split.eval_users.tolist() == [2, 3]
    cands = sample_negatives(split, n=3, seed=0, items=np.arange(1, 11))
    assert cands["test"].items[:, 0].tolist() == [9, 4]
    assert not set(cands["test"].items[0, 1:]) & {7, 8, 9}
    assert not set(cands["test"].items[1, 1:]) & {1, 2, 3, 4}
    with pytest.raises(ValueError):  # user 3 has 4 of 10 items: only 6 negatives left
        sample_negatives(split, n=7, seed=0, items=np.arange(1, 11))
    with pytest.raises(ValueError):
        leave_last_out(inter, min_interactions=2)


def test_build_batch_padding_prefix_and_features() -> None:
    hist = Histories.from_lists([[3, 1, 2], [], [4, 5, 6, 7, 8]], user_ids=[10, 11, 12])
    b = build_batch(hist, [0, 1, 2], [5, 6, 1], [1, 0, 1], max_len=4)
    assert b["hist_items"].tolist() == [[0, 3, 1, 2], [0, 0, 0, 0], [5, 6, 7, 8]]  # left-padded, newest last
    assert b["hist_mask"].sum(axis=1).tolist() == [3, 0, 4] and b["hist_len"].tolist() == [3, 0, 4]
    assert b["labels"].dtype == np.float32
    # prefixes: the history before a training target
    p = build_batch(hist, [2, 2, 0], [6, 8, 2], ends=[1, 4, 0], max_len=3)
    assert p["hist_items"].tolist() == [[0, 0, 4], [5, 6, 7], [0, 0, 0]]
    items = pl.DataFrame(
        {
            "item_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "category_ids": [[11, 12], [13], [], [11, 12, 14], [15], [16], [17], [18]],
            "brand_id": [21, None, 22, None, 23, None, None, 24],
        },
        schema={"item_id": pl.Int64, "category_ids": pl.List(pl.Int64), "brand_id": pl.Int64},
    )
    feats = ItemFeatures.from_items(items, max_categories=2)
    f = build_batch(hist, [0, 2], [[1, 4], [8, 2]], features=feats, max_len=2)
    assert f["hist_items"].tolist() == [[1, 2], [7, 8]]
    assert f["hist_cats"][0].tolist() == [[11, 12], [13, 0]]
    assert f["hist_brand"].tolist() == [[21, 0], [0, 24]]
    assert f["target_cats"].shape == (2, 2, 2) and f["target_cats"][0, 1].tolist() == [11, 12]
    assert f["target_brand"].tolist() == [[21, 0], [24, 0]]
    with pytest.raises(ValueError):
        build_batch(hist, [0], [1], ends=[4])


def test_bad_input_names_file_line_field(tmp_path: Path) -> None:
    amazon = tmp_path / "amazon"
    amazon.mkdir()
    (amazon / "sequences.txt").write_text("1 2 3\n2 4 x\n")
    (amazon / "item2attributes.json").write_text("{}")
    with pytest.raises(DataError) as err:
        load_amazon(amazon)
    assert err.value.line == 2 and err.value.field == "item_id"
    (amazon / "sequences.txt").write_text("1 2 3\n1 4 5\n")
    with pytest.raises(DataError, match="already on line 1"):
        load_amazon(amazon)
    jd = tmp_path / "jd"
    jd.mkdir()
    header = "query\tcandidate_wid_list\tcandidate_label_list\thistory_qry_list\thistory_wid_list"
    header += "\thistory_type_list\thistory_time_list\n"
    (jd / "user_behavior_data.txt").write_text(header + "1\x182\t5_6\t1.0\t-1\t7\tCLICK\t0_3\n")
    (jd / "product_meta_data.txt").write_text("5\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\n")
    with pytest.raises(DataError) as err:
        load_jdsearch(jd)
    assert err.value.line == 2 and err.value.field == "candidate_label_list"
    (jd / "user_behavior_data.txt").write_text(header + "1\x182\t5_6\t1.0_0.0\t-1\t7\tCLICK\t0\n")
    with pytest.raises(DataError) as err:
        load_jdsearch(jd)
    assert err.value.field == "history_time_list"
