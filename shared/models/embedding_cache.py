"""Embeddings computed once per (model, texts) and kept on disk: re-running a screening simulation, an
evaluation or a session must not re-embed thousands of abstracts on a CPU."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ranksuite.shared.data.atomic import atomic_write
from ranksuite.shared.models.bi_encoder import BiEncoder
from ranksuite.shared.models.registry import cache_dir


def texts_key(model_label: str, texts: Sequence[str], max_length: int) -> str:
    h = hashlib.sha256(f"{model_label}|{max_length}|{len(texts)}".encode())
    for t in texts:
        h.update(t.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


def embed_cached(
    model: BiEncoder,
    texts: Sequence[str],
    batch_size: int = 64,
    progress: bool | str = False,
    folder: Path | None = None,
) -> np.ndarray:
    """Normalised embeddings [N, dim] of ``texts``, from ``cache/embeddings/<key>.npy`` when present."""
    label = str(model.meta.get("backbone", "model"))
    key = texts_key(label, texts, model.max_length)
    folder = folder or cache_dir() / "embeddings"
    path = folder / f"{key}.npy"
    if path.exists():
        return np.load(path)
    emb = model.encode(list(texts), batch_size=batch_size, progress=progress)
    folder.mkdir(parents=True, exist_ok=True)

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            np.save(fh, emb)

    atomic_write(path, write)
    return emb
