"""Issue-6 results table: ranked pass@1/2/5 of the classifier-only (CodeRanker) and multi-task (RankEF) code
rankers beside random, frequency and the oracle, on problems the rankers never saw.

Two protocols, both with problem-level splits (``dataset:task_id`` hashed, the same held-out half every run):

- ``split``: train on the training half of APPS, MBPP and HumanEval (all pools); test on the held-out half of
  HumanEval (CodeGen-16B pool, LLM pool) and MBPP (LLM pool).
- ``cross``: train on the training half of APPS and MBPP only; test on the same held-out HumanEval problems, so
  HumanEval is entirely new to the ranker (different dataset, prompt style and pool).

Every row comes from the library calls the CLI uses (``train_ranker``, ``evaluate_ranker``), so each has an
equivalent ``ranksuite code train`` / ``ranksuite code evaluate`` command (see RESULTS.md). Runs and evaluations
already on disk are reused, so an interrupted run continues where it stopped.

    python benchmarks/code_rankers.py --data-root ../shared/data/code --out runs/code-bench \\
        [--protocols split,cross] [--models classifier,rankef] [--backbone minilm] [--max-steps N] [--quick]

Writes OUT/results.json (and, with --results, a copy for benchmarks/results/) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from ranksuite.domains.code.data import load_candidates, load_code_dataset, load_problems
from ranksuite.domains.code.evaluate import evaluate_ranker
from ranksuite.domains.code.model import ranker_config
from ranksuite.domains.code.train import train_ranker
from ranksuite.shared.training import TrainConfig

PROTOCOLS = {"split": ("apps", "mbpp", "humaneval"), "cross": ("apps", "mbpp")}
TESTS = {  # name -> (dataset, candidates file, protocols it is measured under)
    "humaneval-codegen16b": ("humaneval", "candidates_codegen16b.jsonl.gz", ("split", "cross")),
    "humaneval-llm": ("humaneval", "candidates_llm_mapcoder.jsonl.gz", ("split", "cross")),
    "mbpp-llm": ("mbpp", "candidates_llm_mapcoder.jsonl.gz", ("split",)),
}
KS = ("pass@1", "pass@2", "pass@5")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", default="../shared/data/code")
    ap.add_argument("--out", required=True)
    ap.add_argument("--results", default=None, help="also write the results JSON here")
    ap.add_argument("--protocols", default="split,cross")
    ap.add_argument("--models", default="classifier,rankef")
    ap.add_argument("--backbone", default="minilm")
    ap.add_argument("--max-length", type=int, default=None)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--train-layers", type=int, default=None, help="fine-tune only the top N encoder layers")
    ap.add_argument("--problem-tokens", type=int, default=96)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--max-per-problem", type=int, default=16, help="training candidates per problem")
    ap.add_argument("--dev-share", type=float, default=0.1)
    ap.add_argument("--holdout", type=float, default=0.5, help="share of each dataset's problems held out")
    ap.add_argument(
        "--eval-per-problem",
        default="humaneval-codegen16b=20,humaneval-llm=0,mbpp-llm=10",
        help="candidates per problem evaluated, per test pool (0 = all): fixed hash-chosen subsets",
    )
    ap.add_argument("--quick", action="store_true", help="2 steps and tiny subsets: a smoke test")
    args = ap.parse_args()
    root, out = Path(args.data_root), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    caps = {k: int(v) or None for k, v in (kv.split("=") for kv in args.eval_per_problem.split(","))}
    if args.quick:
        args.max_steps, args.batch_size = 2, 4
        caps = dict.fromkeys(caps, 3)
    datasets = {name: load_code_dataset(root / name) for name in ("apps", "mbpp", "humaneval")}
    results: dict = {
        "machine": f"{platform.node()} · {torch.get_num_threads()} threads · "
        + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"),
        "date": time.strftime("%Y-%m-%d"),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "results")},
        "eval_per_problem": caps,
        "runs": {},
        "tests": {},
    }
    for protocol in args.protocols.split(","):
        for model in args.models.split(","):
            run = out / f"{protocol}-{model}"
            if not (run / "model").is_dir():
                config = ranker_config(
                    model,
                    args.backbone,
                    args.max_length,
                    problem_tokens=args.problem_tokens,
                    train_layers=args.train_layers,
                )
                train_config = TrainConfig(
                    epochs=args.epochs,
                    max_steps=args.max_steps,
                    batch_size=args.batch_size,
                    lr=args.lr or (2e-4 if config.family == "causal" else 3e-5),
                    log_every=5,
                )
                t0 = time.time()
                res = train_ranker(
                    [datasets[d] for d in PROTOCOLS[protocol]],
                    run,
                    config,
                    train_config,
                    holdout=args.holdout,
                    dev_share=args.dev_share,
                    max_per_problem=args.max_per_problem,
                )
                (run / "bench_train.json").write_text(
                    json.dumps({"seconds": time.time() - t0, "samples_per_s": res.samples_per_s})
                )
            summary = json.loads((run / "train_metrics.json").read_text())
            summary.update(json.loads((run / "bench_train.json").read_text()))
            results["runs"][f"{protocol}-{model}"] = summary
            for test, (dataset, file, protocols) in TESTS.items():
                if protocol not in protocols:
                    continue
                target = run / "eval" / test / "metrics.json"
                if not target.is_file():
                    problems = load_problems(root / dataset)
                    candidates = load_candidates(root / dataset / file, problems)
                    t0 = time.time()
                    metrics, scored = evaluate_ranker(
                        run,
                        problems,
                        candidates,
                        unseen_only=True,
                        max_per_problem=caps[test],
                        progress=True,
                        held_out=args.holdout,  # the same held-out problems under every protocol
                    )
                    metrics["seconds"] = time.time() - t0
                    target.parent.mkdir(parents=True, exist_ok=True)
                    scored.select(
                        "key", "candidate_id", "passed", "label", "p_correct", "frequency"
                    ).write_parquet(target.parent / "scores.parquet")
                    target.write_text(json.dumps(metrics, indent=2))
                results["tests"].setdefault(test, {})[f"{protocol}-{model}"] = json.loads(target.read_text())
            (out / "results.json").write_text(json.dumps(results, indent=2))
    if args.results:
        Path(args.results).write_text(json.dumps(results, indent=2))
    print(markdown(results))


def markdown(results: dict) -> str:
    """The RESULTS.md table: baselines once per test pool, then every trained ranker on the same candidates."""

    def num(value: float | None, digits: int = 3) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    head = "| test pool (unseen problems, candidates) | trained on | ranker | " + " | ".join(KS)
    lines = [head + " | AUC in problem |", "|---|---|---|" + "---:|" * (len(KS) + 1)]
    for test, by_run in results["tests"].items():
        first = next(iter(by_run.values()))
        where = f"{test} ({first['problems']}, {first['candidates']})"
        for base in ("random", "frequency", "oracle"):
            auc = num(first.get("frequency_problem_auc")) if base == "frequency" else ""
            lines.append(
                f"| {where} | | {base} | " + " | ".join(f"{first[base][k]:.4f}" for k in KS) + f" | {auc} |"
            )
        for run, m in by_run.items():
            protocol, model = run.split("-", 1)
            trained = "APPS+MBPP+HumanEval (other half)" if protocol == "split" else "APPS+MBPP only"
            auc = num(m["classification"].get("mean_problem_auc"))
            lines.append(
                f"| {where} | {trained} | {model} | "
                + " | ".join(f"{m['ranker'][k]:.4f}" for k in KS)
                + f" | {auc} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
