"""Split a test-only collection's queries into two seeded halves, written as one BEIR folder with
``qrels/train.tsv`` (half A) and ``qrels/test.tsv`` (half B), so a supervised recipe can be tried on a collection
that ships no training queries (Cranfield, CISI): train on A, test on B, never the same query in both.
``--fold 2`` swaps the halves (train on B, test on A): the two folds together test every query once.

    python benchmarks/ir_fold_split.py --data ../shared/data/ir/cranfield --out runs/cranfield-fold [--seed 42]
    python benchmarks/ir_fold_split.py --data ../shared/data/ir/cranfield --fold 2 --out runs/cranfield-fold2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from ranksuite.shared.data.beir import Collection, load_beir, write_beir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--split", default="test", help="the split whose queries are halved")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--fold", type=int, choices=(1, 2), default=1, help="2: train on half B, test on half A")
    args = ap.parse_args()
    coll = load_beir(args.data, args.split)
    qids = coll.queries["qid"].sort()
    half_a = set(qids.sample(len(qids) // 2, seed=args.seed).to_list())
    for name, keep in (("train", args.fold == 1), ("test", args.fold == 2)):
        part = coll.queries.filter(pl.col("qid").is_in(list(half_a)) == keep)
        qrels = coll.qrels.filter(pl.col("qid").is_in(part["qid"].implode()))
        sub = Collection(
            coll.name, coll.root, name, coll.corpus, coll.queries, qrels
        )  # all queries: one file
        write_beir(sub, args.out)
        print(f"{args.out}/qrels/{name}.tsv: {part.height} queries, {sub.qrels.height} judgements")


if __name__ == "__main__":
    main()
