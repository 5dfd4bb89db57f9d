"""From a model spec to a run: the one place that turns ``bm25``, ``minilm-bi`` or a saved folder into rankings.

Specs:
- ``bm25`` (``bm25-stem`` with Snowball stemming): lexical first stage over the whole corpus;
- ``<backbone>-bi`` (``minilm-bi``, ``mpnet-bi``): a zero-shot bi-encoder over the whole corpus;
- a saved model folder: a bi-encoder searches the whole corpus; a cross-encoder or ColBERT model, which cannot
  search a corpus cheaply, reranks BM25's top-k.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ranksuite.shared.data.beir import Collection
from ranksuite.shared.models import MODELS, BiEncoder, OfflineModelError, Scorer, load_scorer
from ranksuite.shared.retrieval.bm25 import BM25
from ranksuite.shared.retrieval.dense import dense_search
from ranksuite.shared.retrieval.rerank import rerank


@dataclass
class Retrieved:
    run: pl.DataFrame
    description: str


def load_spec(spec: str, device: str | None = None) -> Scorer | str:
    """``bm25``/``bm25-stem`` stay strings; ``<name>-bi`` and folders become scorers on ``device``."""
    if spec in ("bm25", "bm25-stem"):
        return spec
    if spec.endswith("-bi") and spec[: -len("-bi")] in MODELS:
        return BiEncoder.from_backbone(spec[: -len("-bi")]).to_device(device)
    if not Path(spec).expanduser().exists():  # e.g. a hub id: say what works offline instead
        names = ", ".join(["bm25", "bm25-stem", *(f"{m}-bi" for m in MODELS)])
        raise OfflineModelError(
            f"{spec!r} is neither a model name nor a local folder. No model hub is reachable here: use one of "
            f"{names} (backbones: {', '.join(MODELS)}; see `ranksuite models list`) or the path of a saved "
            "model folder (for example one written by `ranksuite ir train`)."
        )
    return load_scorer(spec).to_device(device)


def first_stage(
    spec: str, collection: Collection, k: int = 1000, device: str | None = None, progress: bool = False
) -> Retrieved:
    model = load_spec(spec, device)
    if isinstance(model, str):
        index = BM25.from_corpus(collection.corpus, stem=model == "bm25-stem")
        return Retrieved(index.search(collection.queries, k=k), index.describe())
    if isinstance(model, BiEncoder):
        run = dense_search(model, collection.corpus, collection.queries, k=k, progress=progress)
        return Retrieved(run, f"dense {spec} ({model.meta.get('backbone')})")
    base = first_stage("bm25", collection, k=k)
    run = rerank(model, base.run, collection.query_texts(), collection.doc_texts(), k=k, progress=progress)
    return Retrieved(run, f"BM25 top-{k} >> {model.architecture} {spec}")


def retrieve(
    collection: Collection,
    model: str = "bm25",
    rerank_model: str | None = None,
    top_k: int = 100,
    depth: int = 1000,
    device: str | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> Retrieved:
    """First stage ``model`` (to ``depth``), then optionally ``rerank_model`` over its top ``top_k``."""
    first = first_stage(
        model,
        collection,
        k=depth if rerank_model is None else max(top_k, 100),
        device=device,
        progress=progress,
    )
    if rerank_model is None:
        return first
    scorer = load_spec(rerank_model, device)
    if isinstance(scorer, str):
        raise ValueError("--rerank takes a neural model (a folder or <backbone>-bi), not bm25")
    run = rerank(
        scorer,
        first.run,
        collection.query_texts(),
        collection.doc_texts(),
        k=top_k,
        batch_size=batch_size,
        progress=progress,
    )
    return Retrieved(
        run, f"{first.description} >> rerank top-{top_k} with {scorer.architecture} {rerank_model}"
    )
