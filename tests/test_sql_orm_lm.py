"""GradeSQL's LM ORM on a tiny random Llama (SmolLM2's tokenizer): only the answer is learnt, one batched forward
pass scores like one pass per candidate, the run folder loads back by itself; and `sql generate` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ranksuite.cli.app import app
from ranksuite.domains.sql.data import load_candidates, load_spider
from ranksuite.domains.sql.generate import extract_sql
from ranksuite.domains.sql.orm import orm_query
from ranksuite.domains.sql.orm_lm import ANSWERS, LmOrm, is_causal_lm, lm_step_fn
from ranksuite.shared.models.causal_lm import LoraSpec

runner = CliRunner()

QUERIES = [
    orm_query("How many singers are there?", 'CREATE TABLE singer ("id" int, "name" text);', "causal_lm"),
    orm_query(
        "Name every stadium in the city of Springfield, please.",
        "CREATE TABLE stadium (id, name);",
        "causal_lm",
    ),
    orm_query("List ids.", "CREATE TABLE t (id);", "causal_lm"),
]
SQLS = [
    "SELECT count(*) FROM singer",
    "SELECT name FROM stadium WHERE city = 'Springfield'",
    "SELECT id FROM t",
]


@pytest.fixture(scope="module")
def orm(tiny_causal_lm: Path) -> LmOrm:
    torch.manual_seed(0)
    model = LmOrm.from_backbone(tiny_causal_lm, lora=LoraSpec(r=4, alpha=8, dropout=0.0))
    with torch.no_grad():  # move the adapter off its identity start so it matters
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.05)
    return model.eval()


def _answer_position_logits(orm: LmOrm, prompt: str) -> torch.Tensor:
    ids = orm.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return orm.lm(input_ids=ids).logits[0, -1]


def test_loss_is_the_answer_token_only(orm: LmOrm) -> None:
    correct = [True, False, True]
    with torch.no_grad():
        loss = orm.loss(QUERIES, SQLS, correct)
    prompts = orm.prompts(QUERIES, SQLS)
    assert all(p.endswith("<|im_start|>assistant\n") for p in prompts)
    answer_ids = [orm.tokenizer(a, add_special_tokens=False)["input_ids"] for a in ANSWERS]
    assert all(
        len(ids) == 1 for ids in answer_ids
    )  # "Yes" and "No" are single tokens after the chat template
    # expected: cross-entropy of the right answer at each prompt's last position, each row alone (no padding)
    expected = torch.stack(
        [
            torch.nn.functional.cross_entropy(
                _answer_position_logits(orm, p)[None], torch.tensor([answer_ids[0 if ok else 1][0]])
            )
            for p, ok in zip(prompts, correct, strict=True)
        ]
    ).mean()
    assert torch.allclose(loss, expected, atol=1e-4)  # no prompt token and no padding carries any loss
    # flipping every label changes the loss; changing nothing in the answers but the prompts' padding does not
    with torch.no_grad():
        assert not torch.allclose(orm.loss(QUERIES, SQLS, [not c for c in correct]), loss)
        alone = [orm.loss([q], [s], [c]) for q, s, c in zip(QUERIES, SQLS, correct, strict=True)]
    assert torch.allclose(torch.stack(alone).mean(), loss, atol=1e-4)


def test_single_pass_scores_equal_per_candidate_scores(orm: LmOrm) -> None:
    batched = orm.score(QUERIES, SQLS, batch_size=8)
    alone = [float(orm.score([q], [s])[0]) for q, s in zip(QUERIES, SQLS, strict=True)]
    assert batched == pytest.approx(alone, abs=1e-4)
    ids = [orm.tokenizer(a, add_special_tokens=False)["input_ids"][0] for a in ANSWERS]
    for prompt, score in zip(orm.prompts(QUERIES, SQLS), batched, strict=True):
        lp = torch.log_softmax(_answer_position_logits(orm, prompt)[ids], -1)
        assert score == pytest.approx(float(lp[0] - lp[1]), abs=1e-4)  # log P(Yes) - log P(No)


def test_step_trains_only_the_adapter(orm: LmOrm) -> None:
    texts = {"a": SQLS[0], "b": "SELECT name FROM singer"}
    step = lm_step_fn(texts)
    orm.train()
    orm.zero_grad()
    loss, _ = step(orm, [{"query": QUERIES[0], "docnos": ["a", "b"]}])
    loss.backward()
    grads = {n for n, p in orm.named_parameters() if p.grad is not None}
    orm.eval()
    assert grads and all("lora" in n for n in grads)


def test_is_causal_lm(tiny_causal_lm: Path, tiny_backbone: Path) -> None:
    assert is_causal_lm("smollm2") and is_causal_lm(tiny_causal_lm)
    assert not is_causal_lm("minilm") and not is_causal_lm(tiny_backbone)


def test_lm_orm_train_evaluate_rank_cli(shared_data: Path, tiny_causal_lm: Path, tmp_path: Path) -> None:
    data = shared_data / "sql" / "spider_dev"
    run = tmp_path / "lm"
    res = runner.invoke(
        app,
        [
            "--json",
            "sql",
            "train",
            "--data",
            str(data),
            "--backbone",
            str(tiny_causal_lm),
            "--lora",
            "--result-preview",
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--max-length",
            "384",
            "--dev-questions",
            "2",
            "--out",
            str(run),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["kind"] == "causal_lm"
    meta = json.loads((run / "model" / "ranksuite.json").read_text())
    assert meta["sql_orm"]["kind"] == "causal_lm" and meta["sql_orm"]["result_preview"]
    assert (run / "model" / "adapter_config.json").exists()
    spider = load_spider(data)
    held = summary["held_out_dbs"]
    small = min(held, key=lambda d: spider.questions.filter(spider.questions["db_id"] == d).height)
    res = runner.invoke(
        app,
        ["--json", "sql", "evaluate", "--model", str(run), "--data", str(data), "--test-dbs", small, "--out",
         str(tmp_path / "eval")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["databases"] == [small] and {"orm", "orm_vote", "maj"} <= set(metrics)
    assert (tmp_path / "eval" / "scores.parquet").exists()
    cands = tmp_path / "c.sql"
    cands.write_text("SELECT count(*) FROM nosuchtable\nSELECT count(*) FROM singer\n")
    res = runner.invoke(
        app,
        ["--json", "sql", "rank", "--model", str(run), "--db", str(spider.databases["concert_singer"]),
         "--question", "How many singers?", "--candidates", str(cands)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["sql"] == "SELECT count(*) FROM singer"


def test_extract_sql() -> None:
    assert extract_sql(" name FROM singer;\nThis query lists ...", "SELECT") == "SELECT name FROM singer"
    assert extract_sql("```sql\nSELECT a FROM t;\n```\nExplanation") == "SELECT a FROM t"
    assert extract_sql(" a FROM t\n\nThe query above ...", "SELECT") == "SELECT a FROM t"
    assert (
        extract_sql(" count(*) FROM t WHERE x = 'a;b'; SELECT 2", "SELECT")
        == "SELECT count(*) FROM t WHERE x = 'a;b'"
    )
    assert extract_sql(" a FROM t\n```\nmore", "SELECT") == "SELECT a FROM t"


def test_generate_cli_is_seeded_and_resumable(
    shared_data: Path, tiny_causal_lm: Path, tmp_path: Path
) -> None:
    data = shared_data / "sql" / "geoquery"
    out = tmp_path / "gen.jsonl"

    def gen(limit: int, target: Path = out):
        args = ["--json", "sql", "generate", "--data", str(data), "--model", str(tiny_causal_lm), "--out",
                str(target), "-n", "2", "--limit", str(limit), "--max-new-tokens", "6", "--batch-questions", "2"]  # fmt: skip
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    first = gen(2)
    assert first == {"questions": 2, "resumed": 0, "generated": 2, "out": str(out)}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and {r["candidate_id"] for r in rows} == {"0:s0", "0:s1", "1:s0", "1:s1"}
    assert all(r["sql"].startswith("SELECT") and r["db_id"] == "geoquery" for r in rows)
    # a run killed mid-line resumes to the same file as one never interrupted
    full = tmp_path / "full.jsonl"
    gen(4, full)
    text = full.read_text()
    out.write_text(text[: len(text) - 25])
    again = gen(4)
    assert again["resumed"] == 3 and out.read_text() == text
    # the file is a candidate file for `sql execute`
    from ranksuite.domains.sql.data import load_geoquery

    cands = load_candidates(out, load_geoquery(data).questions)
    assert cands.height == 8
    res = runner.invoke(
        app, ["--json", "sql", "execute", "--data", str(data), "--candidates", str(out), "--out", str(tmp_path / "l.parquet")]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["candidates"] == 8


def test_full_fine_tuning_saves_and_reloads_all_weights(tiny_causal_lm: Path, tmp_path: Path) -> None:
    full = LmOrm.from_backbone(tiny_causal_lm, lora=None)
    assert all(p.requires_grad for p in full.parameters())
    with torch.no_grad():
        next(full.lm.parameters()).add_(0.01)  # a changed weight must survive the round trip
    before = full.score(QUERIES, SQLS)
    folder = full.save(tmp_path / "full", {"domain": "sql"})
    assert not (folder / "adapter_config.json").exists() and (folder / "model.safetensors").exists()
    again = LmOrm.load(folder)
    assert again.meta["sql_orm"]["kind"] == "causal_lm"
    assert again.score(QUERIES, SQLS) == pytest.approx(before, abs=1e-4)
