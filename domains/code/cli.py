"""``ranksuite code``: rank generated programs without running them (CodeRanker / RankEF), label them by running
them in the sandbox, and measure ranked pass@k on problems the ranker never saw."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import typer

from ranksuite.cli.common import console, friendly_errors, metrics_table, options, print_json

app = typer.Typer(
    help=(
        "Code candidate ranking: put the program most likely to pass first, without executing it at ranking "
        "time.\n\n"
        "Data folders: problems.jsonl + candidates_<pool>.jsonl[.gz] (HumanEval, MBPP, APPS layouts; see "
        "../shared/data/code/*/SOURCE.md). Rankers: classifier (CodeRanker: 3-class, class-weighted) and rankef "
        "(RankEF: the same head + learning the execution feedback)."
    ),
    no_args_is_help=True,
)
KS = ("pass@1", "pass@2", "pass@5")


def _paths(values: list[Path]) -> list[Path]:
    out: list[Path] = []
    for v in values:
        out.extend(Path(p) for p in str(v).split(",") if p)
    return out


def _split(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


def _write_candidates(frame, path: Path) -> Path:
    """Labelled candidates as JSONL (``.jsonl`` or ``.jsonl.gz``, atomically): readable by train and evaluate."""
    from ranksuite.shared.data.atomic import atomic_write

    name = path.name.lower()
    if not name.endswith((".jsonl", ".jsonl.gz")):
        raise ValueError(f"{path}: write .jsonl or .jsonl.gz (train and evaluate read those)")
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in frame.iter_rows(named=True))
    if name.endswith(".gz"):
        return atomic_write(path, lambda tmp: tmp.write_bytes(gzip.compress(text.encode("utf-8"))))
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@app.command()
@friendly_errors
def train(
    ctx: typer.Context,
    data: list[Path] = typer.Option(..., help="dataset folder(s): repeat --data or separate with commas"),
    model: str = typer.Option("classifier", help="classifier (CodeRanker) | rankef (RankEF, multi-task)"),
    backbone: str = typer.Option("minilm", help="minilm | smollm2 | PATH (an encoder or causal-LM folder)"),
    out: Path = typer.Option(..., help="run folder; the ranker is out/model"),
    pools: str | None = typer.Option(
        None, help="candidate pools to train on, e.g. codegen16b,llm [default: all]"
    ),
    holdout: float = typer.Option(
        0.5, help="share of every dataset's problems held out for testing (stable hash of dataset:task_id)"
    ),
    dev_share: float = typer.Option(0.1, help="share of the training problems that picks the checkpoint"),
    max_per_problem: int = typer.Option(16, help="distinct candidates per problem at most (half correct)"),
    max_length: int | None = typer.Option(
        None, help="tokens of problem + code [default: 256 encoder, 384 SmolLM2 prompt]"
    ),
    problem_tokens: int = typer.Option(96, help="tokens the problem keeps at least when the code is long"),
    train_layers: int | None = typer.Option(
        None, help="encoder: fine-tune only the top N layers, the frozen rest computed once (CPU budgets)"
    ),
    epochs: float = typer.Option(1.0),
    max_steps: int | None = typer.Option(None, help="stop after this many steps (overrides --epochs)"),
    batch_size: int = typer.Option(16),
    grad_accum: int = typer.Option(1, help="micro-batches per step (same results, less memory)"),
    lr: float | None = typer.Option(None, help="[default: 3e-5 encoder, 2e-4 SmolLM2 LoRA]"),
    eval_every: int | None = typer.Option(
        None, help="steps between dev evaluations [default: once per epoch]"
    ),
) -> None:
    """Train a code ranker on the training problems of the given datasets; held-out and dev problems are
    recorded in the model, and `code evaluate` refuses the ones it trained on.

    Example:  ranksuite code train --data ../shared/data/code/apps --data ../shared/data/code/mbpp \\
                  --model rankef --backbone minilm --out runs/code-rankef
    """
    from ranksuite.domains.code.data import load_code_dataset
    from ranksuite.domains.code.model import ranker_config
    from ranksuite.domains.code.train import train_ranker
    from ranksuite.shared.training import TrainConfig

    opts = options(ctx)
    if not 0 <= holdout < 1 or not 0 <= dev_share < 1:
        raise ValueError("--holdout and --dev-share must be in [0, 1)")
    datasets = [load_code_dataset(p) for p in _paths(data)]
    config = ranker_config(
        model, backbone, max_length, problem_tokens=problem_tokens, train_layers=train_layers
    )
    causal = config.family == "causal"
    train_config = TrainConfig(
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr or (2e-4 if causal else 3e-5),
        seed=opts.seed,
        device=opts.device,
        eval_every=eval_every,
    )
    result = train_ranker(
        datasets,
        out,
        config,
        train_config,
        pools=_split(pools),
        holdout=holdout,
        dev_share=dev_share,
        max_per_problem=max_per_problem,
        progress=not opts.json,
    )
    from ranksuite.shared.models.base import read_meta

    training = read_meta(result.model_dir).get("training", {})
    summary = {
        "model": str(result.model_dir),
        "ranker": model,
        "backbone": config.backbone,
        "train_problems": len(training.get("train_problems", [])),
        "dev_problems": len(training.get("dev_problems", [])),
        "held_out_problems": len(training.get("held_out_problems", [])),
        "examples": training.get("examples"),
        "steps": result.steps,
        "dev_initial": result.initial,
        "dev_best": result.best,
        "samples_per_s": result.samples_per_s,
    }
    if opts.json:
        print_json(summary)
        return
    console.print(
        f"{model} ranker ({config.backbone}): {result.model_dir} · {summary['examples']} examples from "
        f"{summary['train_problems']} problems, {result.steps} steps, {result.samples_per_s:.1f} samples/s"
    )
    if result.best is not None:
        console.print(f"dev ranked pass@1 {result.initial} -> best {result.best} (step {result.best_step})")
    console.print(f"held out for testing: {summary['held_out_problems']} problems")


@app.command()
@friendly_errors
def evaluate(
    ctx: typer.Context,
    model: Path = typer.Option(..., help="run or model folder from `code train`"),
    problems: Path = typer.Option(..., help="problems file (problems.jsonl) or its dataset folder"),
    candidates: Path = typer.Option(..., help="labelled candidates (JSONL[.gz]): one pool"),
    out: Path = typer.Option(..., help="folder for metrics.json and scores.jsonl"),
    unseen_only: bool = typer.Option(
        False, help="drop the problems the model trained on instead of refusing to evaluate"
    ),
    max_per_problem: int | None = typer.Option(
        None, help="evaluate on a fixed (hash-chosen) subset of each pool of at most this many candidates"
    ),
    held_out: float | None = typer.Option(
        None, help="only the problems a `train --holdout SHARE` split holds out (compare across protocols)"
    ),
    batch_size: int = typer.Option(32),
) -> None:
    """Ranked pass@1/2/5 of the ranker beside random (expected), frequency (majority of identical code) and
    the oracle, on the same pools of problems the ranker never saw.

    Example:  ranksuite code evaluate --model runs/code-rankef --problems ../shared/data/code/humaneval \\
                  --candidates ../shared/data/code/humaneval/candidates_codegen16b.jsonl.gz --out runs/eval-he
    """
    from ranksuite.domains.code.data import load_candidates, load_problems
    from ranksuite.domains.code.evaluate import evaluate_ranker
    from ranksuite.shared.data.atomic import atomic_write_json
    from ranksuite.shared.data.jsonl import write_jsonl

    opts = options(ctx)
    probs = load_problems(problems)
    cands = load_candidates(candidates, probs)
    metrics, scored = evaluate_ranker(
        model,
        probs,
        cands,
        unseen_only,
        max_per_problem,
        batch_size=batch_size,
        progress=not opts.json,
        held_out=held_out,
    )
    metrics["candidates_file"] = str(candidates)
    metrics["max_per_problem"] = max_per_problem
    metrics["held_out"] = held_out
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", metrics)
    keep = ["candidate_id", "task_id", "passed", "label", "p_correct", "predicted", "frequency"]
    extra = ["predicted_feedback"] if "predicted_feedback" in scored.columns else []
    write_jsonl(scored.select(*keep, *extra).to_dicts(), out / "scores.jsonl")
    if opts.json:
        print_json(metrics)
        return
    rows = [
        {"model": name, **{k: metrics[name][k] for k in KS}}
        for name in ("ranker", "frequency", "random", "oracle")
    ]
    console.print(
        metrics_table(
            f"{metrics['problems']} unseen problems, {metrics['candidates']} candidates "
            f"(pass rate {metrics['pass_rate']:.3f})",
            rows,
            ["model", *KS],
        )
    )
    console.print(f"wrote {out / 'metrics.json'}, {out / 'scores.jsonl'}")


@app.command()
@friendly_errors
def rank(
    ctx: typer.Context,
    model: Path = typer.Option(..., help="run or model folder from `code train`"),
    prompt: Path = typer.Option(..., help="the problem as a text file (e.g. a HumanEval prompt)"),
    candidates: Path = typer.Option(
        ..., help="a folder of .py files, or JSONL with `code` (or `completion`) and optional `candidate_id`"
    ),
    feedback: bool = typer.Option(
        False, help="SmolLM2 rankef: also generate the predicted execution feedback (slower)"
    ),
    top: int | None = typer.Option(None, help="show only the best N"),
) -> None:
    """Rank candidate programs for one problem, best first, with P(correct), the predicted class and the
    predicted feedback where the model has one. Nothing is executed.

    Example:  ranksuite code rank --model runs/code-rankef --prompt problem.txt --candidates samples/
    """
    from ranksuite.domains.code.model import load_ranker
    from ranksuite.domains.code.rank import rank_programs, read_programs
    from ranksuite.shared.data.errors import DataError

    opts = options(ctx)
    if not prompt.is_file():
        raise DataError(prompt, "file not found")
    problem = prompt.read_text(encoding="utf-8")
    programs = read_programs(candidates, problem)
    rows = rank_programs(load_ranker(model), problem, programs, feedback=feedback)[:top]
    if opts.json:
        print_json(rows)
        return
    columns = ["rank", "candidate_id", "p_correct", "predicted"]
    if any(r["feedback"] for r in rows):
        columns.append("feedback")
    console.print(metrics_table(f"{len(programs)} candidates for {prompt.name}", rows, columns))


@app.command()
@friendly_errors
def execute(
    ctx: typer.Context,
    problems: Path = typer.Option(..., help="problems file (problems.jsonl) or its dataset folder"),
    candidates: Path = typer.Option(..., help="candidates (JSONL[.gz]) with `code` or `completion`"),
    out: Path = typer.Option(..., help="labelled candidates: .jsonl or .jsonl.gz"),
    workers: int | None = typer.Option(None, help="programs run in parallel [default: CPU count]"),
    timeout: float = typer.Option(5.0, help="wall-clock seconds per program (per test for stdin/stdout)"),
) -> None:
    """Run every candidate with its tests in the sandbox and label it: passed, class (0 correct, 1 execution
    error, 2 intent error), error type and message, failing line and its source.

    Example:  ranksuite code execute --problems ../shared/data/code/humaneval \\
                  --candidates ../shared/data/code/humaneval/candidates_llm_mapcoder.jsonl.gz --out runs/he-llm.jsonl.gz
    """
    import polars as pl

    from ranksuite.domains.code.data import load_candidates, load_problems
    from ranksuite.domains.code.execute import execute_candidates

    opts = options(ctx)
    probs = load_problems(problems)
    cands = load_candidates(candidates, probs)
    shipped = cands.select(
        "candidate_id", pl.col("passed").alias("shipped_passed"), pl.col("label").alias("shipped_label")
    )
    labelled = execute_candidates(probs, cands, workers=workers, timeout=timeout, progress=not opts.json)
    _write_candidates(labelled, out)
    ran = labelled.filter(pl.col("passed").is_not_null())
    summary: dict = {
        "out": str(out),
        "candidates": labelled.height,
        "executed": ran.height,
        "passed": int(ran["passed"].sum()),
        "pass_rate": float(ran["passed"].mean()) if ran.height else None,
        "classes": {
            name: int((ran["label"] == i).sum())
            for i, name in enumerate(("correct", "execution_error", "intent_error"))
        },
        "status": dict(labelled.group_by("status").len().sort("status").iter_rows()),
    }
    both = ran.join(shipped, on="candidate_id").filter(pl.col("shipped_label").is_not_null())
    if both.height:
        summary["agreement_with_input_labels"] = {
            "passed": float((both["passed"] == both["shipped_passed"]).mean()),
            "class": float((both["label"] == both["shipped_label"]).mean()),
            "compared": both.height,
        }
    if opts.json:
        print_json(summary)
        return
    console.print(
        f"{summary['candidates']} candidates: {summary['executed']} executed, {summary['passed']} passed; "
        + ", ".join(f"{k} {v}" for k, v in summary["classes"].items())
    )
    if "agreement_with_input_labels" in summary:
        agree = summary["agreement_with_input_labels"]
        console.print(
            f"agreement with the labels in the input ({agree['compared']}): passed {agree['passed']:.4f}, "
            f"class {agree['class']:.4f}"
        )
    console.print(f"wrote {out}")
