"""Dataset cards (``cards/``), loaders and fetch recipes for official formats, and the project's own demo sets.

Real public data is never copied here: tests and benchmarks read it where it lies (``../shared/data``).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def demo_collection() -> Path:
    """The demo collection written by the project (see cards/demo_minicorpus.md): a BEIR folder."""
    return HERE / "demo" / "minicorpus"
