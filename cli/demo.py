"""``ranksuite demo``: the whole loop on the project's own demo collection, offline, in about two minutes on CPU.

BM25 and a zero-shot MiniLM bi-encoder rank the test queries; a MiniLM cross-encoder (a new, untrained head) reranks
BM25's top 30 before and after a short fine-tuning on the training queries with the localized contrastive loss and
the shared trainer. It needs nothing but the installed package: no network, no ../shared.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from ranksuite.cli.common import console, friendly_errors, metrics_table, options, print_json


@friendly_errors
def demo(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, help="run folder to keep (default: a temporary folder)"),
    epochs: float = typer.Option(4.0, help="fine-tuning epochs over the 54 training groups"),
    lr: float = typer.Option(1e-4),
    top_k: int = typer.Option(30, help="BM25 documents reranked per query"),
) -> None:
    """Run the demo: BM25 vs zero-shot dense vs a cross-encoder before and after fine-tuning (offline, ~2 min CPU).

    Example:  ranksuite demo --out runs/demo
    """
    from ranksuite.datasets import demo_collection
    from ranksuite.shared.data import load_beir
    from ranksuite.shared.metrics.ir import evaluate_run
    from ranksuite.shared.models import BiEncoder, CrossEncoder
    from ranksuite.shared.retrieval import BM25, dense_search, rerank
    from ranksuite.shared.training import TrainConfig
    from ranksuite.shared.training.ir_train import RankerSpec, train_ranker

    opts = options(ctx)
    data = demo_collection()
    run_dir = Path(out) if out else Path(tempfile.mkdtemp(prefix="ranksuite-demo-"))
    test = load_beir(data, "test")
    queries, docs = test.query_texts(), test.doc_texts()
    say = (lambda *a: None) if opts.json else console.print
    say(
        f"[bold]ranksuite demo[/]: {data.name} (written by the project; see datasets/cards/demo_minicorpus.md)"
    )
    say(f"{test.corpus.height} documents, {test.queries.height} test queries; run folder: {run_dir}")

    rows = []
    bm25_run = BM25.from_corpus(test.corpus).search(test.queries, k=100)
    rows.append({"model": "BM25", **evaluate_run(bm25_run, test.qrels)})
    dense = BiEncoder.from_backbone("minilm").to_device(opts.device)
    rows.append(
        {
            "model": "MiniLM bi-encoder, zero-shot",
            **evaluate_run(dense_search(dense, test.corpus, test.queries), test.qrels),
        }
    )
    untrained = CrossEncoder.from_backbone("minilm", max_length=128).to_device(opts.device)
    before = rerank(untrained, bm25_run, queries, docs, k=top_k)
    rows.append(
        {
            "model": f"BM25 top-{top_k} >> cross-encoder, before fine-tuning",
            **evaluate_run(before, test.qrels),
        }
    )

    say("fine-tuning the cross-encoder (localized contrastive loss, 1 positive + 7 BM25 negatives) ...")
    config = TrainConfig(epochs=epochs, batch_size=8, lr=lr, seed=opts.seed, device=opts.device, log_every=2)
    result = train_ranker(
        data,
        run_dir,
        RankerSpec(arch="cross", backbone="minilm", max_length=128),
        config,
        dev_queries=50,
        dev_top_k=top_k,
        progress=not opts.json,
    )
    tuned = CrossEncoder.load(result.model_dir).to_device(opts.device)
    after = rerank(tuned, bm25_run, queries, docs, k=top_k)
    rows.append(
        {"model": f"BM25 top-{top_k} >> cross-encoder, after fine-tuning", **evaluate_run(after, test.qrels)}
    )

    if opts.json:
        print_json(
            {
                "run": str(run_dir),
                "results": rows,
                "train": {
                    "steps": result.steps,
                    "samples_per_s": result.samples_per_s,
                    "best_step": result.best_step,
                },
            }
        )
        return
    console.print(
        metrics_table(f"{data.name} / test", rows, ["model", "ndcg@10", "mrr@10", "map", "recall@100"])
    )
    qid = test.queries["qid"][0]
    console.print(f"\nquery {qid}: [italic]{queries[qid]}[/]")
    relevant = set(test.qrels.filter(test.qrels["qid"] == qid)["docno"].to_list())
    for label, run in (("before", before), ("after", after)):
        top = run.filter(run["qid"] == qid).head(3)["docno"].to_list()
        shown = ", ".join(f"{d}{'*' if d in relevant else ''}" for d in top)
        console.print(f"  top-3 {label} fine-tuning: {shown}   (* = relevant)")
    console.print(f"\nrun folder: {run_dir} (config.json, log.jsonl, training.png, model/)")
