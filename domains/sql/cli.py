"""``ranksuite sql``: text-to-SQL candidate pools: label by safe execution, compare selection rules."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import typer

from ranksuite.cli.common import console, friendly_errors, metrics_table, options, print_json

app = typer.Typer(
    help=(
        "Text-to-SQL candidate pools: sample candidate SQL (generate), execute it safely (read-only, "
        "time-limited) against the gold SQL, train outcome reward models (MiniLM cross-encoder or GradeSQL's "
        "SmolLM2 Yes/No ORM) and compare ways of choosing one candidate per question.\n\n"
        "Data folders: Spider layout (questions.jsonl, databases/<db>/<db>.sqlite, candidates.jsonl.gz) or "
        "GeoQuery layout (questions.jsonl, geoquery.sqlite)."
    ),
    no_args_is_help=True,
)


def write_frame(df, path: Path) -> Path:
    """Write a frame as ``.jsonl``, ``.jsonl.gz`` or ``.parquet`` (atomically)."""
    from ranksuite.shared.data.atomic import atomic_write

    name = path.name.lower()
    if name.endswith(".parquet"):
        return atomic_write(path, lambda tmp: df.write_parquet(tmp))
    if name.endswith((".jsonl", ".jsonl.gz")):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in df.iter_rows(named=True))
        if name.endswith(".gz"):
            return atomic_write(path, lambda tmp: tmp.write_bytes(gzip.compress(text.encode("utf-8"))))
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    raise ValueError(f"{path}: write .jsonl, .jsonl.gz or .parquet")


def read_frame(path: Path):
    """Read labelled candidates or scores written by this sub-app (``.jsonl[.gz]`` or ``.parquet``)."""
    import polars as pl

    from ranksuite.shared.data.errors import DataError
    from ranksuite.shared.data.jsonl import iter_jsonl

    if not path.is_file():
        raise DataError(path, "file not found")
    if path.name.lower().endswith(".parquet"):
        return pl.read_parquet(path)
    records = [rec for _, rec in iter_jsonl(path)]
    if not records:
        raise DataError(path, "empty file")
    return pl.DataFrame(records, infer_schema_length=None)


@app.command()
@friendly_errors
def execute(
    ctx: typer.Context,
    data: Path = typer.Option(
        ..., help="data folder (Spider or GeoQuery layout): questions + SQLite databases"
    ),
    candidates: Path | None = typer.Option(
        None,
        help="candidate SQL: JSONL (question_id, sql; optional db_id, system, candidate_id) or Parquet "
        "[default: DATA/candidates.jsonl.gz]",
    ),
    out: Path = typer.Option(..., help="labelled candidates: .jsonl, .jsonl.gz or .parquet"),
    timeout: float = typer.Option(5.0, help="seconds per query before it is stopped (reported as timeout)"),
    max_rows: int = typer.Option(10_000, help="rows fetched per query at most (more = truncated)"),
) -> None:
    """Execute every candidate and its question's gold SQL safely; label each candidate with exec_status,
    exec_error, n_rows, ex_match_set (set equality, the main label), ex_match_strict (Spider's evaluator) and
    result_key (for majority voting) and result_preview (row count and first rows, or the error: what an ORM
    trained with --result-preview reads).

    Example:  ranksuite sql execute --data ../shared/data/sql/spider_dev --out runs/spider_labelled.parquet
    """
    from ranksuite.domains.sql.data import load_candidates, load_sql_dir
    from ranksuite.domains.sql.labels import label_candidates, summarise_labels
    from ranksuite.domains.sql.select import build_pools, evaluate_selectors
    from ranksuite.shared.data.errors import DataError

    opts = options(ctx)
    ds = load_sql_dir(data, candidates=False)
    path = candidates or data / "candidates.jsonl.gz"
    if candidates is None and not path.is_file():
        raise DataError(path, "file not found: give --candidates FILE")
    cands = load_candidates(path, ds.questions)
    shipped = cands["ex_match_set"] if "ex_match_set" in cands.columns else None
    labelled = label_candidates(
        ds.questions, cands, ds.databases, progress=not opts.json, timeout_s=timeout, max_rows=max_rows
    )
    write_frame(labelled, out)
    summary: dict = {"out": str(out), **summarise_labels(labelled)}
    if shipped is not None and shipped.null_count() < len(shipped):
        both = (shipped.is_not_null() & labelled["ex_match_set"].is_not_null()).sum()
        same = (shipped == labelled["ex_match_set"]).sum()
        summary["agreement_with_input_labels"] = float(same / both) if both else None
    pools = build_pools(labelled)
    if pools:
        summary["selectors"] = evaluate_selectors(pools)
    if opts.json:
        print_json(summary)
        return
    console.print(
        f"{summary['candidates']} candidates: {summary['executed']} executed, {summary['errors']} errors, "
        f"{summary['timeouts']} timeouts, {summary['refused']} refused"
        + (f", {summary['unjudged']} unjudged (gold SQL fails)" if summary["unjudged"] else "")
    )
    console.print(f"EX (set match) {summary['ex']:.4f} · EX (Spider, strict) {summary['ex_strict']:.4f}")
    if "agreement_with_input_labels" in summary and summary["agreement_with_input_labels"] is not None:
        console.print(f"agreement with the labels in the input: {summary['agreement_with_input_labels']:.4f}")
    if pools:
        rows = [{"name": k, "ex": v["ex"]} for k, v in summary["selectors"].items()]
        console.print(metrics_table(f"selectors, {len(pools)} questions", rows, ["name", "ex"]))
    console.print(f"wrote {out}")


@app.command()
@friendly_errors
def select(
    ctx: typer.Context,
    labels: Path = typer.Option(..., help="labelled candidates from `sql execute` (.jsonl[.gz] or .parquet)"),
    scores: Path | None = typer.Option(
        None, help="reward-model scores: a file with candidate_id and score (.jsonl[.gz] or .parquet)"
    ),
    label: str = typer.Option(
        "ex_match_set", help="which label counts as correct: ex_match_set | ex_match_strict"
    ),
) -> None:
    """Expected execution accuracy of each way of choosing one candidate per question (random, execution-based
    best-of-N, majority vote, oracle, and the reward model's choice when --scores is given), on the same pools.

    Example:  ranksuite sql select --labels runs/spider_labelled.parquet --scores runs/orm_scores.parquet
    """
    from ranksuite.domains.sql.select import build_pools, evaluate_selectors

    if label not in ("ex_match_set", "ex_match_strict"):
        raise ValueError(f"--label must be ex_match_set or ex_match_strict, not {label!r}")
    opts = options(ctx)
    pools = build_pools(read_frame(labels), label)
    result = evaluate_selectors(pools, read_frame(scores) if scores else None)
    if opts.json:
        print_json({"questions": len(pools), "label": label, "selectors": result})
        return
    rows = [{"name": k, "ex": v["ex"]} for k, v in result.items()]
    console.print(metrics_table(f"{len(pools)} questions, label {label}", rows, ["name", "ex"]))


@app.command()
@friendly_errors
def train(
    ctx: typer.Context,
    data: Path = typer.Option(
        ..., help="Spider-layout folder with candidates (labels are recomputed by execution)"
    ),
    backbone: str = typer.Option(
        "minilm",
        help="minilm | mpnet | smollm2 | PATH: smollm2 (or a causal-LM folder) trains GradeSQL's Yes/No LM ORM, "
        "anything else a cross-encoder ORM",
    ),
    lora: bool = typer.Option(
        True, "--lora/--full", help="LM ORM: GradeSQL's LoRA adapter (r 16, alpha 64) or full fine-tuning"
    ),
    result_preview: bool = typer.Option(
        False,
        "--result-preview/--no-result-preview",
        help="the ORM also reads each candidate's execution result (row count, first rows or the error)",
    ),
    test_dbs: str | None = typer.Option(
        None,
        help="databases held out for testing (comma-separated); default: "
        "fold --fold of a 2-fold split by database",
    ),
    fold: int = typer.Option(0, help="which of the two database folds is held out"),
    loss: str = typer.Option(
        "bce", help="bce (pointwise, GradeSQL; the only one for the LM ORM) | contrastive"
    ),
    out: Path = typer.Option(..., help="run folder; the ORM is out/model"),
    epochs: float = typer.Option(1.0),
    batch_size: int = typer.Option(16),
    lr: float | None = typer.Option(
        None, help="default: 2e-5 (cross-encoder), 7e-5 (LM + LoRA, GradeSQL's), 1e-5 (LM, full)"
    ),
    max_length: int | None = typer.Option(None, help="tokens; default 384 (cross-encoder), 1024 (LM)"),
    max_steps: int | None = typer.Option(None),
    dev_questions: int | None = typer.Option(
        None,
        help="evaluate checkpoints on at most this many dev questions (a seeded sample of those a score can decide; the LM ORM is slow)",
    ),
    gold_edits: int = typer.Option(
        0,
        help="also learn from each training question's gold SQL against up to this many one-token edits of it "
        "(another aggregate, comparison, column, ...) whose result differs when run: near-miss negatives; 0 = off",
    ),
) -> None:
    """Train an outcome reward model on (correct, incorrect) candidate pairs of the training databases; one
    training database is kept aside as dev set for best-checkpoint selection (by within-question pairwise
    accuracy; dev EX is logged too). Test databases are never seen.

    Examples:  ranksuite sql train --data ../shared/data/sql/spider_dev --fold 0 --out runs/orm-f0
               ranksuite sql train --data ../shared/data/sql/spider_dev --backbone smollm2 --lora --out runs/lm-f0
    """
    from ranksuite.domains.sql.data import load_sql_dir
    from ranksuite.domains.sql.orm import split_databases, train_orm
    from ranksuite.domains.sql.orm_lm import is_causal_lm
    from ranksuite.shared.training import TrainConfig

    opts = options(ctx)
    ds = load_sql_dir(data)
    dbs = ds.questions["db_id"].unique().to_list()
    held = test_dbs.split(",") if test_dbs else split_databases(dbs, 2, fold)[1]
    train_dbs = sorted(d for d in dbs if d not in held)
    if len(train_dbs) < 2:
        raise ValueError("need at least two training databases (one is kept aside as dev set)")
    lm = is_causal_lm(backbone)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr if lr is not None else (2e-5 if not lm else 7e-5 if lora else 1e-5),
        max_steps=max_steps,
        seed=opts.seed,
        device=opts.device,
    )
    result = train_orm(
        ds,
        out,
        train_dbs[1:],
        train_dbs[:1],
        backbone,
        loss,
        max_length,
        config,
        progress=not opts.json,
        result_preview=result_preview,
        lora="default" if lora else None,
        dev_questions=dev_questions,
        gold_edits=gold_edits,
    )
    summary = {
        "model": str(result.model_dir),
        "kind": "causal_lm" if lm else "cross",
        "train_dbs": train_dbs[1:],
        "dev_dbs": train_dbs[:1],
        "held_out_dbs": sorted(held),
        "steps": result.steps,
        "dev": result.best,
        "dev_initial": result.initial,
        "best_step": result.best_step,
        "samples_per_s": result.samples_per_s,
    }
    print_json(summary) if opts.json else console.print(
        f"ORM: {result.model_dir} (dev {result.initial} -> {result.best}, step {result.best_step}); test databases: {', '.join(sorted(held))}"
    )


@app.command()
@friendly_errors
def evaluate(
    ctx: typer.Context,
    model: Path = typer.Option(..., help="run or model folder from `sql train`"),
    data: Path = typer.Option(..., help="Spider-layout folder"),
    candidates: Path | None = typer.Option(None, help="candidate file (default: DATA/candidates.jsonl.gz)"),
    test_dbs: str | None = typer.Option(
        None, help="evaluate on these databases only (default: all the model was not trained on)"
    ),
    out: Path = typer.Option(..., help="folder for metrics.json and scores.parquet"),
    score_all: bool = typer.Option(
        False,
        "--score-all",
        help="score every candidate (default: only those that can change a choice; the figures are the same)",
    ),
) -> None:
    """Execution accuracy of the ORM's choice (GradeSQL's rule: executing candidates with rows first, then the
    highest score) and of the ORM-weighted vote (``orm_vote``: our addition, Maj's clusters weighed by the ORM's
    P(correct) within the same tier) beside Maj, ex-BoN, random and oracle on the same pools of unseen databases.
    Either kind of ORM (cross-encoder or LM) loads from its folder. Writes metrics.json and scores.parquet.

    Example:  ranksuite sql evaluate --model runs/orm-f0 --data ../shared/data/sql/spider_dev --out runs/orm-f0/eval
    """
    from ranksuite.domains.sql.data import load_candidates, load_sql_dir
    from ranksuite.domains.sql.orm import evaluate_orm
    from ranksuite.shared.data.atomic import atomic_write_json
    from ranksuite.shared.models.base import read_meta

    opts = options(ctx)
    ds = load_sql_dir(data)
    if candidates is not None:
        ds.candidates = load_candidates(candidates)
    folder = model / "model" if (model / "model").is_dir() else model
    trained = set(read_meta(folder).get("training", {}).get("train_dbs", []))
    trained |= set(read_meta(folder).get("training", {}).get("dev_dbs", []))
    dbs = test_dbs.split(",") if test_dbs else sorted(set(ds.questions["db_id"].to_list()) - trained)
    result = evaluate_orm(folder, ds, dbs, progress=not opts.json, score_all=score_all)
    metrics = {k: result[k] for k in ("orm", "orm_vote", "maj", "maj_tier", "ex_bon", "random", "oracle")}
    write_frame(result["scores"], out / "scores.parquet")
    atomic_write_json(
        out / "metrics.json", {**metrics, "questions": result["questions"], "databases": result["databases"]}
    )
    if opts.json:
        print_json({**metrics, "questions": result["questions"], "databases": result["databases"]})
        return
    rows = [{"model": k, "ex": v["ex"]} for k, v in metrics.items()]
    console.print(
        metrics_table(
            f"{result['questions']} questions on {len(result['databases'])} unseen databases",
            rows,
            ["model", "ex"],
        )
    )


@app.command()
@friendly_errors
def rank(
    ctx: typer.Context,
    model: Path = typer.Option(..., help="run or model folder from `sql train`"),
    db: Path = typer.Option(..., help="the SQLite database the question is about"),
    question: str = typer.Option(..., help="the natural-language question"),
    candidates: Path = typer.Option(
        ..., help="a text file with one SQL per line, or JSONL with a `sql` field"
    ),
) -> None:
    """Score candidate SQL for one question: execution status (run safely, read-only) and the ORM's score, best first.

    Example:  ranksuite sql rank --model runs/orm-f0 --db concert_singer.sqlite --question "How many singers?" \\
                  --candidates cands.sql
    """
    import json as _json

    from ranksuite.domains.sql.data import schema_text
    from ranksuite.domains.sql.execute import execute_sql
    from ranksuite.domains.sql.labels import result_preview
    from ranksuite.domains.sql.orm import candidate_text, load_orm, orm_query, orm_settings

    opts = options(ctx)
    if not candidates.is_file():
        raise ValueError(f"{candidates}: file not found")
    lines = [ln.strip() for ln in candidates.read_text(encoding="utf-8").splitlines() if ln.strip()]
    sqls = [_json.loads(ln)["sql"] if ln.startswith("{") else ln for ln in lines]
    scorer = load_orm(model)
    settings = orm_settings(scorer.meta)
    query = orm_query(question, schema_text(db, max_chars=settings["schema_chars"]), settings["kind"])
    results = [execute_sql(db, s) for s in sqls]
    docs = [
        candidate_text(s, result_preview(r) if settings["result_preview"] else None)
        for s, r in zip(sqls, results, strict=True)
    ]
    scores = scorer.score([query] * len(sqls), docs)
    tier = [2 if r.status == "ok" and r.n_rows > 0 else 1 if r.status == "ok" else 0 for r in results]
    order = sorted(range(len(sqls)), key=lambda i: (-tier[i], -float(scores[i])))
    rows = [
        {
            "rank": n + 1,
            "score": float(scores[i]),
            "status": results[i].status,
            "rows": results[i].n_rows,
            "sql": sqls[i],
        }
        for n, i in enumerate(order)
    ]
    if opts.json:
        print_json(rows)
        return
    console.print(metrics_table(question, rows, ["rank", "score", "status", "rows", "sql"]))


@app.command()
@friendly_errors
def generate(
    ctx: typer.Context,
    data: Path = typer.Option(
        ..., help="data folder (Spider or GeoQuery layout): questions + SQLite databases"
    ),
    out: Path = typer.Option(..., help="candidates JSONL (appended to and resumed when it exists)"),
    n: int = typer.Option(8, "-n", "--n", help="samples per question"),
    model: str = typer.Option("smollm2", help="smollm2 | PATH of a causal LM folder"),
    limit: int | None = typer.Option(None, help="only the first N questions (after --split / --dbs)"),
    split: str | None = typer.Option(None, help="GeoQuery: only questions of this split (train | dev)"),
    dbs: str | None = typer.Option(None, help="only questions on these databases (comma-separated)"),
    temperature: float = typer.Option(0.8, help="sampling temperature (GradeSQL samples at 0.8)"),
    top_p: float = typer.Option(0.95),
    max_new_tokens: int = typer.Option(128),
    batch_questions: int = typer.Option(4, help="questions per generate call (each with its N samples)"),
) -> None:
    """Sample N SQL queries per question with a small causal LM (SmolLM2-135M-Instruct by default; GPU when there),
    batched, seeded (--seed) and resumable, into a candidate file that `sql execute` and `sql evaluate` read. The
    prompt holds the schema and the question; the answer is cut to one SQL statement.

    Example:  ranksuite sql generate --data ../shared/data/sql/geoquery --split dev --limit 50 -n 8 \\
                  --out runs/sql/geo_smollm2.jsonl
    """
    import polars as pl

    from ranksuite.domains.sql.data import load_sql_dir
    from ranksuite.domains.sql.generate import generate_candidates

    opts = options(ctx)
    if n < 1:
        raise ValueError("-n must be at least 1")
    ds = load_sql_dir(data, candidates=False)
    qs = ds.questions
    if split is not None:
        if "split" not in qs.columns:
            raise ValueError(f"{data}: its questions have no split (only GeoQuery's do)")
        qs = qs.filter(pl.col("split") == split)
    if dbs:
        qs = qs.filter(pl.col("db_id").is_in(dbs.split(",")))
    if limit is not None:
        qs = qs.head(limit)
    if not qs.height:
        raise ValueError("no question left to generate for (check --split / --dbs / --limit)")
    stats = generate_candidates(
        ds,
        out,
        n,
        model,
        questions=qs,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        batch_questions=batch_questions,
        seed=opts.seed,
        device=opts.device,
        progress=not opts.json,
    )
    if opts.json:
        print_json(stats)
        return
    console.print(
        f"{stats['questions']} questions: {stats['generated']} sampled now, {stats['resumed']} already there; "
        f"wrote {out}"
    )
