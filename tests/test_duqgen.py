"""DUQGen: the sampling formula, the broken-query filter, resumable generation, the steps on a real slice, the
test-data guard, and the CLI end to end on the demo collection (tiny models, a fake generator)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranksuite.domains.duqgen.generate import (
    DEFAULT_EXAMPLES,
    build_prompt,
    check_query,
    clean_query,
    generate_queries,
    load_examples,
)
from ranksuite.domains.duqgen.sample import allocate, sample_documents


# -- sampling ---------------------------------------------------------------------------------------------------
@st.composite
def sizes_and_n(draw):
    sizes = draw(st.lists(st.integers(1, 60), min_size=1, max_size=40))
    n = draw(st.integers(len(sizes), sum(sizes)))
    return sizes, n


@settings(max_examples=300, deadline=None)
@given(sizes_and_n())
def test_allocation_sums_to_n_and_gives_every_cluster_one(case):
    sizes, n = case
    counts = allocate(sizes, n)
    assert counts.sum() == n
    assert (counts >= 1).all()
    assert (counts <= np.asarray(sizes)).all()
    # never below the paper's formula (where the cluster can hold it)
    floor = np.minimum(1 + np.floor((n - len(sizes)) * np.asarray(sizes) / sum(sizes)), sizes)
    assert (counts >= floor).all()


def test_allocation_matches_the_paper_formula_when_it_is_exact():
    # (N - K) |c| / |D| whole for every cluster: no remainder to hand out
    assert allocate([10, 30, 60], 23).tolist() == [1 + 2, 1 + 6, 1 + 12]
    assert allocate([5, 5, 5], 3).tolist() == [1, 1, 1]  # K = N (the paper's 1000/1000): one each
    with pytest.raises(ValueError):
        allocate([3, 3], 1)  # N < K


def _clusters(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "docno": [f"d{i:03d}" for i in range(120)],
            "cluster": rng.integers(0, 12, 120),
            "sim": rng.uniform(0.2, 0.9, 120),
        }
    ).filter(pl.col("cluster").is_in(pl.col("cluster").unique()))


@settings(max_examples=25, deadline=None)
@given(st.integers(12, 120), st.integers(0, 10_000))
def test_sampling_is_seeded_and_draws_n_distinct_documents(n, seed):
    clusters = _clusters()
    k = clusters["cluster"].n_unique()
    n = max(n, k)
    a = sample_documents(clusters, n, "duqgen", seed=seed)
    b = sample_documents(clusters, n, "duqgen", seed=seed)
    assert a.equals(b)
    assert a.height == n and a["docno"].n_unique() == n
    assert a["cluster"].n_unique() == k  # every cluster is represented
    r = sample_documents(clusters, n, "random", seed=seed)
    assert r.height == n and r["docno"].n_unique() == n


def test_sampling_prefers_documents_near_the_centroid():
    # one cluster, T small: the closest documents win almost always
    clusters = pl.DataFrame({"docno": ["a", "b", "c", "d"], "cluster": [0] * 4, "sim": [0.9, 0.1, 0.2, 0.0]})
    picks = [sample_documents(clusters, 1, temperature=0.05, seed=s)["docno"][0] for s in range(50)]
    assert picks.count("a") >= 45


# -- the broken-query filter --------------------------------------------------------------------------------------
DOC = (
    "Boundary layer transition on a flat plate at supersonic speeds was measured in a wind tunnel at Mach 2."
)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("flat plate", "too_short"),
        ("what " * 40, "too_long"),
        ("12 34 56 78 !! ## 99 00", "non_text"),
        ("boundary layer Document: flat plate", "prompt_echo"),
        ("plate plate plate plate plate plate plate wind", "repetitive"),
        ("boundary layer transition on a flat plate at supersonic speeds", "copy_of_document"),
        ("how does a boundary layer become turbulent at supersonic speed", None),
        ("transition of boundary layers at mach 2", None),
    ],
)
def test_check_query_reasons(query, reason):
    assert check_query(query, DOC) == reason


def test_duplicates_and_cleaning():
    seen = {"transition of boundary layers at mach 2"}
    assert check_query("Transition of boundary layers at Mach 2?", DOC, seen) == "duplicate"
    assert clean_query(' Query: "what is a boundary layer"\nDocument: more') == "what is a boundary layer"
    assert clean_query(None) == ""  # type: ignore[arg-type]


def test_prompt_and_examples(tmp_path):
    prompt = build_prompt("word " * 500, DEFAULT_EXAMPLES, doc_words=20)
    assert prompt.endswith("...\nQuery:") and prompt.count("Document:") == 4
    assert len(prompt.rsplit("Document: ", 1)[1].split()) == 20 + 2  # 20 words, "...", "Query:"
    f = tmp_path / "ex.jsonl"
    f.write_text('{"document": "a doc", "query": "a query"}\n' * 2)
    from ranksuite.shared.data.errors import DataError

    with pytest.raises(DataError, match="need 3 examples"):
        load_examples(f)
    f.write_text('{"document": "a doc", "query": ""}\n')
    with pytest.raises(DataError, match="line 1"):
        load_examples(f)


# -- resumable generation ----------------------------------------------------------------------------------------
class CountingGenerator:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, prompts: list[str]) -> list[str]:
        self.prompts.extend(prompts)
        return [f"what about {p.rsplit('Document: ', 1)[1].split()[0]} things\nDocument: x" for p in prompts]


def test_generation_resumes_after_a_kill(tmp_path):
    corpus = pl.DataFrame(
        {
            "docno": [f"d{i}" for i in range(10)],
            "title": [""] * 10,
            "text": [f"topic{i} text " * 5 for i in range(10)],
        }
    )
    sample = corpus.select("docno")
    first = CountingGenerator()
    partial = generate_queries(sample, corpus, tmp_path, first, batch_size=3, max_batches=2)  # "killed"
    assert partial["complete"] is False and len(first.prompts) == 6
    assert not (tmp_path / "queries.parquet").exists()
    # the kill also cut the last line short
    jsonl = tmp_path / "generated.jsonl"
    lines = jsonl.read_text().splitlines()
    jsonl.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:15])
    second = CountingGenerator()
    with pytest.warns(UserWarning, match="cut short"):
        done = generate_queries(sample, corpus, tmp_path, second, batch_size=3)
    assert len(second.prompts) == 5  # the 4 never done + the 1 whose line was cut
    assert done["complete"] and done["resumed_from"] == 5
    records = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert sorted(r["docno"] for r in records) == sorted(sample["docno"].to_list())
    queries = pl.read_parquet(tmp_path / "queries.parquet")
    assert queries.height == 10 and queries["query"][0] == "what about topic0 things"


def test_smollm2_generator_plumbing_with_a_tiny_llama(tiny_causal_lm):
    from ranksuite.domains.duqgen.generate import smollm2_generator

    gen = smollm2_generator(str(tiny_causal_lm), batch_size=2, max_new_tokens=8, device="cpu")
    outs = gen([build_prompt(f"document number {i} about wings", DEFAULT_EXAMPLES) for i in range(3)])
    assert len(outs) == 3 and all(isinstance(o, str) for o in outs)
    assert all("\n" not in o.rstrip("\n") for o in outs)  # generation stops at the first newline


# -- the steps on a small real slice ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_bi(tiny_backbone, tmp_path_factory) -> Path:
    from ranksuite.shared.models import BiEncoder

    folder = tmp_path_factory.mktemp("tiny-bi")
    BiEncoder(tiny_backbone, max_length=64).save(folder)
    return folder


def test_cluster_sample_negatives_on_cisi(shared_data, tiny_bi, tmp_path, monkeypatch):
    from ranksuite.domains.duqgen.cluster import cluster_corpus
    from ranksuite.domains.duqgen.data import load_target_corpus
    from ranksuite.domains.duqgen.negatives import mine_negatives

    monkeypatch.setenv("RANKSUITE_CACHE", str(tmp_path / "cache"))
    corpus = load_target_corpus(shared_data / "ir" / "cisi").head(300)
    summary = cluster_corpus(corpus, tmp_path, n=40, k=10, embedder=str(tiny_bi))
    clusters = pl.read_parquet(tmp_path / "clusters.parquet")
    assert summary["k"] == 10 and clusters["cluster"].n_unique() == 10
    assert summary["kept"] == clusters.height == corpus.height - summary["dropped_short"]
    assert clusters["chars"].min() >= 300 and summary["warning"] is None
    assert (tmp_path / "cluster_sizes.png").stat().st_size > 0
    picked = sample_documents(clusters, 40, seed=1)
    assert picked.height == 40 and picked["cluster"].n_unique() == 10
    titles = dict(zip(corpus["docno"], corpus["title"], strict=True))
    queries = pl.DataFrame(
        {
            "qid": [f"g-{d}" for d in picked["docno"]],
            "query": [titles[d] for d in picked["docno"]],
            "docno": picked["docno"],
        }
    )
    groups, info = mine_negatives(corpus, queries, n_negatives=4, depth=100, skip_top=30)
    assert groups.height == 40 and all(len(d) == 5 for d in groups["docnos"])
    source = dict(zip(queries["qid"], queries["docno"], strict=True))
    from ranksuite.shared.retrieval.bm25 import BM25

    run = BM25.from_corpus(corpus).search(queries.select("qid", "query"), k=100)
    rank = {(q, d): r for q, d, r in run.select("qid", "docno", "rank").iter_rows()}
    for qid, docs, filled in groups.select("qid", "docnos", "filled").iter_rows():
        assert docs[0] == source[qid] and source[qid] not in docs[1:]
        lower = [d for d in docs[1:] if rank.get((qid, d), 0) > 30]  # from BM25's ranks 31-100
        assert len(lower) >= 4 - filled  # the rest are random fill-ins, counted in `filled`
    assert info["source_in_top"]["100"] >= 30  # titles as queries find their own document


def test_short_documents_fall_back_with_a_warning():
    from ranksuite.domains.duqgen.cluster import length_filter

    assert length_filter(np.array([400] * 90 + [100] * 10), n=50) == (300, None)
    threshold, warning = length_filter(np.array([120] * 80 + [400] * 20), n=50)
    assert threshold == 120 and "falling back" in warning


def test_steps_cannot_read_test_queries(tmp_path):
    from ranksuite.domains.duqgen.data import TestDataLeak, forbid_test_data
    from ranksuite.shared.data import load_beir
    from ranksuite.shared.data.beir import read_queries

    demo = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "minicorpus"
    with forbid_test_data(), pytest.raises(TestDataLeak):
        load_beir(demo, "test")
    assert load_beir(demo, "test").queries.height > 0  # restored afterwards
    assert read_queries is not None


# -- CLI -------------------------------------------------------------------------------------------------------------
def test_duqgen_help():
    from typer.testing import CliRunner

    from ranksuite.cli.app import app

    result = CliRunner().invoke(app, ["duqgen", "--help"])
    assert result.exit_code == 0
    for cmd in ("cluster", "sample", "generate", "negatives", "adapt", "run", "evaluate"):
        assert cmd in result.output


def test_duqgen_end_to_end_on_the_demo(demo_dir, tiny_bi, tmp_path, monkeypatch):
    """run (tiny budgets, fake generator) -> every artefact -> rerun is cached -> evaluate -> metrics.json."""
    from typer.testing import CliRunner

    import ranksuite.domains.duqgen.generate as gen_module
    import ranksuite.shared.data.beir as beir
    from ranksuite.cli.app import app

    monkeypatch.setenv("RANKSUITE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(gen_module, "smollm2_generator", lambda *a, **k: CountingGenerator())
    run = tmp_path / "run"
    common = ["--target", str(demo_dir), "--base", str(tiny_bi), "--n", "12", "--k", "4", "--batch-size", "4"]
    runner = CliRunner()
    real_read_queries = beir.read_queries
    calls = []
    monkeypatch.setattr(beir, "read_queries", lambda *a, **k: calls.append(a) or real_read_queries(*a, **k))
    res = runner.invoke(app, ["--json", "duqgen", "run", *common, "--out", str(run)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert not calls  # the pipeline never read the target's queries
    for path in (
        "cluster/clusters.parquet",
        "cluster/cluster_sizes.png",
        "sample/sample.parquet",
        "generate/generated.jsonl",
        "generate/queries.parquet",
        "negatives/groups.parquet",
        "adapt/bi/model/ranksuite.json",
        "adapt/bi/adapt.json",
    ):
        assert (run / path).exists(), path
    out = json.loads(res.output)
    assert out["cluster"]["warning"]  # the demo's documents are short: the fallback
    assert out["sample"]["n"] == 12 and out["adapt"]["loss"] == "infonce"
    again = runner.invoke(app, ["--json", "duqgen", "sample", "--run", str(run)])
    assert json.loads(again.output)["cached"] is True
    ev = runner.invoke(
        app,
        [
            "--json",
            "duqgen",
            "evaluate",
            "--target",
            str(demo_dir),
            "--model",
            str(run),
            "--out",
            str(tmp_path / "eval"),
        ],
    )
    assert ev.exit_code == 0, ev.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics) == {"ndcg@10", "mrr@10", "map", "recall@100", "model", "dataset", "queries"}
    rows = json.loads(ev.output)["rows"]
    assert [r["kind"] for r in rows] == ["bm25", "base", "adapted"]
    redo = runner.invoke(
        app, ["--json", "duqgen", "sample", "--run", str(run), "--strategy", "random", "--force"]
    )
    assert (
        json.loads(redo.output)["strategy"] == "random" and not (run / "generate").exists()
    )  # later steps cleared
    bad = runner.invoke(app, ["duqgen", "negatives", "--run", str(tmp_path / "nothing")])
    assert bad.exit_code == 2 and "duqgen generate" in bad.stderr


def test_adapt_cross_encoder_with_teacher_and_round_trip(demo_dir, tiny_backbone, tiny_bi, tmp_path):
    """A cross-encoder base (contrastive), GPL-style Margin-MSE from a teacher, and the round-trip filter."""
    from ranksuite.domains.duqgen.adapt import adapt_cached
    from ranksuite.domains.duqgen.data import load_target_corpus
    from ranksuite.domains.duqgen.negatives import mine_negatives
    from ranksuite.shared.models import CrossEncoder, load_scorer
    from ranksuite.shared.training.config import TrainConfig

    cross = tmp_path / "cross"
    CrossEncoder(tiny_backbone, max_length=64).save(cross)
    corpus = load_target_corpus(demo_dir)
    queries = pl.DataFrame(
        {
            "qid": [f"g-{d}" for d in corpus["docno"][:12]],
            "query": corpus["title"][:12].to_list(),
            "docno": corpus["docno"][:12],
        }
    )
    groups, _ = mine_negatives(corpus, queries, skip_top=2)
    groups.write_parquet(tmp_path / "groups.parquet")
    cfg = lambda: TrainConfig(batch_size=4, max_steps=1, device="cpu")  # noqa: E731
    plain = adapt_cached(
        tmp_path / "a" / "cross",
        False,
        corpus=corpus,
        groups_path=tmp_path / "groups.parquet",
        base=str(cross),
        config=cfg(),
    )
    assert (
        plain["loss"] == "contrastive"
        and load_scorer(tmp_path / "a" / "cross" / "model").architecture == "cross"
    )
    assert (
        adapt_cached(
            tmp_path / "a" / "cross",
            False,
            corpus=corpus,
            groups_path=tmp_path / "groups.parquet",
            base=str(cross),
        )["cached"]
        is True
    )
    gpl = adapt_cached(
        tmp_path / "a" / "bi-gpl",
        False,
        corpus=corpus,
        groups_path=tmp_path / "groups.parquet",
        base=str(tiny_bi),
        teacher=str(cross),
        round_trip=1,
        config=cfg(),
    )
    kept = int((groups["source_rank"] <= 1).sum())
    assert gpl["loss"] == "margin-mse" and gpl["groups_used"] == kept
    teacher = pl.read_parquet(tmp_path / "a" / "bi-gpl" / "teacher.parquet")
    assert teacher.height == kept and all(len(t) == 5 for t in teacher["teacher"])
