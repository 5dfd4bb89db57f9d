"""E-commerce behaviour data: loaders, a leakage-free leave-one-out split, sampled negatives, long-tail users, batches.

Canonical frames (polars; loaders may add extra columns *after* the canonical ones):

**interactions** -- one row per (user, item) behaviour, sorted by ``user_id, position``:

- ``user_id``  Int64
- ``item_id``  Int64 (>= 1; 0 is the padding id of :func:`build_batch`)
- ``position`` Int32, 0-based order of the behaviour in the user's history (0 = oldest; contiguous 0..n-1)

**items** -- the item catalogue, one row per item, sorted by ``item_id``:

- ``item_id``      Int64
- ``category_ids`` List(Int64): the item's category ids, most general first, no repeats (may be empty)
- ``brand_id``     Int64, nullable: null when the item has no (known) brand

Loaders (:class:`EcomData` = name + interactions + items):

- :func:`load_amazon` -- S3-Rec's Amazon files (``sequences.txt[.gz]``: ``user item item ...`` in time order;
  ``item2attributes.json[.gz]``: ``{item: [attribute ids]}``). S3-Rec's ``data_process.py`` writes each item's
  attributes as ``[brand] + [category path entries below the root, path after path]`` in ONE id space (brand only
  when the metadata has one), so ids cannot be told apart by value. We split them by position: an id that occurs
  at a position > 0 in any item's list is a category; an item's *first* id is its ``brand_id`` iff that id never
  occurs at a position > 0 (i.e. it is only ever used where a brand goes), else the item has no brand and all its
  ids are categories. This is an inference: a top-level category that only ever occurs on brandless items would be
  taken for a brand, and an empty-string brand in the metadata gets an id like any other (Sports has one id first
  on ~7k items: possibly that; not checkable without the names). The raw list is ``[brand_id] + category_ids``
  (before de-duplication of repeated category ids, which come from overlapping category paths).
  Amazon has no timestamps here: ``position`` is the file order (upstream sorted by review time).
- :func:`load_movielens` -- RecBole atomic files (``ml-100k.inter[.gz]``, ``ml-100k.item``): by default ALL
  ratings are interactions (implicit feedback, as SASRec/S3-Rec-style next-item evaluation on MovieLens does);
  ``min_rating=4`` keeps only ratings >= 4. Time order by ``timestamp``, ties (same second) broken by ``item_id``.
  Extra columns ``rating`` (Float64) and ``timestamp`` (Int64). Items: ``category_ids`` = the genres (``class``),
  numbered 1..K in alphabetical order of the genre name; ``brand_id`` is always null.
- :func:`load_jdsearch` -- the JDsearch personalised product search format (``user_behavior_data*.txt``,
  ``product_meta_data*.txt``; see :class:`JDSearchData`): queries, displayed candidates with graded labels, and
  the user history. JD ids are large; :func:`remap_ids` makes them dense before :class:`ItemFeatures`.

Bad input raises :class:`~ranksuite.shared.data.errors.DataError` naming the file, the line and the field.

Protocol:

- :func:`leave_last_out` -- per user in time order: the last item is *test*, the second-to-last *valid*, the rest
  *train*. Users with fewer than 3 interactions go to train only (they have no valid/test row and are never
  evaluated; their behaviour still trains the model). Repeat behaviours are kept as they are (Amazon and
  MovieLens have none; then no test item is in the user's train history).
- :func:`sample_negatives` -- for every valid/test user: the positive plus ``n`` (default 99) distinct negatives
  drawn uniformly from the item pool (every item id in the split, plus the catalogue when given), never one the
  user has interacted with in ANY split. Seeded (``numpy.random.default_rng([seed, 0])`` for valid, ``[seed, 1]``
  for test), vectorised (rejection sampling on whole arrays); the same inputs and seed give the same arrays.
- :func:`long_tail_users` -- evaluated users whose train history has at most ``threshold`` items; by default the
  threshold is the 20th percentile of the evaluated users' train-history lengths (``numpy.quantile(...,
  method="lower")``, so it is a length that occurs; with ties the set can hold more than 20% of users).
  The *truncated* variant (:meth:`Histories.truncate`) keeps only the last ``k`` items of every history (default
  ``k`` = the threshold), simulating long-tail users with active users' targets; report it separately.
- :func:`build_batch` -- numpy only: (history rows, target items, labels) -> padded id arrays for DIN/AW-MoE.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from ranksuite.shared.data.errors import DataError

INTERACTIONS_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "item_id": pl.Int64(),
    "position": pl.Int32(),
}
ITEMS_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.Int64(),
    "category_ids": pl.List(pl.Int64()),
    "brand_id": pl.Int64(),
}


@dataclass
class EcomData:
    name: str
    interactions: pl.DataFrame
    items: pl.DataFrame

    def __repr__(self) -> str:
        return (
            f"EcomData({self.name!r}: {self.interactions['user_id'].n_unique()} users, "
            f"{self.items.height} items, {self.interactions.height} interactions)"
        )


def validate_interactions(df: pl.DataFrame, where: str = "interactions") -> pl.DataFrame:
    """Check the canonical columns (names, types, no nulls, contiguous positions); return ``df`` unchanged."""
    for col, dtype in INTERACTIONS_SCHEMA.items():
        if col not in df.columns:
            raise DataError(where, "missing column", field=col)
        if df.schema[col] != dtype:
            raise DataError(where, f"has type {df.schema[col]}, expected {dtype}", field=col)
        if df[col].null_count():
            raise DataError(where, "has nulls", field=col)
    bad = df.group_by("user_id").agg(
        ok=(pl.col("position").sort() == pl.int_range(pl.len()).cast(pl.Int32)).all()
    )
    if not bad["ok"].all():
        user = bad.filter(~pl.col("ok"))["user_id"][0]
        raise DataError(where, f"positions of user {user} are not 0..n-1", field="position")
    return df


def _open_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return fh.read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(path, f"cannot read: {exc}") from exc


def _find(folder: Path, stems: Sequence[str]) -> Path:
    for stem in stems:
        for suffix in ("", ".gz"):
            p = folder / f"{stem}{suffix}"
            if p.is_file():
                return p
    raise DataError(folder, f"none of {', '.join(stems)} (optionally .gz) found")


def _bare_items(ids: pl.Series) -> pl.DataFrame:
    """Catalogue rows for items without metadata: no categories, no brand."""
    return pl.DataFrame(
        {"item_id": ids, "category_ids": [[]] * ids.len(), "brand_id": [None] * ids.len()},
        schema=ITEMS_SCHEMA,
    )


def _interactions_from_lists(users: np.ndarray, lengths: np.ndarray, items: np.ndarray) -> pl.DataFrame:
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = (np.arange(items.size) - starts).astype(np.int32)
    return pl.DataFrame(
        {"user_id": np.repeat(users, lengths), "item_id": items, "position": position},
        schema=INTERACTIONS_SCHEMA,
    ).sort(["user_id", "position"])


# ----------------------------------------------------------------------------- Amazon (S3-Rec files)


def _split_brand(item2attr: dict[int, list[int]]) -> tuple[dict[int, list[int]], dict[int, int | None]]:
    later = {a for attrs in item2attr.values() for a in attrs[1:]}
    cats: dict[int, list[int]] = {}
    brand: dict[int, int | None] = {}
    for item, attrs in item2attr.items():
        b = attrs[0] if attrs and attrs[0] not in later else None
        rest = attrs[1:] if b is not None else attrs
        brand[item] = b
        cats[item] = list(dict.fromkeys(rest))
    return cats, brand


def load_amazon(folder: str | Path, name: str | None = None) -> EcomData:
    """S3-Rec Amazon category folder (``sequences.txt[.gz]``, ``item2attributes.json[.gz]``); see the module doc."""
    folder = Path(folder)
    seq_path = _find(folder, ["sequences.txt"])
    users: list[int] = []
    lengths: list[int] = []
    chunks: list[list[int]] = []
    seen: dict[int, int] = {}
    for lineno, line in enumerate(_open_text(seq_path).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            ids = [int(x) for x in parts]
        except ValueError as exc:
            raise DataError(seq_path, f"not an integer id ({exc})", line=lineno, field="item_id") from exc
        if len(ids) < 2:
            raise DataError(seq_path, "a user without items", line=lineno, field="item_id")
        if min(ids[1:]) < 1:
            raise DataError(seq_path, "item ids must be >= 1 (0 is padding)", line=lineno, field="item_id")
        if ids[0] in seen:
            raise DataError(
                seq_path, f"user {ids[0]} already on line {seen[ids[0]]}", line=lineno, field="user_id"
            )
        seen[ids[0]] = lineno
        users.append(ids[0])
        lengths.append(len(ids) - 1)
        chunks.append(ids[1:])
    if not users:
        raise DataError(seq_path, "no users")
    items_flat = np.fromiter((i for c in chunks for i in c), dtype=np.int64, count=sum(lengths))
    inter = _interactions_from_lists(np.asarray(users, np.int64), np.asarray(lengths, np.int64), items_flat)

    attr_path = _find(folder, ["item2attributes.json"])
    try:
        raw = json.loads(_open_text(attr_path))
    except json.JSONDecodeError as exc:
        raise DataError(attr_path, f"not JSON: {exc.msg}", line=exc.lineno) from exc
    if not isinstance(raw, dict):
        raise DataError(attr_path, "expected an object {item_id: [attribute ids]}")
    item2attr: dict[int, list[int]] = {}
    for key, attrs in raw.items():
        try:
            item2attr[int(key)] = [int(a) for a in attrs]
        except (TypeError, ValueError) as exc:
            raise DataError(attr_path, f"item {key!r}: ids must be integers", field="attribute_ids") from exc
    for item in np.unique(items_flat).tolist():  # items without metadata: no categories, no brand
        item2attr.setdefault(item, [])
    cats, brand = _split_brand(item2attr)
    keys = sorted(item2attr)
    items = pl.DataFrame(
        {"item_id": keys, "category_ids": [cats[k] for k in keys], "brand_id": [brand[k] for k in keys]},
        schema=ITEMS_SCHEMA,
    )
    return EcomData(name or f"amazon-{folder.name}", inter, items)


# ----------------------------------------------------------------------------- MovieLens (RecBole atomic)


def _read_atomic(path: Path) -> pl.DataFrame:
    text = _open_text(path)
    try:
        df = pl.read_csv(
            io.StringIO(text),
            separator="\t",
            quote_char=None,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(path, f"not a tab-separated atomic file: {exc}") from exc
    return df.rename({c: c.split(":", 1)[0] for c in df.columns})


def _to_int(df: pl.DataFrame, col: str, path: Path, dtype: pl.DataType = pl.Int64()) -> pl.Series:
    if col not in df.columns:
        raise DataError(path, "missing column", field=col)
    s = df[col].str.strip_chars().cast(pl.Float64, strict=False)
    bad = s.is_null()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(path, f"not a number: {df[col][row]!r}", line=row + 2, field=col)
    return s.cast(dtype) if dtype != pl.Float64() else s


def load_movielens(
    folder: str | Path, min_rating: float | None = None, name: str = "movielens-100k"
) -> EcomData:
    """RecBole ``ml-100k`` atomic files; all ratings are interactions unless ``min_rating`` is given."""
    folder = Path(folder)
    inter_path = _find(folder, ["ml-100k.inter"])
    raw = _read_atomic(inter_path)
    df = pl.DataFrame(
        {
            "user_id": _to_int(raw, "user_id", inter_path),
            "item_id": _to_int(raw, "item_id", inter_path),
            "rating": _to_int(raw, "rating", inter_path, pl.Float64()),
            "timestamp": _to_int(raw, "timestamp", inter_path),
        }
    )
    if min_rating is not None:
        df = df.filter(pl.col("rating") >= min_rating)
    df = df.sort(["user_id", "timestamp", "item_id"]).with_columns(
        position=pl.int_range(pl.len()).over("user_id").cast(pl.Int32)
    )
    inter = df.select("user_id", "item_id", "position", "rating", "timestamp")

    item_path = _find(folder, ["ml-100k.item"])
    raw_items = _read_atomic(item_path)
    ids = _to_int(raw_items, "item_id", item_path)
    genres = (
        raw_items["class"].fill_null("").str.split(" ")
        if "class" in raw_items.columns
        else pl.Series([[]] * raw_items.height)
    )
    names = sorted({g for gs in genres.to_list() for g in gs if g})
    gid = {g: i for i, g in enumerate(names, start=1)}
    items = pl.DataFrame(
        {
            "item_id": ids,
            "category_ids": [[gid[g] for g in dict.fromkeys(gs) if g] for gs in genres.to_list()],
            "brand_id": [None] * raw_items.height,
        },
        schema=ITEMS_SCHEMA,
    )
    extra = inter.filter(~pl.col("item_id").is_in(items["item_id"].implode()))["item_id"].unique()
    if extra.len():
        items = pl.concat([items, _bare_items(extra)])
    return EcomData(name, inter, items.unique("item_id", keep="first").sort("item_id"))


# ----------------------------------------------------------------------------- JDsearch


@dataclass
class JDSearchData:
    """JDsearch, one test search per user (users are numbered by their line: 1 = the first data line).

    - ``sessions``: ``user_id``, ``query_terms`` List(Int64) (the test query), ``query_time`` Int64 (time of the
      test query, counted from the user's first behaviour: the sum of ``history_time_list``).
    - ``impressions``: the displayed candidates of the test query (real impressions, <= 200 per user):
      ``user_id``, ``item_id``, ``rank`` (0-based display order), ``label`` Int8 (0 none, 1 click, 2 cart,
      3 purchase: the deepest action), ``click`` (label >= 1), ``cart`` (label >= 2), ``purchase`` (label = 3).
    - ``interactions``: the history, canonical columns plus ``query_terms`` List(Int64) (null for a query-less
      behaviour, ``-1`` in the file), ``behavior`` (ORD = purchase, CLICK, CART, FLW = follow) and ``time`` Int64
      (cumulative sum of the intervals in ``history_time_list``; the first behaviour is at 0). Repeats are kept.
    - ``items``: canonical columns (``category_ids`` = the 4 category levels, missing levels left out) plus
      ``shop_id``, ``name_terms``, ``brand_name_terms``. Not every displayed or history item has metadata.
    """

    sessions: pl.DataFrame
    impressions: pl.DataFrame
    interactions: pl.DataFrame
    items: pl.DataFrame


_JD_COLUMNS = [
    "query",
    "candidate_wid_list",
    "candidate_label_list",
    "history_qry_list",
    "history_wid_list",
    "history_type_list",
    "history_time_list",
]
_JD_META_COLUMNS = [
    "wid",
    "name",
    "brand_id",
    "brand_name",
    "cate_id_1",
    "cate_name_1",
    "cate_id_2",
    "cate_name_2",
    "cate_id_3",
    "cate_name_3",
    "cate_id_4",
    "cate_name_4",
    "shop_id",
]
_JD_TYPES = {"ORD", "CLICK", "CART", "FLW"}


def _data_lines(path: Path, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    for lineno, line in enumerate(_open_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line:
            continue
        fields = line.split("\t")
        if lineno == 1 and fields[0] == header[0]:
            continue
        if len(fields) != len(header):
            raise DataError(path, f"{len(fields)} tab-separated fields, expected {len(header)}", line=lineno)
        yield lineno, fields


def _ints(text: str, sep: str, path: Path, lineno: int, field: str) -> list[int]:
    if text == "":
        return []
    try:
        return [int(x) for x in text.split(sep)]
    except ValueError as exc:
        raise DataError(path, f"not an integer list ({exc})", line=lineno, field=field) from exc


def load_jdsearch(folder: str | Path) -> JDSearchData:
    """JDsearch files in ``folder``: ``user_behavior_data*.txt`` / ``release_data.txt`` and the product metadata."""
    folder = Path(folder)
    beh = _find(folder, ["user_behavior_data_sample.txt", "user_behavior_data.txt", "release_data.txt"])
    meta = _find(folder, ["product_meta_data_sample.txt", "product_meta_data.txt", "product_data.txt"])
    sess: dict[str, list] = {"user_id": [], "query_terms": [], "query_time": []}
    imp: dict[str, list] = {"user_id": [], "item_id": [], "rank": [], "label": []}
    hist: dict[str, list] = {
        k: [] for k in ("user_id", "item_id", "position", "query_terms", "behavior", "time")
    }
    for user, (lineno, f) in enumerate(_data_lines(beh, _JD_COLUMNS), start=1):
        cands = _ints(f[1], "_", beh, lineno, "candidate_wid_list")
        try:
            labels = [float(x) for x in f[2].split("_")] if f[2] else []
        except ValueError as exc:
            raise DataError(
                beh, f"not a number list ({exc})", line=lineno, field="candidate_label_list"
            ) from exc
        if len(labels) != len(cands):
            raise DataError(
                beh,
                f"{len(labels)} labels for {len(cands)} candidates",
                line=lineno,
                field="candidate_label_list",
            )
        if any(x not in (0.0, 1.0, 2.0, 3.0) for x in labels):
            raise DataError(beh, "labels must be 0, 1, 2 or 3", line=lineno, field="candidate_label_list")
        wids = _ints(f[4], "_", beh, lineno, "history_wid_list")
        qrys = f[3].split("_") if f[3] else []
        types = f[5].split("_") if f[5] else []
        gaps = _ints(f[6], "_", beh, lineno, "history_time_list")
        for fld, seq in (("history_qry_list", qrys), ("history_type_list", types)):
            if len(seq) != len(wids):
                raise DataError(
                    beh, f"{len(seq)} entries for {len(wids)} history items", line=lineno, field=fld
                )
        if len(gaps) != len(wids) + 1:
            raise DataError(
                beh,
                f"{len(gaps)} intervals, expected one per history item plus the test query ({len(wids) + 1})",
                line=lineno,
                field="history_time_list",
            )
        if bad := set(types) - _JD_TYPES:
            raise DataError(
                beh, f"unknown behaviour type {sorted(bad)[0]!r}", line=lineno, field="history_type_list"
            )
        times = np.cumsum(gaps).tolist()
        sess["user_id"].append(user)
        sess["query_terms"].append(_ints(f[0], "\x18", beh, lineno, "query"))
        sess["query_time"].append(times[-1])
        imp["user_id"] += [user] * len(cands)
        imp["item_id"] += cands
        imp["rank"] += list(range(len(cands)))
        imp["label"] += [int(x) for x in labels]
        hist["user_id"] += [user] * len(wids)
        hist["item_id"] += wids
        hist["position"] += list(range(len(wids)))
        hist["query_terms"] += [
            None if q == "-1" else _ints(q, "\x18", beh, lineno, "history_qry_list") for q in qrys
        ]
        hist["behavior"] += types
        hist["time"] += times[:-1]
    sessions = pl.DataFrame(
        sess, schema={"user_id": pl.Int64, "query_terms": pl.List(pl.Int64), "query_time": pl.Int64}
    )
    impressions = pl.DataFrame(
        imp, schema={"user_id": pl.Int64, "item_id": pl.Int64, "rank": pl.Int32, "label": pl.Int8}
    ).with_columns(click=pl.col("label") >= 1, cart=pl.col("label") >= 2, purchase=pl.col("label") == 3)
    interactions = pl.DataFrame(
        hist,
        schema={
            **INTERACTIONS_SCHEMA,
            "query_terms": pl.List(pl.Int64),
            "behavior": pl.String,
            "time": pl.Int64,
        },
    )

    rows: dict[str, list] = {
        k: [] for k in ("item_id", "category_ids", "brand_id", "shop_id", "name_terms", "brand_name_terms")
    }
    for lineno, f in _data_lines(meta, _JD_META_COLUMNS):
        rows["item_id"].append(_ints(f[0], "_", meta, lineno, "wid")[0] if f[0] else None)
        if rows["item_id"][-1] is None:
            raise DataError(meta, "empty product id", line=lineno, field="wid")
        rows["name_terms"].append(_ints(f[1], "\x18", meta, lineno, "name"))
        brand = _ints(f[2], "_", meta, lineno, "brand_id")
        rows["brand_id"].append(brand[0] if brand else None)
        rows["brand_name_terms"].append(_ints(f[3], "\x18", meta, lineno, "brand_name"))
        levels = [_ints(f[i], "_", meta, lineno, _JD_META_COLUMNS[i]) for i in (4, 6, 8, 10)]
        rows["category_ids"].append(list(dict.fromkeys(c[0] for c in levels if c)))
        shop = _ints(f[12], "_", meta, lineno, "shop_id")
        rows["shop_id"].append(shop[0] if shop else None)
    items = pl.DataFrame(
        rows,
        schema={
            **ITEMS_SCHEMA,
            "shop_id": pl.Int64,
            "name_terms": pl.List(pl.Int64),
            "brand_name_terms": pl.List(pl.Int64),
        },
    )
    if items["item_id"].is_duplicated().any():
        dup = items.filter(pl.col("item_id").is_duplicated())["item_id"][0]
        raise DataError(meta, f"product {dup} listed twice", field="wid")
    return JDSearchData(sessions, impressions, interactions, items.sort("item_id"))


def remap_ids(
    items: pl.DataFrame, *frames: pl.DataFrame
) -> tuple[pl.DataFrame, list[pl.DataFrame], pl.DataFrame]:
    """Dense ids for :class:`ItemFeatures`: items 1..n (catalogue items first, by id, then unknown items seen in
    ``frames``), categories 1..c and brands 1..b (by id). Returns the remapped items, the frames with ``item_id``
    remapped, and the item map (``item_id`` -> ``new_id``)."""
    known = items["item_id"].unique().sort()
    seen = pl.concat([f["item_id"] for f in frames]).unique().sort() if frames else known.clear()
    extra = seen.filter(~seen.is_in(known.implode()))
    all_items = pl.concat([known, extra])
    imap = pl.DataFrame({"item_id": all_items, "new_id": np.arange(1, all_items.len() + 1, dtype=np.int64)})
    cats = items["category_ids"].explode().drop_nulls().unique().sort()
    cmap = dict(zip(cats.to_list(), range(1, cats.len() + 1), strict=True))
    brands = items["brand_id"].drop_nulls().unique().sort()
    bmap = dict(zip(brands.to_list(), range(1, brands.len() + 1), strict=True))
    new_items = pl.concat(
        [
            items.select(ITEMS_SCHEMA.keys()),
            _bare_items(extra),
        ]
    ).with_columns(
        pl.col("category_ids").list.eval(pl.element().replace_strict(cmap, return_dtype=pl.Int64)),
        pl.col("brand_id").replace_strict(bmap, default=None, return_dtype=pl.Int64),
    )
    new_items = (
        new_items.join(imap, on="item_id")
        .drop("item_id")
        .rename({"new_id": "item_id"})
        .select(ITEMS_SCHEMA.keys())
        .sort("item_id")
    )
    out = [
        f.join(imap, on="item_id", how="left", maintain_order="left")
        .with_columns(pl.col("new_id").alias("item_id"))
        .drop("new_id")
        for f in frames
    ]
    return new_items, out, imap


# ----------------------------------------------------------------------------- histories (CSR) and the split


@dataclass
class Histories:
    """Per-user item sequences in CSR form: user ``user_ids[r]`` has ``items[offsets[r]:offsets[r + 1]]``
    (oldest first). ``user_ids`` is sorted; rows are what :func:`build_batch` indexes."""

    user_ids: np.ndarray
    offsets: np.ndarray
    items: np.ndarray

    @classmethod
    def from_frame(cls, df: pl.DataFrame, users: np.ndarray | None = None) -> Histories:
        """From an interactions frame (any row order); ``users`` (sorted) adds empty rows for users without any."""
        df = df.select("user_id", "item_id", "position").sort(["user_id", "position"])
        u = df["user_id"].to_numpy()
        uniq, counts = np.unique(u, return_counts=True)
        if users is None:
            users = uniq
        users = np.asarray(users, dtype=np.int64)
        lengths = np.zeros(users.size, dtype=np.int64)
        idx = np.searchsorted(users, uniq)
        if idx.size and (idx.max() >= users.size or (users[np.minimum(idx, users.size - 1)] != uniq).any()):
            raise ValueError("the frame holds users that are not in `users`")
        lengths[idx] = counts
        offsets = np.zeros(users.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(users, offsets, df["item_id"].to_numpy().astype(np.int64, copy=False))

    @classmethod
    def from_lists(cls, seqs: Sequence[Sequence[int]], user_ids: Sequence[int] | None = None) -> Histories:
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = (
            np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
            if len(seqs)
            else np.zeros(0, np.int64)
        )
        users = np.arange(len(seqs), dtype=np.int64) if user_ids is None else np.asarray(user_ids, np.int64)
        return cls(users, offsets, flat)

    def __len__(self) -> int:
        return self.user_ids.size

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, r: int) -> np.ndarray:
        return self.items[self.offsets[r] : self.offsets[r + 1]]

    def rows_of(self, user_ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Row index of each user id (ValueError for an unknown user)."""
        u = np.asarray(user_ids, dtype=np.int64)
        r = np.searchsorted(self.user_ids, u)
        if r.size and (
            r.max(initial=0) >= self.user_ids.size or (self.user_ids[np.minimum(r, len(self) - 1)] != u).any()
        ):
            raise ValueError("unknown user id")
        return r

    def truncate(self, k: int) -> Histories:
        """Keep only the last ``k`` items of every history (the *truncated* long-tail simulation)."""
        if k < 0:
            raise ValueError("k must be >= 0")
        lengths = self.lengths
        keep = np.minimum(lengths, k)
        start = self.offsets[1:] - keep
        offsets = np.zeros_like(self.offsets)
        np.cumsum(keep, out=offsets[1:])
        idx = np.repeat(start - offsets[:-1], keep) + np.arange(offsets[-1])
        return Histories(self.user_ids.copy(), offsets, self.items[idx])


@dataclass
class Split:
    """Leave-last-out split of an interactions frame (canonical columns, positions kept from the full history)."""

    train: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame
    min_interactions: int = 3

    @property
    def eval_users(self) -> np.ndarray:
        """Users with a valid and a test item (sorted)."""
        return np.sort(self.test["user_id"].to_numpy())

    def histories(self, stage: Literal["train", "valid", "test"]) -> Histories:
        """What the model sees: ``train`` -- every user's train items; ``valid`` -- the evaluated users' train
        items; ``test`` -- their train + valid items (rows in :attr:`eval_users` order)."""
        if stage == "train":
            return Histories.from_frame(self.train)
        users = self.eval_users
        if stage == "valid":
            return Histories.from_frame(self.train.filter(pl.col("user_id").is_in(users)), users)
        if stage == "test":
            both = pl.concat(
                [self.train.select(INTERACTIONS_SCHEMA.keys()), self.valid.select(INTERACTIONS_SCHEMA.keys())]
            )
            return Histories.from_frame(both.filter(pl.col("user_id").is_in(users)), users)
        raise ValueError(f"stage must be train, valid or test, not {stage!r}")


def leave_last_out(interactions: pl.DataFrame, min_interactions: int = 3) -> Split:
    """Per user in time order: last -> test, second-to-last -> valid, rest -> train; users with fewer than
    ``min_interactions`` (>= 3) interactions go to train only."""
    if min_interactions < 3:
        raise ValueError("min_interactions must be >= 3 (one train, one valid and one test item)")
    df = interactions.sort(["user_id", "position"]).with_columns(
        _n=pl.len().over("user_id"), _from_end=pl.int_range(pl.len()).reverse().over("user_id")
    )
    eligible = pl.col("_n") >= min_interactions
    test = df.filter(eligible & (pl.col("_from_end") == 0)).drop("_n", "_from_end")
    valid = df.filter(eligible & (pl.col("_from_end") == 1)).drop("_n", "_from_end")
    train = df.filter(~eligible | (pl.col("_from_end") >= 2)).drop("_n", "_from_end")
    return Split(train, valid, test, min_interactions)


# ----------------------------------------------------------------------------- negatives


@dataclass
class Candidates:
    """One stage's evaluation lists: ``items[u, 0]`` is user ``user_ids[u]``'s held-out item, ``items[u, 1:]`` its
    sampled negatives (ids; never an item the user interacted with)."""

    user_ids: np.ndarray
    items: np.ndarray

    @property
    def positives(self) -> np.ndarray:
        return self.items[:, 0]

    @property
    def negatives(self) -> np.ndarray:
        return self.items[:, 1:]


def _sample_rows(
    rng: np.random.Generator, pool: np.ndarray, excluded: np.ndarray, rows: np.ndarray, n: int
) -> np.ndarray:
    """``n`` distinct pool items per row, none with key ``row * P + pool_index`` in sorted ``excluded``."""
    size = pool.size
    out = np.empty((rows.size, n), dtype=np.int64)
    todo = np.arange(rows.size)
    m = n + max(16, n // 2)
    while todo.size:
        draws = rng.integers(0, size, size=(todo.size, m))
        keys = rows[todo, None] * size + draws
        hit = np.searchsorted(excluded, keys)
        bad = (
            excluded[np.minimum(hit, excluded.size - 1)] == keys
            if excluded.size
            else np.zeros(keys.shape, bool)
        )
        order = np.argsort(draws, axis=1, kind="stable")
        ordered = np.take_along_axis(draws, order, axis=1)
        dup_sorted = np.zeros(draws.shape, dtype=bool)
        dup_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
        dup = np.empty_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        ok = ~(bad | dup)
        full = ok.sum(axis=1) >= n
        if full.any():
            pick = np.argsort(~ok[full], axis=1, kind="stable")[:, :n]
            out[todo[full]] = pool[np.take_along_axis(draws[full], pick, axis=1)]
        todo = todo[~full]
        m = min(2 * m, 8 * size)
    return out


def sample_negatives(
    split: Split, n: int = 99, seed: int = 0, items: pl.DataFrame | np.ndarray | None = None
) -> dict[str, Candidates]:
    """``{"valid": Candidates, "test": Candidates}``: each evaluated user's positive + ``n`` distinct negatives,
    uniform over the item pool (the split's items plus ``items``' ids), excluding all the user's items."""
    frames = [split.train, split.valid, split.test]
    all_inter = pl.concat([f.select("user_id", "item_id") for f in frames])
    pool_parts = [all_inter["item_id"].to_numpy()]
    if items is not None:
        pool_parts.append(
            items["item_id"].to_numpy() if isinstance(items, pl.DataFrame) else np.asarray(items)
        )
    pool = np.unique(np.concatenate(pool_parts).astype(np.int64))
    users = split.eval_users
    ev = all_inter.filter(pl.col("user_id").is_in(users))
    u_row = np.searchsorted(users, ev["user_id"].to_numpy())
    excluded = np.unique(u_row * pool.size + np.searchsorted(pool, ev["item_id"].to_numpy()))
    n_own = np.bincount(excluded // pool.size, minlength=users.size)
    if users.size and (pool.size - n_own).min() < n:
        worst = int(np.argmin(pool.size - n_own))
        raise ValueError(
            f"user {users[worst]} has {n_own[worst]} of {pool.size} items: fewer than {n} negatives left"
        )
    out: dict[str, Candidates] = {}
    for stage_idx, (stage, frame) in enumerate((("valid", split.valid), ("test", split.test))):
        f = frame.sort("user_id")
        if not np.array_equal(f["user_id"].to_numpy(), users):
            raise ValueError(f"{stage} must hold exactly one row per evaluated user")
        rng = np.random.default_rng([seed, stage_idx])
        neg = _sample_rows(rng, pool, excluded, np.arange(users.size, dtype=np.int64), n)
        out[stage] = Candidates(users.copy(), np.concatenate([f["item_id"].to_numpy()[:, None], neg], axis=1))
    return out


# ----------------------------------------------------------------------------- long tail


@dataclass
class LongTail:
    user_ids: np.ndarray  # sorted
    threshold: int
    quantile: float | None


def long_tail_users(split: Split, threshold: int | None = None, quantile: float = 0.2) -> LongTail:
    """Evaluated users whose train history has <= ``threshold`` items (default: the ``quantile`` of those lengths)."""
    hist = split.histories("valid")
    lengths = hist.lengths
    q: float | None = None
    if threshold is None:
        if lengths.size == 0:
            raise ValueError("no evaluated users")
        q = quantile
        threshold = int(np.quantile(lengths, quantile, method="lower"))
    return LongTail(hist.user_ids[lengths <= threshold], int(threshold), q)


# ----------------------------------------------------------------------------- features and batches


@dataclass
class ItemFeatures:
    """Lookup tables indexed by item id (row 0 = padding): ``categories`` [n_ids, C] (first C category ids, 0 =
    none), ``brand`` [n_ids] (0 = none). Ids must be small dense integers (see :func:`remap_ids`)."""

    categories: np.ndarray
    brand: np.ndarray

    @classmethod
    def from_items(
        cls, items: pl.DataFrame, max_categories: int = 4, n_ids: int | None = None
    ) -> ItemFeatures:
        ids = items["item_id"].to_numpy()
        if ids.size and ids.min() < 1:
            raise ValueError("item ids must be >= 1 (0 is padding)")
        size = int(max(ids.max(initial=0) + 1, n_ids or 0))
        if size > 50_000_000:
            raise ValueError(f"item ids up to {size - 1}: make them dense first (remap_ids)")
        cats = np.zeros((size, max_categories), dtype=np.int64)
        padded = (
            items["category_ids"]
            .list.head(max_categories)
            .list.concat(pl.lit([0] * max_categories, dtype=pl.List(pl.Int64)))
            .list.head(max_categories)
        )
        if ids.size and max_categories:
            cats[ids] = padded.list.to_array(max_categories).to_numpy()
        brand = np.zeros(size, dtype=np.int64)
        brand[ids] = items["brand_id"].fill_null(0).to_numpy()
        return cls(cats, brand)


def build_batch(
    hist: Histories,
    rows: np.ndarray | Sequence[int],
    targets: np.ndarray | Sequence[int],
    labels: np.ndarray | Sequence[float] | None = None,
    *,
    features: ItemFeatures | None = None,
    max_len: int = 50,
    ends: np.ndarray | Sequence[int] | None = None,
    trim: bool = False,
) -> dict[str, np.ndarray]:
    """Padded arrays for a batch of (history, target, label), numpy only.

    ``rows`` [B] index ``hist``; ``ends`` [B] (optional) cuts each history to its first ``ends[b]`` items (the
    prefix before a training target); the last ``max_len`` items are kept. ``targets`` is [B] or [B, T] (T
    candidates sharing one history, e.g. a positive and its negatives). Histories are LEFT-padded with 0: the most
    recent item is always in the last column. Returns ``hist_items`` [B, L] int64, ``hist_mask`` [B, L] bool,
    ``hist_len`` [B], ``target_items`` ([B] or [B, T]), ``labels`` float32 (when given), and with ``features``:
    ``hist_cats`` [B, L, C], ``hist_brand`` [B, L], ``target_cats`` [..., C], ``target_brand``.
    ``L`` is ``max_len``, or with ``trim`` the longest (cut) history of the batch (at least 1): the columns that
    are padding in every row are left out, which is what makes short-history batches cheap.
    """
    r = np.asarray(rows, dtype=np.int64)
    start = hist.offsets[r]
    end = hist.offsets[r + 1]
    if ends is not None:
        e = np.asarray(ends, dtype=np.int64)
        if (e < 0).any() or (e > end - start).any():
            raise ValueError("ends must lie within each history")
        end = start + e
    length = np.minimum(end - start, max_len)
    if trim:
        max_len = max(1, int(length.max(initial=0)))
    cols = np.arange(max_len)
    src = end[:, None] - max_len + cols[None, :]
    mask = cols[None, :] >= (max_len - length)[:, None]
    hist_items = np.where(mask, hist.items[np.where(mask, src, 0)] if hist.items.size else 0, 0)
    t = np.asarray(targets, dtype=np.int64)
    if t.shape[0] != r.shape[0]:
        raise ValueError("one target (row) per history row")
    out: dict[str, np.ndarray] = {
        "hist_items": hist_items,
        "hist_mask": mask,
        "hist_len": length,
        "target_items": t,
    }
    if labels is not None:
        out["labels"] = np.asarray(labels, dtype=np.float32)
    if features is not None:
        out["hist_cats"] = features.categories[hist_items]
        out["hist_brand"] = features.brand[hist_items]
        out["target_cats"] = features.categories[t]
        out["target_brand"] = features.brand[t]
    return out
