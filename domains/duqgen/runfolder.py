"""The run folder: one sub-folder per step, each with its artefact and a ``<step>.json`` (settings, counts, seconds).

A step whose artefact exists is skipped (its recorded summary is returned) unless ``force`` is given; a forced step
makes every later step stale, which :func:`clear_after` removes so nothing downstream silently mixes two versions.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ranksuite.shared.data.atomic import atomic_write_json

STEPS = ("cluster", "sample", "generate", "negatives", "adapt")
ARTEFACTS = {
    "cluster": "cluster/clusters.parquet",
    "sample": "sample/sample.parquet",
    "generate": "generate/queries.parquet",
    "negatives": "negatives/groups.parquet",
}


def step_dir(run: str | Path, step: str) -> Path:
    return Path(run) / step


def artefact(run: str | Path, step: str) -> Path:
    return Path(run) / ARTEFACTS[step]


def read_summary(run: str | Path, step: str) -> dict[str, Any]:
    path = step_dir(run, step) / f"{step}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def write_summary(run: str | Path, step: str, summary: dict[str, Any]) -> Path:
    return atomic_write_json(step_dir(run, step) / f"{step}.json", summary)


def require(run: str | Path, step: str, by: str) -> Path:
    """The artefact of an earlier ``step``, or a clear error naming the command that makes it."""
    path = artefact(run, step)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: `ranksuite duqgen {by}` needs the output of `ranksuite duqgen {step} --run {run}`"
        )
    return path


def clear_after(run: str | Path, step: str) -> list[str]:
    """Remove the folders of the steps after ``step`` (their artefacts were made from the old one)."""
    removed = []
    for later in STEPS[STEPS.index(step) + 1 :]:
        folder = step_dir(run, later)
        if folder.exists():
            shutil.rmtree(folder)
            removed.append(later)
    return removed


def cached_step(
    run: str | Path, step: str, force: bool, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``compute`` (which writes the artefact and returns a summary) unless the artefact is already there.

    The summary gets ``seconds`` (wall time of this step) and ``cached`` (False when computed now, True when read).
    """
    if not force and artefact(run, step).exists():
        return {**read_summary(run, step), "cached": True}
    if force:
        clear_after(run, step)
        shutil.rmtree(step_dir(run, step), ignore_errors=True)
    step_dir(run, step).mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    summary = compute()
    summary["seconds"] = round(summary.get("seconds", time.time() - t0), 2)
    write_summary(run, step, summary)
    return {**summary, "cached": False}
