"""Export a finished SQL ORM run's *last* weights (its ``checkpoint.pt``) as a model folder beside the best one.

Why: runs trained before checkpoints were kept by dev pairwise accuracy kept them by dev EX, and on a dev database
of 16-30 questions the untrained start was never beaten strictly, so ``model/`` held the untrained start. The last
weights (end of the fixed schedule) are what those runs learnt. Cross-encoder ORMs only.

    python benchmarks/sql_last_checkpoint.py runs/sql/orm-f0-prev runs/sql/orm-f0-prev-last
    ranksuite sql evaluate --model runs/sql/orm-f0-prev-last --data ../shared/data/sql/spider_dev --out ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ranksuite.shared.models import load_scorer

run, out = Path(sys.argv[1]), Path(sys.argv[2])
model = load_scorer(run / "model")
state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
model.load_state_dict(state["model"])
meta = {k: v for k, v in model.meta.items() if k not in ("architecture", "config")}
meta["training"] = {**meta.get("training", {}), "weights": f"last (step {state['step']}) of {run}"}
model.save(out / "model", extra_meta=meta)
print(f"step {state['step']} of {run} -> {out / 'model'}")
