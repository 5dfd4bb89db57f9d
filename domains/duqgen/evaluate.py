"""Step 6 (the only one that reads the target's test queries and qrels): the adapted ranker beside its base, BM25,
the random-sampling ablation and any other variant, each through the shared ``evaluate_collection`` — the code
behind ``ranksuite ir evaluate`` — so every row has the same metrics.json keys and definitions.

A bi-encoder searches the whole corpus (dense retrieval); a cross-encoder or ColBERT model reranks BM25's top-k.
``out/metrics.json`` is the adapted model's; ``out/<row>/`` holds each row's full run folder, ``comparison.json``
and ``report.md`` the table. A row whose ``metrics.json`` exists is not recomputed unless ``force``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from ranksuite.shared.data.atomic import atomic_write_json, atomic_write_text
from ranksuite.shared.metrics.ir import DEFAULT_METRICS
from ranksuite.shared.models.base import read_meta


def resolve_adapted(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """(model folder, adapt.json) for a run folder with one adapted model, an ``adapt/NAME`` folder or a model."""
    p = Path(path)
    if (p / "adapt").is_dir() and not (p / "adapt.json").exists():
        names = sorted(d.name for d in (p / "adapt").iterdir() if (d / "model").is_dir())
        if len(names) != 1:
            raise ValueError(
                f"{p} holds {len(names)} adapted models ({', '.join(names) or 'none'}): "
                f"pass one of them, e.g. --model {p / 'adapt' / (names[0] if names else 'NAME')}"
            )
        p = p / "adapt" / names[0]
    info = json.loads((p / "adapt.json").read_text()) if (p / "adapt.json").exists() else {}
    model = p / "model" if (p / "model").is_dir() else p
    if not read_meta(model):
        raise FileNotFoundError(
            f"{model}: not a model folder (no ranksuite.json); run `ranksuite duqgen adapt`"
        )
    return model, info


def _spec(model: str | Path) -> tuple[str, str | None]:
    """``(first stage, reranker)`` for evaluate_collection: bi-encoders search, the others rerank BM25."""
    if str(model) in ("bm25", "bm25-stem") or str(model).endswith("-bi"):
        return str(model), None
    arch = read_meta(model).get("architecture")
    if arch == "bi":
        return str(model), None
    return "bm25", str(model)


def _model_path(spec: str | Path) -> str | Path:
    """A run folder stands for its ``model/``; names and model folders stay as they are."""
    p = Path(spec)
    return p / "model" if p.is_dir() and (p / "model").is_dir() else spec


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:60]


def evaluate_duqgen(
    target: str | Path,
    model: str | Path,
    out: str | Path,
    base: str | None = None,
    ablations: list[str | Path] | None = None,
    also: list[str | Path] | None = None,
    split: str = "test",
    top_k: int = 100,
    device: str | None = None,
    batch_size: int = 64,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate every row and write the comparison; returns ``{"metrics": adapted row, "rows": [...]}``."""
    from ranksuite.shared.evaluation import evaluate_collection

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    adapted, info = resolve_adapted(model)
    base = base or info.get("base")
    if base is None:
        raise ValueError(f"cannot tell the base ranker of {model}: pass --base")
    rows: list[tuple[str, str, str | Path]] = [("bm25", "BM25", "bm25"), ("base", f"base: {base}", base)]
    rows.append(("adapted", f"DUQGen: {Path(model).name}", adapted))
    for kind, paths in (("ablation", ablations or []), ("variant", also or [])):
        for p in paths:
            m, _ = resolve_adapted(p)
            label = f"{kind}: {Path(p).parent.parent.name}/{Path(p).name}" if m != Path(p) else f"{kind}: {p}"
            rows.append((kind, label, m))
    results = []
    for kind, label, spec in rows:
        first, rerank = _spec(_model_path(spec))
        folder = out / (_slug(label) if kind != "adapted" else "adapted")
        if (folder / "metrics.json").exists() and not force:
            metrics = json.loads((folder / "metrics.json").read_text())
        else:
            t0 = time.time()
            metrics = evaluate_collection(
                target,
                split,
                first,
                rerank,
                top_k,
                folder,
                device=device,
                batch_size=batch_size,
                progress=progress,
            )
            metrics["eval_seconds"] = round(time.time() - t0, 1)
            atomic_write_json(folder / "metrics.json", metrics)
        results.append({"row": label, "kind": kind, "folder": folder.name, **metrics})
    adapted_row = next(r for r in results if r["kind"] == "adapted")
    base_row = next(r for r in results if r["kind"] == "base")
    metrics = {k: adapted_row[k] for k in (*DEFAULT_METRICS, "model", "dataset", "queries")}
    atomic_write_json(out / "metrics.json", metrics)
    comparison = {
        "target": str(target),
        "split": split,
        "top_k_reranked": top_k,
        "rows": results,
        "adapted_minus_base": {m: adapted_row[m] - base_row[m] for m in DEFAULT_METRICS},
    }
    atomic_write_json(out / "comparison.json", comparison)
    lines = [
        f"# DUQGen on {adapted_row['dataset']} / {split} ({adapted_row['queries']} queries)",
        "",
        "| row | " + " | ".join(DEFAULT_METRICS) + " |",
        "|---|" + "---:|" * len(DEFAULT_METRICS),
        *[f"| {r['row']} | " + " | ".join(f"{r[m]:.4f}" for m in DEFAULT_METRICS) + " |" for r in results],
        "",
        f"Cross-encoders rerank BM25's top-{top_k}; bi-encoders search the whole corpus. Every judged query counts.",
    ]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return {"metrics": metrics, "rows": results, "comparison": comparison}
