"""Issue-8 results table: DUQGen domain adaptation on real targets, with the ablations, in one resumable run.

For each target: two run folders with the same budget N (``<target>-duqgen``: per-cluster softmax sampling,
``<target>-random``: uniform sampling), each through cluster -> sample -> generate -> negatives; then adapt
(a) the zero-shot MiniLM bi-encoder and (b) a cross-encoder trained on another collection (``--ce-base``) on both,
plus the beyond-the-paper variants on the DUQGen run (GPL-style Margin-MSE from the cross-encoder teacher, and
round-trip filtering); then evaluate every model on the target's test queries beside BM25 and the bases.

Every step goes through the library calls behind ``ranksuite duqgen ...`` and is cached in its run folder, so a
killed benchmark resumes where it stopped (generation included) and a rerun only re-reads the artefacts.

    python benchmarks/duqgen.py --targets cisi,cranfield --n 100 --ce-base runs/ir-cpu/scifact/ce-C \\
        --top-k 20 --out runs/duqgen

Writes benchmarks/results/duqgen_<target>_n<N>.json (every row, every step's seconds, generation throughput) and
prints the markdown table that RESULTS.md holds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ranksuite.domains.duqgen.evaluate import evaluate_duqgen
from ranksuite.domains.duqgen.pipeline import (
    Settings,
    step_adapt,
    step_cluster,
    step_generate,
    step_negatives,
    step_sample,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir"
RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ("ndcg@10", "mrr@10", "map", "recall@100")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="cisi,cranfield", help="names under ../shared/data/ir or folders")
    ap.add_argument("--n", type=int, default=100, help="synthetic queries per run (DUQGen's N)")
    ap.add_argument("--k", type=int, default=None, help="clusters (default: the cluster step's rule)")
    ap.add_argument("--ce-base", default=None, help="cross-encoder trained on another collection")
    ap.add_argument(
        "--bases", default="bi,cross", help="which bases to adapt, in this order (cross needs --ce-base)"
    )
    ap.add_argument("--top-k", type=int, default=100, help="BM25 documents a cross-encoder reranks")
    ap.add_argument("--gen-batch-size", type=int, default=16)
    ap.add_argument("--doc-words", type=int, default=100, help="document words in the prompt")
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--variants", default="bi-gpl,bi-rt20", help="extra adapted models on the DUQGen run")
    ap.add_argument("--epochs", type=float, default=2.0, help="adapt: passes over the synthetic groups")
    ap.add_argument("--batch-size", type=int, default=8, help="adapt: synthetic queries per optimizer step")
    ap.add_argument("--out", default="runs/duqgen")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--tag", default="", help="suffix of the results file (keeps runs with other bases apart)"
    )
    args = ap.parse_args()
    out = Path(args.out)
    for name in args.targets.split(","):
        target = Path(name) if Path(name).is_dir() else DATA / name
        result = run_target(target, args, out)
        print(markdown(result))


def run_target(target: Path, args: argparse.Namespace, out: Path) -> dict:
    t_all = time.time()
    steps: dict[str, dict] = {}
    runs = {st: out / f"{target.name}-{st}" for st in ("duqgen", "random")}
    for strategy, run in runs.items():
        s = Settings(
            n=args.n,
            k=args.k,
            strategy=strategy,
            gen_batch_size=args.gen_batch_size,
            doc_words=args.doc_words,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
            progress=True,
        )
        steps[strategy] = {
            "cluster": step_cluster(run, target, s),
            "sample": step_sample(run, s),
            "generate": step_generate(run, s),
            "negatives": step_negatives(run, s),
        }
        print(strategy, json.dumps(steps[strategy]["generate"]), flush=True)
    known = {"bi": "minilm-bi", "cross": args.ce_base}
    bases = {a: known[a] for a in args.bases.split(",") if known.get(a)}
    adapted: dict[str, dict] = {}
    evals: dict[str, dict] = {}
    variants = [v for v in args.variants.split(",") if v]
    result = {
        "target": target.name,
        "n": args.n,
        "top_k_reranked": args.top_k,
        "ce_base": args.ce_base,
        "tag": args.tag,
        "steps": steps,
        "adapt": adapted,
        "evaluate": evals,
    }
    for arch, base in bases.items():  # one base at a time: its rows are saved before the next starts
        for strategy, run in runs.items():
            s = Settings(seed=args.seed, progress=True, epochs=args.epochs, batch_size=args.batch_size)
            adapted[f"{strategy}/{arch}"] = step_adapt(run, base, s)
        also = []
        for v in (v for v in variants if v.split("-")[0] == arch):
            teacher = args.ce_base if "gpl" in v else None
            if "gpl" in v and not teacher:
                continue
            rt = int(v.split("-rt")[1]) if "-rt" in v else None
            s = Settings(
                seed=args.seed,
                progress=True,
                teacher=teacher,
                round_trip=rt,
                name=v,
                epochs=args.epochs,
                batch_size=args.batch_size,
            )
            adapted[f"duqgen/{v}"] = step_adapt(runs["duqgen"], base, s)
            also.append(runs["duqgen"] / "adapt" / v)
        t0 = time.time()
        ev = evaluate_duqgen(
            target,
            runs["duqgen"] / "adapt" / arch,
            out / f"{target.name}-eval-{arch}",
            base=base,
            ablations=[runs["random"] / "adapt" / arch],
            also=also,
            top_k=args.top_k,
            progress=True,
        )
        evals[arch] = {"rows": ev["rows"], "seconds": round(time.time() - t0, 1)}
        result["seconds_this_call"] = round(time.time() - t_all, 1)
        save(result)
    return result


def save(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = f"_{result['tag']}" if result.get("tag") else ""
    path = RESULTS / f"duqgen_{result['target']}_n{result['n']}{tag}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}", flush=True)


def markdown(result: dict) -> str:
    lines = [
        f"### {result['target']} (N = {result['n']})",
        "",
        "| base | row | nDCG@10 | MRR@10 | MAP | R@100 | eval s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for arch, ev in result["evaluate"].items():
        for r in ev["rows"]:
            cells = " | ".join(f"{r[k]:.4f}" for k in KEYS)
            lines.append(f"| {arch} | {r['row']} | {cells} | {r.get('eval_seconds', '')} |")
    lines += ["", "| run | step | seconds | detail |", "|---|---|---:|---|"]
    for strategy, st in result["steps"].items():
        for step, summ in st.items():
            detail = ""
            if step == "generate":
                detail = (
                    f"{summ.get('accepted')}/{summ.get('documents')} accepted, "
                    f"{summ.get('queries_per_s')} q/s, rejected {summ.get('rejected')}"
                )
            if step == "cluster":
                detail = f"K {summ.get('k')}, kept {summ.get('kept')}/{summ.get('documents')}"
            if step == "negatives":
                detail = f"source in BM25 top-k: {summ.get('source_in_top')}"
            lines.append(f"| {strategy} | {step} | {summ.get('seconds')} | {detail} |")
    for key, a in result["adapt"].items():
        lines.append(
            f"| {key.split('/')[0]} | adapt {key.split('/')[1]} | {a.get('seconds')} | "
            f"{a.get('loss')}, {a.get('groups_used')} groups, {a.get('steps')} steps |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
