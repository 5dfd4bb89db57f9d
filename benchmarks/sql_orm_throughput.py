"""Scoring throughput of the two SQL ORMs (candidates/s), on the same real Spider candidates, in one run.

Candidates: the first ``--candidates`` labelled candidates of Spider dev (question order), scored exactly as
``sql evaluate`` scores them (``orm.score_candidates``: the ORM's own query text, schema cut and result preview).
ORMs: a MiniLM cross-encoder ORM and a SmolLM2-135M Yes/No ORM (GradeSQL's LoRA adapter, not merged: the adapter's
extra matmuls are part of the figure). Give trained run folders with ``--minilm`` / ``--smollm2``; without, fresh
untrained ones of the same shapes (throughput does not depend on the weights). One untimed warm-up batch first.

    python benchmarks/sql_orm_throughput.py --minilm runs/sql/orm-f0-prev --candidates 64

Prints a table and writes ``benchmarks/results/sql_orm_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from ranksuite.domains.sql.data import load_spider
from ranksuite.domains.sql.labels import label_candidates
from ranksuite.domains.sql.orm import load_orm, orm_queries, orm_settings, score_candidates
from ranksuite.domains.sql.orm_lm import LmOrm
from ranksuite.shared.device import pick_device
from ranksuite.shared.models import CrossEncoder
from ranksuite.shared.models.causal_lm import LoraSpec

ROOT = Path(__file__).resolve().parents[1]
p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sql" / "spider_dev"))
p.add_argument(
    "--minilm", default=None, help="a cross-encoder ORM run folder (default: fresh MiniLM, 256 tokens)"
)
p.add_argument("--smollm2", default=None, help="an LM ORM run folder (default: fresh SmolLM2 + LoRA)")
p.add_argument("--candidates", type=int, default=64)
p.add_argument("--batch-size", type=int, default=16)
p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sql_orm_throughput.json"))
args = p.parse_args()

ds = load_spider(args.data)
labelled = label_candidates(ds.questions, ds.candidates.head(args.candidates), ds.databases, progress=False)
models = {
    "minilm": load_orm(args.minilm) if args.minilm else CrossEncoder.from_backbone("minilm", max_length=256),
    "smollm2": load_orm(args.smollm2) if args.smollm2 else LmOrm.from_backbone("smollm2", lora=LoraSpec()),
}
device = pick_device(None)
rows = []
for name, model in models.items():
    model.to(device)
    settings = orm_settings(model.meta)
    kind, preview = settings["kind"], settings["result_preview"]
    queries = orm_queries(ds, kind, settings["schema_chars"])
    kw = {"result_preview": preview, "batch_size": args.batch_size}
    score_candidates(model, labelled.head(args.batch_size), queries, **kw)  # warm-up, untimed
    t = time.perf_counter()
    score_candidates(model, labelled, queries, **kw)
    secs = time.perf_counter() - t
    rows.append(
        {
            "orm": name,
            "kind": kind,
            "result_preview": preview,
            "trained_run": args.minilm if name == "minilm" else args.smollm2,
            "candidates": labelled.height,
            "seconds": round(secs, 2),
            "candidates_per_s": round(labelled.height / secs, 2),
            "batch_size": args.batch_size,
        }
    )
    print(
        f"{name:8s} {kind:9s} {labelled.height} candidates in {secs:6.1f} s = {labelled.height / secs:7.2f} /s"
    )

info = {
    "device": str(device),
    "torch_threads": torch.get_num_threads(),
    "cpu_count": os.cpu_count(),
    "platform": platform.platform(),
    "load_1min": os.getloadavg()[0],
    "rows": rows,
}
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
Path(args.out).write_text(json.dumps(info, indent=2))
print(f"wrote {args.out}")
