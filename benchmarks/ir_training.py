"""Issue-3 results table: BM25, zero-shot, cross-encoders C / D / C>D / D>C, bi-encoder and ColBERT with and
without Margin-MSE KD, and a linear merge of C and D — on one collection, side by side, in one run.

Every row is produced by the library calls the CLI uses (train_ranker, teacher_score_collection, run_schedule,
merge_models, evaluate_collection), so each row has an equivalent `ranksuite ir ...` command (see RESULTS.md).

    python benchmarks/ir_training.py --data DIR --train-split train --backbone minilm --out OUT [--quick]

Writes OUT/results.json and OUT/results.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ranksuite.shared.distill.stages import run_schedule
from ranksuite.shared.distill.teacher import teacher_score_collection
from ranksuite.shared.evaluation import evaluate_collection
from ranksuite.shared.models.merge import merge_models
from ranksuite.shared.training import TrainConfig
from ranksuite.shared.training.ir_train import RankerSpec, train_ranker

H100_BF16_PEAK = 989e12  # dense bf16 TFLOP/s of an H100 SXM (spec sheet)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--train-split", default="train")
    ap.add_argument("--test-split", default="test")
    ap.add_argument("--backbone", default="minilm")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument(
        "--max-steps", type=int, default=None, help="cap on optimizer steps per run (CPU budgets)"
    )
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--dev-queries", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="2 steps a run: a smoke test of the whole table")
    ap.add_argument(
        "--skip-zero-shot", action="store_true", help="leave out the zero-shot dense row (slow on CPU)"
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"

    def cfg(**kw: float) -> TrainConfig:
        base = dict(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            log_every=10,
            device=device,
            max_steps=args.max_steps,
        )
        if args.quick:
            base.update(max_steps=2, batch_size=4)
        base.update(kw)
        return TrainConfig(**base)

    def record(name: str, model: str, rerank: str | None, train: dict | None = None) -> None:
        t = time.time()
        m = evaluate_collection(
            args.data, args.test_split, model, rerank, args.top_k, out / "eval" / name, device=device
        )
        row = {
            "row": name,
            **{k: m[k] for k in ("ndcg@10", "mrr@10", "map", "recall@100")},
            "queries": m["queries"],
            "eval_s": round(time.time() - t, 1),
        }
        if train:
            row.update(train)
        rows.append(row)
        print(json.dumps(row), flush=True)
        (out / "results.json").write_text(
            json.dumps({"device": gpu, "args": vars(args), "rows": rows}, indent=2)
        )

    def train(name: str, spec: RankerSpec, groups: Path | None = None) -> tuple[str, dict]:
        t = time.time()
        spec.max_length, spec.group_size = args.max_length, args.group_size
        res = train_ranker(
            args.data,
            out / name,
            spec,
            cfg(),
            split=args.train_split,
            groups_file=groups,
            dev_queries=args.dev_queries,
            dev_top_k=args.top_k,
            progress=False,
        )
        summary = json.loads((out / name / "train_metrics.json").read_text())
        log = [json.loads(x) for x in (out / name / "log.jsonl").read_text().splitlines()]
        tok_s = max((e.get("tokens_per_s", 0.0) for e in log), default=0.0)
        params = sum(
            p.numel()
            for p in __import__("ranksuite.shared.models", fromlist=["load_scorer"])
            .load_scorer(res.model_dir)
            .parameters()
        )
        info = {
            "train_s": round(time.time() - t, 1),
            "steps": res.steps,
            "best_step": res.best_step,
            "samples_per_s": round(summary["samples_per_s"], 1),
            "tokens_per_s": round(tok_s),
            "mfu": round(6 * params * tok_s / H100_BF16_PEAK, 4) if device == "cuda" else None,
        }
        return str(res.model_dir), info

    bb = args.backbone
    record("BM25", "bm25", None)
    if not args.skip_zero_shot:
        record(f"{Path(bb).name} bi-encoder zero-shot", f"{bb}-bi" if "/" not in bb else bb, None)
    c_model, c_info = train("ce-C", RankerSpec("cross", bb, loss="contrastive"))
    record("cross-encoder C (contrastive)", "bm25", c_model, c_info)
    teacher = out / "teacher.parquet"
    teacher_score_collection(
        c_model,
        args.data,
        args.train_split,
        teacher,
        out / "ce-C" / "groups.parquet",
        group_size=args.group_size,
        device=device,
    )
    d_model, d_info = train("ce-D", RankerSpec("cross", bb, loss="ranknet"), teacher)
    record("cross-encoder D (RankNet KD)", "bm25", d_model, d_info)
    for sched in ("C>D", "D>C"):
        t = time.time()
        results = run_schedule(
            args.data,
            out / f"ce-{sched.replace('>', '')}",
            sched,
            cfg(),
            backbone=bb,
            teacher_scores=teacher,
            split=args.train_split,
            dev_queries=args.dev_queries,
            group_size=args.group_size,
            max_length=args.max_length,
            progress=False,
        )
        record(
            f"cross-encoder {sched}",
            "bm25",
            str(results[-1][1].model_dir),
            {"train_s": round(time.time() - t, 1)},
        )
    merged = merge_models(c_model, d_model, out / "ce-merge-CD", method="linear", alpha=0.5)
    record("cross-encoder merge(C, D) linear", "bm25", str(merged))
    for arch, plain_loss in (("bi", "infonce"), ("colbert", "contrastive")):
        m0, i0 = train(f"{arch}-noKD", RankerSpec(arch, bb, loss=plain_loss))
        m1, i1 = train(f"{arch}-KD", RankerSpec(arch, bb, loss="margin-mse"), teacher)
        if arch == "bi":  # a bi-encoder is a first stage: full-corpus dense retrieval
            record(f"bi-encoder {plain_loss} (no KD), dense retrieval", m0, None, i0)
            record("bi-encoder Margin-MSE KD, dense retrieval", m1, None, i1)
        else:
            record(f"ColBERT {plain_loss} (no KD)", "bm25", m0, i0)
            record("ColBERT Margin-MSE KD", "bm25", m1, i1)
    lines = [
        f"device: {gpu}; data: {args.data} ({args.train_split} -> {args.test_split}); backbone {bb}",
        "",
        "| row | nDCG@10 | MRR@10 | MAP | R@100 | train s | samples/s | MFU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['row']} | {r['ndcg@10']:.4f} | {r['mrr@10']:.4f} | {r['map']:.4f} | {r['recall@100']:.4f} | "
            f"{r.get('train_s', '')} | {r.get('samples_per_s', '')} | {r.get('mfu') or ''} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
