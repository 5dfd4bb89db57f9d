"""Cross-fitted (out-of-fold) teacher scores: split a groups file by the two halves of `ir_fold_split.py`, so each
half is scored by a teacher trained on the *other* half; then merge the two scored halves into one teacher file.

Why: a cross-encoder scoring the very queries it was trained on returns its training labels (on SciFact, T→C put the
positive above every negative in 97 % of comparisons and 81 % of negatives below −4 logits): Margin-MSE then
teaches little beyond the labels. Out-of-fold scores are the teacher's judgement, graded, as on unseen queries.

    python benchmarks/ir_crossfit_groups.py split --groups G.parquet --fold-dir runs/halves --out runs/groups
    #   -> runs/groups-A.parquet (queries of half A), runs/groups-B.parquet (half B)
    ranksuite ir teacher-score --model TEACHER_TRAINED_ON_B --groups runs/groups-A.parquet ... --out scored-A.parquet
    ranksuite ir teacher-score --model TEACHER_TRAINED_ON_A --groups runs/groups-B.parquet ... --out scored-B.parquet
    python benchmarks/ir_crossfit_groups.py merge scored-A.parquet scored-B.parquet --like G.parquet --out teacher-oof.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("split")
    sp.add_argument("--groups", type=Path, required=True)
    sp.add_argument(
        "--fold-dir", type=Path, required=True, help="ir_fold_split.py output: half A = qrels/train.tsv"
    )
    sp.add_argument("--out", type=Path, required=True, help="prefix: OUT-A.parquet, OUT-B.parquet")
    mp = sub.add_parser("merge")
    mp.add_argument("scored", type=Path, nargs=2)
    mp.add_argument("--out", type=Path, required=True)
    mp.add_argument(
        "--like", type=Path, help="groups file whose row order the merged file keeps (same batches)"
    )
    args = ap.parse_args()
    if args.cmd == "split":
        groups = pl.read_parquet(args.groups)
        half_a = pl.read_csv(
            args.fold_dir / "qrels" / "train.tsv", separator="\t", schema_overrides={"query-id": pl.String}
        )
        in_a = pl.col("qid").is_in(half_a["query-id"].unique().implode())
        for name, part in (("A", groups.filter(in_a)), ("B", groups.filter(~in_a))):
            path = args.out.parent / f"{args.out.name}-{name}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_parquet(path)
            print(f"{path}: {part.height} groups, {part['qid'].n_unique()} queries")
    else:
        a, b = (pl.read_parquet(p) for p in args.scored)
        if set(a["qid"]) & set(b["qid"]):
            raise SystemExit("the two scored halves share queries")
        merged = pl.concat([a, b])
        if args.like:  # the original order: a student then sees the same batches as its twin did
            key = pl.col("docnos").list.join(" ")
            order = pl.read_parquet(args.like).with_row_index("_row").select("qid", key.alias("_k"), "_row")
            merged = merged.with_columns(key.alias("_k")).join(order, on=["qid", "_k"], how="left")
            if merged["_row"].null_count() or merged.height != order.height:
                raise SystemExit(f"the scored halves do not hold exactly the groups of {args.like}")
            merged = merged.sort("_row").drop("_k", "_row")
        merged.write_parquet(args.out)
        print(f"{args.out}: {merged.height} groups")


if __name__ == "__main__":
    main()
