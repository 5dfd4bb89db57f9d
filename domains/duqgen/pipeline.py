"""The steps as the CLI and ``run`` call them: each reads the previous step's artefact from the run folder, writes
its own (skipped when present, unless ``force``) and returns its summary; every step runs inside
:func:`forbid_test_data`, and the target's path is kept in ``RUN/duqgen.json`` so later steps need not repeat it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ranksuite.domains.duqgen import runfolder as rf
from ranksuite.domains.duqgen.data import forbid_test_data, load_target_corpus
from ranksuite.shared.data.atomic import atomic_write_json
from ranksuite.shared.training.config import TrainConfig

CONFIG = "duqgen.json"


def run_target(run: str | Path, target: str | Path | None = None) -> Path:
    """The target folder: given (and then recorded) or read from ``RUN/duqgen.json``."""
    cfg_path = Path(run) / CONFIG
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    if target is not None:
        target = Path(target).resolve()
        if cfg.get("target") and cfg["target"] != str(target):
            raise ValueError(f"{run} was made for {cfg['target']}, not {target}: use another --run folder")
        if not cfg.get("target"):
            atomic_write_json(cfg_path, {**cfg, "target": str(target)})
        return target
    if not cfg.get("target"):
        raise ValueError(f"{run}: no target recorded yet; pass --target DIR")
    return Path(cfg["target"])


@dataclass
class Settings:
    """Everything ``run`` passes down; each step command exposes its own part of it."""

    n: int | None = None
    k: int | None = None
    embedder: str = "minilm"
    min_chars: int = 300
    strategy: str = "duqgen"
    temperature: float = 1.0
    examples: str | None = None
    generator_model: str = "smollm2"
    gen_batch_size: int = 16
    max_new_tokens: int = 40
    doc_words: int = 100
    n_negatives: int = 4
    depth: int = 100
    skip_top: int = 30
    teacher: str | None = None
    round_trip: int | None = None
    name: str | None = None
    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 2e-5
    max_steps: int | None = None
    seed: int = 42
    device: str | None = None
    progress: bool = False
    generator: Callable[[list[str]], list[str]] | None = field(default=None, repr=False)


def step_cluster(run: Path, target: Path, s: Settings, force: bool = False) -> dict[str, Any]:
    from ranksuite.domains.duqgen.cluster import cluster_corpus

    target = run_target(run, target)
    with forbid_test_data():
        corpus = load_target_corpus(target)
        return rf.cached_step(
            run,
            "cluster",
            force,
            lambda: cluster_corpus(
                corpus,
                rf.step_dir(run, "cluster"),
                s.n,
                s.k,
                s.embedder,
                s.min_chars,
                s.seed,
                s.device,
                s.progress,
            ),
        )


def step_sample(run: Path, s: Settings, force: bool = False) -> dict[str, Any]:
    from ranksuite.domains.duqgen.sample import sample_step

    clusters = rf.require(run, "cluster", "sample")
    n = s.n or rf.read_summary(run, "cluster").get("n")
    if n is None:
        raise ValueError(f"{run}: cluster.json has no N; pass --n")
    with forbid_test_data():
        return rf.cached_step(
            run,
            "sample",
            force,
            lambda: sample_step(clusters, rf.step_dir(run, "sample"), n, s.strategy, s.temperature, s.seed),
        )


def step_generate(
    run: Path, s: Settings, force: bool = False, max_batches: int | None = None
) -> dict[str, Any]:
    from ranksuite.domains.duqgen.generate import generate_queries, load_examples, smollm2_generator

    sample = pl.read_parquet(rf.require(run, "sample", "generate"))
    examples = load_examples(s.examples)
    with forbid_test_data():
        corpus = load_target_corpus(run_target(run))

        def compute() -> dict[str, Any]:
            gen = s.generator or smollm2_generator(
                s.generator_model, s.gen_batch_size, s.max_new_tokens, s.device
            )
            summary = generate_queries(
                sample,
                corpus,
                rf.step_dir(run, "generate"),
                gen,
                examples,
                s.gen_batch_size,
                s.doc_words,
                s.progress,
                max_batches,
            )
            summary.update(
                generator=s.generator_model if s.generator is None else "injected",
                examples=s.examples or "built-in",
                doc_words=s.doc_words,
                batch_size=s.gen_batch_size,
                max_new_tokens=s.max_new_tokens,
            )
            return summary

        return rf.cached_step(run, "generate", force, compute)


def step_negatives(run: Path, s: Settings, force: bool = False) -> dict[str, Any]:
    from ranksuite.domains.duqgen.negatives import negatives_step

    queries = rf.require(run, "generate", "negatives")
    with forbid_test_data():
        corpus = load_target_corpus(run_target(run))
        return rf.cached_step(
            run,
            "negatives",
            force,
            lambda: negatives_step(
                corpus,
                queries,
                rf.step_dir(run, "negatives"),
                n_negatives=s.n_negatives,
                depth=s.depth,
                skip_top=s.skip_top,
                seed=s.seed,
            ),
        )


def step_adapt(run: Path, base: str, s: Settings, force: bool = False) -> dict[str, Any]:
    from ranksuite.domains.duqgen.adapt import adapt_cached, adapt_name, base_architecture

    groups = rf.require(run, "negatives", "adapt")
    with forbid_test_data():
        corpus = load_target_corpus(run_target(run))
        name = s.name or adapt_name(base, base_architecture(base), s.teacher, s.round_trip)
        config = TrainConfig(
            epochs=s.epochs,
            batch_size=s.batch_size,
            lr=s.lr,
            max_steps=s.max_steps,
            seed=s.seed,
            device=s.device,
            log_every=1,
        )
        summary = adapt_cached(
            run / "adapt" / name,
            force,
            corpus=corpus,
            groups_path=groups,
            base=base,
            teacher=s.teacher,
            round_trip=s.round_trip,
            config=config,
            group_size=s.n_negatives + 1,
            progress=s.progress,
        )
    return {**summary, "name": name, "folder": str(run / "adapt" / name)}


def run_pipeline(
    target: Path, base: str, run: Path, s: Settings, force: bool = False, on_step: Callable | None = None
) -> dict[str, dict[str, Any]]:
    """cluster -> sample -> generate -> negatives -> adapt; ``force`` redoes every step."""
    run.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, Any]] = {}
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("cluster", lambda: step_cluster(run, target, s, force)),
        ("sample", lambda: step_sample(run, s, force)),
        ("generate", lambda: step_generate(run, s, force)),
        ("negatives", lambda: step_negatives(run, s, force)),
        ("adapt", lambda: step_adapt(run, base, s, force)),
    ]
    for name, fn in steps:
        out[name] = fn()
        if on_step:
            on_step(name, out[name])
    return out
