"""``ranksuite ir``: the shared core on any BEIR-layout test collection — rank, evaluate, train, distil, merge."""

from __future__ import annotations

from pathlib import Path

import typer

from ranksuite.cli.common import console, friendly_errors, metrics_table, options, print_json

app = typer.Typer(
    help="Rank, evaluate and train on any BEIR-layout collection (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).",
    no_args_is_help=True,
)

DATA = typer.Option(..., "--data", help="BEIR folder: corpus.jsonl[.gz], queries.jsonl, qrels/<split>.tsv")
MODEL_HELP = (
    "bm25 | bm25-stem | minilm-bi | mpnet-bi | PATH of a saved model (a cross/ColBERT model reranks BM25)"
)


def report_evaluation(result: dict, split: str, out: Path | None, as_json: bool) -> None:
    """Print an evaluation folder's metrics (``ir evaluate``, ``ir fuse``): JSON for scripts, a table for people."""
    if as_json:
        print_json(result)
        return
    row = {"model": result["model"], **{k: result[k] for k in ("ndcg@10", "mrr@10", "map", "recall@100")}}
    console.print(
        metrics_table(
            f"{result['dataset']} / {split} ({result['queries']} queries)",
            [row],
            ["model", "ndcg@10", "mrr@10", "map", "recall@100"],
        )
    )
    if out:
        console.print(f"wrote {out}/metrics.json, run.trec, per_query.csv, report.md")


@app.command()
@friendly_errors
def evaluate(
    ctx: typer.Context,
    data: Path = DATA,
    split: str = typer.Option("test", help="qrels split to evaluate on"),
    model: str = typer.Option("bm25", help=MODEL_HELP),
    rerank: str | None = typer.Option(
        None, help="rerank the first stage's top-k with this model (PATH or minilm-bi)"
    ),
    top_k: int = typer.Option(100, help="how many first-stage documents to rerank"),
    out: Path | None = typer.Option(None, help="folder for metrics.json, run.trec, per_query.csv, report.md"),
    batch_size: int = typer.Option(64, help="scoring batch size"),
) -> None:
    """Rank a collection and report nDCG@10, MRR@10, MAP and R@100 (ir-measures, i.e. trec_eval's definitions).

    Examples:
      ranksuite ir evaluate --data ../shared/data/ir/scifact --model bm25 --out runs/scifact-bm25
      ranksuite ir evaluate --data ../shared/data/ir/scifact --model minilm-bi
      ranksuite ir evaluate --data ../shared/data/ir/scifact --model bm25 --rerank runs/ce/model --top-k 100
    """
    from ranksuite.shared.evaluation import evaluate_collection

    opts = options(ctx)
    result = evaluate_collection(
        data,
        split,
        model,
        rerank,
        top_k,
        out,
        device=opts.device,
        batch_size=batch_size,
        progress=not opts.json,
    )
    report_evaluation(result, split, out, opts.json)


@app.command()
@friendly_errors
def rank(
    ctx: typer.Context,
    data: Path = DATA,
    split: str = typer.Option("test", help="whose queries to rank (the queries with qrels in this split)"),
    model: str = typer.Option("bm25", help=MODEL_HELP),
    rerank: str | None = typer.Option(None, help="rerank the first stage's top-k with this model"),
    top_k: int = typer.Option(100, help="first-stage documents to rerank"),
    depth: int = typer.Option(1000, help="documents per query in the run (first stage only)"),
    out: Path = typer.Option(..., help="TREC run file to write"),
) -> None:
    """Write a TREC run (qid Q0 docno rank score tag) for the split's queries.

    Example:  ranksuite ir rank --data ../shared/data/ir/scifact --model bm25 --out runs/scifact-bm25.trec
    """
    from ranksuite.shared.data import load_beir, write_run
    from ranksuite.shared.retrieval import retrieve

    opts = options(ctx)
    coll = load_beir(data, split)
    result = retrieve(
        coll, model, rerank, top_k=top_k, depth=depth, device=opts.device, progress=not opts.json
    )
    write_run(result.run, out, tag=Path(model).name)
    summary = {
        "run": str(out),
        "queries": coll.queries.height,
        "rows": result.run.height,
        "model": result.description,
    }
    if opts.json:
        print_json(summary)
    else:
        console.print(
            f"wrote {summary['rows']} rows for {summary['queries']} queries to {out} ({result.description})"
        )


@app.command()
@friendly_errors
def train(
    ctx: typer.Context,
    data: Path = DATA,
    split: str = typer.Option("train", help="qrels split to train on"),
    arch: str = typer.Option("cross", help="cross | bi | colbert"),
    backbone: str = typer.Option("minilm", help="minilm | mpnet | smollm2 | PATH"),
    loss: str = typer.Option("contrastive", help="bce | contrastive | infonce | margin-mse | kl | ranknet"),
    teacher_scores: Path | None = typer.Option(
        None, help="groups file scored by `ir teacher-score` (for KD losses)"
    ),
    kd_loss: str | None = typer.Option(
        None,
        help="add this teacher loss (margin-mse | kl | ranknet) to a label --loss; needs --teacher-scores",
    ),
    kd_weight: float = typer.Option(1.0, help="weight of the --kd-loss term"),
    init: str | None = typer.Option(
        None, help="start from this run or model folder (multi-stage fine-tuning)"
    ),
    dev_split: str | None = typer.Option(
        None, help="dev split for early stopping; default: 10% of train queries"
    ),
    out: Path = typer.Option(..., help="run folder (config, checkpoint, log, plot, best/, model/)"),
    epochs: float = typer.Option(1.0),
    batch_size: int = typer.Option(16, help="groups per optimizer step (global)"),
    grad_accum: int = typer.Option(1),
    lr: float = typer.Option(2e-5),
    group_size: int = typer.Option(8, help="1 positive + (group_size - 1) hard negatives"),
    depth: int = typer.Option(200, help="negatives are sampled from the first stage's top-depth"),
    negatives: str = typer.Option(
        "bm25", help="first stage that mines hard negatives: bm25 | minilm-bi | PATH"
    ),
    sampling: str = typer.Option("random", help="random (uniform over top-depth) | top (the highest-ranked)"),
    max_length: int = typer.Option(256),
    max_steps: int | None = typer.Option(None),
    eval_every: int | None = typer.Option(
        None, help="steps between dev evaluations (default: once an epoch)"
    ),
    patience: int | None = typer.Option(None, help="stop after this many evaluations without improvement"),
    dev_queries: int = typer.Option(200, help="dev queries sampled for evaluation"),
    dev_top_k: int = typer.Option(100, help="BM25 documents reranked per dev query"),
    resume: bool = typer.Option(False, help="continue from the run folder's checkpoint"),
    no_bf16: bool = typer.Option(False, "--no-bf16", help="disable bf16 autocast on CUDA"),
) -> None:
    """Fine-tune a ranker with any loss; the dev set picks the best checkpoint (never worse than the start).

    Examples:
      ranksuite ir train --data ../shared/data/ir/scifact --arch cross --loss contrastive --out runs/ce-C
      ranksuite ir teacher-score --model runs/ce-C --data ../shared/data/ir/scifact --out runs/teacher.parquet
      ranksuite ir train --data ../shared/data/ir/scifact --arch bi --loss margin-mse \\
          --teacher-scores runs/teacher.parquet --out runs/bi-kd
      ranksuite ir train --data ../shared/data/ir/scifact --arch bi --loss infonce --kd-loss margin-mse \\
          --teacher-scores runs/teacher.parquet --out runs/bi-infonce-kd   (labels + teacher)
      torchrun --nproc_per_node 2 -m ranksuite.cli.app ir train ...   (same command, several processes)
    """
    from ranksuite.shared.training import TrainConfig
    from ranksuite.shared.training.ir_train import RankerSpec, train_ranker

    opts = options(ctx)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        max_steps=max_steps,
        seed=opts.seed,
        bf16=not no_bf16,
        eval_every=eval_every,
        patience=patience,
        device=opts.device,
    )
    spec = RankerSpec(
        arch=arch,
        backbone=backbone,
        init=init,
        loss=loss,
        group_size=group_size,
        max_length=max_length,
        kd_loss=kd_loss,
        kd_weight=kd_weight,
    )
    result = train_ranker(
        data,
        out,
        spec,
        config,
        split=split,
        dev_split=dev_split,
        groups_file=teacher_scores,
        depth=depth,
        negatives_from=negatives,
        sampling=sampling,
        dev_queries=dev_queries,
        dev_top_k=dev_top_k,
        resume=resume,
        progress=not opts.json,
    )
    summary = {
        "run": str(out),
        "model": str(result.model_dir),
        "steps": result.steps,
        "initial_dev": result.initial,
        "best_dev": result.best,
        "best_step": result.best_step,
        "samples_per_s": result.samples_per_s,
    }
    if opts.json:
        print_json(summary)
    else:
        console.print(
            f"model: {result.model_dir}  (best dev step {result.best_step} of {result.steps}; "
            f"{result.samples_per_s:.1f} groups/s)"
        )
        if result.initial and result.best:
            console.print(
                f"dev ndcg@10: {result.initial.get('ndcg@10', 0):.4f} at start -> "
                f"{result.best.get('ndcg@10', 0):.4f} best"
            )


@app.command("teacher-score")
@friendly_errors
def teacher_score(
    ctx: typer.Context,
    model: str = typer.Option(..., help="teacher: a run or model folder (usually a cross-encoder)"),
    data: Path = DATA,
    split: str = typer.Option("train"),
    out: Path = typer.Option(..., help="Parquet file: qid, query, docnos, teacher"),
    groups: Path | None = typer.Option(None, help="score this groups file instead of mining new groups"),
    group_size: int = typer.Option(8),
    depth: int = typer.Option(200),
    batch_size: int = typer.Option(64),
) -> None:
    """Score training groups once with a teacher, so students train later without the teacher in memory.

    Example:  ranksuite ir teacher-score --model runs/ce-C --data ../shared/data/ir/scifact --out runs/teacher.parquet
    """
    from ranksuite.shared.distill.teacher import teacher_score_collection

    opts = options(ctx)
    path, n = teacher_score_collection(
        model,
        data,
        split,
        out,
        groups,
        group_size=group_size,
        depth=depth,
        seed=opts.seed,
        device=opts.device,
        batch_size=batch_size,
        progress=not opts.json,
    )
    if opts.json:
        print_json({"out": str(path), "groups": n})
    else:
        console.print(f"wrote teacher scores for {n} groups to {path}")


@app.command()
@friendly_errors
def multistage(
    ctx: typer.Context,
    data: Path = DATA,
    schedule: str = typer.Option(
        "C>D", help="stages: C (contrastive), D (RankNet distillation), e.g. C, D, C>D, D>C"
    ),
    teacher_scores: Path | None = typer.Option(None, help="teacher-scored groups (needed by D stages)"),
    arch: str = typer.Option("cross"),
    backbone: str = typer.Option("minilm"),
    split: str = typer.Option("train"),
    dev_split: str | None = typer.Option(None),
    out: Path = typer.Option(
        ..., help="folder holding one run per stage; the last stage's model is the result"
    ),
    epochs: float = typer.Option(1.0),
    batch_size: int = typer.Option(16),
    lr: float = typer.Option(1e-5, help="Pezzuti et al. use 1e-5"),
    group_size: int = typer.Option(8),
    max_steps: int | None = typer.Option(None, help="per stage"),
    dev_queries: int = typer.Option(200),
) -> None:
    """Multi-stage fine-tuning (Pezzuti et al.): C, D, C>D or D>C from one command; each stage starts from the last.

    Example:  ranksuite ir multistage --data ../shared/data/ir/scifact --schedule "C>D" \\
                  --teacher-scores runs/teacher.parquet --out runs/ce-CD
    """
    from ranksuite.shared.distill.stages import run_schedule
    from ranksuite.shared.training import TrainConfig

    opts = options(ctx)
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, max_steps=max_steps, seed=opts.seed, device=opts.device
    )
    results = run_schedule(
        data,
        out,
        schedule,
        config,
        arch=arch,
        backbone=backbone,
        teacher_scores=teacher_scores,
        split=split,
        dev_split=dev_split,
        group_size=group_size,
        dev_queries=dev_queries,
        progress=not opts.json,
    )
    rows = [{"run": str(r.run_dir), "stage": name, **(r.best or {})} for name, r in results]
    if opts.json:
        print_json(rows)
    else:
        console.print(
            metrics_table(f"schedule {schedule} (dev)", rows, ["stage", "run", "ndcg@10", "mrr@10"])
        )


@app.command()
@friendly_errors
def fuse(
    ctx: typer.Context,
    runs: list[Path] = typer.Argument(..., help="two or more TREC run files (e.g. EVAL_DIR/run.trec)"),
    data: Path = DATA,
    split: str = typer.Option("test", help="qrels split to evaluate the fusion on"),
    method: str = typer.Option(
        "rrf", help="rrf (reciprocal rank, k = 60) | combsum (min-max scores, summed)"
    ),
    weights: str | None = typer.Option(None, help="comma-separated weight per run (default: equal)"),
    out: Path | None = typer.Option(None, help="folder for metrics.json, the fused run.trec, per_query.csv"),
) -> None:
    """Fuse saved runs query by query and evaluate the fusion: lexical and neural rankers see different evidence,
    and a fusion often beats both (no model is run; it reads the run.trec files `ir evaluate --out` wrote).

    Example:  ranksuite ir fuse runs/scifact-bm25/run.trec runs/eval-ce/run.trec \
                  --data ../shared/data/ir/scifact --out runs/fused
    """
    from ranksuite.shared.evaluation import evaluate_fused

    opts = options(ctx)
    w = [float(x) for x in weights.split(",")] if weights else None
    result = evaluate_fused(data, split, runs, method, w, out)
    report_evaluation(result, split, out, opts.json)


@app.command("title-queries")
@friendly_errors
def title_queries(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="BEIR folder (or corpus file) whose documents have titles"),
    n: int | None = typer.Option(
        None, "--n", help="title queries to sample (default: every eligible document)"
    ),
    out: Path = typer.Option(..., help="folder for the new BEIR collection (split 'train')"),
) -> None:
    """Make a label-free training collection from a corpus's titles: query = a title, relevant document = its
    abstract (titles removed from every document). Train on it first, then on the labelled queries with --init:
    a cross-encoder's new scoring head learns relevance from thousands of free pairs before the few real ones.
    Reads only the corpus, never queries or qrels.

    Example:  ranksuite ir title-queries --data ../shared/data/ir/scifact --n 2000 --out runs/scifact-titles
              ranksuite ir train --data runs/scifact-titles --arch cross --loss contrastive --out runs/ce-T
              ranksuite ir train --data ../shared/data/ir/scifact --init runs/ce-T ... --out runs/ce-TC
    """
    from ranksuite.shared.data.beir import load_corpus, write_beir
    from ranksuite.shared.data.title_queries import title_query_collection

    opts = options(ctx)
    coll = title_query_collection(load_corpus(data), n_queries=n, seed=opts.seed)
    write_beir(coll, out)
    summary = {"out": str(out), "queries": coll.queries.height, "documents": coll.corpus.height}
    if opts.json:
        print_json(summary)
    else:
        console.print(
            f"wrote {summary['queries']} title queries over {summary['documents']} documents to {out} "
            "(split 'train'; titles removed from the documents)"
        )


@app.command()
@friendly_errors
def merge(
    ctx: typer.Context,
    a: Path = typer.Argument(..., help="first run or model folder"),
    b: Path = typer.Argument(..., help="second run or model folder (same architecture and backbone)"),
    method: str = typer.Option("linear", help="linear | slerp"),
    alpha: float = typer.Option(0.5, help="weight of B (0 = A, 1 = B)"),
    out: Path = typer.Option(..., help="folder for the merged model"),
    data: Path | None = typer.Option(None, help="if given, evaluate A, B and the merge on this collection"),
    split: str = typer.Option("test"),
    top_k: int = typer.Option(100),
) -> None:
    """Merge two rankers fine-tuned from the same backbone (linear or SLERP interpolation of their weights).

    Example:  ranksuite ir merge runs/ce-C runs/ce-D --method slerp --out runs/ce-merged \\
                  --data ../shared/data/ir/scifact
    """
    from ranksuite.shared.models.merge import merge_models

    opts = options(ctx)
    path = merge_models(a, b, out, method=method, alpha=alpha)
    rows = []
    if data is not None:
        from ranksuite.shared.evaluation import evaluate_collection

        for name, model in (("A", a), ("B", b), ("merged", path)):
            res = evaluate_collection(
                data, split, "bm25", str(model), top_k, None, device=opts.device, progress=not opts.json
            )
            rows.append(
                {"name": name, "model": str(model), **{k: res[k] for k in ("ndcg@10", "mrr@10", "map")}}
            )
    if opts.json:
        print_json({"out": str(path), "evaluation": rows})
        return
    console.print(f"merged model: {path}")
    if rows:
        console.print(
            metrics_table(
                f"merge ({method}, alpha={alpha})", rows, ["name", "ndcg@10", "mrr@10", "map", "model"]
            )
        )
