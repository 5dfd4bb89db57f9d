"""``ranksuite screening``: screening prioritisation for systematic reviews (rank, train, evaluate, simulate,
session)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import typer

from ranksuite.cli.common import console, friendly_errors, metrics_table, options, print_json

app = typer.Typer(
    help=(
        "Screening prioritisation for systematic reviews: put the records most likely to be included first.\n\n"
        "Reviews are folders with topics.csv + reviews/<id>.csv.gz (the team-kit layout) or single record files "
        "(CSV/TSV/XLSX/RIS/MEDLINE). Repeat --reviews for several folders, or separate them with commas."
    ),
    no_args_is_help=True,
)
KEYS = ["ap", "wss@95", "wss@100", "recall@10%", "last_rel%"]


def _paths(values: list[Path]) -> list[Path]:
    out: list[Path] = []
    for v in values:
        out.extend(Path(p) for p in str(v).split(",") if p)
    return out


def _load(paths: list[Path], ids: str | None):
    from ranksuite.domains.screening.data import load_review_dirs

    reviews = load_review_dirs(_paths(paths))
    if ids:
        wanted = set(ids.split(","))
        reviews = [r for r in reviews if r.review_id in wanted]
        missing = wanted - {r.review_id for r in reviews}
        if missing:
            raise ValueError(f"--review-ids not found: {', '.join(sorted(missing))}")
    if not reviews:
        raise ValueError("no reviews found in " + ", ".join(map(str, paths)))
    return reviews


def _read_query(query: str | None) -> str:
    if query and Path(query).is_file():
        return Path(query).read_text(encoding="utf-8")
    return query or ""


@app.command()
@friendly_errors
def rank(
    ctx: typer.Context,
    records: Path = typer.Option(..., help="records to screen: CSV/TSV/XLSX/RIS/PubMed MEDLINE export"),
    topic: str = typer.Option(..., help="the review's title (what the review is about)"),
    query: str | None = typer.Option(None, help="the Boolean search query, as text or a file"),
    model: str = typer.Option("fusion", help="bm25 | dense | fusion | RUN (a model from `screening train`)"),
    query_field: str = typer.Option("both", help="topic representation: title | query | both"),
    doc_field: str = typer.Option(
        "title+abstract", help="record representation: title | abstract | title+abstract"
    ),
    out: Path = typer.Option(..., help="ranked file (.csv, .ris or .parquet): most likely include first"),
) -> None:
    """Rank unscreened records from the topic alone (no labels needed).

    Example:  ranksuite screening rank --records search.ris --topic "Galactomannan detection for invasive
              aspergillosis" --query query.txt --model fusion --out ranked.csv
    """
    import polars as pl

    from ranksuite.domains.screening.data import read_records, write_records
    from ranksuite.domains.screening.rank import Topic, zero_shot_scores

    opts = options(ctx)
    recs = read_records(records)
    scores = zero_shot_scores(
        recs, Topic(topic, _read_query(query)), model, query_field, doc_field, progress=not opts.json
    )
    ranked = recs.with_columns(pl.Series("score", scores)).sort("score", descending=True, maintain_order=True)
    ranked = ranked.with_columns(pl.int_range(1, ranked.height + 1).alias("rank"))
    if out.suffix == ".parquet":
        ranked.write_parquet(out)
    else:
        write_records(ranked, out)
    dups = int(recs["duplicate_of"].is_not_null().sum())
    summary = {"out": str(out), "records": recs.height, "flagged_duplicates": dups, "model": model}
    if opts.json:
        print_json(summary)
        return
    console.print(
        f"ranked {recs.height} records with {model} -> {out}"
        + (f" ({dups} flagged as duplicates)" if dups else "")
    )
    for row in ranked.head(5).iter_rows(named=True):
        console.print(f"  {row['rank']:>4}. {row['title'][:100]}")


@app.command()
@friendly_errors
def train(
    ctx: typer.Context,
    reviews: list[Path] = typer.Option(
        ..., help="labelled reviews to learn from (never the one you will rank)"
    ),
    review_ids: str | None = typer.Option(None, help="only these review ids (comma-separated)"),
    dev_reviews: list[Path] | None = typer.Option(None, help="held-out reviews for early stopping"),
    out: Path = typer.Option(..., help="run folder; the model is out/model"),
    backbone: str = typer.Option("minilm"),
    query_field: str = typer.Option("both"),
    doc_field: str = typer.Option("title+abstract"),
    epochs: float = typer.Option(1.0),
    batch_size: int = typer.Option(16),
    lr: float = typer.Option(2e-5),
    max_length: int = typer.Option(256),
    max_steps: int | None = typer.Option(None),
) -> None:
    """Fine-tune a cross-encoder on other reviews' labels (groups of 1 include + 9 excludes, contrastive loss).

    Example:  ranksuite screening train --reviews ../shared/data/screening/cohen2006 --out runs/screen-ce
    """
    from ranksuite.domains.screening.train import train_screening_ranker
    from ranksuite.shared.training import TrainConfig

    opts = options(ctx)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        max_steps=max_steps,
        seed=opts.seed,
        device=opts.device,
        metric="ap",
    )
    dev = _load(dev_reviews, None) if dev_reviews else None
    result = train_screening_ranker(
        _load(reviews, review_ids),
        out,
        dev,
        backbone,
        query_field,
        doc_field,
        max_length,
        config,
        progress=not opts.json,
    )
    summary = {"model": str(result.model_dir), "steps": result.steps, "best_dev": result.best}
    print_json(summary) if opts.json else console.print(f"model: {result.model_dir} ({result.steps} steps)")


@app.command()
@friendly_errors
def evaluate(
    ctx: typer.Context,
    reviews: list[Path] = typer.Option(..., help="labelled reviews to evaluate on"),
    review_ids: str | None = typer.Option(None, help="only these review ids (comma-separated)"),
    model: str = typer.Option(
        "fusion", help="bm25 | dense | fusion | RUN | cross (train a cross-encoder here)"
    ),
    train_reviews: list[Path] | None = typer.Option(None, help="with --model cross: train on these reviews"),
    leave_one_out: bool = typer.Option(
        False, help="with --model cross: for each review, train on all the others"
    ),
    query_field: str = typer.Option("both"),
    doc_field: str = typer.Option("title+abstract"),
    max_steps: int | None = typer.Option(None, help="with --model cross: cap on training steps per model"),
    backbone: str = typer.Option("minilm", help="with --model cross: the backbone to fine-tune"),
    out: Path = typer.Option(..., help="folder for metrics.json, report.md, recall curves"),
) -> None:
    """Zero-label ranking quality per review (AP, WSS@95, WSS@100, recall@10%, last_rel%) beside BM25 and random.

    Examples:
      ranksuite screening evaluate --reviews ../shared/data/screening/clef_tar2017 --model fusion --out runs/eval
      ranksuite screening evaluate --reviews ../shared/data/screening/cohen2006 --model cross --leave-one-out \\
          --out runs/eval-ce
    """
    from ranksuite.domains.screening.evaluate import evaluate_reviews
    from ranksuite.domains.screening.train import train_screening_ranker
    from ranksuite.shared.training import TrainConfig

    opts = options(ctx)
    revs = _load(reviews, review_ids)
    if model == "cross":
        if not (train_reviews or leave_one_out):
            raise ValueError(
                "--model cross needs --train-reviews DIR or --leave-one-out (never train on the test review)"
            )
        pool = revs if leave_one_out else _load(train_reviews, None)
        overlap = {r.review_id for r in pool} & {r.review_id for r in revs}
        if not leave_one_out and overlap:
            raise ValueError(
                f"--train-reviews include reviews under test ({', '.join(sorted(overlap))}); "
                "use --leave-one-out to evaluate on reviews you also train on"
            )
        config = TrainConfig(max_steps=max_steps, seed=opts.seed, device=opts.device, metric="ap")
        folders: dict[str, str] = {}
        for review in revs:
            run = out / "models" / (review.review_id if leave_one_out else "all")
            if not (run / "model").exists():
                train_set = [r for r in pool if r.review_id != review.review_id]
                train_screening_ranker(
                    train_set,
                    run,
                    None,
                    backbone=backbone,
                    query_field=query_field,
                    doc_field=doc_field,
                    config=copy.deepcopy(config),
                    progress=not opts.json,
                )
            folders[review.review_id] = str(run / "model")
        label = "cross-encoder (" + ("leave-one-out" if leave_one_out else "trained on --train-reviews") + ")"
        result = evaluate_reviews(
            revs, label, out, query_field, doc_field, progress=not opts.json, model_per_review=folders
        )
    else:
        result = evaluate_reviews(revs, model, out, query_field, doc_field, progress=not opts.json)
    if opts.json:
        print_json({k: result[k] for k in ("model", "mean", "per_review", "baselines")})
        return
    rows = [{"model": result["model"], **result["mean"]}]
    rows += [{"model": name, **b["mean"]} for name, b in result["baselines"].items()]
    console.print(metrics_table(f"{len(revs)} reviews (mean)", rows, ["model", *KEYS]))
    console.print(f"wrote {out}/metrics.json, report.md, recall_curves.png")


@app.command()
@friendly_errors
def simulate(
    ctx: typer.Context,
    reviews: list[Path] = typer.Option(..., help="labelled reviews to replay"),
    review_ids: str | None = typer.Option(None, help="only these review ids (comma-separated)"),
    strategy: str = typer.Option(
        "neural-al", help="neural-al | embed-al | dense-al | tfidf-al | bm25 | dense | fusion | random"
    ),
    seeds: int = typer.Option(3, help="prior draws (1 include + 1 exclude each) per review"),
    out: Path = typer.Option(..., help="folder for metrics.json, orders.jsonl, report.md, recall_curves.png"),
) -> None:
    """Replay labelled reviews as ASReview's simulation does: 1 include + 1 exclude as prior, then most likely
    first, until every include is found; the same priors as benchmarks/screening_asreview.py for a fair comparison.

    Example:  ranksuite screening simulate --reviews ../shared/data/screening/cohen2006 --strategy neural-al \\
                  --seeds 3 --out runs/sim-neural
    """
    from ranksuite.domains.screening.evaluate import mean_of
    from ranksuite.domains.screening.plots import plot_mean_recall_curves, plot_recall_curves
    from ranksuite.domains.screening.simulate import STRATEGIES, labels_of, simulate_review
    from ranksuite.shared.data.atomic import atomic_write_json, atomic_write_text

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    opts = options(ctx)
    revs = _load(reviews, review_ids)
    out.mkdir(parents=True, exist_ok=True)
    per_review, curves = {}, []
    from tqdm.auto import tqdm

    with open(out / "orders.jsonl", "w", encoding="utf-8") as fh:
        for review in tqdm(revs, desc=f"simulating {strategy}", disable=opts.json, unit="review"):
            res = simulate_review(review, strategy, seeds)
            per_review[review.review_id] = res["mean"]
            ids = review.records["record_id"].to_list()
            y = labels_of(review)
            pos = {rid: i for i, rid in enumerate(ids)}
            curves.append(y[[pos[r] for r in res["runs"][0]["order"]]])
            (out / "curves").mkdir(exist_ok=True)
            plot_recall_curves(
                {f"{strategy} (seed 0)": curves[-1]},
                out / "curves" / f"{review.review_id}.png",
                review.review_id,
            )
            for run in res["runs"]:
                fh.write(
                    json.dumps(
                        {
                            "review_id": review.review_id,
                            "seed": run["seed"],
                            "metrics": run["metrics"],
                            "seconds": run["seconds"],
                            "order": run["order"],
                        }
                    )
                    + "\n"
                )
    result = {
        "strategy": strategy,
        "seeds": seeds,
        "reviews": len(revs),
        "mean": mean_of(per_review),
        "per_review": per_review,
    }
    atomic_write_json(out / "metrics.json", result)
    plot_mean_recall_curves(
        {strategy: curves}, out / "recall_curves.png", f"{strategy}, seed 0, {len(revs)} reviews"
    )
    lines = [
        f"# Simulation: {strategy}, {seeds} seeds, {len(revs)} reviews",
        "",
        "| review | " + " | ".join(KEYS) + " |",
        "|---|" + "---:|" * len(KEYS),
    ]
    for rid, m in [*per_review.items(), ("**mean**", result["mean"])]:
        lines.append(f"| {rid} | " + " | ".join(f"{m[k]:.4f}" for k in KEYS) + " |")
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    if opts.json:
        print_json(result)
        return
    rows = [{"model": rid, **m} for rid, m in per_review.items()] + [{"model": "mean", **result["mean"]}]
    console.print(metrics_table(f"simulation: {strategy}, {seeds} seeds", rows, ["model", *KEYS]))


def register_session() -> None:
    """Mount `screening session` (interactive, resumable) from its own module."""
    from ranksuite.domains.screening import session_cli

    session_cli.register(app)


register_session()
