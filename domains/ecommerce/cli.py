"""``ranksuite ecommerce``: personalised ranking from behaviour sequences (DNN, DIN, AW-MoE): train, evaluate, rank."""

from __future__ import annotations

from pathlib import Path

import typer

from ranksuite.cli.common import console, friendly_errors, metrics_table, options, print_json

app = typer.Typer(
    help=(
        "E-commerce personalised ranking: DNN, DIN and AW-MoE (attention-weighted mixture of experts with "
        "contrastive learning) on user behaviour sequences.\n\n"
        "--data is one Amazon category folder from S3-Rec (sequences.txt[.gz] + item2attributes.json[.gz]) or "
        "the MovieLens-100k RecBole folder (ml-100k.inter[.gz] + ml-100k.item); the kind is detected."
    ),
    no_args_is_help=True,
)


@app.command()
@friendly_errors
def train(
    ctx: typer.Context,
    data: Path = typer.Option(..., help="dataset folder (Amazon S3-Rec category or MovieLens-100k)"),
    model: str = typer.Option("awmoe", help="dnn | din | awmoe"),
    out: Path = typer.Option(..., help="run folder; the model is out/model"),
    contrastive: bool = typer.Option(
        True, help="AW-MoE: auxiliary contrastive loss (--no-contrastive: ablation)"
    ),
    experts: int = typer.Option(4, help="AW-MoE: number of experts K"),
    mask_ratio: float = typer.Option(0.3, help="AW-MoE: probability of masking each behaviour (CL views)"),
    cl_weight: float = typer.Option(0.1, help="AW-MoE: lambda, weight of the contrastive loss"),
    temperature: float = typer.Option(0.1, help="AW-MoE: tau, InfoNCE temperature"),
    dim: int = typer.Option(16, help="embedding size per field (an item is 3 x dim)"),
    max_len: int = typer.Option(50, help="behaviours kept (the most recent)"),
    negatives: int = typer.Option(4, help="sampled negatives per positive"),
    max_positions: int | None = typer.Option(None, help="train on each user's last N positions only"),
    epochs: float = typer.Option(1.0),
    batch_size: int = typer.Option(1024),
    lr: float = typer.Option(1e-3),
    max_steps: int | None = typer.Option(None),
    eval_every: int | None = typer.Option(None, help="steps between validations (default once per epoch)"),
    eval_users: int | None = typer.Option(
        2000, help="validation users scored per evaluation (seeded subset)"
    ),
    resume: bool = typer.Option(False, help="continue from out/checkpoint.pt"),
) -> None:
    """Train a ranker (1 positive + n sampled negatives per position, BCE [+ lambda x InfoNCE]); best valid AUC.

    Example:  ranksuite ecommerce train --data ../shared/data/ecommerce/amazon_s3rec/beauty --model awmoe \\
              --experts 4 --mask-ratio 0.3 --cl-weight 0.1 --temperature 0.1 --out runs/beauty-awmoe
    """
    from ranksuite.domains.ecommerce.model import ARCHITECTURES, ModelConfig
    from ranksuite.domains.ecommerce.train import train_ecommerce
    from ranksuite.shared.training import TrainConfig

    opts = options(ctx)
    if model not in ARCHITECTURES:
        raise ValueError(f"--model must be one of {', '.join(ARCHITECTURES)}, not {model!r}")
    mc = ModelConfig(
        architecture=model,
        dim=dim,
        max_len=max_len,
        experts=experts,
        contrastive=contrastive,
        mask_ratio=mask_ratio,
        cl_weight=cl_weight,
        temperature=temperature,
    )
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=0.0,
        max_steps=max_steps,
        eval_every=eval_every,
        seed=opts.seed,
        device=opts.device,
        metric="auc",
    )
    result = train_ecommerce(
        data, out, mc, config, negatives, max_positions, eval_users, progress=not opts.json, resume=resume
    )
    summary = {"model": str(result.model_dir), "steps": result.steps, "best_valid": result.best}
    if opts.json:
        print_json(summary)
        return
    console.print(f"model: {result.model_dir} ({result.steps} steps)")
    if result.best:
        console.print(
            metrics_table("valid (best)", [{"model": model, **result.best}], ["model", *result.best])
        )


@app.command()
@friendly_errors
def evaluate(
    ctx: typer.Context,
    data: Path = typer.Option(..., help="the dataset folder the model was trained on"),
    model: Path = typer.Option(..., help="run folder (or its model/ folder) from `ecommerce train`"),
    out: Path = typer.Option(..., help="folder for metrics.json"),
    max_users: int | None = typer.Option(
        None, help="evaluate a seeded subset of the test users (quick checks)"
    ),
) -> None:
    """Test AUC / GAUC / NDCG@10 / HR@10 (positive + 99 sampled negatives) overall, for long-tail users, and with
    every history truncated to the long-tail length.

    Example:  ranksuite ecommerce evaluate --data ../shared/data/ecommerce/amazon_s3rec/beauty \\
              --model runs/beauty-awmoe --out runs/beauty-awmoe/test
    """
    from ranksuite.domains.ecommerce.evaluate import evaluate_run
    from ranksuite.domains.ecommerce.train import METRIC_KEYS

    opts = options(ctx)
    metrics = evaluate_run(model, data, out, max_users, opts.seed, opts.device or "cpu")
    if opts.json:
        print_json(metrics)
        return
    info = metrics["info"]
    rows = [
        {"users": f"overall ({info['users']})", **metrics["overall"]},
        {
            "users": f"long tail <= {info['long_tail_threshold']} ({info['long_tail_users']})",
            **metrics["long_tail"],
        },
        {"users": f"all, truncated to {info['long_tail_threshold']}", **metrics["long_tail_truncated"]},
    ]
    title = f"{info['dataset']} / test, {info['architecture']}"
    console.print(metrics_table(title, rows, ["users", *METRIC_KEYS]))
    console.print(f"wrote {out / 'metrics.json'}")


def _read_items(path: Path) -> list[int]:
    from ranksuite.shared.data.errors import DataError

    text = path.read_text(encoding="utf-8")
    items: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for tok in line.replace(",", " ").split():
            try:
                items.append(int(tok))
            except ValueError as exc:
                raise DataError(path, f"not an item id: {tok!r}", line=lineno, field="item_id") from exc
    if not items:
        raise DataError(path, "no item ids")
    return items


@app.command()
@friendly_errors
def rank(
    ctx: typer.Context,
    model: Path = typer.Option(..., help="run folder (or its model/ folder)"),
    user: int = typer.Option(..., help="the user id whose history is used"),
    items: Path = typer.Option(..., help="candidate item ids: one per line, or separated by spaces/commas"),
    data: Path = typer.Option(..., help="dataset folder holding the user's history (all their behaviours)"),
) -> None:
    """Score and order candidate items for one user, from the user's whole known history.

    Example:  ranksuite ecommerce rank --model runs/beauty-awmoe --user 42 --items candidates.txt \\
              --data ../shared/data/ecommerce/amazon_s3rec/beauty
    """
    from ranksuite.domains.ecommerce.rank import rank_items

    opts = options(ctx)
    ranked = rank_items(model, data, user, _read_items(items), opts.device or "cpu")
    if opts.json:
        print_json(ranked)
        return
    console.print(
        f"user {user} ({ranked['history_length']} behaviours), {len(ranked['ranking'])} candidates, "
        f"{ranked['architecture']}"
    )
    for r in ranked["ranking"]:
        gate = f"  gate {r['gate']}" if "gate" in r else ""
        console.print(f"  {r['rank']:>4}. item {r['item_id']}  score {r['score']:.4f}{gate}")
