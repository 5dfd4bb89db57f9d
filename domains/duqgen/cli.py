"""``ranksuite duqgen``: adapt a ranker to a collection that has no labels, with diversified synthetic queries.

Each step is a command with its own artefact in the run folder (rerun any of them; ``--force`` redoes it and clears
the later ones); ``run`` chains cluster -> sample -> generate -> negatives -> adapt; ``evaluate`` is the only
command that reads the target's test queries and qrels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from ranksuite.cli.common import console, friendly_errors, metrics_table, options, print_json

app = typer.Typer(
    help=(
        "DUQGen: unsupervised domain adaptation of a ranker with diversified synthetic queries "
        "(cluster -> sample -> generate -> negatives -> adapt, then evaluate). The steps read only the target's "
        "documents."
    ),
    no_args_is_help=True,
)

RUN = typer.Option(..., "--run", help="run folder: one sub-folder per step with its artefact and <step>.json")
FORCE = typer.Option(False, "--force", help="redo this step even if its artefact exists (clears later steps)")
TARGET_HELP = "target collection: a BEIR folder (only corpus.jsonl[.gz] is read)"
BASE_HELP = (
    "ranker to adapt: minilm-bi | mpnet-bi | PATH of a model or run folder (e.g. from `ranksuite ir train`)"
)


def _settings(ctx: typer.Context, **kw: Any):
    from ranksuite.domains.duqgen.pipeline import Settings

    opts = options(ctx)
    return Settings(seed=opts.seed, device=opts.device, progress=not opts.json, **kw), opts


def _report(step: str, summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json({"step": step, **summary})
        return
    state = "cached (use --force to redo)" if summary.get("cached") else f"{summary.get('seconds', 0):.1f} s"
    keys = {
        "cluster": ("documents", "kept", "dropped_short", "min_chars", "n", "k"),
        "sample": ("strategy", "n", "clusters_covered"),
        "generate": ("documents", "accepted", "rejected", "queries_per_s"),
        "negatives": ("queries", "negatives_from_ranks", "filled_with_random", "source_in_top"),
        "adapt": ("base", "loss", "groups_used", "steps", "model"),
    }[step]
    detail = ", ".join(f"{k} {summary[k]}" for k in keys if k in summary)
    console.print(f"[bold]{step}[/]: {detail} ({state})")
    if summary.get("warning"):
        console.print(f"  [yellow]warning:[/] {summary['warning']}")


@app.command()
@friendly_errors
def cluster(
    ctx: typer.Context,
    target: Path = typer.Option(..., help=TARGET_HELP),
    run: Path = RUN,
    n: int | None = typer.Option(
        None, help="training documents N (default: 10% of usable docs, at most 1000)"
    ),
    k: int | None = typer.Option(None, help="clusters K <= N (default: min(N, usable docs / 5))"),
    embedder: str = typer.Option(
        "minilm", help="bi-encoder for the document embeddings: minilm | mpnet | PATH"
    ),
    min_chars: int = typer.Option(
        300, help="drop documents shorter than this (falls back on short collections)"
    ),
    force: bool = FORCE,
) -> None:
    """Embed the documents, drop the very short ones, k-means into K clusters; plot the cluster sizes.

    Example:  ranksuite duqgen cluster --target ../shared/data/ir/cisi --run runs/duqgen/cisi --n 100
    """
    from ranksuite.domains.duqgen.pipeline import step_cluster

    s, opts = _settings(ctx, n=n, k=k, embedder=embedder, min_chars=min_chars)
    _report("cluster", step_cluster(run, target, s, force), opts.json)


@app.command()
@friendly_errors
def sample(
    ctx: typer.Context,
    run: Path = RUN,
    strategy: str = typer.Option("duqgen", help="duqgen (per-cluster softmax sampling) | random (ablation)"),
    n: int | None = typer.Option(None, help="N (default: the one cluster chose)"),
    temperature: float = typer.Option(
        1.0, help="softmax temperature T over cosine similarity to the centroid"
    ),
    force: bool = FORCE,
) -> None:
    """Pick N documents: 1 + floor((N - K)|c|/|D|) per cluster, by softmax of similarity to the centroid.

    Example:  ranksuite --seed 1 duqgen sample --run runs/duqgen/cisi --strategy random
    """
    from ranksuite.domains.duqgen.pipeline import step_sample

    s, opts = _settings(ctx, n=n, strategy=strategy, temperature=temperature)
    _report("sample", step_sample(run, s, force), opts.json)


@app.command()
@friendly_errors
def generate(
    ctx: typer.Context,
    run: Path = RUN,
    examples: Path | None = typer.Option(
        None, help='JSONL of 3 {"document", "query"} examples (default: a built-in set, not from the target)'
    ),
    model: str = typer.Option("smollm2", help="generator: smollm2 | PATH of a causal LM folder"),
    batch_size: int = typer.Option(16, help="prompts per generation batch (each batch is saved at once)"),
    max_new_tokens: int = typer.Option(40),
    doc_words: int = typer.Option(100, help="documents are cut to this many words in the prompt"),
    force: bool = FORCE,
) -> None:
    """One query per sampled document (few-shot, greedy); resumable: a killed run continues where it stopped.

    Example:  ranksuite duqgen generate --run runs/duqgen/cisi --batch-size 16
    """
    from ranksuite.domains.duqgen.pipeline import step_generate

    s, opts = _settings(
        ctx,
        examples=str(examples) if examples else None,
        generator_model=model,
        gen_batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        doc_words=doc_words,
    )
    _report("generate", step_generate(run, s, force), opts.json)


@app.command()
@friendly_errors
def negatives(
    ctx: typer.Context,
    run: Path = RUN,
    n_negatives: int = typer.Option(
        4, help="negatives per synthetic query (DUQGen: 1 positive : 4 negatives)"
    ),
    depth: int = typer.Option(100, help="BM25 depth for each synthetic query"),
    skip_top: int = typer.Option(30, help="negatives come from ranks skip_top+1 .. depth (the lower part)"),
    force: bool = FORCE,
) -> None:
    """Groups of the source document + hard negatives from the lower part of BM25's top-100.

    Example:  ranksuite duqgen negatives --run runs/duqgen/cisi
    """
    from ranksuite.domains.duqgen.pipeline import step_negatives

    s, opts = _settings(ctx, n_negatives=n_negatives, depth=depth, skip_top=skip_top)
    _report("negatives", step_negatives(run, s, force), opts.json)


@app.command()
@friendly_errors
def adapt(
    ctx: typer.Context,
    run: Path = RUN,
    base: str = typer.Option(..., help=BASE_HELP),
    teacher: str | None = typer.Option(
        None, help="cross-encoder teacher: train with Margin-MSE on its scores (GPL-style)"
    ),
    round_trip: int | None = typer.Option(
        None, help="keep a query only if its source document is in BM25's top-k for it"
    ),
    name: str | None = typer.Option(None, help="folder under RUN/adapt (default: bi | cross [-gpl] [-rtK])"),
    epochs: float = typer.Option(1.0),
    batch_size: int = typer.Option(16, help="synthetic queries per optimizer step"),
    lr: float = typer.Option(2e-5),
    max_steps: int | None = typer.Option(None),
    n_negatives: int = typer.Option(4, help="negatives per group used in training"),
    force: bool = FORCE,
) -> None:
    """Fine-tune the base ranker on the synthetic groups with the shared trainer.

    Examples:
      ranksuite duqgen adapt --run runs/duqgen/cisi --base minilm-bi
      ranksuite duqgen adapt --run runs/duqgen/cisi --base runs/ce-scifact --round-trip 20
      ranksuite duqgen adapt --run runs/duqgen/cisi --base minilm-bi --teacher runs/ce-scifact
    """
    from ranksuite.domains.duqgen.pipeline import step_adapt

    s, opts = _settings(
        ctx,
        teacher=teacher,
        round_trip=round_trip,
        name=name,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        max_steps=max_steps,
        n_negatives=n_negatives,
    )
    _report("adapt", step_adapt(run, base, s, force), opts.json)


@app.command("run")
@friendly_errors
def run_all(
    ctx: typer.Context,
    target: Path = typer.Option(..., help=TARGET_HELP),
    base: str = typer.Option(..., help=BASE_HELP),
    out: Path = typer.Option(..., help="run folder"),
    n: int | None = typer.Option(
        None, help="training documents N (default: 10% of usable docs, at most 1000)"
    ),
    k: int | None = typer.Option(None, help="clusters K <= N"),
    strategy: str = typer.Option("duqgen", help="duqgen | random (the ablation, same budget)"),
    examples: Path | None = typer.Option(None, help="JSONL of 3 few-shot examples (default: built-in)"),
    generator: str = typer.Option("smollm2", help="generator: smollm2 | PATH"),
    gen_batch_size: int = typer.Option(16),
    doc_words: int = typer.Option(100, help="documents are cut to this many words in the prompt"),
    max_new_tokens: int = typer.Option(40, help="generation length cap (a query is one line)"),
    teacher: str | None = typer.Option(None, help="cross-encoder teacher for Margin-MSE (GPL-style)"),
    round_trip: int | None = typer.Option(None, help="round-trip filter: source document in BM25's top-k"),
    epochs: float = typer.Option(1.0),
    batch_size: int = typer.Option(16),
    lr: float = typer.Option(2e-5),
    force: bool = typer.Option(False, "--force", help="redo every step"),
) -> None:
    """Chain cluster -> sample -> generate -> negatives -> adapt (cached steps are skipped).

    Example:  ranksuite duqgen run --target ../shared/data/ir/cisi --base minilm-bi --out runs/duqgen/cisi --n 100
    Then:     ranksuite duqgen evaluate --target ../shared/data/ir/cisi --model runs/duqgen/cisi --out runs/duqgen/cisi/eval
    """
    from ranksuite.domains.duqgen.pipeline import run_pipeline

    s, opts = _settings(
        ctx,
        n=n,
        k=k,
        strategy=strategy,
        examples=str(examples) if examples else None,
        generator_model=generator,
        gen_batch_size=gen_batch_size,
        doc_words=doc_words,
        max_new_tokens=max_new_tokens,
        teacher=teacher,
        round_trip=round_trip,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
    )
    t0 = time.time()
    result = run_pipeline(target, base, out, s, force, on_step=None if opts.json else _on_step)
    if opts.json:
        print_json({**result, "seconds": round(time.time() - t0, 1)})
        return
    console.print(f"adapted model: {result['adapt']['model']} ({time.time() - t0:.0f} s in all)")
    console.print(
        f"evaluate with: ranksuite duqgen evaluate --target {target} --model {out} --out {out}/eval"
    )


def _on_step(name: str, summary: dict[str, Any]) -> None:
    _report(name, summary, False)


@app.command()
@friendly_errors
def evaluate(
    ctx: typer.Context,
    target: Path = typer.Option(..., help="BEIR folder with the test queries and qrels"),
    model: Path = typer.Option(
        ..., help="run folder (with one adapted model), RUN/adapt/NAME or a model folder"
    ),
    out: Path = typer.Option(
        ..., help="folder for metrics.json, comparison.json, report.md and one folder a row"
    ),
    base: str | None = typer.Option(None, help="base ranker (default: the one the run adapted)"),
    ablation: list[Path] | None = typer.Option(None, help="e.g. the --strategy random run (repeatable)"),
    also: list[Path] | None = typer.Option(
        None, help="more adapted variants to put in the table (repeatable)"
    ),
    split: str = typer.Option("test"),
    top_k: int = typer.Option(100, help="BM25 documents a cross-encoder reranks"),
    batch_size: int = typer.Option(64),
    force: bool = typer.Option(False, "--force", help="recompute rows whose metrics.json exists"),
) -> None:
    """The adapted ranker beside its base, BM25 and the ablation on the target's test queries (nDCG@10, ...).

    Example:  ranksuite duqgen evaluate --target ../shared/data/ir/cisi --model runs/duqgen/cisi \\
                  --ablation runs/duqgen/cisi-random --out runs/duqgen/cisi/eval
    """
    from ranksuite.domains.duqgen.evaluate import evaluate_duqgen

    opts = options(ctx)
    result = evaluate_duqgen(
        target,
        model,
        out,
        base,
        ablation,
        also,
        split,
        top_k,
        opts.device,
        batch_size,
        force,
        progress=not opts.json,
    )
    if opts.json:
        print_json(result["comparison"])
        return
    m = result["metrics"]
    console.print(
        metrics_table(
            f"{m['dataset']} / {split} ({m['queries']} queries)",
            [{"model": r["row"], **r} for r in result["rows"]],
            ["model", "ndcg@10", "mrr@10", "map", "recall@100"],
        )
    )
    console.print(f"wrote {out}/metrics.json, comparison.json, report.md")
