"""Offline backbones and the three scorers (cross-encoder, bi-encoder, late interaction), loaded in one call."""

from __future__ import annotations

import json
from pathlib import Path

from ranksuite.shared.models.base import META_FILE, Scorer, read_meta
from ranksuite.shared.models.bi_encoder import BiEncoder
from ranksuite.shared.models.cross_encoder import CrossEncoder
from ranksuite.shared.models.late_interaction import LateInteraction
from ranksuite.shared.models.registry import (
    DEFAULT_BACKBONE,
    MODELS,
    OfflineModelError,
    list_models,
    quiet_transformers,
    resolve_backbone,
)

quiet_transformers()

ARCHITECTURES: dict[str, type[Scorer]] = {"cross": CrossEncoder, "bi": BiEncoder, "colbert": LateInteraction}


def build_scorer(architecture: str, backbone: str | None = None, **kwargs: object) -> Scorer:
    """A fresh scorer of ``architecture`` (cross | bi | colbert) on an offline backbone or a local folder."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}: use one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture].from_backbone(backbone, **kwargs)  # type: ignore[attr-defined]


def load_scorer(path: str | Path) -> Scorer:
    """Load any saved scorer folder in one call.

    A ranksuite folder says what it is in ``ranksuite.json``; a plain sentence-transformers folder loads as a
    bi-encoder, a plain Hugging Face sequence-classification folder as a cross-encoder; a training run folder
    (``ranksuite ir train --out RUN``) loads its ``model/``, so every command takes the run folder it printed.
    """
    path = Path(path)
    if not path.is_dir():
        raise OfflineModelError(f"{path}: no such model folder")
    if not (path / META_FILE).exists() and (path / "model" / META_FILE).exists():
        path = path / "model"  # a training run folder: its final model
    meta = read_meta(path)
    arch = meta.get("architecture")
    if arch is None:
        if (path / "modules.json").exists():
            arch = "bi"
        elif (path / "config.json").exists():
            config = json.loads((path / "config.json").read_text())
            if any("SequenceClassification" in a for a in config.get("architectures") or []):
                arch = "cross"
    if arch not in ARCHITECTURES:
        raise OfflineModelError(
            f"{path}: cannot tell what model this is (no {META_FILE}, not a sentence-transformers or "
            "sequence-classification folder)"
        )
    return ARCHITECTURES[arch].load(path)  # type: ignore[attr-defined]


__all__ = [
    "ARCHITECTURES",
    "DEFAULT_BACKBONE",
    "MODELS",
    "BiEncoder",
    "CrossEncoder",
    "LateInteraction",
    "OfflineModelError",
    "Scorer",
    "build_scorer",
    "list_models",
    "load_scorer",
    "resolve_backbone",
]
